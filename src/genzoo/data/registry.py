"""The dataset registry and `load`, which applies the options every dataset shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from genzoo.config import build
from genzoo.data.base import DataInfo, DataOptions, Dataset
from genzoo.errors import GenzooError
from genzoo.registry import Registry

SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its loader, its options and a one-line description.

    `loader(split, options)` returns the raw dataset (images in [0, 1], no binarisation);
    `load` applies `binarize`, `range` and `labels`."""

    name: str
    loader: Callable[[str, Any], Dataset]
    options: type = DataOptions
    summary: str = ""


DATASETS: Registry[DatasetSpec] = Registry("dataset")
PREFIXES: dict[str, DatasetSpec] = {}  # "folder", "npy", "npz": the user's own data at a path


def register_dataset(name: str, *, options: type = DataOptions, summary: str = "", prefix: bool = False):
    """Register `loader(split, options) -> Dataset` under `name` (or as `name:PATH` if `prefix`)."""

    def deco(fn: Callable[[str, Any], Dataset]) -> Callable[[str, Any], Dataset]:
        spec = DatasetSpec(name, fn, options, summary)
        if prefix:
            PREFIXES[name] = spec
        else:
            DATASETS.register(name)(spec)
        return fn

    return deco


def resolve(name: str) -> tuple[DatasetSpec, str | None]:
    """The spec for `name` and, for `folder:PATH`-style names, the PATH."""
    head, sep, path = name.partition(":")
    if sep and head in PREFIXES:
        if not path:
            raise GenzooError(f"dataset {name!r}: give a path after '{head}:'")
        return PREFIXES[head], path
    if sep and len(head) > 1:
        raise GenzooError(
            f"unknown dataset prefix {head!r} (valid: {', '.join(p + ':PATH' for p in sorted(PREFIXES))})"
        )
    try:
        return DATASETS.get(name), None
    except GenzooError as exc:
        raise GenzooError(f"{exc}; or one of {', '.join(p + ':PATH' for p in sorted(PREFIXES))}") from None


def load(name: str, split: str = "train", **options: Any) -> Dataset:
    """Load a dataset by name, e.g. ``load("mnist", split="test", binarize="static")``.

    Options are checked against the dataset's options dataclass; strings are accepted
    as on the command line (``binarize="dynamic"``, ``range="-1,1"``)."""
    spec, path = resolve(name)
    if split not in SPLITS:
        raise GenzooError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    if path is not None:
        options = {"path": path, **options}
    opts = build(spec.options, options, section="data")
    raw = spec.loader(split, opts)
    ds = _apply_common(raw, opts)
    if opts.binarize == "dynamic" and split == "test" and not ds.streamed:
        # held-out data are scored, not trained on: they are the one fixed stochastic binarisation
        # that a dynamically binarised model is evaluated on, so test.x is binary in Python as in the CLI
        ds = Dataset(
            ds._seen("x"),
            ds.info,
            ds.y,
            log_density=ds.log_density,
            extras=ds.extras,
            pair=None if ds.pair is None else ds._seen("pair"),
        )
    from genzoo.config import to_dict

    opts_dict = to_dict(opts)
    if path is not None:
        opts_dict.pop("path", None)
    ds.source = {"name": name, "split": split, "options": opts_dict}
    return ds


def resolved_options(name: str, **options: Any) -> dict[str, Any]:
    """The full option dict (defaults filled in) that `load` would use — for config.json."""
    from genzoo.config import to_dict

    spec, path = resolve(name)
    if path is not None:
        options = {"path": path, **options}
    return to_dict(build(spec.options, options, section="data"))


