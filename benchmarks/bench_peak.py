"""The share of this machine's peak that each family's training step achieves.

    python benchmarks/bench_peak.py [--steps 20] [--threads 2] [--only vae,gan]

In one run: the fp32 matrix-multiply rate of the CPU (the best of 10 products of 2048 × 2048
matrices, 2n³ FLOP each) as the peak; then, for every trainable family on the data and options of
its first tour entry, the FLOPs of one training step counted by `torch.utils.flop_counter`
(matrix products and convolutions, forward and backward — elementwise work is not counted) and
the wall time of `--steps` steps of genzoo's trainer (after 3 warm-up steps; no logging, no
checkpoints), giving the step's FLOP rate and its share of the peak. Prints a Markdown table and
writes runs/bench-peak/bench.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import genzoo
from genzoo.models import MODELS
from genzoo.training.trainer import TrainConfig, Trainer

OUT = Path("runs/bench-peak")


def peak_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def family(name: str, steps: int) -> dict:
    cls = MODELS.get(name)
    entry = cls.tour[0]
    data = genzoo.datasets.load(entry.data, split="train", **entry.data_options)
    model = genzoo.models.create(name, data, seed=0, **entry.params)
    options = {
        **model.default_train,
        **entry.train,
        "steps": 10**6,
        "device": "cpu",
        "progress": False,
        "sample_grid": False,
    }
    options = {k: v for k, v in options.items() if k in TrainConfig.__dataclass_fields__}
    cfg = genzoo.config.build(TrainConfig, options, section="train")
    trainer = Trainer(model, data, cfg, None)
    trainer._setup(False)
    for _ in range(3):
        trainer._one_step()
        trainer.step += 1
    with FlopCounterMode(display=False) as counter:
        trainer._one_step()
        trainer.step += 1
    flops = counter.get_total_flops()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer._one_step()
        trainer.step += 1
    seconds = (time.perf_counter() - t0) / steps
    return {
        "data": entry.data,
        "batch": cfg.batch_size,
        "gflop_per_step": flops / 1e9,
        "ms_per_step": 1e3 * seconds,
        "gflops": flops / seconds / 1e9,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--only", default="", help="comma-separated families (default: every trainable one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    peak = peak_gflops()
    names = [
        n
        for n in (args.only.split(",") if args.only else MODELS.names())
        if MODELS.get(n).trainable and MODELS.get(n).tour
    ]
    rows = {}
    for name in names:
        rows[name] = family(name, args.steps)
        print(
            name, {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[name].items()}, flush=True
        )
    OUT.mkdir(parents=True, exist_ok=True)
    result = {
        "peak_gflops": peak,
        "rows": rows,
        "threads": args.threads,
        "steps": args.steps,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "date": datetime.date.today().isoformat(),
    }
    (OUT / "bench.json").write_text(json.dumps(result, indent=1))
    print(f"\n<!-- {result['machine']}, {result['date']}, {args.threads} threads -->")
    print(f"\nfp32 matrix-multiply peak (2048², best of 10): **{peak:.0f} GFLOP/s**\n")
    print(
        "| family | data | batch | GFLOP per step | ms per step | GFLOP/s | share of peak |\n"
        "|---|---|---:|---:|---:|---:|---:|"
    )
    for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["gflops"]):
        print(
            f"| {name} | {r['data']} | {r['batch']} | {r['gflop_per_step']:.3g} | {r['ms_per_step']:.1f} "
            f"| {r['gflops']:.1f} | {100 * r['gflops'] / peak:.1f} % |"
        )


if __name__ == "__main__":
    main()
