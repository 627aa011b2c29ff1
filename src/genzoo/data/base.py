"""The dataset type every model is built from: tensors plus what they are.

A `Dataset` holds all examples in memory (every bundled set is small) as
`x: (N, *shape)` float32 and optional labels `y: (N,)` int64, with a `DataInfo`
saying its kind, shape, value range and classes, so that a model can be built from it
without the user repeating shapes.

Translation data carry a second tensor per example, `pair: (N, *pair_shape)`, and say in
`DataInfo.pairing` what it is: "paired" — `pair[i]` is the input whose target is `x[i]`
(pix2pix); "unpaired" — `pair` holds examples of a second domain B, `x` those of domain A,
in independent orders (CycleGAN). Either way a translator reads `Dataset.inputs` and
produces examples like `Dataset.tensors` (the targets, or domain B), which is what
evaluation compares its samples with.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genzoo.config import option
from genzoo.errors import GenzooError

KINDS = ("image", "points", "field")
PAIRINGS = ("paired", "unpaired")
BINARIZE_SEED = 0  # the one stochastic binarisation that evaluation scores dynamically binarised data on


def binarize(x: Tensor, seed: int = BINARIZE_SEED) -> Tensor:
    """One stochastic binarisation of images in [0, 1]: each pixel 1 with probability its grey value,
    from a generator seeded with `seed` (Salakhutdinov & Murray 2008; the test set of
    dynamically binarised MNIST in the likelihood literature). This is the data a model trained on
    dynamic binarisations models, and also what a Bernoulli likelihood trained on grey images
    models: its cross-entropy −[x log p + (1 − x) log(1 − p)] is the expected log-likelihood of
    these draws."""
    return torch.bernoulli(
        x.detach().float().cpu().clamp(0, 1), generator=torch.Generator().manual_seed(seed)
    )


def augment(
    x: Tensor, pair: Tensor | None, flip: bool, shift: int, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor | None]:
    """Training-batch augmentation of images (B, C, H, W): each example flipped left-right with
    probability ½ (`flip`) and translated by (dy, dx) uniform in [−shift, shift]² with its edge
    pixels replicated; a paired input (`pair`, the same height and width) gets the same flip and
    translation. Draws from `generator` (the batch order's: resumable)."""
    b, _, h, w = x.shape
    tensors = [x] if pair is None else [x, pair]
    if flip:
        mask = torch.rand(b, generator=generator, device=x.device) < 0.5
        tensors = [torch.where(mask[:, None, None, None], t.flip(-1), t) for t in tensors]
    if shift:
        dy = torch.randint(-shift, shift + 1, (b,), generator=generator, device=x.device)
        dx = torch.randint(-shift, shift + 1, (b,), generator=generator, device=x.device)
        rows = torch.arange(h, device=x.device)[None] + shift + dy[:, None]  # (B, H) in the padded image
        cols = torch.arange(w, device=x.device)[None] + shift + dx[:, None]
        moved = []
        for t in tensors:
            padded = torch.nn.functional.pad(t, (shift, shift, shift, shift), mode="replicate")
            bi = torch.arange(b, device=t.device)[:, None, None, None]
            ci = torch.arange(t.shape[1], device=t.device)[None, :, None, None]
            moved.append(padded[bi, ci, rows[:, None, :, None], cols[:, None, None, :]])
        tensors = moved
    return tensors[0], (tensors[1] if pair is not None else None)


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data; saved in every run's config.json."""

    name: str
    kind: str  # "image" (N, C, H, W) | "points" (N, D) | "field" (N, 1, H, W)
    shape: tuple[int, ...]  # one example's shape
    value_range: tuple[float, float]  # (low, high); (-inf, inf) for unbounded data
    num_classes: int = 0  # 0 when unlabelled
    binarize: str = "none"  # none | static | dynamic
    pairing: str | None = None  # None | "paired" (pair = input of x) | "unpaired" (pair = domain B, x = A)
    pair_shape: tuple[int, ...] | None = None  # one pair example's shape, when there is a pair

    @property
    def dim(self) -> int:
        """Number of scalar dimensions of one example (for bits/dim)."""
        return math.prod(self.shape)

    @property
    def binary(self) -> bool:
        return self.binarize != "none"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape)
        if self.pair_shape is not None:
            d["pair_shape"] = list(self.pair_shape)
        d["value_range"] = [_json_float(v) for v in self.value_range]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataInfo:
        d = dict(d)
        d["shape"] = tuple(int(s) for s in d["shape"])
        d["value_range"] = tuple(float(v) for v in d["value_range"])
        if d.get("pair_shape") is not None:
            d["pair_shape"] = tuple(int(s) for s in d["pair_shape"])
        return cls(**d)


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


