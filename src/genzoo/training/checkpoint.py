"""Run directories: config.json + model.safetensors (+ train_state.pt for --resume), the trainer's side.

The files a model folder shares with the models layer — config.json, model.safetensors, their
checksums, the lock, the log, rebuilding a model — live in `genzoo.runfiles` and are re-exported
here; this module adds the training state and the kept sample grids. Every file is written to a
temporary name in the same directory, flushed to the disk (fsync) and renamed into place, so an
interrupted write — a kill, a power cut, a full disk — leaves the previous good file intact.
Weights live in safetensors; the training state is loaded with ``torch.load(weights_only=True)``
— nothing is unpickled that could run code; both are checked against checksums.json.
"""

from __future__ import annotations

import glob
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from genzoo.atomic import atomic_write, write_json
from genzoo.errors import GenzooError
from genzoo.runfiles import (  # the run's files, shared with the models layer (genzoo.hub)
    CARD,
    CHECKSUMS,
    CONFIG,
    LOCK,
    LOG,
    METRICS,
    SAMPLES,
    STATE,
    WEIGHTS,
    build_model,
    load,
    read_checked,
    read_config,
    read_log,
    read_weights,
    run_holder,
    run_lock,
    save_weights,
    sha256,
    use_channels_last,
    verify,
    write_checked,
)

__all__ = [
    "CARD",
    "CHECKSUMS",
    "CONFIG",
    "FRAMES",
    "LOCK",
    "LOG",
    "MAX_FRAMES",
    "METRICS",
    "RUN_FILES",
    "SAMPLES",
    "STATE",
    "WEIGHTS",
    "add_frame",
    "atomic_write",
    "build_model",
    "drop_frames",
    "frame_path",
    "load",
    "load_state",
    "read_checked",
    "read_config",
    "read_frames",
    "read_log",
    "read_weights",
    "remove_stale_temporaries",
    "run_holder",
    "run_lock",
    "save_state",
    "save_weights",
    "sha256",
    "spread",
    "use_channels_last",
    "verify",
    "write_checked",
    "write_json",
]

FRAMES = "samples"  # RUN/samples/step-NNNNNN.png: the sample grid of each kept checkpoint, for the report
MAX_FRAMES = 12  # kept checkpoints' grids: at most this many, spread evenly over the run


RUN_FILES = (CONFIG, WEIGHTS, STATE, LOG, METRICS, SAMPLES, CHECKSUMS, CARD)


def remove_stale_temporaries(run_dir: str | Path) -> list[Path]:
    """Delete the temporary files (`.NAME.XXXX.tmp`) that a write killed before its rename left in
    `run_dir`, for the run's own files only; returns them. Called when a run starts or resumes: the
    process that made them is gone, and the files they were to replace are intact."""
    run_dir = Path(run_dir)
    stale = [p for name in RUN_FILES for p in run_dir.glob(f".{glob.escape(name)}.*.tmp") if p.is_file()]
    stale += [p for p in (run_dir / FRAMES).glob(".step-*.png.*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


# --- the sample grid of each checkpoint ------------------------------------------------------------
def frame_path(run_dir: str | Path, step: int) -> Path:
    """Where the sample grid of the checkpoint at `step` is kept."""
    return Path(run_dir) / FRAMES / f"step-{step:06d}.png"


def read_frames(run_dir: str | Path) -> list[tuple[int, Path]]:
    """The kept checkpoints' sample grids as (step, path), in step order (by number, not by name)."""
    folder = Path(run_dir) / FRAMES
    found = []
    for path in folder.glob("step-*.png") if folder.is_dir() else ():
        match = re.fullmatch(r"step-(\d+)\.png", path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def spread(steps: Sequence[int], limit: int) -> list[int]:
    """At most `limit` of the sorted `steps`, spread evenly: the first and the last, and for each of
    the limit − 2 evenly spaced points between them the nearest step not yet taken."""
    steps = sorted(steps)
    if len(steps) <= limit:
        return steps
    if limit < 2:
        return steps[-limit:] if limit else []
    first, last = steps[0], steps[-1]
    kept = {first, last}
    for j in range(1, limit - 1):
        target = first + j * (last - first) / (limit - 1)
        kept.add(min((s for s in steps if s not in kept), key=lambda s: (abs(s - target), s)))
    return sorted(kept)


def add_frame(run_dir: str | Path, step: int, png: bytes, *, limit: int = MAX_FRAMES) -> Path:
    """Keep `png` as the sample grid of the checkpoint at `step` (written atomically), then delete
    the grids that `spread` leaves out, so a long run keeps at most `limit` of them."""
    path = frame_path(run_dir, step)
    atomic_write(path, lambda p: p.write_bytes(png))
    frames = read_frames(run_dir)
    keep = set(spread([s for s, _ in frames], limit))
    for s, p in frames:
        if s not in keep:
            p.unlink(missing_ok=True)
    return path


def drop_frames(run_dir: str | Path, after: int) -> None:
    """Delete the grids of checkpoints past step `after`: a run continues its series from the
    checkpoint it resumes (after = its step) and a new run starts a series of its own (after = −1)."""
    for s, p in read_frames(run_dir):
        if s > after:
            p.unlink(missing_ok=True)


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    write_checked(path, lambda p: torch.save(state, p))


def load_state(path: str | Path) -> dict[str, Any]:
    """The training state, checked against its recorded checksum and loaded without unpickling
    arbitrary objects (a pickle that would build anything but tensors and plain containers is refused)."""
    try:
        data = read_checked(path)
    except FileNotFoundError:
        raise GenzooError(f"{path}: no training state to resume from") from None
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file
        raise GenzooError(f"{path}: not a readable genzoo training state ({type(exc).__name__})") from None
