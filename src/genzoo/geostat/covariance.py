"""Stationary covariance models on the plane: covariance, variogram and spectral density.

Each model is C(h) = sill · ρ(r) + nugget · 1[h = 0] with r the *reduced distance* of the lag
h = (Δrow, Δcol) in grid cells: the lag is rotated into the frame of the major axis, which makes
an angle `angle` (degrees) with the column axis, turning towards the row axis, and scaled by the
range along it and by range · ratio across it:

    u = Δcol cos θ + Δrow sin θ,   v = −Δcol sin θ + Δrow cos θ,   r = √((u / a)² + (v / (a·ratio))²).

The range convention — `range` is the parameter a of each formula, the same a in every model:

    exponential   ρ = exp(−r)                                   (practical range 3a: ρ = 0.05)
    gaussian      ρ = exp(−r²)                                  (practical range √3·a)
    spherical     ρ = 1 − 1.5 r + 0.5 r³ for r < 1, else 0      (a is where it reaches the sill)
    cubic         ρ = 1 − 7r² + 35/4 r³ − 7/2 r⁵ + 3/4 r⁷ for r < 1, else 0
    matern        ρ = 2^{1−ν}/Γ(ν) · r^ν K_ν(r)                 (κ = 1/a; ν = 1/2 is the exponential)

so Matérn's a is the scale 1/κ of Lindgren et al. 2011 and of gstlearn, not their practical range
√(8ν)·a, and GSTools' `len_scale` ℓ = a·√ν. `sill` is the variance of the structured part (the
partial sill) and `nugget` an independent white noise added to it: the total variance is
sill + nugget, and the variogram γ(h) = sill · (1 − ρ(r)) + nugget for h ≠ 0, γ(0) = 0.

The spectral density S (structured part only) is normalised so that C(h) = ∫ S(ω) e^{iω·h} dω
over ω ∈ R^d (angular frequency, radians per cell; d = 2, or 3 for lags (Δlayer, Δrow, Δcol)),
S(ω) = (2π)^{−d} ∫ C(h) e^{−iω·h} dh; for the isotropic unit-range correlation

    gaussian      S₁(ω) = (4π)^{−d/2} exp(−|ω|²/4)
    matern        S₁(ω) = Γ(ν + d/2) / (Γ(ν) π^{d/2}) · (1 + |ω|²)^{−(ν+d/2)}    (2-D: ν/π; exponential ν = ½)
    spherical, cubic   the radial Fourier transform, by quadrature:
                  2-D  S₁(ω) = (1/2π) ∫₀¹ ρ(r) J₀(|ω| r) r dr                (the Hankel transform)
                  3-D  S₁(ω) = (1/2π²) ∫₀¹ ρ(r) sin(|ω| r) / (|ω| r) r² dr

and with anisotropy S(ω) = sill · |det M|⁻¹ S₁(|M⁻ᵀω|) for the linear map r = |M h|. Spectral
sampling draws ω = Mᵀ ω₁ with ω₁ from S₁: a Gaussian N(0, 2I), a multivariate Student t with 2ν
degrees of freedom (ω₁ = ε / √(2G), ε ~ N(0, I_d), G ~ Gamma(ν, 1): its density is the Matérn S₁
in any d), or the tabulated radial law of the compact models with a uniform direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from genzoo.errors import GenzooError

_HANKEL_NODES = 4096  # Gauss–Legendre nodes on [0, 1] for the compact models' spectral densities


@dataclass(frozen=True)
class Covariance:
    """A stationary covariance model; subclasses set `name` and the unit-range correlation."""

    range: float
    sill: float = 1.0
    nugget: float = 0.0
    angle: float = 0.0  # degrees from the column axis towards the row axis, of the major axis
    ratio: float = 1.0  # range across the major axis / range along it
    # in 3-D (lags (Δlayer, Δrow, Δcol)): the second and third rotations and the third axis' range /
    # range; see `matrix`
    dip: float = 0.0
    roll: float = 0.0
    ratio3: float = 1.0

    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for key in ("range", "sill", "nugget", "angle", "ratio", "dip", "roll", "ratio3"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
                raise GenzooError(f"{self.name} covariance: {key} must be a finite number, got {v!r}")
        if self.range <= 0:
            raise GenzooError(f"{self.name} covariance: range must be positive, got {self.range:g}")
        for key in ("ratio", "ratio3"):
            if getattr(self, key) <= 0:
                raise GenzooError(
                    f"{self.name} covariance: anisotropy {key} must be positive, got {getattr(self, key):g}"
                )
        if self.sill < 0 or self.nugget < 0:
            raise GenzooError(
                f"{self.name} covariance: sill and nugget must be non-negative, got {self.sill:g} and "
                f"{self.nugget:g}"
            )

    # --- geometry ----------------------------------------------------------------------------
    @property
    def variance(self) -> float:
        """sill + nugget: the variance of one value."""
        return self.sill + self.nugget

    @property
    def three_d(self) -> bool:
        """Whether the model has 3-D anisotropy (a dip, a roll or a third ratio): no 2-D lags then."""
        return bool(self.dip or self.roll or self.ratio3 != 1)

    def matrix(self, dim: int = 2) -> Tensor:
        """M (dim × dim, float64) with r = |M h| for h = (Δrow, Δcol), or (Δlayer, Δrow, Δcol) in 3-D.

        In 3-D, with x the column, y the row and z the layer axis, the principal axes are those of
        x, y, z rotated by R = G_yz(roll) · G_xz(−dip) · G_xy(angle) (G_ab(θ) turns axis a towards b
        by θ) — GSTools' Tait–Bryan rotation with angles (angle, dip, roll) in radians — and
        r = |diag(1/a, 1/(a·ratio), 1/(a·ratio3)) Rᵀ (x, y, z)|: GSTools' anis = [ratio, ratio3].
        With dip = roll = 0 and ratio3 = 1 a layer's section is the 2-D model."""
        if dim == 2:
            if self.three_d:
                raise GenzooError(
                    f"{self.describe()}: dip, roll and ratio3 are 3-D anisotropy; a 2-D grid takes angle and "
                    "ratio only"
                )
            t = math.radians(self.angle)
            c, s = math.cos(t), math.sin(t)
            rot = torch.tensor([[s, c], [c, -s]], dtype=torch.float64)  # (Δrow, Δcol) → (u, v)
            scale = torch.tensor([1 / self.range, 1 / (self.range * self.ratio)], dtype=torch.float64)
            return torch.diag(scale) @ rot
        if dim != 3:
            raise GenzooError(f"covariance models are for 2-D or 3-D lags, got {dim}-D")
        rot = self.rotation()
        flip = torch.eye(3, dtype=torch.float64).flip(0)  # (Δlayer, Δrow, Δcol) → (x, y, z)
        scale = torch.tensor(
            [1 / self.range, 1 / (self.range * self.ratio), 1 / (self.range * self.ratio3)],
            dtype=torch.float64,
        )
        return torch.diag(scale) @ rot.T @ flip

    def rotation(self) -> Tensor:
        """The 3-D rotation R = G_yz(roll) · G_xz(−dip) · G_xy(angle) (3 × 3, float64) of `matrix`."""
        return (
            _givens(1, 2, math.radians(self.roll))
            @ _givens(0, 2, -math.radians(self.dip))
            @ _givens(0, 1, math.radians(self.angle))
        )

    def gstlearn_angles(self) -> tuple[float, float, float]:
        """The angles (degrees) that give gstlearn the same 3-D model: gstlearn composes its rotation
        the other way round, R = G_xy(θ₁) · G_xz(−θ₂) · G_yz(θ₃) (with the ranges (a, a·ratio, a·ratio3)
        as scales, flagRange=False), so (θ₁, θ₂, θ₃) is our R decomposed in that order — equal to
        (angle, dip, roll) when at most one of them is not 0."""
        r = self.rotation()  # = Rz(θ₁) Ry(θ₂) Rx(θ₃) in the usual matrices: a yaw-pitch-roll decomposition
        theta2 = math.degrees(-math.asin(max(-1.0, min(1.0, float(r[2, 0])))))
        theta1 = math.degrees(math.atan2(float(r[1, 0]), float(r[0, 0])))
        theta3 = math.degrees(math.atan2(float(r[2, 1]), float(r[2, 2])))
        return theta1, theta2, theta3

    def reduced(self, lag: Tensor) -> Tensor:
        """r = |M h| for lags (..., 2) in (Δrow, Δcol) cells, or (..., 3) in (Δlayer, Δrow, Δcol)."""
        lag = torch.as_tensor(lag, dtype=torch.float64)
        return (lag @ self.matrix(lag.shape[-1]).T.to(lag.device)).norm(dim=-1)

    # --- the functions ---------------------------------------------------------------------
    def correlation(self, r: Tensor) -> Tensor:
        """ρ(r) of the unit-range isotropic model, r ≥ 0 (float64)."""
        raise NotImplementedError

    def __call__(self, lag: Tensor) -> Tensor:
        """C(h) for lags (..., 2): sill·ρ(r), plus the nugget where h = 0 exactly (float64)."""
        lag = torch.as_tensor(lag, dtype=torch.float64)
        c = self.sill * self.correlation(self.reduced(lag))
        if self.nugget:
            # not `nugget * mask`: a Python float times a bool tensor is float32 (1000/3 off by 1e-5)
            c = torch.where((lag == 0).all(-1), c + self.nugget, c)
        return c

    def covariance(self, lag: Tensor) -> Tensor:
        return self(lag)

    def variogram(self, lag: Tensor) -> Tensor:
        """γ(h) = C(0) − C(h): sill·(1 − ρ(r)) + nugget for h ≠ 0, and 0 at h = 0."""
        return self.variance - self(lag)

    def of_distance(self, d: Tensor) -> Tensor:
        """C along the major axis at distances d ≥ 0 (no nugget): sill·ρ(d / a) — for isotropic plots."""
        return self.sill * self.correlation(torch.as_tensor(d, dtype=torch.float64) / self.range)

    def spectral_density(self, omega: Tensor) -> Tensor:
        """S(ω) for angular frequencies (..., 2) in (rows, cols) order, or (..., 3) in (layers, rows,
        cols) order, radians per cell."""
        omega = torch.as_tensor(omega, dtype=torch.float64)
        dim = omega.shape[-1]
        m = self.matrix(dim).to(omega.device)
        w1 = omega @ torch.linalg.inv(m)  # M⁻ᵀω as a row vector: ωᵀ M⁻¹
        return self.sill * self.spectral1(w1.norm(dim=-1), dim) / abs(float(torch.linalg.det(m)))

    def spectral1(self, w: Tensor, dim: int = 2) -> Tensor:
        """S₁(|ω|) of the unit-range isotropic model in `dim` dimensions."""
        raise NotImplementedError

    def sample_frequencies(self, k: int, generator: torch.Generator | None = None, dim: int = 2) -> Tensor:
        """k frequencies (k, dim) drawn from S / sill (a probability density on R^dim), float64."""
        m = self.matrix(dim)  # first: a 3-D model refuses 2-D before any draw
        w1 = self.sample_unit(k, generator, dim)
        return w1 @ m  # ω = Mᵀω₁ as rows: ω₁ᵀ M

    def sample_unit(self, k: int, generator: torch.Generator | None, dim: int = 2) -> Tensor:
        raise NotImplementedError

    @property
    def smooth(self) -> bool:
        """Whether the field is very smooth (Gaussian model): FFT embeddings need more room."""
        return False

    def describe(self) -> str:
        extra = f", ν={self.nu:g}" if isinstance(self, Matern) else ""
        aniso = f", angle={self.angle:g}°, ratio={self.ratio:g}" if self.ratio != 1 else ""
        if self.three_d:
            aniso = (
                f", angle={self.angle:g}°, dip={self.dip:g}°, roll={self.roll:g}°, ratio={self.ratio:g}, "
                f"ratio3={self.ratio3:g}"
            )
        nug = f", nugget={self.nugget:g}" if self.nugget else ""
        return f"{self.name}(range={self.range:g}, sill={self.sill:g}{extra}{nug}{aniso})"


