"""`genzoo train` and `genzoo tour`: a run directory, or every family's."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from genzoo.catalog import default_data
from genzoo.cli.common import (
    COUNT,
    FLOAT,
    add_device,
    add_seed,
    add_threads,
    at_least_one,
)
from genzoo.errors import GenzooError

TRAIN_FLAGS = (
    "steps",
    "epochs",
    "batch_size",
    "lr",
    "seed",
    "device",
    "checkpoint_every",
    "precision",
    "compile",
    "threads",
)


def _train_options(
    args: argparse.Namespace, sets: dict[str, dict[str, Any]], toml: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    opts: dict[str, Any] = {**toml.get("train", {}), **sets.get("train", {})}
    for flag in TRAIN_FLAGS:
        value = getattr(args, flag, None)
        if value is not None:
            opts[flag] = value
    if args.quiet:
        opts["progress"] = False
    if getattr(args, "tensorboard", False):
        opts["log_to"] = "tensorboard"
    if "steps" in opts and "epochs" in opts:
        if getattr(args, "steps", None) is not None:
            opts.pop("epochs")
        elif getattr(args, "epochs", None) is not None:
            opts.pop("steps")
    return opts


def _resume_setup(args, out: Path, sets: dict[str, Any], toml: dict[str, Any]):  # noqa: ANN001, ANN202
    """The saved run's data and model for --resume (genzoo.training.resume.saved_run checks what is
    given again against it)."""
    from genzoo.training.resume import saved_run

    data_options = {k: v for k, v in {**toml.get("data", {}), **sets.get("data", {})}.items() if k != "name"}
    return saved_run(
        out,
        args.model,
        data=args.data or toml.get("data", {}).get("name"),
        data_options=data_options,
        model_options={**toml.get("model", {}), **sets.get("model", {})},
    )


def _data_choice(
    args: argparse.Namespace, sets: dict[str, Any], toml: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The dataset and its options: --data or the TOML's [data] name, else the family's default data;
    options from [data] and --set data.KEY=VALUE over the default's."""
    data_name = args.data or toml.get("data", {}).get("name")
    data_opts = {k: v for k, v in {**toml.get("data", {}), **sets.get("data", {})}.items() if k != "name"}
    if data_name is None:
        data_name, defaults = default_data(args.model)
        data_opts = {**defaults, **data_opts}
    return data_name, data_opts


def _clear_for_a_new_run(out: Path, *, overwrite: bool) -> None:
    """`out` holds a run: refused without --overwrite (naming how to continue it), else its files
    are removed so that the new run starts clean."""
    from genzoo.training import checkpoint as ckpt

    if not overwrite and not (out / ckpt.STATE).exists():
        raise GenzooError(
            f"{out} holds a run stopped before its first checkpoint; start it again with --overwrite, or "
            f"pass another --out"
        )
    if not overwrite:
        raise GenzooError(
            f"{out} already holds a run; continue it with --resume, or pass --overwrite or another --out"
        )
    for name in (ckpt.STATE, ckpt.WEIGHTS, ckpt.CHECKSUMS, ckpt.LOG, ckpt.METRICS, ckpt.SAMPLES, ckpt.CARD):
        (out / name).unlink(missing_ok=True)


