"""One unattended check for a machine with a CUDA GPU (under 8 minutes): run it as it is.

    python benchmarks/device_check.py                      # writes runs/device-check/device.json and .md
    python benchmarks/device_check.py --device cpu --quick # a dry run of the script on the CPU

1. The CUDA-only tests (`pytest -k cuda` over the files that hold them), pass/fail counted.
2. Every tour entry's trained family (its tour data and options, seed 0, batch 16 or its own smaller one):
   the loss terms of its first training step on the device — fp32, bf16 autocast, and
   torch.compile (inductor) — against the same step on the CPU, and steps per second of each.
   A family whose step draws random numbers (noise, time steps, Gibbs chains) draws them from
   another generator on the device, so its losses are compared against the spread of two CPU
   steps with different seeds (the same weights and batch): "ok" when |device − CPU| ≤ 5 × that
   spread + 1e-3 · |CPU|; a deterministic step must agree to 1e-3 relative in fp32 (TF32 off), to
   5e-2 in bf16. These steps get their batches from the host, drawn as on the CPU; the steps/s with
   the training data held on the GPU (train.data_on_device=on: indexing, augmentation and dynamic
   binarisation there, from a generator on the GPU) are a column of their own.
3. The comparison suite's vae, dcgan, ddpm and ddim rows (benchmarks/bench_suite.py --device cuda:
   genzoo and the peer alike on the GPU; a peer that is not installed fails its row, said so).

Every item runs under a deadline (`--minutes`, default 7.5): what would start after it is recorded
as skipped, so the script always ends and always writes its two files. Exit status 0 unless an
item failed.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

import genzoo
from genzoo.atomic import atomic_write, write_json
from genzoo.training.trainer import TrainConfig, Trainer

CUDA_TEST_FILES = [
    "tests/test_geostat_stats.py",
    "tests/test_kde.py",
    "tests/test_vae.py",
    "tests/test_precision_compile.py",
]
BATCH = 16


def _losses(
    name: str,
    entry: Any,
    device: str,
    precision: str,
    compile_: str,
    seed: int,
    steps: int,
    data_on_device: str = "off",
) -> dict:
    """The first step's loss terms and the steps/s of `steps` more, for one family on one device
    (the batches sent from the host, drawn as on the CPU; with data_on_device=on, held there)."""
    data = genzoo.datasets.load(entry.data, split="train", **entry.data_options)
    model = genzoo.models.create(name, data, seed=0, **entry.params)
    opts = {**entry.train_options(quick=True), "steps": steps + 1, "seed": 0, "threads": 1}
    opts.update(device=device, precision=precision, compile=compile_, progress=False, sample_grid=False)
    opts["data_on_device"] = data_on_device
    opts["batch_size"] = min(BATCH, int(opts.get("batch_size", BATCH)), len(data))
    opts.pop("time_limit", None)
    trainer = Trainer(model, data, TrainConfig(**opts), None)
    trainer.begin()
    torch.manual_seed(seed)  # the same weights and batch; only the step's own draws follow `seed`
    first = trainer.advance()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.advance()
    if device == "cuda":
        torch.cuda.synchronize()
    return {"terms": first, "steps_per_s": steps / max(time.perf_counter() - t0, 1e-9)}


def _compare(cpu: dict, other: dict, spread: dict, tol: float) -> tuple[bool, float]:
    """(ok, worst relative difference) of the shared loss terms."""
    worst, ok = 0.0, True
    for k, v in cpu.items():
        if k not in other or not math.isfinite(v):
            continue
        diff = abs(other[k] - v)
        scale = max(abs(v), 1e-12)
        worst = max(worst, diff / scale)
        allowed = 5 * spread.get(k, 0.0) + tol * abs(v) + 1e-6
        ok &= bool(math.isfinite(other[k]) and diff <= allowed)
    return ok, worst


def check_families(device: str, deadline: float, steps: int, compile_too: bool) -> list[dict]:
    from genzoo.tour import plan

    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    rows = []
    for name, entry in plan(quick=True):
        row: dict[str, Any] = {"family": name, "data": entry.data}
        if not genzoo.models.MODELS.get(name).trainable:
            rows.append({**row, "skipped": "fitted once, no training step"})
            continue
        if time.perf_counter() > deadline:
            rows.append({**row, "skipped": "time"})
            continue
        try:
            cpu = _losses(name, entry, "cpu", "fp32", "none", 0, steps)
            cpu2 = _losses(name, entry, "cpu", "fp32", "none", 1, 0)
            spread = {k: abs(cpu2["terms"].get(k, v) - v) for k, v in cpu["terms"].items()}
            row["stochastic"] = any(s > 0 for s in spread.values())
            row["cpu_steps_per_s"] = cpu["steps_per_s"]
            configs = [("fp32", "none", 1e-3), ("bf16", "none", 5e-2)]
            if compile_too:
                configs.append(("fp32", "inductor", 1e-3))
            for precision, comp, tol in configs:
                key = precision if comp == "none" else "compile"
                if time.perf_counter() > deadline:
                    row[key] = {"skipped": "time"}
                    continue
                try:
                    got = _losses(name, entry, device, precision, comp, 0, steps)
                    ok, worst = _compare(cpu["terms"], got["terms"], spread, tol)
                    row[key] = {"ok": ok, "worst_rel": worst, "steps_per_s": got["steps_per_s"]}
                    if key == "fp32" and device == "cuda":  # the data held on the GPU: its speed
                        held = _losses(name, entry, device, precision, comp, 0, steps, data_on_device="on")
                        row[key]["data_on_device_steps_per_s"] = held["steps_per_s"]
                except Exception as exc:  # an item's failure is recorded, the others go on
                    row[key] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def run_cuda_tests(deadline: float) -> dict:
    files = [f for f in CUDA_TEST_FILES if Path(f).is_file()]
    left = max(10.0, deadline - time.perf_counter())
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "-k",
        "cuda",
        *files,
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=left)
    except subprocess.TimeoutExpired:
        return {"ok": False, "summary": f"stopped at the deadline ({left:.0f} s)"}
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    return {"ok": done.returncode in (0, 5), "returncode": done.returncode, "summary": summary}


def markdown(result: dict) -> str:
    lines = [
        f"device check: {result['device_name']} — torch {result['torch']}, {result['date']}",
        "",
        f"CUDA-only tests: {result['tests'].get('summary', '—')}",
        "",
        "| family | data | stochastic | CPU steps/s | fp32 | bf16 | compile | fp32, data held on the GPU |",
        "|---|---|---|---:|---|---|---|---:|",
    ]

    def cell(v: Any) -> str:
        if not isinstance(v, dict):
            return "—"
        if "skipped" in v:
            return f"skipped ({v['skipped']})"
        if "error" in v:
            return f"**failed**: {v['error'][:60]}"
        mark = "ok" if v["ok"] else "**differs**"
        return f"{mark} ({v['worst_rel']:.1e}; {v['steps_per_s']:.0f}/s)"

    for r in result["families"]:
        if "skipped" in r or "error" in r:
            what = r.get("error", f"skipped ({r.get('skipped')})")
            lines.append(f"| {r['family']} | {r['data']} | | | {what} | | | |")
            continue
        held = (r.get("fp32") or {}).get("data_on_device_steps_per_s")
        lines.append(
            f"| {r['family']} | {r['data']} | {'yes' if r['stochastic'] else 'no'} | "
            f"{r['cpu_steps_per_s']:.0f} | {cell(r.get('fp32'))} | {cell(r.get('bf16'))} | "
            f"{cell(r.get('compile'))} | {'—' if held is None else f'{held:.0f}/s'} |"
        )
    suite = result.get("suite")
    if suite:
        lines += ["", f"The comparison suite's rows on {result['device']}: {suite.get('summary', '—')}", ""]
        lines.append(suite.get("markdown", ""))
    return "\n".join(lines) + "\n"


def run_suite(device: str, deadline: float, quick: bool, out: Path) -> dict:
    """bench_suite.py's vae, dcgan, ddpm and ddim rows with both sides on `device`, in a process
    stopped at the deadline; rows whose peer is not installed say so."""
    left = deadline - time.perf_counter()
    if left < 30:
        return {"summary": "skipped (time)"}
    cmd = [
        sys.executable,
        str(Path(__file__).with_name("bench_suite.py")),
        "--only",
        "vae,dcgan,ddpm,ddim",
        "--device",
        device,
        "--out",
        str(out / "suite"),
        *(["--quick"] if quick else ["--repeats", "3"]),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=left)
    except subprocess.TimeoutExpired:
        return {"summary": f"stopped at the deadline ({left:.0f} s)"}
    table = out / "suite" / "suite.md"
    text = table.read_text() if table.is_file() else ""
    tail = (done.stderr.strip().splitlines() or [""])[-1]
    return {"returncode": done.returncode, "summary": tail[:200], "markdown": text}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--minutes", type=float, default=7.5, help="deadline for the whole check")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per family and configuration")
    ap.add_argument("--quick", action="store_true", help="2 timed steps, no compile, no tests (a dry run)")
    ap.add_argument("--out", default="runs/device-check")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("device_check: no CUDA device here (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    deadline = t0 + 60 * args.minutes
    torch.set_num_threads(1)
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "device": args.device,
        "device_name": torch.cuda.get_device_name()
        if args.device == "cuda"
        else platform.processor() or "CPU",
        "python": platform.python_version(),
    }
    result["tests"] = {"summary": "not run (--quick)"} if args.quick else run_cuda_tests(t0 + 120)
    steps = 2 if args.quick else args.steps
    result["families"] = check_families(args.device, deadline - 120, steps, compile_too=not args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result["suite"] = run_suite(args.device, deadline, args.quick, out)
    result["seconds"] = time.perf_counter() - t0
    text = markdown(result)
    write_json(out / "device.json", result)  # a temporary name, then renamed: never half-written
    atomic_write(out / "device.md", lambda p: p.write_text(text))
    print(text)
    failed = not result["tests"].get("ok", True) or any(
        "error" in r or any(isinstance(v, dict) and v.get("ok") is False for v in r.values())
        for r in result["families"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