def _givens(a: int, b: int, theta: float) -> Tensor:
    """The 3 × 3 rotation turning axis a towards axis b by theta (radians)."""
    g = torch.eye(3, dtype=torch.float64)
    c, s = math.cos(theta), math.sin(theta)
    g[a, a] = g[b, b] = c
    g[a, b], g[b, a] = -s, s
    return g


def _radial_directions(k: int, radius: Tensor, generator: torch.Generator | None, dim: int = 2) -> Tensor:
    """Vectors of the given lengths in uniformly random directions: an angle on the circle, or a
    normalised N(0, I₃) on the sphere."""
    if dim == 2:
        phi = 2 * math.pi * torch.rand(k, generator=generator, dtype=torch.float64)
        return torch.stack([radius * torch.sin(phi), radius * torch.cos(phi)], dim=-1)
    u = torch.randn(k, dim, generator=generator, dtype=torch.float64)
    return u / u.norm(dim=-1, keepdim=True).clamp_min(1e-300) * radius[:, None]


@dataclass(frozen=True)
class Gaussian(Covariance):
    name: ClassVar[str] = "gaussian"

    def correlation(self, r: Tensor) -> Tensor:
        return torch.exp(-(torch.as_tensor(r, dtype=torch.float64) ** 2))

    def spectral1(self, w: Tensor, dim: int = 2) -> Tensor:
        return torch.exp(-(w**2) / 4) / (4 * math.pi) ** (dim / 2)

    def sample_unit(self, k: int, generator: torch.Generator | None, dim: int = 2) -> Tensor:
        return math.sqrt(2.0) * torch.randn(k, dim, generator=generator, dtype=torch.float64)

    @property
    def smooth(self) -> bool:
        return True


