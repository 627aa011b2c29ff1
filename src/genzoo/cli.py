"""The `genzoo` command line (DESIGN.md, "The user's contract")."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import math
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genzoo import catalog
from genzoo.catalog import default_data, shown_value
from genzoo.config import INT_MAX, INT_MIN
from genzoo.errors import GenzooError

if TYPE_CHECKING:
    import torch


def _dataset_for(cfg: dict[str, Any], split: str):
    from genzoo.data import load

    data = cfg.get("data") or {}
    if not data.get("options") and data.get("options") is not None:
        data["options"] = {}
    if data.get("options") is None:
        raise GenzooError(f"the run was trained on in-memory data ({data.get('name')!r}); evaluate it from Python with genzoo.evaluate")
    return load(data["name"], split=split, **data["options"])


# --- list --------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    what = args.what or "all"
    if args.name is not None and what not in ("models", "datasets"):
        raise GenzooError("give a name after `list models` or `list datasets`, e.g. genzoo list models vae")
    print(catalog.text(what, args.name))
    return 0


# --- train -------------------------------------------------------------------------------------
TRAIN_FLAGS = ("steps", "epochs", "batch_size", "lr", "seed", "device", "checkpoint_every", "precision", "compile", "threads")


def _train_options(args: argparse.Namespace, sets: dict[str, dict[str, Any]], toml: dict[str, dict[str, Any]]) -> dict[str, Any]:
    opts: dict[str, Any] = {**toml.get("train", {}), **sets.get("train", {})}
    for flag in TRAIN_FLAGS:
        value = getattr(args, flag, None)
        if value is not None:
            opts[flag] = value
    if args.quiet:
        opts["progress"] = False
    if "steps" in opts and "epochs" in opts:
        if getattr(args, "steps", None) is not None:
            opts.pop("epochs")
        elif getattr(args, "epochs", None) is not None:
            opts.pop("steps")
    return opts


def _check_same(what: str, saved: dict[str, Any], given: dict[str, Any]) -> None:
    """--resume: every option given again must equal the saved one; a different one is named."""
    for key, value in given.items():
        old = saved.get(key)
        if _jsonish(value) != _jsonish(old):
            raise GenzooError(
                f"--resume: {what}.{key} is {shown_value(old)} in the saved run, {shown_value(value)} now; "
                "a run continues with its own model and data (start a new run with another --out to change it)"
            )


def _jsonish(value: Any) -> Any:
    return [_jsonish(v) for v in value] if isinstance(value, (list, tuple)) else value


def _resume_setup(args, out: Path, sets: dict[str, Any], toml: dict[str, Any]):  # noqa: ANN001, ANN202
    """The saved run's data and model for --resume. Options given again must equal the saved ones
    (so repeating the command that made the run, with a larger --steps, works); a differing one is
    refused naming the key, the saved value and the new one."""
    from genzoo.config import build
    from genzoo.data import resolved_options
    from genzoo.models import MODELS, create
    from genzoo.training import checkpoint as ckpt

    cfg = ckpt.read_config(out)
    if cfg["model"]["name"] != args.model:
        raise GenzooError(f"--resume: {out} holds a {cfg['model']['name']!r} run, not {args.model!r}")
    data_cfg = cfg.get("data") or {}
    given_data = {k: v for k, v in {**toml.get("data", {}), **sets.get("data", {})}.items() if k != "name"}
    name = args.data or toml.get("data", {}).get("name")
    if name is not None and name != data_cfg.get("name"):
        raise GenzooError(f"--resume: --data is {data_cfg.get('name')} in the saved run, {name} now; a run continues with its own data")
    if given_data:
        if data_cfg.get("options") is None:
            raise GenzooError("--resume: the run was trained on in-memory data; its data options cannot be given again")
        full = resolved_options(data_cfg["name"], **given_data)  # checks and converts the values given
        _check_same("data", data_cfg["options"], {k: full[k] for k in given_data})
    given_model = {**toml.get("model", {}), **sets.get("model", {})}
    if given_model:
        config = build(MODELS.get(args.model).Config, given_model, section="model")
        from genzoo.config import to_dict

        _check_same("model", cfg["model"]["params"], {k: to_dict(config)[k] for k in given_model})
    data = _dataset_for(cfg, "train")
    return data, create(args.model, data, **cfg["model"]["params"]), cfg


def cmd_train(args: argparse.Namespace) -> int:
    from genzoo.config import build, parse_sets, read_toml
    from genzoo.data import load
    from genzoo.models import MODELS, create
    from genzoo.training import checkpoint as ckpt
    from genzoo.training.distributed import env_rank
    from genzoo.training.trainer import TrainConfig, train

    main_process = env_rank() == 0  # under torchrun only rank 0 checks, clears and prints
    MODELS.get(args.model)  # unknown model: fail before loading any data
    sets = parse_sets(args.set or [])
    toml = read_toml(args.config) if args.config else {}
    train_opts = _train_options(args, sets, toml)
    seed = build(TrainConfig, train_opts, section="train").seed  # every value checked before anything else
    data_name = args.data or toml.get("data", {}).get("name")
    data_opts = {k: v for k, v in {**toml.get("data", {}), **sets.get("data", {})}.items() if k != "name"}
    if data_name is None:
        data_name, defaults = default_data(args.model)
        data_opts = {**defaults, **data_opts}
    out = Path(args.out or f"runs/{args.model}-{data_name.replace(':', '_').replace('/', '_')}")
    if args.resume:
        data, model, cfg = _resume_setup(args, out, sets, toml)
        saved = dict(cfg["train"])
        if "steps" in train_opts or "epochs" in train_opts:  # the length given now replaces the saved one
            saved.pop("steps", None)
            saved.pop("epochs", None)
        train_opts = {k: v for k, v in {**saved, **train_opts}.items() if v is not None}
    else:
        model_params = {**toml.get("model", {}), **sets.get("model", {})}
        data = load(data_name, split="train", **data_opts)
        model = create(args.model, data, seed=seed, **model_params)
    lock = ckpt.run_lock(out) if main_process else contextlib.nullcontext()
    with lock:  # no other process trains into `out` while this one checks, clears and trains it
        if not args.resume and main_process and (out / ckpt.CONFIG).exists():
            if not args.overwrite and not (out / ckpt.STATE).exists():
                raise GenzooError(f"{out} holds a run stopped before its first checkpoint; start it again with --overwrite, or pass another --out")
            if not args.overwrite:
                raise GenzooError(f"{out} already holds a run; continue it with --resume, or pass --overwrite or another --out")
            for name in (ckpt.STATE, ckpt.WEIGHTS, ckpt.CHECKSUMS, ckpt.LOG, ckpt.METRICS, ckpt.SAMPLES):
                (out / name).unlink(missing_ok=True)
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


# --- sample / evaluate / interpolate / report -------------------------------------------------
def _load_run(run: str, device: str = "cpu"):
    from genzoo.training import checkpoint as ckpt
    from genzoo.training.trainer import resolve_device

    return ckpt.load(run, device=resolve_device(device))


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from genzoo.viz import save_samples

    if args.n < 1:
        raise GenzooError(f"-n must be at least 1, got {args.n}")
    _check_suffix(args.out, (".png", ".npy", ".npz"))
    model = _load_run(args.run, args.device)
    condition = {}
    if args.label is not None:
        if not getattr(model, "conditional", False):
            raise GenzooError(f"--label: model {model.name!r} is not conditional")
        classes = model.info.num_classes
        if not 0 <= args.label < classes:
            raise GenzooError(f"--label must be in [0, {classes - 1}], got {args.label}")
        condition["label"] = args.label
    condition.update(_code_options(args, model))
    condition.update(_sampler_options(args, model.sample))
    if args.size is not None:
        if args.size < 1:
            raise GenzooError(f"--size must be a positive number of pixels, got {args.size}")
        if "size" not in inspect.signature(model.sample).parameters:
            raise GenzooError(f"--size: model {model.name!r} samples at its training size only (gan with arch=fcn draws any size)")
        condition["size"] = args.size
    gen = torch.Generator(device=model.device).manual_seed(args.seed)
    with torch.no_grad():
        x = model.sample(args.n, generator=gen, **condition)
    save_samples(x.float().cpu(), model.info, args.out)
    print(f"{args.out}: {args.n} samples from {args.run}")
    return 0


def _sampler_options(args: argparse.Namespace, method) -> dict[str, Any]:
    """--steps --sampler --eta (--resample) (--guidance) for methods that take them (ddpm)."""
    out = {}
    for key in ("steps", "sampler", "eta", "resample", "guidance"):
        value = getattr(args, key, None)
        if value is not None:
            if key not in inspect.signature(method).parameters:
                what = "classifier-free guidance" if key == "guidance" else "reverse sampler to set"
                raise GenzooError(f"--{key}: model {method.__self__.name!r} has no {what} (ddpm has)")
            out[key] = value
    return out


def _code_options(args: argparse.Namespace, model) -> dict[str, Any]:
    """--code K and --continuous v1,v2 for models whose sample() takes them (infogan); the model checks the values."""
    import inspect

    given = {k: v for k, v in (("code", args.code), ("continuous", args.continuous)) if v is not None}
    accepted = inspect.signature(model.sample).parameters
    for key in given:
        if key not in accepted:
            raise GenzooError(f"--{key}: model {model.name!r} has no latent codes to choose (infogan has)")
    if "continuous" in given:
        try:
            given["continuous"] = [float(v) for v in given["continuous"].split(",")]
        except ValueError:
            raise GenzooError(f"--continuous expects comma-separated numbers such as --continuous=0.5,-1, got {args.continuous!r}") from None
    return given


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Under torchrun (`torchrun --nproc_per_node N -m genzoo evaluate RUN`) every rank joins the
    process group and runs the suite: the model's samples and a deterministic likelihood are split
    over the ranks and gathered, the rest computed on every rank, with one process's results;
    rank 0 alone writes metrics.json and the metric pictures, and prints."""
    import torch.distributed as dist

    from genzoo.metrics import evaluate
    from genzoo.training import checkpoint as ckpt
    from genzoo.training import distributed
    from genzoo.training.trainer import resolve_device

    cfg = ckpt.read_config(args.run)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.n is not None and args.n < 1:
        raise GenzooError(f"--n must be at least 1, got {args.n}")
    device = resolve_device(args.device)
    joined = distributed.env_world_size() > 1 and dist.is_available() and not dist.is_initialized()
    rank, _, device = distributed.setup(device)  # one process: (0, 1, device) unchanged
    try:
        model = ckpt.load(args.run, device=device)
        test = _dataset_for(cfg, "test")
        train = _dataset_for(cfg, "train")
        result = evaluate(
            model, test, metrics=metrics, n=args.n, seed=args.seed, train_data=train, features=args.features,
            artifacts_dir=args.run if rank == 0 else None,
        )
        if rank == 0:
            ckpt.write_json(Path(args.run) / ckpt.METRICS, result)
            _print_metrics(result)
            print(f"written: {Path(args.run) / ckpt.METRICS}")
        distributed.barrier()  # no rank leaves before metrics.json is written
    finally:
        # now, not in the interpreter's finalisation, where tearing down gloo's threads can abort the
        # process; a local operation (no collective), so a rank that failed does not hang here
        if joined and dist.is_initialized():
            dist.destroy_process_group()
    return 0


