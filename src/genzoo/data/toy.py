"""2-D toy sets: `ring8` and `grid25` (the mode-collapse benchmark of VEEGAN, Srivastava et
al. 2017, and PacGAN, Lin et al. 2018), `moons` and `swissroll`.

`ring8` and `grid25` are equal-weight isotropic Gaussian mixtures, so their exact
log-density is known and their mode centres and σ travel in `Dataset.extras` for
mode-coverage metrics. Train and test are drawn with different fixed seeds.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genzoo.config import option
from genzoo.data.base import DataInfo, DataOptions, Dataset
from genzoo.data.registry import register_dataset

SEEDS = {"train": 1, "test": 2}
N_HELP = "examples in the train split; the test split gets n // 5"


@dataclass
class ToyOptions(DataOptions):
    n: int = option(10_000, low=5, high=10_000_000, help=N_HELP)


@dataclass
class MoonsOptions(DataOptions):
    n: int = option(10_000, low=5, high=10_000_000, help=N_HELP)
    noise: float = option(0.05, low=0.0, high=10.0, help="standard deviation of the Gaussian noise added")


@dataclass
class SwissRollOptions(DataOptions):
    n: int = option(10_000, low=5, high=10_000_000, help=N_HELP)
    noise: float = option(
        1.0, low=0.0, high=50.0, help="noise of sklearn's make_swiss_roll, before the 1/5 scaling"
    )


def _sizes(split: str, n: int) -> list[tuple[str, int]]:
    """(split, size) parts making up `split`; "all" is train followed by test."""
    sizes = {"train": n, "test": n // 5}
    return list(sizes.items()) if split == "all" else [(split, sizes[split])]


def _points_info(name: str, num_classes: int) -> DataInfo:
    return DataInfo(name, "points", (2,), (-math.inf, math.inf), num_classes=num_classes)


# ---------------------------------------------------------------- Gaussian mixtures


def mixture_log_density(x: Tensor, modes: Tensor, sigma: float) -> Tensor:
    """log p(x) of an equal-weight mixture of N(μ_k, σ²I) in D dimensions:
    logsumexp_k(−|x − μ_k|² / 2σ²) − log K − (D/2)·log(2πσ²). x (N, D) → (N,)."""
    modes = modes.to(x)
    k, d = modes.shape
    sq = (x[:, None, :] - modes[None]).square().sum(-1)  # (N, K); exact, unlike cdist's matmul shortcut
    return (
        torch.logsumexp(-sq / (2 * sigma**2), dim=1) - math.log(k) - d / 2 * math.log(2 * math.pi * sigma**2)
    )


def _mixture(name: str, modes: Tensor, sigma: float) -> Callable[[str, ToyOptions], Dataset]:
    """A loader drawing equal-weight N(μ_k, σ²I) samples, labelled by component k."""

    def loader(split: str, opts: ToyOptions) -> Dataset:
        xs, ys = [], []
        for part, n in _sizes(split, opts.n):
            g = torch.Generator().manual_seed(SEEDS[part])
            k = torch.randint(len(modes), (n,), generator=g)
            xs.append(modes[k] + sigma * torch.randn(n, 2, generator=g))
            ys.append(k)
        return Dataset(
            torch.cat(xs),
            _points_info(name, len(modes)),
            torch.cat(ys),
            log_density=functools.partial(mixture_log_density, modes=modes, sigma=sigma),
            extras={"modes": modes.clone(), "sigma": sigma},
        )

    return loader


RING8_MODES = torch.tensor(
    [[2 * math.cos(2 * math.pi * k / 8), 2 * math.sin(2 * math.pi * k / 8)] for k in range(8)]
)  # (8, 2): radius 2, the first mode at (2, 0)
GRID25_MODES = torch.tensor(list(itertools.product([-4.0, -2.0, 0.0, 2.0, 4.0], repeat=2)))  # (25, 2)

register_dataset(
    "ring8",
    options=ToyOptions,
    summary="8 Gaussians (σ = 0.02) evenly on a circle of radius 2; exact density",
)(_mixture("ring8", RING8_MODES, 0.02))
register_dataset(
    "grid25",
    options=ToyOptions,
    summary="25 Gaussians (σ = 0.05) on the grid {−4, −2, 0, 2, 4}²; exact density",
)(_mixture("grid25", GRID25_MODES, 0.05))


# ---------------------------------------------------------------- scikit-learn shapes


@register_dataset(
    "moons", options=MoonsOptions, summary="two interleaving half circles (sklearn make_moons), 2 classes"
)
def moons(split: str, opts: MoonsOptions) -> Dataset:
    from sklearn.datasets import make_moons

    parts = [make_moons(n, noise=opts.noise, random_state=SEEDS[p]) for p, n in _sizes(split, opts.n)]
    x = torch.cat([torch.from_numpy(p[0]) for p in parts])
    y = torch.cat([torch.from_numpy(p[1]) for p in parts])
    return Dataset(x, _points_info("moons", 2), y)


@register_dataset(
    "swissroll", options=SwissRollOptions, summary="2-D swiss roll (sklearn make_swiss_roll, x and z over 5)"
)
def swissroll(split: str, opts: SwissRollOptions) -> Dataset:
    from sklearn.datasets import make_swiss_roll

    parts = [make_swiss_roll(n, noise=opts.noise, random_state=SEEDS[p])[0] for p, n in _sizes(split, opts.n)]
    x = torch.cat([torch.from_numpy(p[:, [0, 2]]) for p in parts]) / 5  # (N, 2): the roll seen along its axis
    return Dataset(x, _points_info("swissroll", 0))