@dataclass(frozen=True)
class Exponential(Covariance):
    name: ClassVar[str] = "exponential"
    nu: ClassVar[float] = 0.5

    def correlation(self, r: Tensor) -> Tensor:
        return torch.exp(-torch.as_tensor(r, dtype=torch.float64))

    def spectral1(self, w: Tensor, dim: int = 2) -> Tensor:
        return _matern_spectral1(w, 0.5, dim)

    def sample_unit(self, k: int, generator: torch.Generator | None, dim: int = 2) -> Tensor:
        return _student(k, 0.5, generator, dim)


@dataclass(frozen=True)
class Matern(Covariance):
    nu: float = 1.0
    name: ClassVar[str] = "matern"

    def __post_init__(self) -> None:
        super().__post_init__()
        if (
            isinstance(self.nu, bool)
            or not isinstance(self.nu, (int, float))
            or not (math.isfinite(self.nu) and self.nu > 0)
        ):
            raise GenzooError(f"matern covariance: smoothness nu must be a positive number, got {self.nu!r}")
        if self.nu > 50:
            raise GenzooError(
                f"matern covariance: nu = {self.nu:g} is beyond 50; use the gaussian model (the limit ν → ∞)"
            )

    def correlation(self, r: Tensor) -> Tensor:
        return matern_correlation(torch.as_tensor(r, dtype=torch.float64), self.nu)

    def spectral1(self, w: Tensor, dim: int = 2) -> Tensor:
        return _matern_spectral1(w, self.nu, dim)

    def sample_unit(self, k: int, generator: torch.Generator | None, dim: int = 2) -> Tensor:
        return _student(k, self.nu, generator, dim)

    @property
    def smooth(self) -> bool:
        return self.nu >= 2.5