def _print_metrics(result: dict[str, Any]) -> None:
    print(f"data {result['data']} ({result['split']} split, n={result['n']}, seed={result['seed']})")
    if "features" in result:
        print(f"features: {result['features']}; {result['n_real']} real vs {result['n_fake']} generated; floor = two halves of real data")
    rows = []
    for name, values in result["metrics"].items():
        for key, value in values.items():
            if key in ("seconds", "closest", "counts"):
                continue
            rows.append((name, key, f"{value:.6g}" if isinstance(value, float) else str(value)))
    w0 = max((len(r[0]) for r in rows), default=6)
    w1 = max((len(r[1]) for r in rows), default=5)
    for name, key, value in rows:
        print(f"  {name:<{w0}}  {key:<{w1}}  {value}")
    if result.get("small_sample"):
        print(f"small sample: {result['small_sample']}")


def cmd_interpolate(args: argparse.Namespace) -> int:
    import torch

    from genzoo.training.checkpoint import atomic_write
    from genzoo.viz import interpolation_strip

    _check_suffix(args.out, (".png",))
    model = _load_run(args.run, args.device)
    img = interpolation_strip(model, steps=args.steps, generator=torch.Generator().manual_seed(args.seed), info=model.info)
    if isinstance(img, bytes):
        atomic_write(args.out, lambda p: p.write_bytes(img))
    else:
        atomic_write(args.out, lambda p: img.save(p, format="PNG"))
    print(f"{args.out}: interpolation from {args.run}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from genzoo.training.checkpoint import read_config
    from genzoo.viz.report import write_report

    read_config(args.run)
    path = write_report(args.run, out=args.out)
    print(f"report: {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from genzoo.viz.board import entry_from_run, write_board

    entries = [entry_from_run(run) for run in args.runs]
    names = [e.name for e in entries]
    if len(set(names)) < len(names):  # same folder names under different parents: use the paths
        for e, run in zip(entries, args.runs):
            e.name = str(run)
    path = write_board(entries, args.out)
    print(f"leaderboard of {len(entries)} runs: {path}")
    return 0


def cmd_tour(args: argparse.Namespace) -> int:
    from genzoo.tour import run_tour

    only = [m.strip() for m in args.only.split(",") if m.strip()] if args.only else None
    if args.steps is not None and args.steps < 1:
        raise GenzooError(f"--steps must be at least 1, got {args.steps}")
    path = run_tour(args.out, quick=args.quick, only=only, seed=args.seed, progress=not args.quiet, steps=args.steps,
                    overwrite=args.overwrite, threads=args.threads)
    print(f"tour report: {path}")
    return 0


def _input_examples(path: str, model) -> torch.Tensor:
    """Examples from a .npy/.npz file, checked against the shape the model was trained on."""
    from genzoo.data import load

    suffix = Path(path).suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise GenzooError(f"--input {path}: unsupported file type {suffix or '(none)'!r} (use .npy or .npz)")
    data = load(f"{suffix[1:]}:{path}", split="all")
    shape = tuple(model.info.shape)
    x = data.x
    if tuple(x.shape[1:]) != shape:
        if x[0].numel() == model.info.dim:
            x = x.reshape(len(x), *shape)
        else:
            raise GenzooError(f"--input {path}: examples of shape {tuple(x.shape[1:])}, the model takes {shape}")
    return x


def _save_arrays(path: str, **arrays: Any) -> None:
    import numpy as np
    import torch

    from genzoo.training.checkpoint import atomic_path

    _check_suffix(path, (".npz",))
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **{k: (v.detach().cpu().numpy() if torch.is_tensor(v) else v) for k, v in arrays.items()})


def cmd_encode(args: argparse.Namespace) -> int:
    import torch

    from genzoo.training import checkpoint as ckpt

    _check_suffix(args.out, (".npz",))
    model = _load_run(args.run, args.device)
    if not model.encodes:
        raise GenzooError(f"model {model.name!r} has no encoder (encode needs an autoencoder or a VAE)")
    if args.input:
        x, y = _input_examples(args.input, model), None
    else:
        data = _dataset_for(ckpt.read_config(args.run), args.split)
        x, y = data.tensors(), data.y
    with torch.no_grad():
        codes = torch.cat([model.encode(c.to(model.device)).float().cpu() for c in torch.split(x, 500)])
    arrays = {"codes": codes} if y is None else {"codes": codes, "y": y}
    _save_arrays(args.out, **arrays)
    print(f"{args.out}: {len(codes)} codes of dimension {codes.shape[1]}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    import torch
    model = _load_run(args.run, args.device)
    x = _input_examples(args.input, model)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        scores = torch.cat([model.anomaly_score(c.to(model.device)).double().cpu() for c in torch.split(x, 250)])
    q = torch.quantile(scores, torch.tensor([0.0, 0.5, 0.95, 1.0], dtype=torch.float64)).tolist()
    print(f"anomaly scores of {len(scores)} examples (higher = more anomalous): min {q[0]:.4g}, median {q[1]:.4g}, 95% {q[2]:.4g}, max {q[3]:.4g}")
    if args.out:
        _save_arrays(args.out, scores=scores)
        print(f"written: {args.out}")
    return 0


def cmd_denoise(args: argparse.Namespace) -> int:
    import torch
    _check_suffix(args.out, (".npz", ".npy", ".png"))
    model = _load_run(args.run, args.device)
    if not model.encodes:
        raise GenzooError(f"model {model.name!r} has no encoder and decoder to denoise with")
    if not getattr(model, "denoising", False):
        print(f"genzoo: warning: model {model.name!r} was not trained to denoise; this is its plain reconstruction", file=sys.stderr)
    x = _input_examples(args.input, model)
    with torch.no_grad():
        clean = torch.cat([model.reconstruct(c.to(model.device)).float().cpu() for c in torch.split(x, 500)])
    from genzoo.viz import save_samples

    save_samples(clean, model.info, args.out)
    print(f"{args.out}: {len(clean)} denoised examples")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    import torch

    from genzoo.viz import save_samples

    _check_suffix(args.out, (".npz", ".npy", ".png"))
    model = _load_run(args.run, args.device)
    if not callable(getattr(model, "edit", None)):
        raise GenzooError(f"model {model.name!r} cannot edit examples (edit needs a conditional model with an encoder: cgan)")
    if not model.encodes:
        raise GenzooError(f"model {model.name!r} was trained without its encoder (encoder=false), so it cannot edit examples")
    classes = model.info.num_classes
    if not 0 <= args.label < classes:
        raise GenzooError(f"--label must be in [0, {classes - 1}], got {args.label}")
    x = _input_examples(args.input, model)
    with torch.no_grad():
        edited = torch.cat([model.edit(c.to(model.device), args.label).float().cpu() for c in torch.split(x, 500)])
    save_samples(edited, model.info, args.out, y=torch.full((len(edited),), args.label))
    print(f"{args.out}: {len(edited)} examples redrawn as class {args.label}")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    import math
    from dataclasses import replace

    import torch

    from genzoo.data import load
    from genzoo.viz import save_samples

    _check_suffix(args.out, (".png", ".npz", ".npy"))
    model = _load_run(args.run, args.device)
    if not callable(getattr(model, "translate", None)) or not callable(getattr(model, "translation_shapes", None)):
        raise GenzooError(f"model {model.name!r} does not translate images (translate needs cyclegan or pix2pix)")
    shape_in, shape_out = model.translation_shapes(args.direction)  # one-line error for a direction it lacks
    suffix = Path(args.input).suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise GenzooError(f"--input {args.input}: unsupported file type {suffix or '(none)'!r} (use .npy or .npz)")
    x = load(f"{suffix[1:]}:{args.input}", split="all").x
    if tuple(x.shape[1:]) != tuple(shape_in):
        if x[0].numel() != math.prod(shape_in):
            raise GenzooError(f"--input {args.input}: examples of shape {tuple(x.shape[1:])}, the model translates {tuple(shape_in)}")
        x = x.reshape(len(x), *shape_in)
    with torch.no_grad():
        out = model.translate(x, direction=args.direction).float().cpu()
    info = replace(model.info, shape=tuple(shape_out), pairing=None, pair_shape=None)
    save_samples(out, info, args.out)
    print(f"{args.out}: {len(out)} examples translated {args.direction} by {args.run}")
    return 0


def cmd_condition(args: argparse.Namespace) -> int:
    import torch

    from genzoo.models.base import expand_mask
    from genzoo.viz import inpainting_grid, png_bytes, save_samples

    _check_suffix(args.out, (".png", ".npz", ".npy"))
    if (args.mask is None) == (args.points is None):
        raise GenzooError("condition needs exactly one of --mask (fill a hole) and --points FILE.csv (honour point data)")
    model = _load_run(args.run, args.device)
    if args.points is not None:
        return _condition_points(args, model)
    if not callable(getattr(model, "inpaint", None)):
        raise GenzooError(f"model {model.name!r} cannot fill a masked part of an example (ddpm, pixelcnn, rbm can)")
    if args.input is not None:
        x = _input_examples(args.input, model)
    else:
        if args.n < 1:
            raise GenzooError(f"-n must be at least 1, got {args.n}")
        from genzoo.training import checkpoint as ckpt

        x = _dataset_for(ckpt.read_config(args.run), "test").tensors()[: args.n]
    mask = _read_mask(args.mask, model)
    options = _sampler_options(args, model.inpaint)
    if args.label is not None:
        if not getattr(model, "conditional", False) or "label" not in inspect.signature(model.inpaint).parameters:
            raise GenzooError(f"--label: model {model.name!r} is not conditional")
        options["label"] = args.label
    gen = torch.Generator(device=model.device).manual_seed(args.seed)
    filled = model.inpaint(x.to(model.device), mask, generator=gen, **options).float().cpu()
    m = expand_mask(mask, x, model.info).cpu()
    if args.out.lower().endswith(".png"):
        from genzoo.training.checkpoint import atomic_path

        data = png_bytes(inpainting_grid(x, m, filled, model.info))
        with atomic_path(args.out) as tmp:
            Path(tmp).write_bytes(data)
    elif args.out.lower().endswith(".npz"):
        _save_arrays(args.out, x=filled, input=x, mask=m)
    else:
        save_samples(filled, model.info, args.out)
    print(f"{args.out}: {len(filled)} examples with their masked part filled by {args.run}")
    return 0


def _condition_points(args: argparse.Namespace, model) -> int:
    """--points FILE.csv (columns row, col, value): -n realisations that honour the data — exactly
    by kriging for the classical simulators, by optimising the latent vector for other generators."""
    import math

    import torch

    from genzoo.geostat.latent import check_points, condition_points, diversity, read_points_csv
    from genzoo.training.checkpoint import atomic_path
    from genzoo.viz.fields import fields_figure

    if args.n < 1:
        raise GenzooError(f"-n must be at least 1, got {args.n}")
    if model.info.kind not in ("field", "image") or len(model.info.shape) != 3:
        raise GenzooError(f"--points: model {model.name!r} models {model.info.kind} data; point data condition fields and images")
    rows, cols, values = read_points_csv(args.points)
    shape = tuple(model.info.shape[1:]) if args.size is None else (args.size, args.size)
    rows, cols, values = check_points(rows, cols, values, shape)
    gen = torch.Generator(device=model.device).manual_seed(args.seed)
    size = None if args.size is None else args.size
    if "points" in inspect.signature(model.sample).parameters:
        x = model.sample(args.n, generator=gen, points=(rows, cols, values), size=size).cpu()
        got = x[:, 0, rows, cols].double()
        err = (got - values).abs()
        honoured = (err <= 1e-6 * max(1.0, float(values.abs().max()))).double().mean(1)
        misfit = err.pow(2).mean(1).sqrt()
        how = "kriging of the residuals (exact)"
        extra = {}
    else:
        if not getattr(model, "latent", False):
            raise GenzooError(f"--points: model {model.name!r} has no latent space to optimise (gan, vae, the classical simulators have)")
        steps = args.steps or 500
        res = condition_points(model, rows, cols, values, n=args.n, steps=steps, generator=gen, size=size, progress=True)
        x, honoured, misfit = res.x.cpu(), res.honoured, res.misfit
        how = f"latent optimisation, {steps} steps"
        extra = {"z": res.z, "accepted": res.accepted}
    spread = diversity(x)
    out = args.out.lower()
    if out.endswith(".npz"):
        _save_arrays(args.out, x=x, honoured=honoured, misfit=misfit,
                     points=torch.stack([rows.double(), cols.double(), values.double()], 1), **extra)
    elif out.endswith(".npy"):
        from genzoo.viz import save_samples

        save_samples(x.float(), model.info, args.out)
    else:
        data = fields_figure(x, points=(rows, cols, values), title=f"{args.run}: {len(values)} data, {how}")
        with atomic_path(args.out) as tmp:
            Path(tmp).write_bytes(data)
    share = float(honoured.mean())
    div = "n/a" if math.isnan(spread) else f"{spread:.4g}"
    print(f"{args.out}: {len(x)} realisations by {how}; data honoured {100 * share:.1f} %, "
          f"RMS misfit {float(misfit.mean()):.3g}, diversity (mean pairwise RMS distance) {div}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """genzoo simulate METHOD --cov MODEL --range R --shape H W -n N --out FILE.npz (+ FILE.png)."""
    import time

    import numpy as np
    import torch

    from genzoo.geostat import covariance as C
    from genzoo.geostat.simulators import simulator
    from genzoo.training.checkpoint import atomic_path
    from genzoo.viz.fields import fields_figure

    _check_suffix(args.out, (".npz",))
    if args.n < 1:
        raise GenzooError(f"-n must be at least 1, got {args.n}")
    if args.range is None:
        raise GenzooError("--range is required: the range parameter a of the covariance, in cells")
    cov = C.make(args.cov, range=args.range, sill=args.sill, nugget=args.nugget, angle=args.angle, ratio=args.ratio,
                 nu=args.nu if args.cov == "matern" else None)
    shape = tuple(args.shape)
    options = {}
    if args.modes is not None:
        if args.method != "spectral":
            raise GenzooError("--modes is an option of the spectral method")
        options["modes"] = args.modes
    if args.tol is not None:
        if args.method != "spde":
            raise GenzooError("--tol is an option of the spde method")
        options["tol"] = args.tol
    points = None
    if args.points:
        from genzoo.geostat.latent import check_points, read_points_csv

        points = check_points(*read_points_csv(args.points), shape)
    from genzoo.training.trainer import resolve_device

    device = resolve_device(args.device)
    t0 = time.perf_counter()
    sim = simulator(args.method, cov, shape, **options)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    x = sim.sample(args.n, generator=gen, mean=args.mean, device=device)
    if points is not None:
        from genzoo.geostat.kriging import condition

        x = condition(x, points, cov, mean=args.mean)
    seconds = time.perf_counter() - t0
    x = x.cpu()
    with atomic_path(args.out) as tmp, tmp.open("wb") as fh:
        np.savez(fh, x=x.numpy(), method=args.method, cov=cov.describe(), seed=args.seed)
    png = str(Path(args.out).with_suffix(".png"))
    with atomic_path(png) as tmp:
        Path(tmp).write_bytes(fields_figure(x, cov, points=points, title=f"{args.method}: {cov.describe()}, {shape[0]}×{shape[1]}"))
    notes = []
    if getattr(sim, "degree", None) is not None:
        notes.append(f"Chebyshev degree {sim.degree}")
    if getattr(sim, "torus", None) is not None:
        notes.append(f"torus {sim.torus[0]}×{sim.torus[1]}")
    if getattr(sim, "negative_mass", 0.0):
        notes.append(f"negative eigenvalue mass {sim.negative_mass:.2e} clipped")
    extra = f" ({', '.join(notes)})" if notes else ""
    print(f"{args.out}: {args.n} fields {shape[0]}×{shape[1]} of {cov.describe()} by {args.method} in {seconds:.2f} s{extra}; figure {png}")
    return 0


def _read_mask(spec: str, model) -> torch.Tensor:
    """--mask: a named hole (bottom-half, …) or a .npy/.npz/.png file, 1 (non-zero) = known."""
    import numpy as np
    import torch

    from genzoo.models.base import HOLES, hole_mask

    if spec in HOLES:
        return hole_mask(spec, tuple(model.info.shape))
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".png"):
        raise GenzooError(f"--mask {spec}: neither a named hole ({', '.join(HOLES)}) nor a .npy/.npz/.png file")
    if not path.is_file():
        raise GenzooError(f"--mask {spec}: no such file")
    try:
        if suffix == ".png":
            from genzoo.data.files import read_image

            arr = read_image(path, 1)[0]  # PNG/JPEG only; a decompression bomb is refused from its header
        else:  # headers checked, never unpickled; an .npz's array under 'mask', or its only one
            from genzoo.data.files import read_arrays

            arr = read_arrays(path, key="mask")[0]
    except GenzooError as exc:
        raise GenzooError(f"--mask: {exc}") from None
    except Exception as exc:  # a corrupt or foreign file
        raise GenzooError(f"--mask {spec}: cannot read it ({type(exc).__name__}: {exc})") from None
    if arr.dtype.kind not in "biuf":
        raise GenzooError(f"--mask {spec}: expected numbers, got an array of {arr.dtype}")
    return torch.from_numpy(np.asarray(arr != 0))


def _check_suffix(path: str, allowed: tuple[str, ...]) -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise GenzooError(f"--out {path}: unsupported file type {suffix or '(none)'!r} (use {', '.join(allowed)})")


# --- parser ------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        message = " ".join(message.split("\n"))
        self.exit(2, f"{self.prog}: error: {message}\n")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # argparse drops a lone "--" value, so that `--steps=--` would give [] instead of an error
        if action.option_strings and action.nargs in (None, "?") and arg_strings == ["--"]:
            self.error(f"argument {'/'.join(action.option_strings)}: expected a value, got '--'")
        return super()._get_values(action, arg_strings)


def _int(low: int = INT_MIN, high: int = INT_MAX):
    """argparse type: an integer in [low, high] (by default any int64): out of range, or not an
    integer, is argparse's one-line error, exit 2. Commands check the meaning (e.g. -n >= 1)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer in [{low}, {high}], got {text[:40]!r}")
        return value

    parse.__name__ = "int"
    return parse


def _float(low: float = -float("inf"), high: float = float("inf")):
    """argparse type: a finite float in [low, high] (NaN and inf are refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            bounds = "a finite number" if (low, high) == (-math.inf, math.inf) else f"a number in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"expected {bounds}, got {text[:40]!r}")
        return value

    parse.__name__ = "float"
    return parse


def _threads(text: str) -> int | None:
    """argparse type of --threads: a count >= 1, or auto (None)."""
    if text.strip().lower() == "auto":
        return None
    return _int(1, 4096)(text)


_threads.__name__ = "thread count"


def _threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_threads, metavar="N|auto",
                        help="CPU threads for torch's operators (default auto: training times a few steps at each "
                        "count; other commands take the cores other processes leave free)")


INT = _int()  # any int64; the command checks its meaning
SEED = _int(0, INT_MAX)  # torch, numpy and the trainer take seeds >= 0
COUNT = _int(INT_MIN, 2**31 - 1)  # -n, --size, --steps, ...: past 2**31 no tensor could hold them
SIDE = _int(1, 65536)  # --shape H W
FLOAT = _float()


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="genzoo", description="Deep generative models, trained, sampled and scored alike.")
    from genzoo import __version__

    p.add_argument("--version", action="version", version=f"genzoo {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("list", help="list models, datasets or metrics; `list models NAME`: every option of a model")
    s.add_argument("what", nargs="?", choices=("models", "datasets", "metrics"))
    s.add_argument("name", nargs="?", help="a model or dataset: its options, defaults, ranges and help")
    s.set_defaults(fn=cmd_list)

    s = sub.add_parser("train", help="train a model; writes a run directory")
    s.add_argument("model")
    s.add_argument("--data", help="dataset name (default mnist)")
    s.add_argument("--out", help="run directory (default runs/MODEL-DATA)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--steps", type=COUNT)
    g.add_argument("--epochs", type=COUNT)
    s.add_argument("--batch-size", dest="batch_size", type=COUNT)
    s.add_argument("--lr", type=FLOAT)
    s.add_argument("--seed", type=SEED)
    s.add_argument("--device", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.add_argument("--checkpoint-every", dest="checkpoint_every", type=COUNT)
    s.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), help="autocast: bf16 (CUDA or CPU), fp16 (CUDA, with a gradient scaler)")
    s.add_argument("--compile", nargs="?", const="inductor", choices=("none", "inductor", "aot_eager"),
                   help="torch.compile the model's networks (default backend inductor)")
    s.add_argument("--config", help="TOML file with [model], [data], [train] tables")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="e.g. model.latent_dim=16, data.binarize=dynamic, train.ema=0.999")
    s.add_argument("--resume", action="store_true", help="continue the run in --out up to --steps")
    s.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run")
    s.add_argument("-n", type=COUNT, default=64)
    s.add_argument("--out", required=True, help="FILE.png, FILE.npy or FILE.npz")
    s.add_argument("--seed", type=SEED, default=0)
    s.add_argument("--label", type=INT)
    s.add_argument("--steps", type=COUNT, help="ddpm: sampling steps (default all the training steps)")
    s.add_argument("--sampler", choices=("ddpm", "ddim"), help="ddpm: the reverse sampler")
    s.add_argument("--eta", type=FLOAT, help="ddpm with --sampler ddim: 0 deterministic, 1 ancestral noise")
    s.add_argument("--guidance", type=FLOAT, help="conditional ddpm: classifier-free guidance scale (1 conditional, 0 unconditional, >1 sharper)")
    s.add_argument("--size", type=COUNT, help="gan with arch=fcn: side of the generated fields, e.g. 256 after training on 64×64 patches")
    s.add_argument("--code", type=INT, help="infogan: the categorical code of every sample")
    s.add_argument("--continuous", metavar="V1,V2", help="infogan: the continuous codes of every sample, e.g. --continuous=0.5,-1")
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.set_defaults(fn=cmd_sample)

    s = sub.add_parser("evaluate", help="score a run on its held-out data; writes RUN/metrics.json")
    s.add_argument("run")
    s.add_argument("--metrics", help="comma-separated names (default: every metric that applies)")
    s.add_argument("-n", "--n", dest="n", type=COUNT,
                   help="held-out examples to use (default all); under torchrun write -n N: torchrun's own "
                   "parser takes --n for an abbreviation of its --nnodes/--nproc-per-node")
    s.add_argument("--seed", type=SEED, default=0)
    s.add_argument("--features", default="auto", choices=("auto", "classifier", "pca", "pixels"),
                   help="feature space of the sample metrics (auto: genzoo's shipped classifier where one matches the data)")
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.set_defaults(fn=cmd_evaluate)

    s = sub.add_parser("compare", help="one leaderboard over evaluated runs")
    s.add_argument("runs", nargs="+", metavar="RUN")
    s.add_argument("--out", required=True, help="board.html or board.md")
    s.set_defaults(fn=cmd_compare)

    s = sub.add_parser("tour", help="the main job: every family on its bundled data, one comparison report")
    s.add_argument("--quick", action="store_true", help="laptop budget: under 10 minutes on 2 CPU cores")
    s.add_argument("--out", default="runs/tour")
    s.add_argument("--only", help="comma-separated families to run (default all)")
    s.add_argument("--steps", type=COUNT, help="train every family for this many steps instead of its budget")
    s.add_argument("--seed", type=SEED, default=0)
    s.add_argument("--overwrite", action="store_true", help="start every entry over instead of continuing the tour already in --out")
    s.add_argument("--quiet", action="store_true", help="no progress bars or lines")
    _threads_option(s)
    s.set_defaults(fn=cmd_tour)

    s = sub.add_parser("interpolate", help="decode a path between latent codes")
    s.add_argument("run")
    s.add_argument("--out", required=True)
    s.add_argument("--steps", type=COUNT, default=10)
    s.add_argument("--seed", type=SEED, default=0)
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.set_defaults(fn=cmd_interpolate)

    s = sub.add_parser("encode", help="codes of a latent model (dimension reduction); writes FILE.npz")
    s.add_argument("run")
    s.add_argument("--out", required=True, help="FILE.npz with codes (and labels y)")
    s.add_argument("--input", help="FILE.npy/.npz of examples (default: the run's dataset)")
    s.add_argument("--split", default="test", choices=("train", "test", "all"))
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.set_defaults(fn=cmd_encode)

    s = sub.add_parser("score", help="anomaly score per example (negative log-likelihood or reconstruction error)")
    s.add_argument("run")
    s.add_argument("--input", required=True, help="FILE.npy/.npz of examples")
    s.add_argument("--out", help="FILE.npz for the scores")
    s.add_argument("--seed", type=SEED, default=0)
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.set_defaults(fn=cmd_score)

    s = sub.add_parser("denoise", help="clean noisy examples with an autoencoder (a denoising one: dae)")
    s.add_argument("run")
    s.add_argument("--input", required=True, help="FILE.npy/.npz of noisy examples")
    s.add_argument("--out", required=True, help="FILE.npz, FILE.npy or FILE.png")
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.set_defaults(fn=cmd_denoise)

    s = sub.add_parser("edit", help="redraw examples as another class, keeping their style (cgan: G(E(x), label))")
    s.add_argument("run")
    s.add_argument("--input", required=True, help="FILE.npy/.npz of examples")
    s.add_argument("--label", required=True, type=INT, help="the class to redraw them as")
    s.add_argument("--out", required=True, help="FILE.png, FILE.npz (edited x and their label y) or FILE.npy")
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.set_defaults(fn=cmd_edit)

    s = sub.add_parser("translate", help="map images with a translation model (cyclegan, pix2pix)")
    s.add_argument("run")
    s.add_argument("--input", required=True, help="FILE.npy/.npz of input images (domain A, or B with --direction b2a)")
    s.add_argument("--out", required=True, help="FILE.png, FILE.npz or FILE.npy")
    s.add_argument("--direction", default="a2b", help="a2b (default; pix2pix: input -> target) or b2a (cyclegan only)")
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.set_defaults(fn=cmd_translate)

    s = sub.add_parser("condition", help="fill the masked part of examples given the rest (ddpm: inpainting; autoregressive models, RBMs: completion)")
    s.add_argument("run")
    s.add_argument("--mask",
                   help="FILE.npy/.npz/.png, shape (H, W), (C, H, W) or one per example, non-zero = known, 0 = fill; "
                        "or a hole: bottom-half, top-half, left-half, right-half, center")
    s.add_argument("--points", help="FILE.csv with columns row, col, value: -n realisations honouring these data "
                   "(classical simulators: exactly, by kriging; gan, vae: by optimising the latent vector, --steps of it)")
    s.add_argument("--size", type=COUNT, help="--points: the side of the conditioned fields (gan arch=fcn and the simulators draw any size)")
    s.add_argument("--input", help="FILE.npy/.npz of examples (default: the first -n held-out examples of the run's data)")
    s.add_argument("-n", type=COUNT, default=8, help="held-out examples to fill when there is no --input")
    s.add_argument("--out", required=True, help="FILE.png (originals / masked / filled), FILE.npz (x, input, mask) or FILE.npy")
    s.add_argument("--seed", type=SEED, default=0)
    s.add_argument("--steps", type=COUNT, help="sampling steps (default all the training steps)")
    s.add_argument("--sampler", choices=("ddpm", "ddim"))
    s.add_argument("--eta", type=FLOAT)
    s.add_argument("--resample", type=COUNT, help="RePaint: resamplings per step (1: replacement only)")
    s.add_argument("--label", type=INT, help="conditional ddpm: the class of the fills")
    s.add_argument("--guidance", type=FLOAT, help="conditional ddpm: classifier-free guidance scale")
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.set_defaults(fn=cmd_condition)

    s = sub.add_parser("simulate", help="Gaussian random fields by a classical simulator (cholesky, spectral, fft, spde)")
    s.add_argument("method", choices=("cholesky", "spectral", "fft", "spde"))
    s.add_argument("--cov", default="matern", choices=("matern", "exponential", "gaussian", "spherical", "cubic"))
    s.add_argument("--range", type=FLOAT, help="range parameter a in cells (exp(-h/a), exp(-(h/a)^2), the Matérn scale)")
    s.add_argument("--nu", type=FLOAT, default=1.0, help="Matérn smoothness ν")
    s.add_argument("--sill", type=FLOAT, default=1.0, help="variance of the structured part")
    s.add_argument("--nugget", type=FLOAT, default=0.0, help="variance of the independent noise")
    s.add_argument("--angle", type=FLOAT, default=0.0, help="anisotropy: major axis angle from the column axis, degrees")
    s.add_argument("--ratio", type=FLOAT, default=1.0, help="anisotropy: minor / major range")
    s.add_argument("--mean", type=FLOAT, default=0.0)
    s.add_argument("--shape", type=SIDE, nargs=2, required=True, metavar=("H", "W"))
    s.add_argument("-n", type=COUNT, default=1, help="realisations")
    s.add_argument("--seed", type=SEED, default=0)
    s.add_argument("--points", help="FILE.csv with columns row, col, value: condition every realisation to these data (exact)")
    s.add_argument("--modes", type=COUNT, help="spectral: number of cosines (default 1000)")
    s.add_argument("--tol", type=FLOAT, help="spde: Chebyshev tolerance (default 1e-5)")
    s.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    _threads_option(s)
    s.add_argument("--out", required=True, help="FILE.npz (the fields under x, shape (n, 1, H, W): --data npz:FILE.npz trains on them); a figure goes to FILE.png")
    s.set_defaults(fn=cmd_simulate)

    s = sub.add_parser("report", help="write a self-contained RUN/report.html")
    s.add_argument("run")
    s.add_argument("--out", help="where to write the page (default RUN/report.html)")
    _threads_option(s)
    s.set_defaults(fn=cmd_report)
    return p


PACKAGE = Path(__file__).resolve().parent


def _one_line_warnings(other):  # noqa: ANN001, ANN202
    """A warnings.showwarning that prints genzoo's own warnings as one line, `genzoo: warning: ...`,
    and hands any other to `other`."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        try:
            ours = Path(filename).resolve().is_relative_to(PACKAGE)
        except (OSError, ValueError):
            ours = False
        if not ours:
            return other(message, category, filename, lineno, file, line)
        text = " ".join(str(message).split("\n"))
        print(f"genzoo: warning: {text}", file=file or sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            if args.command not in ("train", "tour") and hasattr(args, "threads"):
                from genzoo import threads  # training chooses its own count by timing steps

                threads.resolve(args.threads)
            return args.fn(args)
    except GenzooError as exc:
        print(f"genzoo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `genzoo list models vae | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as exc:
        print(f"genzoo: interrupted{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return 130
    except MemoryError:
        print("genzoo: error: out of memory — ask for less (a smaller -n, --batch-size or size)", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # torch's allocator failing on the CPU or the GPU
        if "out of memory" not in str(exc) and "DefaultCPUAllocator" not in str(exc):
            raise
        print(f"genzoo: error: out of memory ({str(exc).splitlines()[0][:160]}) — ask for less (a smaller -n, --batch-size or size)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
