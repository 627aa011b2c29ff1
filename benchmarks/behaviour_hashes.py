"""Fingerprints of behaviour: for every tour entry, a short seeded run's weights and samples, hashed.

    python benchmarks/behaviour_hashes.py --out benchmarks/behaviour_hashes.json    # record
    python benchmarks/behaviour_hashes.py --check benchmarks/behaviour_hashes.json  # compare

A refactor that claims to change no behaviour is proved by these hashes being equal before and after
it, on the same machine and the same versions of torch and numpy (floating-point results differ
across CPUs and libraries, so the file is a record of one machine, not a test for CI). For each entry
of the full tour (`genzoo.tour.plan()`), in a temporary directory: train with the entry's data, model
and full-tour training options for `--steps` steps (0 for the families fitted without steps), seed 0,
one thread (a seeded run is bit-identical for a given thread count); then hash

  weights   the saved model.safetensors: every tensor's name, dtype, shape and bytes, in name order
            (not the file's bytes: its metadata records when it was written)
  grid      the sample grid the trainer wrote (samples.png)
  samples   model.sample(8) from a generator seeded with 0, as float32 bytes (a translator's or
            conditional model's own error, if it cannot sample unconditioned, is hashed instead)

`--check` prints each entry whose hashes differ and exits 1 if any do.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

import genzoo
from genzoo.data import load
from genzoo.models import create
from genzoo.models.base import TourEntry
from genzoo.tour import entry_steps, plan, run_key


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _tensors_sha(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].contiguous().reshape(-1)
        h.update(f"{key} {t.dtype} {tuple(state[key].shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def fingerprint(name: str, entry: TourEntry, steps: int, root: Path) -> dict[str, str]:
    """The three hashes of one entry's short seeded run (module docstring)."""
    train = load(entry.data, split="train", **entry.data_options)
    n = min(entry_steps(entry, quick=False), steps)
    run_dir = root / run_key(name, entry)
    options = {**entry.train_options(quick=False), "steps": n, "seed": 0, "progress": False, "threads": 1}
    options["checkpoint_every"] = max(n, 1)
    run = genzoo.train(create(name, train, seed=0, **entry.params), train, out=run_dir, **options)
    grid = run_dir / "samples.png"
    try:
        with torch.no_grad():
            x = run.model.sample(8, generator=torch.Generator().manual_seed(0))
        samples = _sha(x.detach().float().cpu().contiguous().numpy().tobytes())
    except Exception as exc:  # noqa: BLE001 — the refusal itself is behaviour to keep
        samples = "error: " + _sha(f"{type(exc).__name__}: {exc}".encode())
    return {
        "weights": _tensors_sha(load_file(str(run_dir / "model.safetensors"))),
        "grid": _sha(grid.read_bytes()) if grid.is_file() else "none",
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", help="write the hashes to this JSON file")
    group.add_argument("--check", help="compare with the hashes in this JSON file")
    ap.add_argument("--steps", type=int, default=3, help="training steps per entry (default 3)")
    ap.add_argument("--only", default="", help="comma-separated families (default: every tour entry)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    only = [f for f in args.only.split(",") if f] or None
    hashes, t0 = {}, time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="genzoo-hashes-") as tmp:
        for name, entry in plan(only):
            key = run_key(name, entry)
            hashes[key] = fingerprint(name, entry, args.steps, Path(tmp))
            print(
                f"{key:28s} {hashes[key]['weights']} {hashes[key]['grid']} {hashes[key]['samples']}",
                file=sys.stderr,
                flush=True,
            )
    record = {
        "steps": args.steps,
        "torch": torch.__version__,
        "genzoo": genzoo.__version__,
        "entries": hashes,
    }
    print(f"{len(hashes)} entries in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
        return 0
    expected = json.loads(Path(args.check).read_text())
    if expected.get("steps") != args.steps:
        print(f"the record was made with --steps {expected.get('steps')}; pass the same", file=sys.stderr)
        return 2
    keys = set(hashes) if only else set(expected["entries"]) | set(hashes)
    differ = [k for k in sorted(keys) if expected["entries"].get(k) != hashes.get(k)]
    for key in differ:
        print(f"differs: {key}: recorded {expected['entries'].get(key)}, now {hashes.get(key)}")
    print(
        f"{len(hashes) - len(differ)} of {len(hashes)} entries identical"
        + ("" if only is None else f" (only {args.only})")
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