def cmd_train(args: argparse.Namespace) -> int:
    from genzoo.config import build, parse_sets, read_toml
    from genzoo.data import load
    from genzoo.distributed import env_rank
    from genzoo.models import MODELS, create
    from genzoo.training import checkpoint as ckpt
    from genzoo.training.trainer import TrainConfig, train

    main_process = env_rank() == 0  # under torchrun only rank 0 checks, clears and prints
    MODELS.get(args.model)  # unknown model: fail before loading any data
    sets = parse_sets(args.set or [])
    toml = read_toml(args.config) if args.config else {}
    train_opts = _train_options(args, sets, toml)
    seed = build(TrainConfig, train_opts, section="train").seed  # every value checked before anything else
    data_name, data_opts = _data_choice(args, sets, toml)
    out = Path(args.out or f"runs/{args.model}-{data_name.replace(':', '_').replace('/', '_')}")
    if args.resume:
        from genzoo.training.resume import train_options

        data, model, cfg = _resume_setup(args, out, sets, toml)
        train_opts = train_options(cfg["train"], train_opts)
    else:
        model_params = {**toml.get("model", {}), **sets.get("model", {})}
        data = load(data_name, split="train", **data_opts)
        model = create(args.model, data, seed=seed, **model_params)
    lock = ckpt.run_lock(out) if main_process else contextlib.nullcontext()
    with lock:  # no other process trains into `out` while this one checks, clears and trains it
        if not args.resume and main_process and (out / ckpt.CONFIG).exists():
            _clear_for_a_new_run(out, overwrite=args.overwrite)
        if not args.quiet and main_process:
            print(f"training {args.model} on {data!r} -> {out}", file=sys.stderr)
        try:
            run = train(model, data, out=out, resume=args.resume, **train_opts)
        finally:
            import torch.distributed as dist

            # leave the process group now, not in the interpreter's finalisation, where tearing down
            # gloo's threads can abort the process (a local call: a failed rank does not hang here)
            if dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()
    last = run.log[-1] if run.log else {}
    loss = f", loss {last['loss']:.4g}" if "loss" in last else ""
    if main_process:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        ranks = f" on {world} processes" if world > 1 else ""
        print(f"{out}: {args.model} trained to step {run.step}{loss}{ranks}")
    return 0


def cmd_tour(args: argparse.Namespace) -> int:
    from genzoo.tour import run_tour

    only = [m.strip() for m in args.only.split(",") if m.strip()] if args.only else None
    if args.steps is not None:
        at_least_one("--steps", args.steps)
    path = run_tour(
        args.out,
        quick=args.quick,
        only=only,
        seed=args.seed,
        progress=not args.quiet,
        steps=args.steps,
        overwrite=args.overwrite,
        threads=args.threads,
    )
    print(f"tour report: {path}")
    return 0


# --- the commands' arguments ------------------------------------------------------------
def register_train(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("train", help="train a model; writes a run directory")
    s.add_argument("model", help="a family: genzoo list models")
    s.add_argument("--data", help="dataset name (default mnist)")
    s.add_argument("--out", help="run directory (default runs/MODEL-DATA)")
    g = s.add_mutually_exclusive_group()
    g.add_argument(
        "--steps", type=COUNT, help="optimisation steps (train.steps; default the family's budget)"
    )
    g.add_argument(
        "--epochs", type=COUNT, help="passes over the training data instead of --steps (train.epochs)"
    )
    s.add_argument("--batch-size", dest="batch_size", type=COUNT, help="examples per step (train.batch_size)")
    s.add_argument("--lr", type=FLOAT, help="learning rate (train.lr)")
    add_seed(s, default=None)
    add_device(s, default=None)
    add_threads(s)
    s.add_argument(
        "--checkpoint-every",
        dest="checkpoint_every",
        type=COUNT,
        help="steps between checkpoints, from which an interrupted run resumes (train.checkpoint_every)",
    )
    s.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="autocast: bf16 (CUDA or CPU), fp16 (CUDA, with a gradient scaler)",
    )
    s.add_argument(
        "--compile",
        nargs="?",
        const="inductor",
        choices=("none", "inductor", "aot_eager"),
        help="torch.compile the model's networks (default backend inductor)",
    )
    s.add_argument("--config", help="TOML file with [model], [data], [train] tables")
    s.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="e.g. model.latent_dim=16, data.binarize=dynamic, train.ema=0.999",
    )
    s.add_argument("--resume", action="store_true", help="continue the run in --out up to --steps")
    s.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard events in RUN/tensorboard (train.log_to=tensorboard)",
    )
    s.set_defaults(fn=cmd_train)


def register_tour(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("tour", help="the main job: every family on its bundled data, one comparison report")
    s.add_argument("--quick", action="store_true", help="laptop budget: under 10 minutes on 2 CPU cores")
    s.add_argument(
        "--out", default="runs/tour", help="the tour's folder: index.html, board.md, one run per entry"
    )
    s.add_argument("--only", help="comma-separated families to run (default all)")
    s.add_argument("--steps", type=COUNT, help="train every family for this many steps instead of its budget")
    add_seed(s)
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="start every entry over instead of continuing the tour already in --out",
    )
    s.add_argument("--quiet", action="store_true", help="no progress bars or lines")
    add_threads(s)
    s.set_defaults(fn=cmd_tour)
