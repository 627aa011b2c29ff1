"""The user's own data: `folder:PATH` (PNG/JPEG images) and `npy:PATH` / `npz:PATH` (arrays).

Both split by a fixed 80/20 permutation (stratified when there are labels). Every file is
treated as hostile: nothing read here can run code, and a file genzoo cannot use is either
skipped with a warning naming it or refused with a `GenzooError` naming it, never a
traceback.

`folder:PATH`
    * files whose suffix is not .png/.jpg/.jpeg (a .txt, a .npy, ...) are **skipped**, and one
      ``UserWarning`` names them; hidden files (``.DS_Store``) are skipped silently;
    * an image file that cannot be used is **refused** (GenzooError naming it and every other
      such file): an empty file, a truncated or corrupt one, one that is not PNG or JPEG inside
      (only Pillow's PNG and JPEG decoders are ever run), and one whose header claims more
      than `MAX_IMAGE_PIXELS` pixels (a decompression bomb), refused before decoding;
    * every image is checked and decoded whichever split is asked for, so that the train and
      test splits come from the same files and a bad file is found before training;
    * modes are **converted** to the dataset's channels: grey (1, L, LA, I, I;16, ...) and
      colour (RGB, RGBA, P, CMYK, ...) alike; alpha is dropped, palettes are expanded, 16-bit
      grey is scaled by 1/65535. With ``channels=0`` the data are RGB if any image is in
      colour, else grey.

`npy:PATH`, `npz:PATH`
    Arrays are read with ``allow_pickle=False``, after their header is checked: object
    arrays and pickles are refused (a file can never run code when loaded), as are files that
    are not .npy/.npz inside, truncated ones (less data than their header declares), arrays
    larger than half this machine's memory, and then (`check_x`) non-numeric dtypes,
    ranks other than 2-4, empty arrays, NaN/inf values and values beyond float32's range.
"""

from __future__ import annotations

import math
import struct
import sys
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from genzoo.config import option
from genzoo.data.base import BYTES, Coding, DataInfo, DataOptions, Dataset, memory_bytes
from genzoo.data.registry import register_dataset, stratified_split
from genzoo.errors import GenzooError, shown

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_FORMATS = ("PNG", "JPEG")  # the only Pillow decoders genzoo runs, whatever a file's suffix
GREY_MODES = ("1", "L", "LA", "I", "F", "I;16", "I;16L", "I;16B")
WIDE_MODES = ("I", "I;16", "I;16L", "I;16B")  # 16-bit grey PNGs: scaled by 1/65535, not 1/255
MAX_IMAGE_PIXELS = 8192 * 8192  # larger images are refused from their header, before decoding
MAX_CLASSES = 65536  # labels must lie in 0..MAX_CLASSES-1
# what Pillow and zlib raise on a corrupt, truncated or hostile file
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    zlib.error,
    MemoryError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


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
        raise GenzooError(f"{shown(what)}: only {n} examples, so the {split} split is empty; use split=all")
    return idx


# ---------------------------------------------------------------- folder:PATH


@dataclass
class FolderOptions(DataOptions):
    path: str = option("", help="a folder of PNG/JPEG images, or of one subfolder of images per class")
    size: int = option(
        0, low=0, high=4096, help="resize every image to size×size; 0 keeps the images' size (all must match)"
    )
    channels: int = option(0, choices=(0, 1, 3), help="1 (grey) or 3 (RGB); 0: RGB if any image is in colour")
    stream: str = option(
        "auto",
        choices=("auto", "memory", "disk"),
        help="hold the decoded images in memory, or read them from disk as training goes "
        "(auto: from disk when they need more than half this machine's memory)",
    )
    workers: int = option(
        2, low=0, high=64, help="images read from disk: processes that decode the next batches (0: none)"
    )


