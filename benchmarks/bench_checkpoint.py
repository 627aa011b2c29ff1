"""What a safe checkpoint costs: genzoo's write (temporary file, fsync, rename, fsync of the folder,
SHA-256 recorded in checksums.json) against a plain torch.save + safetensors save_file onto the final
names, for each family's tour model, and that cost as a share of the training time between two
checkpoints at the default checkpoint_every.

    python benchmarks/bench_checkpoint.py                 # every family with a tour entry
    python benchmarks/bench_checkpoint.py --only vae,ddpm --repeats 9

The checkpoints go to --dir (default runs/bench-checkpoint, on the disk the runs would use: a tmpfs
would make fsync free). Rows: megabytes written per checkpoint (train_state.pt + model.safetensors),
the median time of each way over --repeats alternated writes, their ratio, the time spent inside
genzoo's write in fsync and in SHA-256, the load (both files, each checked against its checksum), and the
checkpoint's share of checkpoint_every training steps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import torch
from safetensors.torch import save_file

import genzoo
from genzoo import atomic
from genzoo.models.registry import MODELS
from genzoo.training import checkpoint as ckpt
from genzoo.training.trainer import TrainConfig, Trainer


def trainer_for(name: str, out: Path) -> Trainer:
    entry = MODELS.get(name).tour[0]
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
    trainer = Trainer(model, data, genzoo.config.build(TrainConfig, options, section="train"), out)
    trainer._setup(False)
    for _ in range(3):  # the optimiser's moments exist, as in a real checkpoint
        trainer._one_step()
        trainer.step += 1
    return trainer


def plain_save(trainer: Trainer, out: Path) -> None:
    """What a training loop without these guarantees writes: the same two files, straight onto their names."""
    state = trainer.model.state_dict()
    torch.save(
        {"step": trainer.step, "model": state, "optimizers": [o.state_dict() for o in trainer.optimizers]},
        out / "plain_state.pt",
    )
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(out / "plain.safetensors"))


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def measure(name: str, root: Path, repeats: int, steps: int) -> dict:
    out = root / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    trainer = trainer_for(name, out)
    trainer.save()  # warm: the files exist, as at every checkpoint but the first
    plain_save(trainer, out)
    inside = {"fsync": 0.0, "sha256": 0.0}  # seconds spent in each during the current save

    def clocked(module, name: str):
        real = getattr(module, name)

        def run(*args):
            t0 = time.perf_counter()
            try:
                return real(*args)
            finally:
                inside[name] += time.perf_counter() - t0

        return run

    safe, plain, fsyncs, hashes = [], [], [], []
    with (
        mock.patch.object(atomic, "fsync", clocked(atomic, "fsync")),
        mock.patch.object(ckpt, "sha256", clocked(ckpt, "sha256")),
    ):
        for i in range(repeats):  # alternated, so that a disturbance hits both ways
            for way in ("safe", "plain") if i % 2 == 0 else ("plain", "safe"):
                if way == "plain":
                    plain.append(timed(plain_save, trainer, out))
                    continue
                inside.update(fsync=0.0, sha256=0.0)
                safe.append(timed(trainer.save))
                fsyncs.append(inside["fsync"])
                hashes.append(inside["sha256"])

    def load() -> None:  # what --resume reads, each file checked against checksums.json
        ckpt.load_state(out / ckpt.STATE)
        ckpt.read_weights(out / ckpt.WEIGHTS)

    loads = [timed(load) for _ in range(repeats)]
    step_times = []
    for _ in range(steps):
        step_times.append(timed(trainer._one_step))
        trainer.step += 1
    megabytes = ((out / ckpt.STATE).stat().st_size + (out / ckpt.WEIGHTS).stat().st_size) / 1e6
    med = statistics.median
    every = trainer.cfg.checkpoint_every
    return {
        "family": name,
        "mb": megabytes,
        "safe_ms": 1e3 * med(safe),
        "plain_ms": 1e3 * med(plain),
        "fsync_ms": 1e3 * med(fsyncs),
        "hash_ms": 1e3 * med(hashes),
        "load_ms": 1e3 * med(loads),
        "every": every,
        "share": med(safe) / (med(safe) + every * med(step_times)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--only", default="", help="comma-separated families (default: every one with a tour entry)"
    )
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=10, help="training steps timed for the share column")
    ap.add_argument("--dir", default="runs/bench-checkpoint")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = [
        n
        for n in (args.only.split(",") if args.only else MODELS.names())
        if MODELS.get(n).trainable and MODELS.get(n).tour
    ]
    root = Path(args.dir)
    print(
        f"### Checkpoint cost ({torch.__version__}, {args.threads} threads, "
        f"{args.repeats} alternated writes, folder {root})\n"
    )
    print(
        "| family | MB | genzoo write ms | plain write ms | ratio | of which fsync ms | SHA-256 ms | "
        "load + check ms | share of training |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        r = measure(name, root, args.repeats, args.steps)
        print(
            f"| {name} | {r['mb']:.2f} | {r['safe_ms']:.1f} | {r['plain_ms']:.1f} | "
            f"{r['safe_ms'] / r['plain_ms']:.2f}× | "
            f"{r['fsync_ms']:.1f} | {r['hash_ms']:.1f} | {r['load_ms']:.1f} | "
            f"{100 * r['share']:.2g}% per {r['every']} steps |",
            flush=True,
        )
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
