"""The files of a run or model folder that the models layer reads and writes too: config.json,
model.safetensors and their checksums, the run's lock, its log; rebuilding a model from them.
`genzoo.training.checkpoint` (the trainer's checkpoints, which re-exports these) and `genzoo.hub`
(model cards, save_pretrained / from_pretrained) build on it.

Every file is written to a temporary name in the same directory, flushed to the disk (fsync)
and renamed into place. checksums.json records the SHA-256 of model.safetensors and
train_state.pt, and both are checked on load: a truncated, bit-flipped or swapped file is refused
with its name. So that a kill between a file's rename and the manifest's update cannot make a good
file look damaged, the manifest is first rewritten listing the old and the new digest, then the
file is renamed, then the manifest lists the new digest alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save_file

from genzoo.atomic import UMASK, atomic_path, write_json
from genzoo.data.base import DataInfo
from genzoo.errors import GenzooError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
STATE = "train_state.pt"
LOG = "log.jsonl"
METRICS = "metrics.json"
SAMPLES = "samples.png"
CHECKSUMS = "checksums.json"
CARD = "README.md"  # the model card (genzoo.hub)
LOCK = ".lock"  # held (flock) by the process training the run; holds its process id

_HELD: dict[Path, tuple[int, int]] = {}  # run directory -> (file descriptor, depth) held by this process


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold `run_dir` as the one process writing into it: an advisory lock (flock) on RUN/.lock,
    which the OS releases when the process ends, however it ends (SIGKILL included), so it is never
    stale. Another process asking for it gets a one-line error naming the holder's process id.
    Re-entrant within a process (the CLI takes it before clearing a run, the trainer again)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    key = run_dir.resolve()
    if key in _HELD:
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth - 1)
        return
    try:
        import fcntl
    except ImportError:  # no flock on this OS: one writer is the user's business
        yield
        return
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o666 & ~UMASK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise GenzooError(
            f"{run_dir} is in use: process {holder} is training it; wait for it to finish, stop it "
            "(Ctrl-C or kill saves a checkpoint), or pass another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD[key] = (fd, 1)
    try:
        yield
    finally:
        del _HELD[key]
        os.close(fd)  # closing the descriptor releases the lock


def run_holder(run_dir: str | Path) -> int | None:
    """The id of the process training `run_dir` now, or None (nobody holds its lock)."""
    path = Path(run_dir) / LOCK
    try:
        import fcntl

        fd = os.open(path, os.O_RDONLY)
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        text = os.read(fd, 64).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_checksums(run_dir: Path) -> dict[str, list[str]]:
    path = run_dir / CHECKSUMS
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise GenzooError(
            f"{path}: not a readable checksum manifest (delete it to load the run unchecked)"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(d, str) for d in v) for v in data.values()
    ):
        raise GenzooError(f"{path}: not a genzoo checksum manifest (delete it to load the run unchecked)")
    return data


def write_checked(path: str | Path, write: Callable[[Path], None]) -> None:
    """atomic_write, with the file's digest recorded in the run directory's checksums.json (see the
    module docstring for the order of the renames)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        write(tmp)
        digest = sha256(tmp)
        sums = _read_checksums(path.parent)
        # the file now on disk matches one of the digests listed for it (each write leaves that
        # true), so they stay valid until the rename, without hashing the old file again
        old = [d for d in sums.get(path.name, []) if d != digest] if path.exists() else []
        write_json(
            path.parent / CHECKSUMS, {**sums, path.name: [digest, *old]}
        )  # before the rename: both valid
    write_json(path.parent / CHECKSUMS, {**sums, path.name: [digest]})  # after it: the new one alone


def verify(path: str | Path) -> None:
    """Check `path` against the digests checksums.json lists for it (nothing to check if the run has
    no manifest or the manifest does not list the file)."""
    if Path(path).is_file():
        read_checked(path)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def read_checked(path: str | Path, *, tries: int = 20) -> bytes:
    """The bytes of `path`, checked against the digests checksums.json lists for it.

    A run that another process is training rewrites the file and the manifest while we read them:
    the file is read once, then the manifest; on a mismatch, if either has changed meanwhile (a
    checkpoint was renamed into place), both are read again, so a reader gets the last complete
    checkpoint and no false alarm. A mismatch with nothing changing is a damaged file."""
    path = Path(path)
    manifest = path.parent / CHECKSUMS
    for _ in range(tries):
        before = (_stamp(path), _stamp(manifest))
        data = path.read_bytes()
        allowed = _read_checksums(path.parent).get(path.name)
        if not allowed or hashlib.sha256(data).hexdigest() in allowed:
            return data
        time.sleep(0.02)
        if (_stamp(path), _stamp(manifest)) == before:
            break
    raise GenzooError(
        f"{path}: its checksum does not match the one recorded in {CHECKSUMS} when it was written — the file "
        "is damaged (truncated or altered) or was replaced; it is not loaded"
    )