def _apply_common(ds: Dataset, opts: DataOptions) -> Dataset:
    """Apply the shared options; a translation set's `pair` images get the same selection,
    binarisation and rescaling as `x`. Data held as codes (8-bit images, a memory-mapped file, a
    folder on disk) are binarised and rescaled per batch by their `Coding`, in memory at
    once otherwise: the same values either way."""
    info, y = ds.info, ds.y
    if opts.exclude:
        if y is None:
            raise GenzooError(f"data.exclude: {info.name} has no class labels")
        bad = [c for c in opts.exclude if c >= info.num_classes]
        if bad:
            raise GenzooError(
                f"data.exclude: class {bad[0]} does not exist "
                f"({info.name} has classes 0..{info.num_classes - 1})"
            )
        keep = ~torch.isin(y, torch.tensor(opts.exclude, dtype=y.dtype))
        if not bool(keep.any()):
            raise GenzooError("data.exclude: no examples are left")
        ds = ds.subset(keep.nonzero().squeeze(1))
        y = ds.y
    eager = torch.is_tensor(ds.store) and ds.rows is None and ds.coding.trivial
    x, coding, pair = ds.store, ds.coding, ds.pair
    if opts.binarize != "none":
        if info.kind != "image" or info.value_range != (0.0, 1.0):
            raise GenzooError(
                f"data.binarize={opts.binarize}: only images with values in [0, 1] can be binarised "
                f"({info.name} is {info.kind} data in {list(info.value_range)})"
            )
        if opts.range is not None:
            raise GenzooError("data.range cannot be combined with data.binarize")
        if opts.binarize == "static":
            if eager:
                x = (x > 0.5).float()
            else:
                coding = replace(coding, threshold=True)
            pair = None if pair is None else (pair > 0.5).float()
        info = replace(info, binarize=opts.binarize)
    if opts.range is not None:
        lo, hi = opts.range
        if not lo < hi:
            raise GenzooError(f"data.range: expected low < high, got {lo},{hi}")
        if info.kind != "image":
            raise GenzooError(
                f"data.range: only image data can be rescaled ({info.name} is {info.kind} data)"
            )
        a, b = info.value_range
        if eager:
            x = lo + (x - a) * (hi - lo) / (b - a)
        else:
            coding = replace(coding, rescale=(a, b, lo, hi))
        pair = None if pair is None else lo + (pair - a) * (hi - lo) / (b - a)
        info = replace(info, value_range=(float(lo), float(hi)))
    if not opts.labels and y is not None:
        y = None
        info = replace(info, num_classes=0)
    if opts.flip or opts.shift:
        what = f"data.{'flip' if opts.flip else 'shift'}"
        if info.kind != "image" or len(info.shape) != 3:
            raise GenzooError(f"{what}: augmentation is for images ({info.name} is {info.kind} data)")
        h, w = info.shape[1:]
        if opts.shift >= min(h, w):
            raise GenzooError(f"data.shift={opts.shift}: more than the {h}×{w} images allow")
        if pair is not None and tuple(pair.shape[2:]) != (h, w):
            raise GenzooError(f"{what}: the pairs of {info.name} differ in size from its images")
    augment = (opts.flip, opts.shift)
    return Dataset(
        x,
        info,
        y,
        log_density=ds.log_density,
        extras=ds.extras,
        pair=pair,
        augment=augment,
        coding=coding,
        rows=ds.rows,
    )


def info_for(ds: Dataset | DataInfo) -> DataInfo:
    return ds if isinstance(ds, DataInfo) else ds.info


def stratified_split(y: torch.Tensor, n_test: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, test) with each class in the same proportion in both, fixed by `seed`.

    Class c gives floor(n_c · n_test / N) test examples and the classes with the largest
    remainders one more (largest-remainder apportionment): exactly `n_test` in all, and each
    class within 1 of its proportional share. Both index sets come in a fixed shuffled order
    (the source files are often sorted by class)."""
    g = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(y, return_counts=True)
    quota = counts.double() * n_test / len(y)
    take = quota.floor().long()
    take[torch.argsort(quota - take, descending=True, stable=True)[: n_test - int(take.sum())]] += 1
    mask = torch.zeros(len(y), dtype=torch.bool)
    for c, k in zip(classes.tolist(), take.tolist()):
        idx = torch.nonzero(y == c).flatten()
        mask[idx[torch.randperm(len(idx), generator=g)[:k]]] = True
    # each split in a fixed shuffled order, so that its first n examples are a fair sample
    train, test = torch.nonzero(~mask).flatten(), torch.nonzero(mask).flatten()
    return train[torch.randperm(len(train), generator=g)], test[torch.randperm(len(test), generator=g)]
