"""The dataset type every model is built from: tensors plus what they are.

A :class:`Dataset` holds all examples in memory (every bundled set is small) as
`x: (N, *shape)` float32 and optional labels `y: (N,)` int64, with a :class:`DataInfo`
saying its kind, shape, value range and classes, so that a model can be built from it
without the user repeating shapes.

Translation data carry a second tensor per example, `pair: (N, *pair_shape)`, and say in
`DataInfo.pairing` what it is: "paired" — `pair[i]` is the input whose target is `x[i]`
(pix2pix); "unpaired" — `pair` holds examples of a second domain B, `x` those of domain A,
in independent orders (CycleGAN). Either way a translator reads :meth:`Dataset.inputs` and
produces examples like :meth:`Dataset.tensors` (the targets, or domain B), which is what
evaluation compares its samples with.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
        mask = torch.rand(b, generator=generator) < 0.5
        tensors = [torch.where(mask[:, None, None, None], t.flip(-1), t) for t in tensors]
    if shift:
        dy = torch.randint(-shift, shift + 1, (b,), generator=generator)
        dx = torch.randint(-shift, shift + 1, (b,), generator=generator)
        rows = (torch.arange(h)[None] + shift + dy[:, None]).to(x.device)  # (B, H) in the padded image
        cols = (torch.arange(w)[None] + shift + dx[:, None]).to(x.device)
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


class Dataset(torch.utils.data.Dataset):
    """Examples in memory with their :class:`DataInfo`; a map-style PyTorch dataset (`len(ds)`,
    `ds[i]`), so a `DataLoader` takes it.

    `log_density`, where the true distribution is known (the 2-D toy sets), maps (N, D)
    points to their exact log-density under the generating distribution. `pair`, for
    translation data, is the second tensor of each example (see the module docstring); it
    is kept aligned with `x` by :meth:`batch` and :meth:`subset`.
    """

    def __init__(
        self,
        x: Tensor,
        info: DataInfo,
        y: Tensor | None = None,
        *,
        log_density: Callable[[Tensor], Tensor] | None = None,
        extras: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        pair: Tensor | None = None,
        augment: tuple[bool, int] = (False, 0),
    ) -> None:
        if tuple(x.shape[1:]) != tuple(info.shape):
            raise GenzooError(
                f"dataset {info.name}: examples have shape {tuple(x.shape[1:])}, info says {info.shape}"
            )
        if y is not None and len(y) != len(x):
            raise GenzooError(f"dataset {info.name}: {len(x)} examples but {len(y)} labels")
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
            if (
                len(pair) != len(x)
                or info.pair_shape is None
                or tuple(pair.shape[1:]) != tuple(info.pair_shape)
            ):
                raise GenzooError(
                    f"dataset {info.name}: {len(x)} examples of shape {info.shape} "
                    f"but {len(pair)} pairs of shape "
                    f"{tuple(pair.shape[1:])} (info says {info.pair_shape})"
                )
        self.x = x.float().contiguous()
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

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> Any:
        """Example i as PyTorch's map-style datasets give one: `x[i]`, or `(x[i], y[i])` with labels;
        translation data as (input, target) — `(pair[i], x[i])` when paired, `(x[i], pair[i])`
        (domain A, domain B) when unpaired. The stored values: grey for dynamically binarised data."""
        if self.pair is not None:
            return (self.pair[i], self.x[i]) if self.info.pairing == "paired" else (self.x[i], self.pair[i])
        return self.x[i] if self.y is None else (self.x[i], self.y[i])

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
        with data.flip / data.shift each call flips and translates them afresh (:func:`augment`), and
        with dynamic binarisation draws fresh Bernoulli values, from `generator`."""
        x = self.x[index]
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
        Dynamically binarised data are seen as one fixed stochastic binarisation (:func:`binarize`):
        the data such a model models (a threshold at 0.5 would be another, sharper distribution)."""
        return self._seen("pair" if self.info.pairing == "unpaired" else "x")

    def inputs(self) -> Tensor:
        """What a translator reads, as evaluation sees it: the inputs of paired data (`pair`),
        domain A of unpaired data (`x`)."""
        if self.info.pairing is None:
            raise GenzooError(f"dataset {self.info.name} has no pairs (no second image per example)")
        return self._seen("pair" if self.info.pairing == "paired" else "x")

    def subset(self, index: Tensor) -> Dataset:
        y = None if self.y is None else self.y[index]
        pair = None if self.pair is None else self.pair[index]
        out = Dataset(
            self.x[index],
            self.info,
            y,
            log_density=self.log_density,
            extras=self.extras,
            source=self.source,
            pair=pair,
            augment=self.augment,
        )
        out._fixed = {k: v[index] for k, v in self._fixed.items()}  # the same draw for the same examples
        return out
