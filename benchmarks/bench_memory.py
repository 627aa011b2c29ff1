"""Peak memory and training speed on image folders of 1 GB and 10 GB (generated on disk).

    python benchmarks/bench_memory.py                       # 1 and 10 GB under /tmp/genzoo-folders
    python benchmarks/bench_memory.py --before ../old/src   # adds the code at ../old/src, at 1 GB
    python benchmarks/bench_memory.py --sizes 1 --repeats 3 --before ../old/src   # 3 alternating rounds
    python benchmarks/bench_memory.py --sizes 1 --repeats 3 --before ../old/src --keep-freed

Each folder holds 128×128 RGB PNGs (49,152 bytes of pixels each; noise, which PNG barely
compresses, so the files take about what their pixels do) in two class subfolders, generated once
and reused. Each row trains `vae` (conv) on the folder's train split in a fresh process: the time
to load the data, then `--steps` steps of batch 32; the step time is the median over the steps after
the first 5, at a fixed thread count (`--threads`, default 2). Memory is the peak, sampled every
0.2 s, of the proportional set size (PSS: shared pages divided among the processes sharing them)
summed over the process and its loader workers; the page cache the kernel keeps of the files is
not counted (it is not the process's, and the kernel gives it back under pressure).

`--before SRC` runs the same rows with the genzoo source at SRC (e.g. a worktree of an earlier
commit: `git worktree add ../old COMMIT`), whose folders may lack `data.stream`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SIDE = 128
PIXELS = SIDE * SIDE * 3

CHILD = textwrap.dedent(
    """
    import json, statistics, sys, time
    t0 = time.perf_counter()
    import genzoo
    from genzoo.data import load
    from genzoo.training.callbacks import Callback
    path, stream, steps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    opts = {} if stream == "-" else {"stream": stream}
    data = load(f"folder:{path}", split="train", **opts)
    loaded = time.perf_counter() - t0
    model = genzoo.models.create("vae", data, seed=0, arch="conv")
    times = []

    class Clock(Callback):
        def on_step(self, trainer, step, terms):
            times.append(time.perf_counter())

    genzoo.train(model, data, steps=steps, batch_size=32, progress=False, sample_grid=False,
                 threads=threads, callbacks=[Clock()])
    gaps = [b - a for a, b in zip(times[5:], times[6:])]
    print(json.dumps({"examples": len(data), "load_s": loaded, "step_s": statistics.median(gaps),
                      "held_bytes": getattr(data, "nbytes", None)}))
    """
)


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return out


def _write_chunk(args: tuple[str, int, int]) -> int:
    import numpy as np
    from PIL import Image

    root, start, stop = Path(args[0]), args[1], args[2]
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        a = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
        out = root / f"class{i % 2}" / f"{i:07d}.png"
        if not out.is_file() or out.stat().st_size == 0:  # a temporary name, then renamed: never half-written
            tmp = out.with_name(f".{out.name}.tmp")
            Image.fromarray(a, "RGB").save(tmp, format="PNG", compress_level=1)
            tmp.replace(out)
    return stop - start


def make_folder(root: Path, gigabytes: float, jobs: int) -> int:
    """A folder of `gigabytes` × 10⁹ bytes of pixels; kept and reused (a marker file says it is whole)."""
    n = int(gigabytes * 1e9 // PIXELS)
    marker = root / ".complete"
    if marker.is_file() and marker.read_text() == str(n):
        return n
    marker.unlink(missing_ok=True)
    for c in (0, 1):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
    chunks = [(str(root), s, min(n, s + 2000)) for s in range(0, n, 2000)]
    t0, done = time.perf_counter(), 0
    with ProcessPoolExecutor(jobs) as pool:
        for k in pool.map(_write_chunk, chunks):
            done += k
            print(
                f"\r  writing {root}: {done:,}/{n:,} images, {time.perf_counter() - t0:.0f} s",
                end="",
                file=sys.stderr,
            )
    print(file=sys.stderr)
    marker.write_text(str(n))
    return n


# glibc's malloc told to serve large blocks from its heap and keep what is freed there (rather than
# mapping each large block afresh and unmapping it when freed, which faults its pages in again at
# every training step): the `--keep-freed` rows
KEEP_FREED = {"MALLOC_MMAP_THRESHOLD_": "4000000000", "MALLOC_TRIM_THRESHOLD_": "40000000000"}


def run_row(
    folder: Path, stream: str, steps: int, threads: int, src: str | None, keep_freed: bool = False
) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    if keep_freed:
        env.update(KEEP_FREED)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), stream, str(steps), str(threads)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_pss_kb(p) for p in _tree(proc.pid)))
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode != 0:
        return {"error": (err.strip().splitlines() or ["?"])[-1]}
    row = json.loads(out.strip().splitlines()[-1])
    row["peak_gib"] = peak * 1024 / 2**30
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1,10", help="folder sizes in GB of pixels (default 1,10)")
    ap.add_argument("--root", default="/tmp/genzoo-folders", help="where the folders are generated")
    ap.add_argument("--steps", type=int, default=25, help="training steps per row (default 25)")
    ap.add_argument("--threads", type=int, default=2, help="the training's intra-op threads (default 2)")
    ap.add_argument("--before", help="also run the rows with the genzoo source at this path")
    ap.add_argument(
        "--before-sizes",
        default="1",
        help="the sizes --before runs at (default 1: at 10 GB, float32 needs 40 GB of memory)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="rounds of a size's rows, each round in the reverse order of the last (the step time's "
        "drift across processes hits every row alike); a row reports its medians and the step time's range",
    )
    ap.add_argument(
        "--keep-freed",
        action="store_true",
        help="also the rows with glibc's malloc keeping freed memory in its heap (KEEP_FREED)",
    )
    ap.add_argument("--out", default="runs/bench-memory.json")
    args = ap.parse_args()
    rows = []
    for size in (float(s) for s in args.sizes.split(",")):
        folder = Path(args.root) / f"{size:g}GB"
        n = make_folder(folder, size, os.cpu_count() or 1)
        plans = [("after", "memory"), ("after", "disk")]
        if args.before and f"{size:g}" in args.before_sizes.split(","):
            plans.insert(0, ("before", "-"))
        if args.keep_freed:
            plans += [(code + " keep-freed", stream) for code, stream in plans]
        got: dict[tuple[str, str], list[dict]] = {p: [] for p in plans}
        for r in range(args.repeats):
            for code, stream in plans[:: 1 if r % 2 == 0 else -1]:
                src = args.before if code.startswith("before") else None
                row = run_row(folder, stream, args.steps, args.threads, src, code.endswith("keep-freed"))
                print(json.dumps({**row, "size_gb": size, "code": code, "stream": stream}), file=sys.stderr)
                got[(code, stream)].append(row)
        for (code, stream), runs in got.items():
            row = {"size_gb": size, "images": n, "code": code, "stream": stream, "runs": runs}
            ok = [x for x in runs if "error" not in x]
            if not ok:
                row["error"] = runs[0]["error"]
            else:
                for key in ("examples", "held_bytes"):
                    row[key] = ok[0][key]
                for key in ("load_s", "step_s", "peak_gib"):
                    row[key] = statistics.median(x[key] for x in ok)
                row["step_range"] = (min(x["step_s"] for x in ok), max(x["step_s"] for x in ok))
            rows.append(row)
    meta = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    tmp.replace(args.out)
    print(
        "| folder | code | data held | train examples | load s | peak memory GiB "
        "| step s (median) [range] | steps/s |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        held = {"-": "float32 in memory", "memory": "bytes in memory", "disk": "read from disk"}[r["stream"]]
        if "error" in r:
            print(f"| {r['size_gb']:g} GB | {r['code']} | {held} | | | | failed: {r['error']} | |")
            continue
        print(
            f"| {r['size_gb']:g} GB ({r['images']:,} images) | {r['code']} | {held} | {r['examples']:,} | "
            f"{r['load_s']:.0f} | {r['peak_gib']:.2f} | {r['step_s']:.3f} "
            f"[{r['step_range'][0]:.3f}, {r['step_range'][1]:.3f}] | {1 / r['step_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
