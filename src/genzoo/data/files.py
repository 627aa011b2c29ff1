"""The user's own data: `folder:PATH` (PNG/JPEG images) and `npy:PATH` / `npz:PATH` (arrays).

Both split by a fixed 80/20 permutation (stratified when there are labels). Arrays are
read with `allow_pickle=False`: a file can never run code when loaded.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from genzoo.config import option
from genzoo.data.base import DataInfo, DataOptions, Dataset
from genzoo.data.registry import register_dataset, stratified_split
from genzoo.errors import GenzooError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GREY_MODES = ("1", "L", "LA", "I", "F", "I;16", "I;16L", "I;16B")
WIDE_MODES = ("I", "I;16", "I;16L", "I;16B")  # 16-bit grey PNGs: scaled by 1/65535, not 1/255


def split_index(n: int, split: str, y: Tensor | None, what: str) -> Tensor:
    """Indices of `split` under a fixed 80/20 permutation (stratified by `y` if given)."""
    if split == "all":
        return torch.arange(n)
    n_test = round(n / 5)
    if y is not None:
        train, test = stratified_split(y, n_test, seed=0)
    else:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
        train, test = perm[n_test:], perm[:n_test]
    idx = train if split == "train" else test
    if len(idx) == 0:
        raise GenzooError(f"{what}: only {n} examples, so the {split} split is empty; use split=all")
    return idx


# ---------------------------------------------------------------- folder:PATH


@dataclass
class FolderOptions(DataOptions):
    path: str = option("", help="a folder of PNG/JPEG images, or of one subfolder of images per class")
    size: int = option(
        0, low=0, high=4096, help="resize every image to size×size; 0 keeps the first image's size"
    )
    channels: int = option(0, choices=(0, 1, 3), help="1 (grey) or 3 (RGB); 0 takes the first image's")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def find_images(folder: Path) -> tuple[list[Path], Tensor | None]:
    """The images in `folder` (sorted, not recursive) or, when it holds only subfolders,
    those of each subfolder with the subfolder's index (sorted by name) as label."""
    if not folder.is_dir():
        raise GenzooError(f"data folder not found: {folder}")
    files = _image_files(folder)
    if files:
        return files, None
    classes = [d for d in sorted(folder.iterdir()) if d.is_dir() and _image_files(d)]
    if not classes:
        raise GenzooError(f"no PNG or JPEG images in {folder}")
    per_class = [_image_files(d) for d in classes]
    labels = torch.cat([torch.full((len(f),), k) for k, f in enumerate(per_class)])
    return [f for fs in per_class for f in fs], labels


def _open_error(path: Path, exc: Exception) -> GenzooError:
    reason = "not an image Pillow can decode" if isinstance(exc, UnidentifiedImageError) else str(exc)
    return GenzooError(
        f"cannot read image {path}: {reason.splitlines()[0] if reason else type(exc).__name__}"
    )


def image_channels(path: Path) -> int:
    """1 for a grey image, 3 otherwise (colour, palette)."""
    try:
        with Image.open(path) as img:
            return 1 if img.mode in GREY_MODES else 3
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _open_error(path, exc) from None


def read_image(path: Path, channels: int, size: int = 0) -> np.ndarray:
    """One image as float32 (C, H, W) in [0, 1], converted to `channels` and resized to
    size×size (bilinear, antialiased) unless `size` is 0."""
    try:
        with Image.open(path) as img:
            img.load()
            if channels == 1 and img.mode in WIDE_MODES:
                img, scale = img.convert("F"), 65535.0
            else:
                img, scale = img.convert("L" if channels == 1 else "RGB"), 255.0
            if size:
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.clip(np.asarray(img, dtype=np.float32) / scale, 0.0, 1.0)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _open_error(path, exc) from None
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


@register_dataset(
    "folder",
    options=FolderOptions,
    prefix=True,
    summary="your PNG/JPEG images (subfolders = classes), fixed 80/20 split",
)
def folder(split: str, opts: FolderOptions) -> Dataset:
    name = f"folder:{opts.path}"
    files, labels = find_images(Path(opts.path).expanduser())
    channels = opts.channels or image_channels(files[0])
    first = read_image(files[0], channels, opts.size)  # sets the size every image must have
    idx = split_index(len(files), split, labels, name)
    images = [first if i == 0 else read_image(files[i], channels, opts.size) for i in idx.tolist()]
    for i, img in zip(idx.tolist(), images):
        if img.shape != first.shape:
            raise GenzooError(
                f"{files[i]}: image is {img.shape[2]}×{img.shape[1]} but {files[0].name} is "
                f"{first.shape[2]}×{first.shape[1]}; set data.size=N to resize all to N×N"
            )
    info = DataInfo(name, "image", first.shape, (0.0, 1.0), num_classes=_num_classes(labels))
    return Dataset(torch.from_numpy(np.stack(images)), info, None if labels is None else labels[idx])


def _num_classes(y: Tensor | None) -> int:
    return 0 if y is None else int(y.max()) + 1


# ---------------------------------------------------------------- npy:PATH, npz:PATH