def matern_correlation(r: Tensor, nu: float) -> Tensor:
    """2^{1−ν}/Γ(ν) r^ν K_ν(r), 1 at r = 0; closed forms at ν = 1/2, 3/2, 5/2, K₀/K₁ from torch at
    ν = 1, scipy's K_ν otherwise (on the CPU in float64)."""
    r = torch.as_tensor(r, dtype=torch.float64)
    if nu == 0.5:
        return torch.exp(-r)
    if nu == 1.5:
        return (1 + r) * torch.exp(-r)
    if nu == 2.5:
        return (1 + r + r**2 / 3) * torch.exp(-r)
    safe = r.clamp_min(1e-300)
    if nu == 1.0:
        out = safe * torch.special.modified_bessel_k1(safe)
    else:
        from scipy.special import gammaln, kv

        s = np.asarray(safe.cpu().numpy(), dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            val = np.exp((1 - nu) * math.log(2) - gammaln(nu) + nu * np.log(s)) * kv(nu, s)
        out = (
            torch.from_numpy(np.asarray(np.nan_to_num(val, nan=0.0), dtype=np.float64))
            .reshape(r.shape)
            .to(r.device)
        )
    return torch.where(r > 0, out, torch.ones_like(r)).clamp(0, 1)


def _matern_spectral1(w: Tensor, nu: float, dim: int = 2) -> Tensor:
    w2 = torch.as_tensor(w, dtype=torch.float64) ** 2
    if dim == 2:
        return nu / math.pi * (1 + w2) ** (-(nu + 1))
    const = math.exp(math.lgamma(nu + dim / 2) - math.lgamma(nu)) / math.pi ** (dim / 2)
    return const * (1 + w2) ** (-(nu + dim / 2))


def _student(k: int, nu: float, generator: torch.Generator | None, dim: int = 2) -> Tensor:
    """ω₁ = ε / √(2G), ε ~ N(0, I_d), G ~ Gamma(ν, 1): density Γ(ν+d/2)/(Γ(ν)π^{d/2}) (1 + |ω|²)^{−(ν+d/2)}
    (in 2-D ν/π (1 + |ω|²)^{−(ν+1)})."""
    eps = torch.randn(k, dim, generator=generator, dtype=torch.float64)
    g = _gamma(k, nu, generator)
    return eps / torch.sqrt(2 * g).unsqueeze(-1)


def _gamma(k: int, shape: float, generator: torch.Generator | None) -> Tensor:
    """Gamma(shape, 1) draws from `generator` (torch's own Gamma sampler takes none): Marsaglia &
    Tsang 2000, with the boost G(a) = G(a + 1) U^{1/a} for a < 1."""
    a = shape + 1 if shape < 1 else shape
    d = a - 1 / 3
    c = 1 / math.sqrt(9 * d)
    out = torch.empty(0, dtype=torch.float64)
    while len(out) < k:
        m = 2 * (k - len(out)) + 16
        x = torch.randn(m, generator=generator, dtype=torch.float64)
        u = torch.rand(m, generator=generator, dtype=torch.float64)
        v = (1 + c * x) ** 3
        ok = (v > 0) & (
            torch.log(u.clamp_min(1e-300)) < 0.5 * x**2 + d - d * v + d * torch.log(v.clamp_min(1e-300))
        )
        out = torch.cat([out, (d * v)[ok]])
    out = out[:k]
    if shape < 1:
        out = out * torch.rand(k, generator=generator, dtype=torch.float64) ** (1 / shape)
    return out


class _Compact(Covariance):
    """Models with compact support r < 1: the spectral density by a radial Fourier transform."""

    def spectral1(self, w: Tensor, dim: int = 2) -> Tensor:
        """S₁ interpolated (log-linearly) in a table of the quadrature on |ω| ≤ 400, with the
        fitted power-law tail beyond."""
        grid, dens, _, q, _ = _radial_table(type(self), dim)
        wn = torch.as_tensor(w, dtype=torch.float64)
        x = wn.reshape(-1).cpu().numpy()
        val = np.exp(np.interp(x, grid, np.log(np.maximum(dens, 1e-300))))
        tail = x > grid[-1]
        val[tail] = dens[-1] * (x[tail] / grid[-1]) ** q
        return torch.from_numpy(val).reshape(wn.shape).to(wn.device)

    def sample_unit(self, k: int, generator: torch.Generator | None, dim: int = 2) -> Tensor:
        """|ω₁| by inverting the tabulated CDF, or with the tail's probability from the Pareto law
        of the power-law tail (|ω₁| = W·V^{1/(d+q)}); a uniform direction."""
        grid, _, cdf, q, tail = _radial_table(type(self), dim)
        u = torch.rand(k, generator=generator, dtype=torch.float64)
        v = torch.rand(k, generator=generator, dtype=torch.float64).clamp_min(1e-300)
        radius = torch.from_numpy(np.interp((u / (1 - tail)).clamp_max(1).numpy(), cdf, grid))
        if tail > 0:
            far = u >= 1 - tail
            radius[far] = grid[-1] * v[far] ** (1 / (dim + q))
        return _radial_directions(k, radius, generator, dim)

    def hankel(self, w: Tensor, dim: int = 2) -> Tensor:
        """S₁(w) by Gauss–Legendre quadrature with at least 2 nodes per oscillation (128 to 4,096
        nodes; |w| up to a few thousand): in 2-D (1/2π) ∫₀¹ ρ(r) J₀(w r) r dr, in 3-D
        (1/2π²) ∫₀¹ ρ(r) sin(w r)/(w r) r² dr."""
        from scipy.special import j0

        wn = np.asarray(torch.as_tensor(w, dtype=torch.float64).reshape(-1).cpu().numpy())
        need = np.clip(2 ** np.ceil(np.log2(np.maximum(128, 2 * np.abs(wn)))), 128, _HANKEL_NODES)
        out = np.empty_like(wn)
        for nodes in np.unique(need):
            x, wt = _legendre(int(nodes))
            rho = self.correlation(torch.from_numpy(x)).numpy()
            sel = need == nodes
            if dim == 2:
                out[sel] = j0(np.outer(wn[sel], x)) @ (wt * rho * x)
            else:  # np.sinc(t) = sin(πt)/(πt)
                out[sel] = np.sinc(np.outer(wn[sel], x) / np.pi) @ (wt * rho * x**2)
        norm = 2 * math.pi if dim == 2 else 2 * math.pi**2
        return torch.from_numpy(out / norm).clamp_min(0)


@lru_cache(maxsize=4)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1) / 2, w / 2


