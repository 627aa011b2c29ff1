"""How well the tour's estimate of the time left holds: runs `genzoo tour` (quick by default) in a
fresh folder, stamps every progress line as it arrives, and compares each "tour: about T left"
with the time the tour actually still took from that moment.

    python benchmarks/bench_tour_eta.py                    # the quick tour, about 9 minutes on 2 cores
    python benchmarks/bench_tour_eta.py --only vae,gan     # a part of it
    python benchmarks/bench_tour_eta.py --quick-smoke      # a tiny budget (CI-sized smoke run)

Prints the tour's wall time, then the estimate's error (estimate minus actual, as a share of the
actual time left) at the start of each entry and over every line, with the lines' interval set by
GENZOO_PROGRESS_INTERVAL (default here 5 s). Estimates made in the last 30 s are left out of the
summary, where a few seconds are a large share.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEFT = re.compile(r"tour: about (.+?) left")
START = re.compile(
    r"^\[(\d+)/(\d+)\] ([^:]+?) \("
)  # an entry's first line; its progress lines have "label: step ..."
UNITS = {"h": 3600, "min": 60, "s": 1}


def seconds_of(text: str) -> float:
    """genzoo.progress.duration's text back to seconds: '1 min 33 s' -> 93."""
    total, parts = 0.0, text.split()
    for value, unit in zip(parts[::2], parts[1::2]):
        total += float(value) * UNITS[unit]
    return total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated families (the tour's --only)")
    p.add_argument("--full", action="store_true", help="the full tour instead of the quick one")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between progress lines")
    p.add_argument("--quick-smoke", action="store_true", help="two families at a tiny budget")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tour"
        command = [sys.executable, "-m", "genzoo", "tour", "--out", str(out)]
        command += [] if args.full else ["--quick"]
        only = "kde,vae" if args.quick_smoke else args.only
        command += ["--only", only] if only else []
        command += ["--steps", "20"] if args.quick_smoke else []
        env = {**os.environ, "GENZOO_PROGRESS_INTERVAL": str(args.interval), "PYTHONUNBUFFERED": "1"}
        t0 = time.perf_counter()
        lines: list[tuple[float, str]] = []
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append((time.perf_counter() - t0, line.rstrip("\n")))
        total = time.perf_counter() - t0
        if proc.returncode != 0:
            print("\n".join(text for _, text in lines[-20:]), file=sys.stderr)
            return proc.returncode
    shown = " ".join(["genzoo", *command[3:]]).replace(str(out), "TMP")
    print(
        f"# The tour's estimate of the time left\n\n`python benchmarks/bench_tour_eta.py "
        f"{' '.join(sys.argv[1:])}` "
        f"({shown}, GENZOO_PROGRESS_INTERVAL={args.interval:g}) — {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores\n"
    )
    print(f"tour wall time: {total:.0f} s\n")
    print("| entry | started at (s) | estimate then (s) | actual left (s) | error |")
    print("|---|---:|---:|---:|---:|")
    at_start, every = [], []
    for t, text in lines:
        m = LEFT.search(text)
        if m is None:
            continue
        estimate, actual = seconds_of(m.group(1)), total - t
        error = (estimate - actual) / actual if actual > 0 else float("nan")
        if actual >= 30:
            every.append(error)
        start = START.match(text)
        if start:
            if actual >= 30:
                at_start.append(error)
            print(
                f"| [{start.group(1)}/{start.group(2)}] {start.group(3)} | {t:.0f} | {estimate:.0f} | "
                f"{actual:.0f} | {error:+.0%} |"
            )

    def summary(errors: list[float]) -> str:
        if not errors:
            return "none"
        absolute = sorted(abs(e) for e in errors)
        return (
            f"{len(errors)} estimates: from {min(errors):+.0%} to {max(errors):+.0%}, median |error| "
            f"{statistics.median(absolute):.0%}, 90th percentile "
            f"{absolute[int(0.9 * (len(absolute) - 1))]:.0%}"
        )

    print(f"\nAt the start of each entry: {summary(at_start)}.")
    print(f"Every progress line: {summary(every)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
