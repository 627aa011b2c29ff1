"""What the commands share: argument types, the flags every command declares alike, and the
helpers that read a run, its data and example files and write arrays. Nothing here imports torch at
import time: `genzoo --help` and `genzoo list` answer without it."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genzoo.config import INT_MAX, INT_MIN
from genzoo.errors import GenzooError

if TYPE_CHECKING:
    import torch


# --- argument types ------------------------------------------------------------------------------
def _int(low: int = INT_MIN, high: int = INT_MAX):
    """argparse type: an integer in [low, high] (by default any int64): out of range, or not an
    integer, is argparse's one-line error, exit 2. Commands check the meaning (e.g. -n >= 1)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer in [{low}, {high}], got {text[:40]!r}")
        return value

    parse.__name__ = "int"
    return parse


def _float(low: float = -float("inf"), high: float = float("inf")):
    """argparse type: a finite float in [low, high] (NaN and inf are refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            bounds = (
                "a finite number" if (low, high) == (-math.inf, math.inf) else f"a number in [{low}, {high}]"
            )
            raise argparse.ArgumentTypeError(f"expected {bounds}, got {text[:40]!r}")
        return value

    parse.__name__ = "float"
    return parse


def thread_count(text: str) -> int | None:
    """argparse type of --threads: a count >= 1, or auto (None)."""
    if text.strip().lower() == "auto":
        return None
    return _int(1, 4096)(text)


thread_count.__name__ = "thread count"


INT = _int()  # any int64; the command checks its meaning
SEED = _int(0, INT_MAX)  # torch, numpy and the trainer take seeds >= 0
COUNT = _int(INT_MIN, 2**31 - 1)  # -n, --size, --steps, ...: past 2**31 no tensor could hold them
SIDE = _int(1, 65536)  # --shape H W
PORT = _int(0, 65535)  # a TCP port; 0: a free one
POSITIVE = _int(1, 2**31 - 1)  # a count of at least one
FLOAT = _float()


# --- flags declared once -------------------------------------------------------------------------
def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=thread_count,
        metavar="N|auto",
        help="CPU threads for torch's operators (default auto: training times a few steps at each "
        "count; other commands take the cores other processes leave free)",
    )


def add_device(parser: argparse.ArgumentParser, default: str | None = "cpu") -> None:
    """--device auto|cpu|cuda (train: no default, the trainer's own; every other command: cpu)."""
    where = "default train.device, auto" if default is None else f"default {default}"
    parser.add_argument(
        "--device",
        default=default,
        choices=("auto", "cpu", "cuda"),
        help=f"where the model runs; auto: CUDA when present ({where})",
    )


def add_seed(parser: argparse.ArgumentParser, default: int | None = 0) -> None:
    """--seed, an integer >= 0 (train: no default, the run's own)."""
    what = "seed of the run's random numbers (default train.seed, 0)" if default is None else "random seed"
    parser.add_argument("--seed", type=SEED, default=default, help=what)


def at_least_one(flag: str, value: int) -> None:
    """The one-line error for a count below 1 (the count types accept any integer, and a command
    says which of its counts must be positive)."""
    if value < 1:
        raise GenzooError(f"{flag} must be at least 1, got {value}")


# --- runs, data and files ------------------------------------------------------------------------
def dataset_for(cfg: dict[str, Any], split: str):
    """The dataset a run was trained on (genzoo.training.resume.run_data)."""
    from genzoo.training.resume import run_data

    return run_data(cfg, split)


def load_run(run: str, device: str = "cpu"):
    from genzoo.training import checkpoint as ckpt
    from genzoo.training.trainer import resolve_device

    return ckpt.load(run, device=resolve_device(device))


def input_examples(path: str, model) -> torch.Tensor:
    """Examples from a .npy/.npz file, checked against the shape the model was trained on."""
    from genzoo.data import load

    suffix = Path(path).suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise GenzooError(f"--input {path}: unsupported file type {suffix or '(none)'!r} (use .npy or .npz)")
    data = load(f"{suffix[1:]}:{path}", split="all")
    shape = tuple(model.info.shape)
    x = data.x
    if tuple(x.shape[1:]) != shape:
        if x[0].numel() == model.info.dim:
            x = x.reshape(len(x), *shape)
        else:
            raise GenzooError(
                f"--input {path}: examples of shape {tuple(x.shape[1:])}, the model takes {shape}"
            )
    return x


def save_arrays(path: str, **arrays: Any) -> None:
    import numpy as np
    import torch

    from genzoo.atomic import atomic_path

    check_suffix(path, (".npz",))
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(
            fh, **{k: (v.detach().cpu().numpy() if torch.is_tensor(v) else v) for k, v in arrays.items()}
        )


def check_suffix(path: str, allowed: tuple[str, ...], flag: str = "--out") -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise GenzooError(
            f"{flag} {path}: unsupported file type {suffix or '(none)'!r} (use {', '.join(allowed)})"
        )


# --- the options the families declare ----------------------------------------------------------
def add_model_options(
    parser: argparse.ArgumentParser, method: str, *, own: dict[str, str] | None = None
) -> None:
    """A flag for every option a family declares for `method` ("sample": SampleOptions, "inpaint":
    InpaintOptions; read from the shipped catalog, so no model is imported), its help naming the
    families that take it. `own`: {option: help} of flags the command declares itself, whose help
    the families' is appended to."""
    from genzoo import catalog

    own = own or {}
    for key, row in catalog.options()[method].items():
        by_help: dict[str, list[str]] = {}
        for model, text in row["help"].items():
            by_help.setdefault(text, []).append(model)
        told = "; ".join(f"{', '.join(models)}: {text}" for text, models in by_help.items())
        kind = row["type"]
        extra: dict[str, Any] = {"choices": tuple(row["choices"])} if row["choices"] else {}
        if kind in ("int", "float"):
            extra["type"] = COUNT if kind == "int" else FLOAT
        elif kind == "floats":
            extra["metavar"] = "V1,V2"
        parser.add_argument(f"--{key}", help=f"{own[key]}; {told}" if key in own else told, **extra)


def model_options(args: argparse.Namespace, model: Any, method: str) -> dict[str, Any]:
    """The declared options of `method` given on the command line, checked against what the model
    declares: an option it does not take names the families that do; values are checked against
    the declaration (type and range); the model checks the rest (e.g. steps ≤ its training steps)."""
    from genzoo import catalog
    from genzoo.config import coerce
    from genzoo.models.base import declared_options, options_class

    table = catalog.options()[method]
    declared = declared_options(type(model), method)
    holder = options_class(type(model), method)
    out = {}
    for key, row in table.items():
        value = getattr(args, key, None)
        if value is None:
            continue
        if key not in declared:
            lacks = " or ".join(sorted(set(row["missing"].values()), key=str.lower, reverse=True))
            families = list(row["help"])
            raise GenzooError(
                f"--{key}: model {model.name!r} has no {lacks} ({', '.join(families)} "
                f"{'has' if len(families) == 1 else 'have'})"
            )
        if row["type"] == "floats":
            value = _numbers(key, value)
        try:
            out[key] = coerce(holder, declared[key], value, "")
        except GenzooError as exc:
            raise GenzooError(f"--{exc}") from None
    return out


def _numbers(key: str, text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise GenzooError(
            f"--{key} expects comma-separated numbers such as --{key}=0.5,-1, got {text!r}"
        ) from None


def by_chunks(fn: Any, x: torch.Tensor, model: Any, size: int = 500) -> torch.Tensor:
    """fn over `x` in chunks of `size` examples on the model's device, the results joined on the CPU."""
    import torch

    return torch.cat([fn(chunk.to(model.device)).cpu() for chunk in torch.split(x, size)])
