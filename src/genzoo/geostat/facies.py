"""Categorical fields from Gaussian ones: truncated Gaussian and plurigaussian facies, and the
anamorphosis of a Gaussian field to any marginal law.

Truncated Gaussian (Matheron et al. 1987): with Y a standard Gaussian field and thresholds
t_k = Φ⁻¹(p_0 + … + p_k), the facies is k where t_{k−1} ≤ Y < t_k; facies k then has probability
p_k exactly at every node.

Plurigaussian (Le Loc'h & Galli 1997), with two independent standard fields Y₁, Y₂ and the rule

    facies 0            where Y₁ < Φ⁻¹(p_0),
    facies k ≥ 1        elsewhere, where Y₂ falls in the k-th slice of the truncated-Gaussian
                        thresholds of the proportions p_k / (1 − p_0), k = 1..K−1,

so facies 0 (e.g. shale) is laid out by Y₁ and the others are arranged inside the rest by Y₂ —
each with its own covariance (range, anisotropy), and contacts between facies 0 and every other.
P(facies = k) = p_k exactly.

Anamorphosis: x = F⁻¹(Φ((y − μ)/σ)) maps a Gaussian field y ~ N(μ, σ²) to values with the
cumulative law F — the "activation function" that follows the linear generator. F⁻¹ is a
scipy.stats law's quantile function (`ppf`) or the empirical quantile function of data
(linear interpolation between order statistics).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genzoo.errors import GenzooError


def check_proportions(p: Any) -> Tensor:
    """Proportions (K,) float64, K ≥ 2, positive, summing to 1 (within 1e-6, then renormalised)."""
    try:
        t = torch.as_tensor(
            [float(v) for v in (p.tolist() if torch.is_tensor(p) else p)], dtype=torch.float64
        )
    except (TypeError, ValueError):
        raise GenzooError(f"proportions must be a list of numbers, got {p!r}") from None
    if len(t) < 2 or not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
        raise GenzooError(f"proportions must be at least two positive numbers, got {t.tolist()}")
    if abs(float(t.sum()) - 1) > 1e-6:
        raise GenzooError(f"proportions must sum to 1, got {float(t.sum()):g}")
    return t / t.sum()


def thresholds(p: Any) -> Tensor:
    """t_k = Φ⁻¹(p_0 + … + p_k), k = 0..K−2 (float64)."""
    p = check_proportions(p)
    cum = torch.cumsum(p, 0)[:-1].clamp(1e-300, 1 - 1e-16)
    return math.sqrt(2) * torch.special.erfinv(2 * cum - 1)


def truncate(y: Tensor, p: Any) -> Tensor:
    """Facies codes 0..K−1 (as y's float dtype) of a standard Gaussian field y by the thresholds
    of the proportions p."""
    t = thresholds(p).to(device=y.device, dtype=torch.float64)
    return torch.bucketize(y.double().contiguous(), t, right=True).to(
        y.dtype if y.is_floating_point() else torch.float32
    )


def plurigaussian(y1: Tensor, y2: Tensor, p: Any) -> Tensor:
    """Facies codes of the rule in the module docstring from two standard Gaussian fields."""
    p = check_proportions(p)
    if y1.shape != y2.shape:
        raise GenzooError(
            f"plurigaussian: the two fields differ in shape, {tuple(y1.shape)} and {tuple(y2.shape)}"
        )
    t0 = float(thresholds(torch.stack([p[0], 1 - p[0]]))[0])
    rest = p[1:] / (1 - p[0])
    inner = truncate(y2, rest) + 1 if len(rest) > 1 else torch.ones_like(y2)
    return torch.where(y1.double() < t0, torch.zeros_like(inner), inner)


def bivariate_below(t: float, rho: Tensor) -> Tensor:
    """P(Y₁ < t, Y₂ < t) for standard normals with correlation ρ ∈ [−1, 1] (float64, rho's shape),
    by Owen's T function: P = Φ(t) − 2·T(t, √((1 − ρ)/(1 + ρ))) (Owen 1956's Φ₂(h, k; ρ) with
    h = k = t). scipy's T (Patefield & Tandy 2000) makes it accurate to ~1e-16 over the whole
    range, and exact at ρ = 1 (a = 0: Φ(t)) and ρ = −1 (a = ∞: Φ(t) − Φ(−|t|)) — where a
    quadrature of Sheppard's integral ∫₀^ρ exp(−t²/(1 + r))/√(1 − r²) dr loses digits to the
    end-point singularity (64 Gauss–Legendre nodes: 2.5e-4 at ρ = 0.9999)."""
    from scipy.special import ndtr, owens_t

    rho = torch.as_tensor(rho, dtype=torch.float64)
    r = rho.detach().cpu().numpy()
    bad = ~(np.abs(r) <= 1)  # NaN is bad too
    if bad.any():
        raise GenzooError(
            f"bivariate_below: the correlation must lie in [-1, 1], got {r[bad].ravel()[:3].tolist()}"
        )
    with np.errstate(divide="ignore"):
        a = np.sqrt((1 - r) / (1 + r))  # 1 − ρ and 1 + ρ are exact in floating point; ∞ at ρ = −1
    p = np.clip(ndtr(float(t)) - 2 * owens_t(float(t), a), 0, 1)
    return torch.from_numpy(np.asarray(p, dtype=np.float64)).to(rho.device)


def gaussian_correlation_of_indicator(t: float, cov: Tensor) -> Tensor:
    """Invert the indicator covariance Cov(1[Y(u) < t], 1[Y(u+h) < t]) = P(Y₁<t, Y₂<t) − Φ(t)² for
    the Gaussian correlation ρ ∈ [0, 1] (bisection, 50 halvings: ±1e-15): the truncated-Gaussian
    model's map from the facies' two-point statistics back to its latent field's. P is accurate to
    ~1e-16 up to ρ = 1 (`bivariate_below`), so ρ = 0.99999 comes back to 1e-15, not 1e-5."""
    cov = torch.as_tensor(cov, dtype=torch.float64)
    phi = 0.5 * (1 + math.erf(t / math.sqrt(2)))
    target = cov + phi**2
    lo, hi = torch.zeros_like(cov), torch.ones_like(cov)
    for _ in range(50):
        mid = (lo + hi) / 2
        below = bivariate_below(t, mid) < target
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return (lo + hi) / 2


def anamorphosis(y: Tensor, target: Any, *, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """x = F⁻¹(Φ((y − mean)/std)): `target` a scipy.stats frozen law (anything with `ppf`) or data
    (a tensor/array of values, whose empirical quantile function is used)."""
    u = 0.5 * (1 + torch.erf((y.double() - mean) / (std * math.sqrt(2))))
    u = u.clamp(1e-12, 1 - 1e-12)
    if hasattr(target, "ppf"):
        out = torch.from_numpy(np.asarray(target.ppf(u.cpu().numpy()), dtype=np.float64))
    else:
        data = torch.as_tensor(np.asarray(target, dtype=np.float64)).reshape(-1)
        data = data[torch.isfinite(data)]
        if len(data) < 2:
            raise GenzooError("anamorphosis: the target data need at least two finite values")
        srt = torch.sort(data).values
        levels = (torch.arange(len(srt), dtype=torch.float64) + 0.5) / len(srt)  # Hazen plotting positions
        out = torch.from_numpy(np.interp(u.cpu().numpy(), levels.numpy(), srt.numpy()))
    return out.to(device=y.device, dtype=y.dtype if y.is_floating_point() else torch.float32)