@dataclass
class DataOptions:
    """Options every dataset takes (`--set data.KEY=VALUE`). Dataset-specific options
    subclass this."""

    binarize: str = option(
        "none",
        choices=("none", "static", "dynamic"),
        help="images only: threshold at 0.5 (static) or a fresh Bernoulli draw per use (dynamic)",
    )
    range: tuple[float, float] | None = option(
        None, help="rescale images from [0, 1] to this range, e.g. -1,1"
    )
    labels: bool = option(True, help="keep class labels where the data has them")
    exclude: tuple[int, ...] = option(
        (), low=0, help="drop the examples of these classes, e.g. 3 or 3,5 (novelty detection)"
    )
    flip: bool = option(
        False,
        help="images: flip each training example left-right with probability 1/2 (augmentation; "
        "held-out data are never changed)",
    )
    shift: int = option(
        0,
        low=0,
        high=64,
        help="images: translate each training example by up to this many pixels along each axis, "
        "edges replicated (augmentation)",
    )


@dataclass(frozen=True)
class Coding:
    """How stored values become the float32 examples a model sees, applied per batch: `divisor`
    (255 for 8-bit images: code / 255, held as one byte per value), then `threshold` (static
    binarisation, v > 0.5), then `rescale` (a, b, lo, hi): lo + (v − a)(hi − lo)/(b − a), the same
    float operations as applying them to the whole tensor at load time."""

    divisor: float | None = None
    threshold: bool = False
    rescale: tuple[float, float, float, float] | None = None

    @property
    def trivial(self) -> bool:
        return self == Coding()

    def __call__(self, raw: Tensor) -> Tensor:
        v = raw.float()
        if self.divisor is not None:
            v = v / self.divisor
        if self.threshold:
            v = (v > 0.5).float()
        if self.rescale is not None:
            a, b, lo, hi = self.rescale
            v = lo + (v - a) * (hi - lo) / (b - a)
        return v


BYTES = Coding(divisor=255.0)  # 8-bit images: one byte per value, code / 255 in [0, 1]
# Data not held as float32 whose float32 copy would exceed STREAMED_BYTES are "streamed": `x` and
# `tensors()` hold STATISTICS_BYTES of float32 examples spread evenly (within STATISTICS_EXAMPLES)
STREAMED_BYTES = 1 << 30
STATISTICS_BYTES = 1 << 28
STATISTICS_EXAMPLES = (1_000, 10_000)


def memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


