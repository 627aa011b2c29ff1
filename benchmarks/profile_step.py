"""Where each family's training step spends its time: inside PyTorch's operators, or around them.

    python benchmarks/profile_step.py [--steps 20] [--only vae,gan] [--top 3] [--trace DIR]
    python benchmarks/profile_step.py --compare channels_last=off,on --conv-only   # a train option's effect

For every trainable family, on the data and options of its first tour entry (as
benchmarks/bench_peak.py): 3 warm-up steps of genzoo's trainer, then `--steps` steps under
torch.profiler (CPU). Reported per step: the wall time; the time inside operators (the sum of
the self CPU time of every ATen operator: the kernels and their dispatch); the rest — Python,
the trainer's bookkeeping and the model's own Python — as a share of the wall time; and the
operators that take the most time. A family whose "outside" share is high is bound by Python
overhead, not by arithmetic: that is where a fused or batched step gains. `--trace DIR` also
writes a Chrome trace per family (open in chrome://tracing or Perfetto).

`--compare KEY=A,B` times instead every tour entry of every family (`--conv-only`: those whose
model has 2-D convolutions) with the train option KEY at each value: ms per step of `--steps`
steps after 2 warm-up steps, the values alternated over `--rounds` rounds, best of the rounds.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

import genzoo
from genzoo.models import MODELS
from genzoo.training.trainer import TrainConfig, Trainer


def trainer_for(name: str, entry=None, **overrides) -> Trainer:
    entry = entry or MODELS.get(name).tour[0]
    data = genzoo.datasets.load(entry.data, split="train", **entry.data_options)
    model = genzoo.models.create(name, data, seed=0, **entry.params)
    options = {
        **model.default_train,
        **entry.train,
        "steps": 10**6,
        "device": "cpu",
        "progress": False,
        "sample_grid": False,
        **overrides,
    }
    options = {k: v for k, v in options.items() if k in TrainConfig.__dataclass_fields__}
    trainer = Trainer(model, data, genzoo.config.build(TrainConfig, options, section="train"), None)
    trainer._setup(False)
    return trainer


def steps(trainer: Trainer, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        trainer._one_step()
        trainer.step += 1
    return time.perf_counter() - t0


def profile_family(name: str, n: int, top: int, trace: Path | None) -> dict:
    trainer = trainer_for(name)
    steps(trainer, 3)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        wall = steps(trainer, n)
    # operators only: user annotations such as "Optimizer.step#Adam.step" are ranges whose self time
    # is the Python between their operators
    events = [e for e in prof.key_averages() if not e.key.startswith("Optimizer.") and "#" not in e.key]
    inside = sum(e.self_cpu_time_total for e in events) / 1e6  # µs → s, every operator's own time
    ranked = sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]
    if trace is not None:
        trace.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(trace / f"{name}.json"))
    return {
        "ms_per_step": 1e3 * wall / n,
        "ops_ms_per_step": 1e3 * inside / n,
        "outside_share": max(0.0, 1.0 - inside / wall),
        "calls_per_step": sum(e.count for e in events) / n,
        "top": [(e.key, e.self_cpu_time_total / 1e3 / n) for e in ranked],
    }


def _has_conv(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d) for m in model.modules())


def compare(names: list[str], key: str, values: list[str], n: int, rounds: int, conv_only: bool) -> None:
    print(
        f"<!-- python benchmarks/profile_step.py --compare {key}={','.join(values)} "
        f"--steps {n} --rounds {rounds}"
        f"{' --conv-only' if conv_only else ''}; torch {torch.__version__} -->\n"
    )
    print(
        f"| family | data | {' | '.join(f'{key}={v} (ms per step)' for v in values)} "
        f"| {values[0]} / {values[-1]} |"
    )
    print("|---|---|" + "---:|" * (len(values) + 1))
    seen = set()
    for name in names:
        for entry in MODELS.get(name).tour:
            ident = (name, entry.data, repr(sorted(entry.params.items())))
            if ident in seen:
                continue
            seen.add(ident)
            if conv_only and not _has_conv(trainer_for(name, entry).model):
                continue
            best = {v: float("inf") for v in values}
            for r in range(rounds):
                for v in values if r % 2 == 0 else values[::-1]:
                    trainer = trainer_for(name, entry, **{key: v})
                    steps(trainer, 2)
                    best[v] = min(best[v], 1e3 * steps(trainer, n) / n)
            cells = " | ".join(f"{best[v]:.1f}" for v in values)
            print(
                f"| {name} | {entry.data} | {cells} | {best[values[0]] / best[values[-1]]:.2f} |", flush=True
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--only", default="", help="comma-separated families (default: every trainable one)")
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--trace", default=None, help="folder for Chrome traces")
    ap.add_argument(
        "--compare", default=None, help="KEY=A,B: time a train option's values instead of profiling"
    )
    ap.add_argument("--rounds", type=int, default=2, help="--compare: alternated rounds")
    ap.add_argument("--conv-only", action="store_true", help="--compare: only models with 2-D convolutions")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = [
        n
        for n in (args.only.split(",") if args.only else MODELS.names())
        if MODELS.get(n).trainable and MODELS.get(n).tour
    ]
    if args.compare:
        key, _, values = args.compare.partition("=")
        compare(names, key, values.split(","), args.steps, args.rounds, args.conv_only)
        return
    print(
        f"<!-- python benchmarks/profile_step.py --steps {args.steps}; torch {torch.__version__}, "
        f"{args.threads} threads -->\n"
    )
    print(
        "| family | ms per step | in operators | outside (Python) | operator calls per step "
        "| top operators (ms per step) |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for name in names:
        r = profile_family(name, args.steps, args.top, Path(args.trace) if args.trace else None)
        tops = ", ".join(f"{k} {v:.2f}" for k, v in r["top"])
        print(
            f"| {name} | {r['ms_per_step']:.2f} | {r['ops_ms_per_step']:.2f} "
            f"| {100 * r['outside_share']:.0f} % | "
            f"{r['calls_per_step']:.0f} | {tops} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
