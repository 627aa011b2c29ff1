"""Training speed with 1 thread, 2 threads and genzoo's automatic choice (--threads auto, the
default), alone and beside one busy process, for the tour's 2-D and mnist families.

    python benchmarks/bench_threads.py                      # every 2-D and mnist tour entry
    python benchmarks/bench_threads.py --only gan,vae --repeats 3 --seconds 20
    python benchmarks/bench_threads.py --quick              # a smoke run (CI)

Each figure is one fresh process that loads the data, builds the tour's model and times
`genzoo.train` for the same number of steps in every case — the automatic choice's timing of
the counts on a copy of the model included — and reports steps per second. The number of steps
is set once per entry so that one thread alone takes about --seconds. The busy process is a
Python loop that keeps one core busy, started before the training and stopped after it. The
three settings are alternated within each repeat; the table gives medians over --repeats, the
automatic choice's speed as a share of the best fixed count's, and the counts it chose.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = ("1", "2", "auto")


def machine() -> str:
    """The CPU's model name (Linux), else what platform says."""
    import platform

    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def entries(only: list[str] | None) -> list[tuple[str, int]]:
    """(family, tour entry index) for the tour's trainable entries on 2-D points and mnist."""
    from genzoo.models import MODELS

    out = []
    for name in MODELS.names():
        cls = MODELS.get(name)
        for i, entry in enumerate(cls.tour):
            if cls.trainable and entry.data in ("ring8", "grid25", "mnist") and (not only or name in only):
                out.append((name, i))
    return out


def build(name: str, index: int):
    import genzoo
    from genzoo.models import MODELS

    entry = MODELS.get(name).tour[index]
    data = genzoo.datasets.load(entry.data, split="train", **entry.data_options)
    model = genzoo.models.create(name, data, seed=0, **entry.params)
    return model, data, entry


def worker(name: str, index: int, steps: int, threads: str) -> None:
    """One measurement, in its own process: prints {"steps_per_s", "threads"} as JSON."""
    import genzoo

    model, data, entry = build(name, index)
    options = {**entry.train, "steps": steps, "seed": 0, "progress": False, "device": "cpu"}
    if threads != "auto":
        options["threads"] = int(threads)
    trainer_threads = {}
    from genzoo.training import trainer as T

    original = T.Trainer._choose_threads

    def spy(self, state):
        original(self, state)
        trainer_threads.update(self.threads)

    T.Trainer._choose_threads = spy
    t0 = time.perf_counter()
    run = genzoo.train(model, data, **options)
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "steps_per_s": run.step / seconds,
                "threads": trainer_threads.get("count"),
                "counts": sorted({r.get("threads") for r in run.log if r.get("threads")}),
            }
        )
    )


def calibrate(name: str, index: int, seconds: float) -> int:
    """Steps for about `seconds` of training with one thread on a quiet machine."""
    import torch

    from genzoo.config import build as build_config
    from genzoo.training.trainer import TrainConfig, Trainer

    torch.set_num_threads(1)
    model, data, entry = build(name, index)
    options = {
        **model.default_train,
        **entry.train,
        "steps": 10**6,
        "progress": False,
        "device": "cpu",
        "threads": 1,
    }
    options = {k: v for k, v in options.items() if k in TrainConfig.__dataclass_fields__}
    trainer = Trainer(model, data, build_config(TrainConfig, options, section="train"), None)
    trainer._setup(False)
    trainer._one_step()  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 2.0 or n < 3:
        trainer._one_step()
        n += 1
    return max(20, int(seconds * n / (time.perf_counter() - t0)))


def measure(name: str, index: int, steps: int, threads: str, busy: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    # a Python loop on one core, which ends by itself if this process dies (it is then reparented)
    spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"
    spinner = subprocess.Popen([sys.executable, "-c", spin]) if busy else None
    try:
        if spinner is not None:
            time.sleep(0.5)  # the busy process is running before training starts
        done = subprocess.run(
            [sys.executable, __file__, "--worker", name, str(index), str(steps), threads],
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    if done.returncode != 0:  # a family that fails here is reported, and the others go on
        print(f"{name} --threads {threads}: failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return {"steps_per_s": float("nan"), "threads": None, "counts": []}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"  {name} {'busy' if busy else 'alone'} --threads {threads}: {result['steps_per_s']:.1f} steps/s "
        f"(threads {result['counts']})",
        file=sys.stderr,
        flush=True,
    )
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="comma-separated families")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seconds", type=float, default=15.0, help="one thread's training time alone, per figure")
    p.add_argument("--quick", action="store_true", help="smoke run: gan on ring8, 2 s, one repeat")
    p.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        name, index, steps, threads = args.worker
        worker(name, int(index), int(steps), threads)
        return 0
    only = ["gan"] if args.quick else ([s.strip() for s in args.only.split(",")] if args.only else None)
    seconds, repeats = (2.0, 1) if args.quick else (args.seconds, args.repeats)
    todo = entries(only)[:1] if args.quick else entries(only)
    import torch

    command = " ".join(["python benchmarks/bench_threads.py", *sys.argv[1:]])
    print(
        f"# Threads: steps/s with 1, 2 and automatic threads, alone and beside one busy process\n\n"
        f"`{command}` — {time.strftime('%Y-%m-%d')}, "
        f"{machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"medians of {repeats}, about {seconds:g} s of one-thread training per figure.\n"
    )
    print(
        "| family | data | steps | alone: 1 | 2 | auto (count) | auto / best | "
        "busy: 1 | 2 | auto (count) | auto / best |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst = {False: 1.0, True: 1.0}
    for name, index in todo:
        steps = calibrate(name, index, seconds)
        results = {(b, s): [] for b in (False, True) for s in SETTINGS}
        for r in range(repeats):
            for busy in (False, True):
                order = SETTINGS[r % 3 :] + SETTINGS[: r % 3]  # who goes first rotates
                for setting in order:
                    results[busy, setting].append(measure(name, index, steps, setting, busy))
        cells = []
        for busy in (False, True):
            rate = {s: statistics.median(m["steps_per_s"] for m in results[busy, s]) for s in SETTINGS}
            chosen = "/".join(str(c) for c in sorted({c for m in results[busy, "auto"] for c in m["counts"]}))
            share = rate["auto"] / max(rate["1"], rate["2"])
            worst[busy] = min(worst[busy], share)
            cells += [
                f"{rate['1']:.1f}",
                f"{rate['2']:.1f}",
                f"{rate['auto']:.1f} ({chosen})",
                f"{share:.2f}",
            ]
        data = build(name, index)[2].data
        print(f"| {name} | {data} | {steps} | " + " | ".join(cells) + " |", flush=True)
    print(
        f"\nThe automatic choice's worst share of the best fixed count: {worst[False]:.2f} alone, "
        f"{worst[True]:.2f} "
        "beside a busy process (target: 0.90 or more)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