class Dataset(torch.utils.data.Dataset):
    """Examples with their `DataInfo`; a map-style PyTorch dataset (`len(ds)`, `ds[i]`),
    so a `DataLoader` takes it.

    The examples are stored as they came and converted per batch by a `Coding`: float32
    in memory (points, fields), 8-bit codes in memory (`x` uint8 with `BYTES`: a quarter of
    float32's memory), a memory-mapped array (`npy:`; NumPy's memmap), or image files read on
    demand (an object with `read_rows(rows) -> uint8 Tensor`, `shape` and `workers`: a folder
    larger than memory, decoded by the trainer's loader workers). `rows` selects this dataset's
    examples among the stored ones (a split of a memory-mapped file or a folder, without a copy).
    Data on disk, and data not held as float32 whose float32 copy would exceed
    `STREAMED_BYTES`, are `streamed`: `x` and `tensors` then hold 256 MiB of float32
    examples spread evenly through them (1,000 to 10,000 examples), which is what a model's
    preparation and evaluation read.

    `log_density`, where the true distribution is known (the 2-D toy sets), maps (N, D)
    points to their exact log-density under the generating distribution. `pair`, for
    translation data, is the second tensor of each example (see the module docstring); it
    is kept aligned with `x` by `batch` and `subset`.
    """

    def __init__(
        self,
        x: Any,
        info: DataInfo,
        y: Tensor | None = None,
        *,
        log_density: Callable[[Tensor], Tensor] | None = None,
        extras: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        pair: Tensor | None = None,
        augment: tuple[bool, int] = (False, 0),
        coding: Coding = Coding(),
        rows: Tensor | None = None,
    ) -> None:
        if torch.is_tensor(x) and x.dtype not in (torch.uint8, torch.bool):
            x = x.float().contiguous()  # in memory: float32, or bytes converted per batch
        n = len(x) if rows is None else len(rows)
        shape = tuple(x.shape[1:])
        if shape != tuple(info.shape):
            raise GenzooError(f"dataset {info.name}: examples have shape {shape}, info says {info.shape}")
        if y is not None and len(y) != n:
            raise GenzooError(f"dataset {info.name}: {n} examples but {len(y)} labels")
        if (pair is None) != (info.pairing is None):
            raise GenzooError(
                f"dataset {info.name}: pairing {info.pairing!r} "
                f"but {'no' if pair is None else 'a'} pair tensor"
            )
        if pair is not None:
            if info.pairing not in PAIRINGS:
                raise GenzooError(
                    f"dataset {info.name}: pairing must be one of {', '.join(PAIRINGS)}, got {info.pairing!r}"
                )
            if len(pair) != n or info.pair_shape is None or tuple(pair.shape[1:]) != tuple(info.pair_shape):
                raise GenzooError(
                    f"dataset {info.name}: {n} examples of shape {info.shape} "
                    f"but {len(pair)} pairs of shape "
                    f"{tuple(pair.shape[1:])} (info says {info.pair_shape})"
                )
        self.store, self.rows, self.coding = x, (None if rows is None else rows.long()), coding
        self.y = None if y is None else y.long()
        self.pair = None if pair is None else pair.float().contiguous()
        self.info = info
        self.augment = (bool(augment[0]), int(augment[1]))  # (flip, shift) of the training batches
        self.log_density = log_density
        self.extras = extras or {}
        # {"name": ..., "options": {...}} when made by genzoo.datasets.load: enough to load it again
        self.source = source
        self._fixed: dict[
            str, Tensor
        ] = {}  # dynamic binarisation: the fixed draw evaluation sees, per tensor

    # --- storage --------------------------------------------------------------------------------
    @property
    def on_disk(self) -> bool:
        """The examples are image files read on demand (not a tensor or a memory-mapped array)."""
        return hasattr(self.store, "read_rows")

    @property
    def nbytes(self) -> int:
        """The bytes this dataset holds in memory (0 for a memory-mapped array or files on disk;
        a split shares its store)."""
        held = self.store.nbytes if torch.is_tensor(self.store) else 0
        return held + sum(t.nbytes for t in (self.y, self.pair, self.rows) if t is not None)

    @property
    def streamed(self) -> bool:
        """On disk, or not held as float32 and larger than STREAMED_BYTES as float32."""
        if torch.is_tensor(self.store) and self.store.dtype == torch.float32:
            return False
        return self.on_disk or 4 * len(self) * self.info.dim > STREAMED_BYTES

    def to(self, device: torch.device | str) -> Dataset:
        """The same examples held on `device` (a GPU: batches are then indexed, converted, augmented
        and binarised there, with a generator on that device); only for data held in memory."""
        if not torch.is_tensor(self.store):
            where = "on disk" if self.on_disk else "in a memory-mapped file"
            raise GenzooError(
                f"dataset {self.info.name} is read {where}; only data in memory can move to {device}"
            )
        moved = {k: None if v is None else v.to(device) for k, v in (("y", self.y), ("pair", self.pair))}
        out = Dataset(
            self.store.to(device),
            self.info,
            moved["y"],
            log_density=self.log_density,
            extras=self.extras,
            source=self.source,
            pair=moved["pair"],
            augment=self.augment,
            coding=self.coding,
            rows=None if self.rows is None else self.rows.to(device),
        )
        out._fixed = self._fixed
        return out

    def fetch(self, index: Tensor) -> Tensor:
        """The stored values of the examples at `index` (no conversion, no randomness: what a
        loader worker reads)."""
        rows = index if self.rows is None else self.rows[index]
        store = self.store
        if torch.is_tensor(store):
            return store[rows]
        r = rows.numpy()
        order = np.argsort(r, kind="stable")  # ascending: sequential reads of a file
        sorted_rows = r[order]
        if self.on_disk:
            got = store.read_rows(sorted_rows)
        else:
            got = torch.from_numpy(np.ascontiguousarray(store[sorted_rows]))
        inverse = torch.empty(len(r), dtype=torch.long)
        inverse[torch.from_numpy(order)] = torch.arange(len(r))
        return got[inverse]

    def _everything(self) -> Tensor:
        """The indices `x` holds: all, or for streamed data STATISTICS_BYTES of float32 examples
        (within STATISTICS_EXAMPLES) spread evenly, the first and the last among them."""
        n = len(self)
        low, high = STATISTICS_EXAMPLES
        k = min(max(STATISTICS_BYTES // (4 * self.info.dim), low), high)
        if not self.streamed or n <= k:
            return torch.arange(n)
        return torch.linspace(0, n - 1, k).round().long().unique()

    @property
    def x(self) -> Tensor:
        """All examples as float32 (N, *shape) — see the class docstring for streamed data."""
        if torch.is_tensor(self.store) and self.rows is None and self.coding.trivial:
            return self.store.float()  # the float32 tensor itself
        return self.coding(self.fetch(self._everything()))

    def __len__(self) -> int:
        return len(self.store) if self.rows is None else len(self.rows)

    def __getitem__(self, i: int) -> Any:
        """Example i as PyTorch's map-style datasets give one: `x[i]`, or `(x[i], y[i])` with labels;
        translation data as (input, target) — `(pair[i], x[i])` when paired, `(x[i], pair[i])`
        (domain A, domain B) when unpaired. The stored values: grey for dynamically binarised data."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range for {len(self)} examples")
        i = i % len(self)
        x = self.coding(self.fetch(torch.tensor([i])))[0]
        if self.pair is not None:
            return (self.pair[i], x) if self.info.pairing == "paired" else (x, self.pair[i])
        return x if self.y is None else (x, self.y[i])

    def __repr__(self) -> str:
        i = self.info
        cls = f", {i.num_classes} classes" if i.num_classes else ""
        pair = f", pairing={i.pairing}, pair_shape={i.pair_shape}" if i.pairing else ""
        return (
            f"Dataset({i.name!r}, {i.kind}, n={len(self)}, shape={i.shape}, "
            f"range={i.value_range}{cls}{pair}, binarize={i.binarize})"
        )

    def batch(self, index: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The examples at `index` as {"x": ..., "y": ..., "pair": ...} (the keys the data has);
        with data.flip / data.shift each call flips and translates them afresh (`augment`), and
        with dynamic binarisation draws fresh Bernoulli values, from `generator`."""
        return self.finish(self.fetch(index), index, generator)

    def finish(
        self, raw: Tensor, index: Tensor, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """`batch` from the stored values `raw` of the examples at `index` (`fetch`'s)."""
        x = self.coding(raw)
        pair = None if self.pair is None else self.pair[index]
        if self.augment != (False, 0):
            x, pair = augment(x, pair, *self.augment, generator=generator)
        if self.info.binarize == "dynamic":
            x = torch.bernoulli(x, generator=generator)
        out = {"x": x}
        if self.y is not None:
            out["y"] = self.y[index]
        if pair is not None:
            out["pair"] = (
                torch.bernoulli(pair, generator=generator) if self.info.binarize == "dynamic" else pair
            )
        return out

    def _seen(self, which: str) -> Tensor:
        t = self.pair if which == "pair" else self.x
        if self.info.binarize != "dynamic":
            return t
        if which not in self._fixed:  # one draw per dataset, the same at every call
            self._fixed[which] = binarize(t, BINARIZE_SEED + (which == "pair"))
        return self._fixed[which]

    def tensors(self) -> Tensor:
        """All examples as evaluation sees them: `x`, except for unpaired two-domain data, where it
        is domain B (`pair`) — always the space a model's samples live in (a translator's outputs).
        Dynamically binarised data are seen as one fixed stochastic binarisation (`binarize`):
        the data such a model models (a threshold at 0.5 would be another, sharper distribution)."""
        return self._seen("pair" if self.info.pairing == "unpaired" else "x")

    def inputs(self) -> Tensor:
        """What a translator reads, as evaluation sees it: the inputs of paired data (`pair`),
        domain A of unpaired data (`x`)."""
        if self.info.pairing is None:
            raise GenzooError(f"dataset {self.info.name} has no pairs (no second image per example)")
        return self._seen("pair" if self.info.pairing == "paired" else "x")

    def subset(self, index: Tensor, **changes: Any) -> Dataset:
        """The examples at `index` (a copy of an in-memory tensor; rows of a file or folder, which is
        shared), with `changes` to the constructor's arguments (info, coding, augment, ...)."""
        y = None if self.y is None else self.y[index]
        pair = None if self.pair is None else self.pair[index]
        if torch.is_tensor(self.store) and self.rows is None:
            store, rows = self.store[index], None
        else:
            store, rows = self.store, (index if self.rows is None else self.rows[index])
        kwargs: dict[str, Any] = {
            "info": self.info,
            "y": y,
            "log_density": self.log_density,
            "extras": self.extras,
            "source": self.source,
            "pair": pair,
            "augment": self.augment,
            "coding": self.coding,
            "rows": rows,
            **changes,
        }
        out = Dataset(store, **kwargs)
        if "coding" not in changes:  # the same draw for the same examples
            out._fixed = {k: v[index] for k, v in self._fixed.items()}
        return out