_TABLE_MAX = 400.0  # |ω₁| of the quadrature table; a power-law tail beyond


@lru_cache(maxsize=8)
def _radial_table(cls: type, dim: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """S₁ by quadrature on a grid to |ω₁| = 400 and the CDF of |ω₁| (radial density 2π w S₁(w) in
    2-D, 4π w² S₁(w) in 3-D) over it, with the tail beyond as the power law S₁ ~ w^q fitted to the
    last decade: returns (grid, S₁, CDF on the grid normalised to the table's mass, q, the tail's
    share of the mass)."""
    model = cls(range=1.0)
    w = np.concatenate([np.linspace(0, 20, 801)[:-1], np.geomspace(20, _TABLE_MAX, 700)])
    s1 = model.hankel(torch.from_numpy(w), dim).numpy()
    sphere = 2 * math.pi if dim == 2 else 4 * math.pi  # the unit sphere's surface
    dens = sphere * w ** (dim - 1) * s1
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(w))])
    last = w >= _TABLE_MAX / 10
    q = float(np.polyfit(np.log(w[last]), np.log(np.maximum(s1[last], 1e-300)), 1)[0])
    # ∫_W^∞ |S^{d−1}| w^{d−1} S₁(W)(w/W)^q dw
    tail = sphere * s1[-1] * w[-1] ** dim / -(dim + q) if q < -dim else 0.0
    return w, s1, cdf / cdf[-1], q, tail / (cdf[-1] + tail)