def _listing(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """(image files, other files, subfolders) of `folder`, each sorted; hidden entries left out."""
    images, others, dirs = [], [], []
    try:
        entries = sorted(folder.iterdir())
        for p in entries:
            if p.name.startswith("."):
                continue
            if p.is_dir():
                dirs.append(p)
            elif p.is_file():
                (images if p.suffix.lower() in IMAGE_SUFFIXES else others).append(p)
            else:  # a FIFO, a socket, a device, a dangling link: never opened
                others.append(p)
    except OSError as exc:
        raise GenzooError(f"cannot list {shown(folder)}: {exc.strerror or type(exc).__name__}") from None
    return images, others, dirs


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def find_images(folder: Path) -> tuple[list[Path], Tensor | None, list[Path]]:
    """(images, labels, skipped): the images in `folder` (sorted, not recursive) or, when it
    holds no images but subfolders of them, those of each subfolder with the subfolder's index
    (sorted by name) as label; `skipped` are the files that are not PNG/JPEG by their suffix."""
    if not _is_dir(folder):
        raise GenzooError(f"data folder not found: {shown(folder)}")
    files, skipped, dirs = _listing(folder)
    if files:
        return files, None, skipped
    classes = []
    for d in dirs:
        images, others, _ = _listing(d)
        skipped += others
        if images:
            classes.append(images)
    if not classes:
        raise GenzooError(f"no PNG or JPEG images in {shown(folder)}")
    labels = torch.cat([torch.full((len(f),), k) for k, f in enumerate(classes)])
    return [f for fs in classes for f in fs], labels, skipped


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not a PNG or JPEG image"
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too large to decode safely (a decompression bomb?): {str(exc).splitlines()[0]}"
    if isinstance(exc, MemoryError):
        return "too large to decode in this machine's memory"
    return shown(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


class ImageRefused(GenzooError):
    """One image file genzoo will not read; `reason` says why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read image {shown(path)}: {reason}")
        self.path, self.reason = path, reason


def _open_error(path: Path, exc: BaseException) -> ImageRefused:
    return ImageRefused(path, _reason(exc))


class _OpenImage:
    """``with _OpenImage(path) as img``: Pillow's PNG/JPEG decoders only, its decompression-bomb
    warning raised as an error, and `MAX_IMAGE_PIXELS` checked on the header before any
    pixel is decoded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._warnings = warnings.catch_warnings()
        self.img: Image.Image | None = None

    def __enter__(self) -> Image.Image:
        self._warnings.__enter__()
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if self.path.stat().st_size == 0:
                raise OSError("empty file")
            self.img = Image.open(self.path, formats=IMAGE_FORMATS)
            w, h = self.img.size
            if w * h > MAX_IMAGE_PIXELS or w < 1 or h < 1:
                raise OSError(
                    f"its header claims {w}×{h} pixels, more than genzoo's limit of "
                    f"{MAX_IMAGE_PIXELS:,}: a decompression bomb?"
                )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.img

    def __exit__(self, *exc: object) -> None:
        if self.img is not None:
            self.img.close()
            self.img = None
        self._warnings.__exit__(None, None, None)


def probe_image(path: Path) -> tuple[str, tuple[int, int]]:
    """(mode, (width, height)) from the header alone; GenzooError naming the file if it is
    empty, not PNG/JPEG, or above `MAX_IMAGE_PIXELS`."""
    try:
        with _OpenImage(path) as img:
            return img.mode, img.size
    except _DECODE_ERRORS as exc:
        raise _open_error(path, exc) from None


def read_image(path: Path, channels: int, size: int = 0, codes: bool = False) -> np.ndarray:
    """One image as float32 (C, H, W) in [0, 1], converted to `channels` and resized to
    size×size (bilinear, antialiased) unless `size` is 0; with `codes`, an 8-bit image's uint8
    values (v × 255) — 16-bit grey ones stay float32."""
    try:
        with _OpenImage(path) as img:
            img.load()
            wide = img.mode in WIDE_MODES
            if wide:  # 16-bit grey: keep its depth (convert("RGB") would clip it)
                img = img.convert("F")
            else:
                img = img.convert("L" if channels == 1 else "RGB")
            if size:
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            if wide:
                arr = np.clip(np.asarray(img, dtype=np.float32) / 65535.0, 0.0, 1.0)
            elif codes:
                arr = np.asarray(img, dtype=np.uint8)
            else:
                arr = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    except _DECODE_ERRORS as exc:
        raise _open_error(path, exc) from None
    if arr.ndim == 2:
        arr = arr[None]
        return np.repeat(arr, 3, axis=0) if channels == 3 else arr
    return arr.transpose(2, 0, 1)


class ImageFiles:
    """Image files decoded on demand: the store of a folder read from disk as training goes
    (`genzoo.data.base.Dataset`). `read_rows` gives uint8 (n, C, H, W) (float32 for 16-bit
    grey); the trainer's loader calls it from `workers` processes."""

    def __init__(
        self, files: list[Path], channels: int, size: int, shape: tuple[int, ...], wide: bool, workers: int
    ) -> None:
        self.files, self.channels, self.size, self.wide, self.workers = files, channels, size, wide, workers
        self.shape = (len(files), *shape)

    def __len__(self) -> int:
        return len(self.files)

    def read_rows(self, rows: np.ndarray) -> Tensor:
        out = np.empty((len(rows), *self.shape[1:]), np.float32 if self.wide else np.uint8)
        for k, r in enumerate(rows.tolist()):
            f = self.files[r]
            img = read_image(f, self.channels, self.size, codes=not self.wide)
            if img.shape != self.shape[1:]:
                raise GenzooError(
                    f"{shown(f)}: image is {img.shape[2]}×{img.shape[1]} but the folder's are "
                    f"{self.shape[3]}×{self.shape[2]}; set data.size=N to resize all to N×N"
                )
            out[k] = img
        return torch.from_numpy(out)


def _refuse(bad: list[tuple[Path, str]], total: int, folder: Path) -> GenzooError:
    listed = "; ".join(f"{shown(p)} ({why})" for p, why in bad[:3])
    more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
    what = "the image" if total == 1 else f"{len(bad)} of the {total} images"
    return GenzooError(f"cannot read {what} in {shown(folder)}: {listed}{more}; remove or replace them")


@register_dataset(
    "folder",
    options=FolderOptions,
    prefix=True,
    summary="your PNG/JPEG images (subfolders = classes), fixed 80/20 split",
)
def folder(split: str, opts: FolderOptions) -> Dataset:
    """See the module docstring for what is skipped, refused and converted."""
    name = f"folder:{opts.path}"
    try:
        root = Path(opts.path).expanduser()
    except RuntimeError:  # ~user that does not exist
        root = Path(opts.path)
    files, labels, skipped = find_images(root)
    if skipped:
        listed = ", ".join(shown(p.relative_to(root)) for p in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(
            f"{shown(name)}: skipped {len(skipped)} file{'s' if len(skipped) > 1 else ''} that "
            f"{'are' if len(skipped) > 1 else 'is'} not .png/.jpg/.jpeg: {listed}{more}",
            stacklevel=3,
        )
    # 1. every header: unreadable files and bombs refused before any pixel is decoded
    headers: list[tuple[str, tuple[int, int]] | None] = []
    bad: list[tuple[Path, str]] = []
    for f in files:
        try:
            headers.append(probe_image(f))
        except ImageRefused as exc:
            headers.append(None)
            bad.append((f, exc.reason))
    if len(bad) == len(files):
        raise _refuse(bad, len(files), root)
    channels = opts.channels or (1 if all(h[0] in GREY_MODES for h in headers if h is not None) else 3)
    wide = any(h[0] in WIDE_MODES for h in headers if h is not None)
    sizes = {(opts.size, opts.size) if opts.size else h[1] for h in headers if h is not None}
    idx = split_index(len(files), split, labels, name)
    coding = Coding() if wide else BYTES
    ((w, h),) = sizes if len(sizes) == 1 else {(0, 0)}
    need = len(files) * channels * w * h * (4 if wide else 1)
    memory = memory_bytes()
    disk = opts.stream == "disk" or (opts.stream == "auto" and memory is not None and need > memory // 2)
    if disk:  # no pixel decoded now: a truncated file is found when a batch reads it
        if bad:
            raise _refuse(bad, len(files), root)
        if len(sizes) > 1:
            (w0, h0), (w1, h1) = sorted(sizes)[:2]
            raise GenzooError(
                f"{shown(name)}: images of {w0}×{h0} and {w1}×{h1} pixels; "
                "set data.size=N to resize all to N×N"
            )
        store = ImageFiles(files, channels, opts.size, (channels, h, w), wide, opts.workers)
        info = DataInfo(name, "image", (channels, h, w), (0.0, 1.0), num_classes=_num_classes(labels))
        print(
            f"genzoo: {shown(name)}: {len(files):,} images, {need / 2**30:.1f} GiB decoded; "
            f"read from disk as training goes ({opts.workers} worker processes)",
            file=sys.stderr,
        )
        return Dataset(store, info, None if labels is None else labels[idx], coding=coding, rows=idx)
    # 2. every image decoded (whatever the split), so that a truncated file is found now; the split's
    # kept as bytes (8-bit images) in one array
    slot = torch.full((len(files),), -1, dtype=torch.long)
    slot[idx] = torch.arange(len(idx))
    x: np.ndarray | None = None
    first: tuple[Path, np.ndarray] | None = None
    mismatch: GenzooError | None = None  # said after the unreadable files, as they matter first
    for i, (f, head) in enumerate(zip(files, headers)):
        if head is None:  # refused from its header: never decoded
            continue
        try:
            img = read_image(f, channels, opts.size, codes=not wide)
        except ImageRefused as exc:
            bad.append((f, exc.reason))
            continue
        if first is None:
            first = (f, img)
            x = np.empty((len(idx), *img.shape), img.dtype)
        elif img.shape != first[1].shape:
            mismatch = mismatch or GenzooError(
                f"{shown(f)}: image is {img.shape[2]}×{img.shape[1]} but {shown(first[0].name)} is "
                f"{first[1].shape[2]}×{first[1].shape[1]}; set data.size=N to resize all to N×N"
            )
            continue
        if slot[i] >= 0 and not bad:
            x[int(slot[i])] = img
    if bad:
        order = {f: i for i, f in enumerate(files)}
        bad.sort(key=lambda b: order[b[0]])  # the folder's order, whichever pass found each
        raise _refuse(bad, len(files), root)
    if mismatch is not None:
        raise mismatch
    assert x is not None and first is not None
    info = DataInfo(name, "image", tuple(x.shape[1:]), (0.0, 1.0), num_classes=_num_classes(labels))
    return Dataset(torch.from_numpy(x), info, None if labels is None else labels[idx], coding=coding)


def _num_classes(y: Tensor | None) -> int:
    return 0 if y is None else int(y.max()) + 1


# ---------------------------------------------------------------- npy:PATH, npz:PATH


@dataclass
class ArrayOptions(DataOptions):
    path: str = option("", help=".npy file, or .npz with the data under x (and labels under y)")


NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip


def _pickled(what: str) -> GenzooError:
    return GenzooError(
        f"{what}: holds pickled Python objects, which genzoo never loads (it could run code); "
        "save plain numeric arrays with np.save / np.savez"
    )


def _npy_header(fh, what: str, available: int, mapped: bool = False) -> None:
    """Read and check a .npy header at `fh`'s position: no object dtype, no more data declared
    than the `available` bytes that follow, nor (unless the file is `mapped`) more than half this
    machine's memory."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except Exception as exc:  # noqa: BLE001 - numpy parses the header text (tokenize, literal_eval):
        # whatever fails there (TokenError, SyntaxError, RecursionError, ...) is a bad header
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GenzooError(f"cannot read {what}: not a valid .npy header ({text[:160]!r})") from None
    if dtype.hasobject:
        raise _pickled(what)
    count = math.prod(shape)
    need = count * dtype.itemsize
    left = available - fh.tell()
    if need > left:
        raise GenzooError(
            f"cannot read {what}: truncated; its header declares shape {shape} of {dtype} "
            f"({need:,} bytes) but {max(left, 0):,} bytes follow"
        )
    memory = memory_bytes()
    if not mapped and memory is not None and need > memory // 2:
        raise GenzooError(
            f"{what}: array of shape {shape} needs {need / 2**30:.1f} GiB, "
            f"more than half this machine's memory"
        )


def _read_npy(fh, what: str, available: int) -> np.ndarray:
    start = fh.tell()
    _npy_header(fh, what, available)
    fh.seek(start)
    try:
        return np.lib.format.read_array(fh, allow_pickle=False)
    except MemoryError:
        raise GenzooError(f"{what}: too large to load in this machine's memory") from None


def read_arrays(path: Path, key: str = "x", mapped: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(x, y) from a .npy file (no labels) or an .npz file (x under `key` or the only array,
    labels under `y`). Never unpickles: object arrays and pickles are refused, and every
    array's header is checked before its data are read. With `mapped`, a .npy file is
    memory-mapped read-only (NumPy's memmap: its pages are read as batches use them) rather than
    read into memory."""
    what = shown(path)
    try:
        if not path.is_file():
            raise GenzooError(f"data file not found: {what}")
        with path.open("rb") as fh:
            head = fh.read(8)
            fh.seek(0)
            if head.startswith(NPY_MAGIC):
                if mapped:
                    _npy_header(fh, what, path.stat().st_size, mapped=True)
                    return np.load(path, mmap_mode="r", allow_pickle=False), None
                return _read_npy(fh, what, path.stat().st_size), None
            if head.startswith(ZIP_MAGICS):
                with zipfile.ZipFile(fh) as zf:
                    return _npz_arrays(what, zf, key)
        if head[:1] == b"\x80" or not head:
            raise _pickled(what) if head else GenzooError(f"cannot read {what}: empty file")
        raise GenzooError(f"cannot read {what}: not a .npy or .npz file (it starts with {head!r})")
    except GenzooError:
        raise
    except (
        OSError,
        EOFError,
        ValueError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,
        RuntimeError,
        struct.error,
    ) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GenzooError(f"cannot read {what}: {shown(text[:200])}") from None


def _npz_arrays(what: str, zf: zipfile.ZipFile, x_key: str = "x") -> tuple[np.ndarray, np.ndarray | None]:
    members = {}
    for info in zf.infolist():
        key = info.filename.removesuffix(".npy")
        members.setdefault(key, info)
    keys = list(members)

    def read(key: str) -> np.ndarray:
        info = members[key]
        where = f"{what}[{key!r}]"
        if info.flag_bits & 0x1:
            raise GenzooError(f"cannot read {where}: the zip member is encrypted")
        with zf.open(info) as member:
            if member.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise GenzooError(f"cannot read {where}: not a .npy array inside the .npz")
        with zf.open(info) as member:
            return _read_npy(member, where, info.file_size)

    if x_key in keys:
        return read(x_key), read("y") if "y" in keys and x_key == "x" else None
    if len(keys) == 1:
        return read(keys[0]), None
    listed = ", ".join(shown(k) for k in keys[:10]) + (
        f" and {len(keys) - 10} more" if len(keys) > 10 else ""
    )
    raise GenzooError(
        f"{what}: no array named {x_key!r} among {listed or 'no arrays'}; save the data as {x_key}=..."
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
    if x.size == 0:
        raise GenzooError(f"{what}: array has an empty axis (shape {x.shape}); each example needs values")
    if x.ndim == 4 and x.shape[1] > 4:
        raise GenzooError(
            f"{what}: shape {x.shape} has {x.shape[1]} channels on axis 1; expected (N, C, H, W) with C ≤ 4 "
            "(for channels-last data use np.moveaxis(x, -1, 1))"
        )
    if x.dtype.kind == "f":  # in blocks of rows: a memory-mapped file is never read whole
        bad = sum(int((~np.isfinite(block)).sum()) for block in _blocks(x))
        if bad:
            raise GenzooError(f"{what}: {bad} values are NaN or infinite")
    big = float(np.finfo(np.float32).max)
    if x.dtype.kind == "f" and x.dtype.itemsize > 4 and max(float(np.abs(b).max()) for b in _blocks(x)) > big:
        raise GenzooError(f"{what}: values beyond float32's range (±{big:.3g}); genzoo computes in float32")


def check_y(y: np.ndarray, n: int, what: str) -> Tensor:
    """Labels as int64 (N,): non-negative integers, one per example."""
    if y.ndim != 1 or len(y) != n:
        raise GenzooError(f"{what}: labels y have shape {y.shape}; expected ({n},), one per example")
    if y.dtype.kind not in "biu" or (len(y) and y.min() < 0):
        raise GenzooError(f"{what}: labels y must be non-negative integers (got dtype {y.dtype})")
    if len(y) and int(y.max()) >= MAX_CLASSES:
        raise GenzooError(
            f"{what}: labels y go up to {int(y.max())}; genzoo takes classes 0..{MAX_CLASSES - 1}"
        )
    return torch.from_numpy(y.astype(np.int64))


def _blocks(x: np.ndarray, nbytes: int = 1 << 26) -> list[np.ndarray]:
    """`x` as views of consecutive rows of about `nbytes` each."""
    step = max(1, nbytes // max(1, x[0].nbytes))
    return [x[i : i + step] for i in range(0, len(x), step)]


def array_dataset(
    x: np.ndarray, what: str, mapped: bool = False
) -> tuple[Any, Coding, str, tuple[float, float]]:
    """(store, coding, kind, value range) of an array: (N, D) → points; (N, H, W) or (N, C, H, W) →
    images in [0, 1] (integers 0..255 held as bytes and divided by 255 per batch), or a "field" of
    raw values otherwise. The store is a tensor in memory (a copy: float32, uint8 or bool), or with
    `mapped` the array itself (a memory-mapped file, converted per batch)."""
    check_x(x, what)

    def held(dtype: Any) -> Any:
        return x if mapped else torch.from_numpy(np.array(x, dtype=dtype))

    if x.ndim == 2:
        return held(np.float32), Coding(), "points", (-math.inf, math.inf)
    x = x[:, None] if x.ndim == 3 else x
    lo = min(float(b.min()) for b in _blocks(x))
    hi = max(float(b.max()) for b in _blocks(x))
    if x.dtype.kind in "iu" and lo >= 0 and hi <= 255:
        return held(np.uint8), BYTES, "image", (0.0, 1.0)
    if x.dtype.kind == "b":
        return held(np.bool_), Coding(), "image", (0.0, 1.0)
    if x.dtype.kind == "f" and lo >= 0 and hi <= 1:
        return held(np.float32), Coding(), "image", (0.0, 1.0)
    return held(np.float32), Coding(), "field", (-math.inf, math.inf)


def _load_arrays(prefix: str, split: str, opts: ArrayOptions) -> Dataset:
    name = f"{prefix}:{opts.path}"
    try:
        path = Path(opts.path).expanduser()
    except RuntimeError:  # ~user that does not exist
        path = Path(opts.path)
    mapped = prefix == "npy"  # a .npy file is memory-mapped; an .npz member is compressed or zipped
    x_np, y_np = read_arrays(path, mapped=mapped)
    store, coding, kind, value_range = array_dataset(x_np, shown(path), mapped=mapped)
    y = None if y_np is None else check_y(y_np, len(store), shown(path))
    idx = split_index(len(store), split, y, name)
    info = DataInfo(name, kind, tuple(store.shape[1:]), value_range, num_classes=_num_classes(y))
    labels = None if y is None else y[idx]
    if mapped:
        return Dataset(store, info, labels, coding=coding, rows=idx)
    return Dataset(store[idx], info, labels, coding=coding)


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
