"""Data handed over from Python: a tensor, a NumPy array, an `(x, y)` pair or any map-style
PyTorch dataset, made a `Dataset` with what genzoo infers from it said in one line.

The inference is the one `npy:` files get (`genzoo.data.files.array_dataset`): (N, D) →
points; (N, H, W) or (N, C, H, W) → images in [0, 1] when the values are integers 0..255 (divided
by 255), booleans or floats within [0, 1], else a field of raw values. Labels are non-negative
integers, one per example; the classes are 0..max(y). A map-style dataset (`len(ds)` and `ds[i]`,
e.g. a torchvision ``ImageFolder``) is read once, in index order; each item is an example or an
(example, label) pair, the example a tensor, an array or a PIL image (H, W[, C] — channels last,
as PIL gives them, moved first), and all examples must have one shape.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from torch import Tensor

from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError

# (id of the object, the line said) of the last line: create(x) then train(model, x) say it once.
# Only the id is kept: no reference holds the user's data, and every call converts afresh (an array
# changed in place between the two calls is trained on as it is then)
_SAID: tuple[int, str] | None = None


def as_dataset(data: Any, *, name: str | None = None, say: bool = True) -> Dataset:
    """`data` as a `Dataset` (a `Dataset` is returned as it is); with `say`, one line on
    stderr says what was inferred (kind, count, shape, range, classes)."""
    global _SAID
    if isinstance(data, Dataset):
        return data
    x, y, what = _arrays(data)
    from genzoo.data.files import array_dataset, check_y

    label = name or what
    t, coding, kind, value_range = array_dataset(x, label)
    labels = None if y is None else check_y(y, len(t), label)
    info = DataInfo(
        label,
        kind,
        tuple(t.shape[1:]),
        value_range,
        num_classes=0 if labels is None else int(labels.max()) + 1,
    )
    source = {"name": label, "options": None, "python": describe(info, len(t))}
    ds = Dataset(t, info, labels, source=source, coding=coding)
    line = f"genzoo: {what}: {describe(info, len(t))}"
    if say and _SAID != (id(data), line):
        print(line, file=sys.stderr)
        _SAID = (id(data), line)
    return ds


def describe(info: DataInfo, n: int) -> str:
    """'500 images 1×28×28 in [0, 1], 10 classes'-style words for inferred data."""
    classes = f", {info.num_classes} classes" if info.num_classes else ""
    if info.kind == "points":
        return f"{n} points in {info.shape[0]}-D, unbounded{classes}"
    lo, hi = info.value_range
    where = f"in [{lo:g}, {hi:g}]" if np.isfinite(lo) else "unbounded"
    noun = "images" if info.kind == "image" else "fields"
    return f"{n} {noun} {'×'.join(map(str, info.shape))} {where}{classes}"


def _numpy(v: Any, what: str) -> np.ndarray:
    if isinstance(v, Tensor):
        return v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return v
    if type(v).__module__.startswith("PIL."):
        a = np.asarray(v)
        return np.moveaxis(a, -1, 0) if a.ndim == 3 else a
    if isinstance(v, (list, tuple)) and v and all(isinstance(e, (int, float, bool)) for e in v):
        return np.asarray(v)
    raise GenzooError(
        f"{what}: an example is a {type(v).__name__}; genzoo takes tensors, NumPy arrays or PIL images"
    )


def _arrays(data: Any) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(x, y or None, what it was) from a tensor, an array, an (x, y) pair or a map-style dataset."""
    if isinstance(data, (Tensor, np.ndarray)):
        return _numpy(data, "data"), None, f"a {type(data).__name__}"
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(v, (Tensor, np.ndarray)) for v in data):
        x, y = (_numpy(v, "data") for v in data)
        return x, y, "an (x, y) pair"
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, (str, bytes, dict)):
        return _read_map_style(data)
    raise GenzooError(
        f"data: a {type(data).__name__}; give a genzoo Dataset, a tensor, a NumPy array, an (x, y) pair "
        "or a map-style PyTorch dataset"
    )


def _read_map_style(data: Any) -> tuple[np.ndarray, np.ndarray | None, str]:
    what = f"a {type(data).__name__} of {len(data)} items"
    if len(data) == 0:
        raise GenzooError(f"data: {what}: no examples")
    xs, ys = [], []
    for i in range(len(data)):
        item = data[i]
        pair = isinstance(item, (tuple, list)) and len(item) == 2 and not _is_number_list(item)
        x, y = (item[0], item[1]) if pair else (item, None)
        a = _numpy(x, what)
        if xs and a.shape != xs[0].shape:
            raise GenzooError(
                f"data: {what}: item {i} has shape {a.shape}, item 0 {xs[0].shape}; every example needs one "
                "shape (resize the images, e.g. a transform in the dataset)"
            )
        xs.append(a)
        if pair:
            ys.append(int(y.item() if isinstance(y, Tensor) else y))
        elif ys:
            raise GenzooError(f"data: {what}: item {i} has no label but earlier items have")
    return np.stack(xs), (np.asarray(ys, dtype=np.int64) if ys else None), what


def _is_number_list(item: Any) -> bool:
    return all(isinstance(e, (int, float)) for e in item)