def save_weights(
    path: str | Path, state: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    write_checked(path, lambda p: save_file(tensors, str(p), metadata=metadata))


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The run's config.json; a missing directory or a non-genzoo folder is a user error."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GenzooError(f"run directory not found: {run_dir}")
    path = run_dir / CONFIG
    if not path.is_file():
        raise GenzooError(f"{run_dir} is not a genzoo run (no {CONFIG})")
    try:
        cfg = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise GenzooError(f"{path}: not valid JSON") from None
    except OSError as exc:
        raise GenzooError(f"{path}: cannot read it ({exc.strerror})") from None
    for key in ("model", "data_info"):
        if not isinstance(cfg, dict) or key not in cfg:
            raise GenzooError(f"{path}: not a genzoo run config (no {key!r})")
    model = cfg["model"]
    if (
        not isinstance(model, dict)
        or not isinstance(model.get("name"), str)
        or not isinstance(model.get("params", {}), dict)
    ):
        raise GenzooError(f"{path}: model must be an object with a name and a params object")
    if not isinstance(cfg.get("train", {}), dict):
        raise GenzooError(f"{path}: train must be an object of training options")
    data = cfg.get("data")
    if data is not None:  # what `evaluate`, `report`, ... reload the data from
        options = data.get("options") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("name"), str)
            or not (
                options is None
                or (
                    isinstance(options, dict)
                    and all(isinstance(k, str) and k.isidentifier() for k in options)
                )
            )
        ):
            raise GenzooError(f"{path}: data must be an object with a dataset name and an options object")
        if options and {"name", "split"} & options.keys():
            raise GenzooError(
                f"{path}: data.options.{sorted({'name', 'split'} & options.keys())[0]} "
                "is not a dataset option"
            )
    return cfg


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / LOG
    if not path.is_file():
        return []
    records = []
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            with contextlib.suppress(json.JSONDecodeError, RecursionError):
                record = json.loads(line)
                if isinstance(record, dict) and type(record.get("step")) is int:  # a line genzoo wrote
                    records.append(record)
    return records


def build_model(cfg: dict[str, Any]):
    """A fresh model from a run config (weights not loaded)."""
    from genzoo.models.registry import create

    info = _data_info(cfg["data_info"])
    return create(cfg["model"]["name"], info, **cfg["model"].get("params", {}))


def _data_info(d: Any) -> DataInfo:
    """config.json's data_info, each field checked, a bad one named."""
    if not isinstance(d, dict):
        raise GenzooError(f"{CONFIG}: data_info must be an object, got {type(d).__name__}")
    for key, kind in (("shape", int), ("value_range", float), ("pair_shape", int)):
        value = d.get(key)
        if value is None and key == "pair_shape":
            continue
        try:
            if isinstance(value, str | bytes) or not [kind(v) for v in value]:
                raise TypeError
        except (TypeError, ValueError):
            raise GenzooError(f"{CONFIG}: data_info.{key} must be a list of numbers, got {value!r}") from None
    try:
        return DataInfo.from_dict(d)
    except TypeError as exc:  # an unknown or a missing field
        raise GenzooError(f"{CONFIG}: data_info: {exc}") from None


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise GenzooError(f"{path.parent} has no weights ({path.name}); was the run trained?")
    try:
        return load_bytes(read_checked(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise GenzooError(f"{path}: not a readable safetensors file ({exc})") from None


def load(run_dir: str | Path, *, device: str | torch.device = "cpu"):
    """Rebuild the model of a run from config.json + model.safetensors, in eval mode."""
    cfg = read_config(run_dir)
    model = build_model(cfg)
    model.load_weights(read_weights(Path(run_dir) / WEIGHTS))
    model.to(device)
    if use_channels_last(cfg.get("train", {}).get("channels_last", "auto"), model):
        model.to(memory_format=torch.channels_last)  # the layout it trained in: the same samples, faster
    return model.eval()


def use_channels_last(setting: str, model: torch.nn.Module) -> bool:
    """train.channels_last: "on", "off", or "auto" = on for a model with 2-D convolutions whose family
    measured faster with NHWC weights (its class says `channels_last = True`: the conv GAN, DDPM's
    U-Net, PixelCNN, VQ-VAE, 1.05–1.1× per training step on the CPU and 1.6–2× in DDIM sampling;
    CycleGAN, pix2pix, the gated PixelCNN and the PixelRNN measured 0.87–0.96×: see BENCHMARKS.md)."""
    if setting != "auto":
        return setting == "on"
    return getattr(model, "channels_last", False) and any(
        isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d) for m in model.modules()
    )