@dataclass(frozen=True)
class Spherical(_Compact):
    name: ClassVar[str] = "spherical"

    def correlation(self, r: Tensor) -> Tensor:
        r = torch.as_tensor(r, dtype=torch.float64)
        return torch.where(r < 1, 1 - 1.5 * r + 0.5 * r**3, torch.zeros_like(r))


@dataclass(frozen=True)
class Cubic(_Compact):
    name: ClassVar[str] = "cubic"

    def correlation(self, r: Tensor) -> Tensor:
        r = torch.as_tensor(r, dtype=torch.float64)
        p = 1 - 7 * r**2 + 35 / 4 * r**3 - 7 / 2 * r**5 + 3 / 4 * r**7
        return torch.where(r < 1, p, torch.zeros_like(r))


MODELS: dict[str, type[Covariance]] = {
    "gaussian": Gaussian,
    "exponential": Exponential,
    "spherical": Spherical,
    "cubic": Cubic,
    "matern": Matern,
}


def make(name: str, **params: float) -> Covariance:
    """A covariance model by name: make("matern", range=20, nu=1.5). `nu` only for matern."""
    key = str(name).strip().lower()
    if key not in MODELS:
        raise GenzooError(f"unknown covariance model {name!r} (valid: {', '.join(MODELS)})")
    params = {k: v for k, v in params.items() if v is not None}
    if key != "matern" and "nu" in params:
        if key == "exponential" and params["nu"] == 0.5:
            params.pop("nu")
        else:
            raise GenzooError(f"nu is the smoothness of the matern model; the {key} model has none")
    return MODELS[key](**params)


def lag_grid(shape: tuple[int, ...], device: torch.device | str = "cpu") -> Tensor:
    """The lags (H, W, 2) — or (D, H, W, 3) — of a torus of `shape` by the minimum image:
    Δ ∈ (−H/2, H/2]."""
    axes = [torch.fft.fftfreq(s, 1 / s, dtype=torch.float64, device=device) for s in shape]  # 0, 1, …, −1
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


def grid_points(shape: tuple[int, ...]) -> Tensor:
    """Coordinates (H·W, 2) of the nodes of a grid, row-major, as (row, col) floats; of a block
    (D, H, W): (D·H·W, 3) as (layer, row, col)."""
    axes = [torch.arange(s, dtype=torch.float64) for s in shape]
    return torch.stack([a.reshape(-1) for a in torch.meshgrid(*axes, indexing="ij")], dim=-1)


def covariance_matrix(cov: Covariance, a: Tensor, b: Tensor | None = None) -> Tensor:
    """C(a_i − b_j) (n, m) for points (n, 2), (m, 2) in (row, col) cells — or (n, 3), (m, 3) in
    (layer, row, col) cells; b = a by default."""
    a = torch.as_tensor(a, dtype=torch.float64)
    b = a if b is None else torch.as_tensor(b, dtype=torch.float64)
    return cov(a[:, None, :] - b[None, :, :])
