"""Metrics for spatial fields (the known-truth data of DESIGN.md, "Metrics"):

- `w2` on `grf`, whose law N(0, Σ) is known exactly: the Wasserstein-2 distance between the
  Gaussian with the samples' mean and covariance and the true Gaussian,
  W₂² = ‖μ̂‖² + tr Σ + tr Σ̂ − 2 tr (Σ^½ Σ̂ Σ^½)^½, in field units (√ of the sum over the H·W nodes);
  the floor is the same figure for held-out fields (half B): the bias of Σ̂ at that N.
- `variogram` on continuous fields: the mean absolute difference between the samples' and the
  held-out fields' empirical variograms along rows and columns (lags 1..⌊min(H, W)/4⌋), divided
  by the held-out variance; for 3-D blocks along layers, rows and columns, each to a quarter of
  its side (`max_lag` reports the horizontal one).
- `facies` on categorical images (`facies`): errors of the facies proportions, indicator
  variograms, connectivity functions and 3 × 3 pattern histograms (Jensen–Shannon divergence)
  of the samples against half A (`genzoo.geostat.stats.facies_errors`), with the samples
  rounded to the nearest facies code first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from genzoo.metrics.core import EvalContext, register_metric
from genzoo.metrics.samples import frechet_from_moments


def gaussian_w2(x: torch.Tensor, mean: np.ndarray, cov: np.ndarray) -> float:
    """W₂ between N(x̄, Σ̂) of the rows of x (N, D) (unbiased Σ̂) and N(mean, cov), float64."""
    f = x.reshape(len(x), -1).double().numpy()
    s = np.atleast_2d(np.cov(f, rowvar=False))
    return math.sqrt(
        frechet_from_moments(
            np.asarray(mean, dtype=np.float64), np.asarray(cov, dtype=np.float64), f.mean(0), s
        )
    )


def _true_gaussian(ctx: EvalContext) -> tuple[np.ndarray, np.ndarray]:
    from genzoo.geostat.covariance import covariance_matrix, grid_points

    cov = ctx.test.extras["cov"]
    shape = tuple(ctx.test.info.shape[1:])
    return np.zeros(math.prod(shape)), covariance_matrix(cov, grid_points(shape)).numpy()


@register_metric(
    "w2",
    "Gaussian fields: Wasserstein-2 between the samples' Gaussian moments and the true law (0 ideal)",
    applies=lambda model, data: "cov" in data.extras and data.info.kind == "field",
    why_not="the data's law is not a known Gaussian (grf's is)",
)
def w2(ctx: EvalContext) -> dict[str, Any]:
    mean, cov = _true_gaussian(ctx)
    model = gaussian_w2(ctx.samples, mean, cov)
    floor = gaussian_w2(ctx.real_b, mean, cov)
    scale = math.sqrt(float(np.trace(cov)))  # W₂ between N(0, Σ) and a point mass at 0
    return {
        "w2": model,
        "floor": floor,
        "relative": model / scale,
        "relative_floor": floor / scale,
        "n": len(ctx.samples),
    }


def _variogram_gap(x: torch.Tensor, ref: torch.Tensor, lag: int) -> float:
    """The mean gap over lags 1..lag along rows and columns — and for 3-D blocks also layers, along
    each axis to a quarter of its side."""
    from genzoo.geostat.stats import grid_variogram

    gaps = []
    axes = {"row": lag, "col": lag}
    if x.dim() == 5:
        axes = {d: max(1, side // 4) for d, side in zip(("layer", "row", "col"), x.shape[2:])}
    for direction, lag in axes.items():
        a = grid_variogram(x.double(), max_lag=lag, direction=direction).gamma
        b = grid_variogram(ref.double(), max_lag=lag, direction=direction).gamma
        gaps.append((torch.as_tensor(a) - torch.as_tensor(b)).abs().mean())
    return float(torch.stack(gaps).mean() / ref.double().var())


def _continuous_field(model, data) -> bool:
    return data.info.kind == "field" and "categories" not in data.extras and min(data.info.shape[1:]) >= 4


@register_metric(
    "variogram",
    "fields: mean |γ_samples − γ_held-out| over lags along rows and columns, per unit variance (0 ideal)",
    applies=_continuous_field,
    why_not="only for continuous fields of at least 4×4 cells",
)
def variogram(ctx: EvalContext) -> dict[str, Any]:
    lag = max(1, min(ctx.test.info.shape[-2:]) // 4)
    return {
        "error": _variogram_gap(ctx.samples, ctx.real_a, lag),
        "floor": _variogram_gap(ctx.real_b, ctx.real_a, lag),
        "max_lag": lag,
    }


def to_codes(x: torch.Tensor, k: int, low: float = 0.0) -> torch.Tensor:
    """Samples as facies codes 0..K−1: rounded to the nearest code and clipped."""
    return torch.round(x.double() - low).clamp(0, k - 1)


@register_metric(
    "facies",
    "facies images: errors of proportions, indicator variograms, connectivity and "
    "3×3 pattern histograms (0 ideal)",
    applies=lambda model, data: "categories" in data.extras and data.info.kind == "field",
    why_not="the data are not facies images (facies are)",
)
def facies(ctx: EvalContext) -> dict[str, Any]:
    from genzoo.geostat.stats import facies_errors

    k = int(ctx.test.extras["categories"])
    low = ctx.test.info.value_range[0]
    real_a, real_b = to_codes(ctx.real_a, k, low), to_codes(ctx.real_b, k, low)
    fake = to_codes(ctx.samples, k, low)
    model = facies_errors(fake, real_a, k=k)
    floor = facies_errors(real_b, real_a, k=k)
    return {
        **{k_: float(v) for k_, v in model.items()},
        **{f"{k_}_floor": float(v) for k_, v in floor.items()},
    }