@dataclass
class ArrayOptions(DataOptions):
    path: str = option("", help=".npy file, or .npz with the data under x (and labels under y)")


def read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(x, y) from a .npy file (no labels) or an .npz file (x under `x` or the only array,
    labels under `y`). Never unpickles: object arrays and pickles are refused."""
    if not path.is_file():
        raise GenzooError(f"data file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return loaded, None
        with loaded:
            return _npz_arrays(path, loaded)
    except ValueError as exc:
        if "pickle" not in str(exc) and "Object arrays" not in str(exc):
            raise GenzooError(f"cannot read {path}: {exc}") from None
        raise GenzooError(
            f"{path}: holds pickled Python objects, which genzoo never loads (it could run code); "
            "save plain numeric arrays with np.save / np.savez"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise GenzooError(f"cannot read {path}: {exc}") from None


def _npz_arrays(path: Path, npz: np.lib.npyio.NpzFile) -> tuple[np.ndarray, np.ndarray | None]:
    keys = list(npz.files)
    if "x" in keys:
        return npz["x"], npz["y"] if "y" in keys else None
    if len(keys) == 1:
        return npz[keys[0]], None
    raise GenzooError(
        f"{path}: no array named 'x' among {', '.join(keys) or 'no arrays'}; save the data as x=..."
    )


def check_x(x: np.ndarray, what: str) -> None:
    """Refuse arrays that are not numbers of rank 2, 3 or 4, or hold NaN/inf."""
    if x.dtype.kind not in "biuf":
        raise GenzooError(f"{what}: array has dtype {x.dtype}; expected numbers (bool, integer or float)")
    if x.ndim not in (2, 3, 4):
        raise GenzooError(
            f"{what}: array has rank {x.ndim} (shape {x.shape}); expected rank 2 (N, D) points, "
            "3 (N, H, W) or 4 (N, C, H, W) images"
        )
    if len(x) == 0:
        raise GenzooError(f"{what}: array holds no examples (shape {x.shape})")
    if x.ndim == 4 and x.shape[1] > 4:
        raise GenzooError(
            f"{what}: shape {x.shape} has {x.shape[1]} channels on axis 1; expected (N, C, H, W) with C ≤ 4 "
            "(for channels-last data use np.moveaxis(x, -1, 1))"
        )
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise GenzooError(f"{what}: {int((~np.isfinite(x)).sum())} values are NaN or infinite")


def check_y(y: np.ndarray, n: int, what: str) -> Tensor:
    """Labels as int64 (N,): non-negative integers, one per example."""
    if y.ndim != 1 or len(y) != n:
        raise GenzooError(f"{what}: labels y have shape {y.shape}; expected ({n},), one per example")
    if y.dtype.kind not in "biu" or (len(y) and y.min() < 0):
        raise GenzooError(f"{what}: labels y must be non-negative integers (got dtype {y.dtype})")
    return torch.from_numpy(y.astype(np.int64))


def array_dataset(x: np.ndarray, what: str) -> tuple[Tensor, str, tuple[float, float]]:
    """(x as float32 tensor, kind, value range): (N, D) → points; (N, H, W) or (N, C, H, W) →
    images in [0, 1] (integer 0..255 divided by 255), or a "field" of raw values otherwise."""
    check_x(x, what)
    if x.ndim == 2:
        return torch.from_numpy(x.astype(np.float32)), "points", (-math.inf, math.inf)
    x = x[:, None] if x.ndim == 3 else x
    lo, hi = float(x.min()), float(x.max())
    t = torch.from_numpy(x.astype(np.float32))
    if x.dtype.kind in "iu" and lo >= 0 and hi <= 255:
        return t / 255, "image", (0.0, 1.0)
    if x.dtype.kind == "b" or (x.dtype.kind == "f" and lo >= 0 and hi <= 1):
        return t, "image", (0.0, 1.0)
    return t, "field", (-math.inf, math.inf)


def _load_arrays(prefix: str, split: str, opts: ArrayOptions) -> Dataset:
    name = f"{prefix}:{opts.path}"
    path = Path(opts.path).expanduser()
    x_np, y_np = read_arrays(path)
    x, kind, value_range = array_dataset(x_np, str(path))
    y = None if y_np is None else check_y(y_np, len(x), str(path))
    idx = split_index(len(x), split, y, name)
    info = DataInfo(name, kind, tuple(x.shape[1:]), value_range, num_classes=_num_classes(y))
    return Dataset(x[idx], info, None if y is None else y[idx])


@register_dataset(
    "npy",
    options=ArrayOptions,
    prefix=True,
    summary="your .npy array: (N, D) points or (N, [C,] H, W) images",
)
def npy(split: str, opts: ArrayOptions) -> Dataset:
    return _load_arrays("npy", split, opts)


@register_dataset(
    "npz",
    options=ArrayOptions,
    prefix=True,
    summary="your .npz arrays: data under x, optional labels under y",
)
def npz(split: str, opts: ArrayOptions) -> Dataset:
    return _load_arrays("npz", split, opts)
