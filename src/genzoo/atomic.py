"""Writes that never leave a half-written file: a temporary name in the same directory, flushed
to the disk (fsync) and renamed into place, so an interrupted write — a kill, a power cut, a full
disk — leaves the previous good file intact. Every layer writes its files through these."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genzoo.errors import GenzooError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, on failure delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~UMASK)  # mkstemp makes 0600; the final file gets the usual mode
    try:
        yield tmp_path
        fsync(tmp_path)
        os.replace(tmp_path, path)
        fsync(path.parent)  # the rename itself reaches the disk
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise GenzooError(
                f"{path}: no space left on the device while writing it; the previous {path.name}, "
                f"if any, is intact — "
                "free some space and run again (a training run: --resume)"
            ) from None
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def fsync(path: Path) -> None:
    """Flush a file's (or a directory's) contents to the disk; a no-op where the OS cannot."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, default=json_default) + "\n"))


def json_default(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    import torch  # only for what json cannot write itself: no torch at import time

    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
