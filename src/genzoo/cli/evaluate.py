"""`genzoo evaluate`, `compare` and `report`: a run's figures, a board of runs, a run's page."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from genzoo.cli.common import (
    COUNT,
    add_device,
    add_seed,
    add_threads,
    at_least_one,
    dataset_for,
)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Under torchrun (`torchrun --nproc_per_node N -m genzoo evaluate RUN`) every rank joins the
    process group and runs the suite: the model's samples and a deterministic likelihood are split
    over the ranks and gathered, the rest computed on every rank, with one process's results;
    rank 0 alone writes metrics.json and the metric pictures, and prints."""
    import torch.distributed as dist

    from genzoo import distributed
    from genzoo.metrics import evaluate
    from genzoo.training import checkpoint as ckpt
    from genzoo.training.trainer import resolve_device

    cfg = ckpt.read_config(args.run)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.n is not None:
        at_least_one("--n", args.n)
    device = resolve_device(args.device)
    joined = distributed.env_world_size() > 1 and dist.is_available() and not dist.is_initialized()
    rank, _, device = distributed.setup(device)  # one process: (0, 1, device) unchanged
    try:
        model = ckpt.load(args.run, device=device)
        test = dataset_for(cfg, "test")
        train = dataset_for(cfg, "train")
        result = evaluate(
            model,
            test,
            metrics=metrics,
            n=args.n,
            seed=args.seed,
            train_data=train,
            features=args.features,
            artifacts_dir=args.run if rank == 0 else None,
        )
        if rank == 0:
            ckpt.write_json(Path(args.run) / ckpt.METRICS, result)
            from genzoo.hub import write_card

            write_card(args.run)  # the model card with its metrics
            if cfg.get("train", {}).get("log_to") == "tensorboard":  # the metrics at the run's last step
                from genzoo.training.callbacks import TensorBoard

                log = ckpt.read_log(args.run)
                board = TensorBoard(args.run)
                board.on_evaluate(Path(args.run), {**result, "step": log[-1]["step"] if log else 0})
                board.on_end(None, None)
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
        print(
            f"features: {result['features']}; {result['n_real']} real vs {result['n_fake']} generated; floor "
            f"= two halves of real data"
        )
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


def cmd_report(args: argparse.Namespace) -> int:
    from genzoo.training.checkpoint import read_config
    from genzoo.viz.report import write_report

    read_config(args.run)
    path = write_report(args.run, out=args.out)
    print(f"report: {path}")
    return 0


# --- the commands' arguments ------------------------------------------------------------
def register_evaluate(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("evaluate", help="score a run on its held-out data; writes RUN/metrics.json")
    s.add_argument("run", help="a run or model directory")
    s.add_argument("--metrics", help="comma-separated names (default: every metric that applies)")
    s.add_argument(
        "-n",
        "--n",
        dest="n",
        type=COUNT,
        help="held-out examples to use (default all); under torchrun write -n N: torchrun's own "
        "parser takes --n for an abbreviation of its --nnodes/--nproc-per-node",
    )
    add_seed(s)
    s.add_argument(
        "--features",
        default="auto",
        choices=("auto", "classifier", "pca", "pixels"),
        help="feature space of the sample metrics (auto: genzoo's shipped classifier where one matches the "
        "data)",
    )
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_evaluate)


def register_compare(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("compare", help="one leaderboard over evaluated runs")
    s.add_argument(
        "runs", nargs="+", metavar="RUN", help="run directories (evaluated where they are not yet)"
    )
    s.add_argument("--out", required=True, help="board.html or board.md")
    s.set_defaults(fn=cmd_compare)


def register_report(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("report", help="write a self-contained RUN/report.html")
    s.add_argument("run", help="a run or model directory")
    s.add_argument("--out", help="where to write the page (default RUN/report.html)")
    add_threads(s)
    s.set_defaults(fn=cmd_report)
