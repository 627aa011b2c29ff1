"""The dataset type every model is built from: tensors plus what they are.

A :class:`Dataset` holds all examples in memory (every bundled set is small) as
`x: (N, *shape)` float32 and optional labels `y: (N,)` int64, with a :class:`DataInfo`
saying its kind, shape, value range and classes, so that a model can be built from it
without the user repeating shapes.
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


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data; saved in every run's config.json."""

    name: str
    kind: str  # "image" (N, C, H, W) | "points" (N, D) | "field" (N, 1, H, W)
    shape: tuple[int, ...]  # one example's shape
    value_range: tuple[float, float]  # (low, high); (-inf, inf) for unbounded data
    num_classes: int = 0  # 0 when unlabelled
    binarize: str = "none"  # none | static | dynamic

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
        d["value_range"] = [_json_float(v) for v in self.value_range]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataInfo:
        d = dict(d)
        d["shape"] = tuple(int(s) for s in d["shape"])
        d["value_range"] = tuple(float(v) for v in d["value_range"])
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
    exclude: tuple[int, ...] = option((), low=0, help="drop the examples of these classes, e.g. 3 or 3,5 (novelty detection)")


class Dataset:
    """Examples in memory with their :class:`DataInfo`.

    `log_density`, where the true distribution is known (the 2-D toy sets), maps (N, D)
    points to their exact log-density under the generating distribution.
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
    ) -> None:
        if tuple(x.shape[1:]) != tuple(info.shape):
            raise GenzooError(f"dataset {info.name}: examples have shape {tuple(x.shape[1:])}, info says {info.shape}")
        if y is not None and len(y) != len(x):
            raise GenzooError(f"dataset {info.name}: {len(x)} examples but {len(y)} labels")
        self.x = x.float().contiguous()
        self.y = None if y is None else y.long()
        self.info = info
        self.log_density = log_density
        self.extras = extras or {}
        # {"name": ..., "options": {...}} when made by genzoo.datasets.load: enough to load it again
        self.source = source

    def __len__(self) -> int:
        return len(self.x)

    def __repr__(self) -> str:
        i = self.info
        cls = f", {i.num_classes} classes" if i.num_classes else ""
        return f"Dataset({i.name!r}, {i.kind}, n={len(self)}, shape={i.shape}, range={i.value_range}{cls}, binarize={i.binarize})"

    def batch(self, index: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The examples at `index` as {"x": ..., "y": ...}; with dynamic binarisation each call
        draws fresh Bernoulli values from `generator`."""
        x = self.x[index]
        if self.info.binarize == "dynamic":
            x = torch.bernoulli(x, generator=generator)
        out = {"x": x}
        if self.y is not None:
            out["y"] = self.y[index]
        return out

    def tensors(self) -> Tensor:
        """All examples as evaluation sees them: dynamic binarisation becomes a fixed 0.5 threshold."""
        if self.info.binarize == "dynamic":
            return (self.x > 0.5).float()
        return self.x

    def subset(self, index: Tensor) -> Dataset:
        y = None if self.y is None else self.y[index]
        return Dataset(self.x[index], self.info, y, log_density=self.log_density, extras=self.extras, source=self.source)
