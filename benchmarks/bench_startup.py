"""Start-up: the wall time of commands that compute nothing (`genzoo --help`, `genzoo list`, ...),
each a fresh process, against `import torch` alone.

    python benchmarks/bench_startup.py                      # this checkout
    python benchmarks/bench_startup.py --src OTHER/src      # another checkout's genzoo, in turn with this one

Each command runs --repeats times after one warm-up (medians of wall seconds). With --src, the two
checkouts alternate run by run, and the table gives this checkout's median over the other's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"
COMMANDS = {
    "genzoo --help": ["-m", "genzoo", "--help"],
    "genzoo train --help": ["-m", "genzoo", "train", "--help"],
    "genzoo list": ["-m", "genzoo", "list"],
    "genzoo list models vae": ["-m", "genzoo", "list", "models", "vae"],
    "import torch (reference)": ["-c", "import torch"],
}


def once(args: list[str], src: Path) -> float:
    """Wall seconds of one fresh process; NaN where the command fails (a checkout without it)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - t0 if done.returncode == 0 else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--src", type=Path, help="another checkout's src folder to compare with")
    args = p.parse_args()
    sources = [HERE] + ([args.src.resolve()] if args.src else [])
    print(
        f"# Start-up\n\n`python benchmarks/bench_startup.py {' '.join(sys.argv[1:])}` — "
        f"{time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores; median wall seconds of {args.repeats} fresh processes after a warm-up.\n"
    )
    header = "| command | this checkout (s) |" + (" other (s) | ratio |" if args.src else "")
    print(header + "\n|---|---:|" + ("---:|---:|" if args.src else ""))
    for label, command in COMMANDS.items():
        for src in sources:
            once(command, src)  # warm-up: the file cache
        times: dict[Path, list[float]] = {src: [] for src in sources}
        for _ in range(args.repeats):
            for src in sources:
                times[src].append(once(command, src))
        ours = statistics.median(times[HERE])
        row = f"| `{label}` | {ours:.3f} |"
        if args.src:
            other = statistics.median(times[sources[1]])
            row += " (fails) | — |" if other != other else f" {other:.3f} | {ours / other:.3f} |"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
