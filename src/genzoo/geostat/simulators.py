"""Gaussian random field simulators, each a generator x = G(z) of white noise z ~ N(0, I).

- `cholesky`: x = μ + Lz with Σ = LLᵀ the covariance matrix of any point set; exact, O(m³) once
  and O(m²) per field, refused above `max_points`.
- `spectral` (Shinozuka 1971; Shinozuka & Deodatis 1991): x(u) = √(2σ²/K) Σₖ cos(ωₖ·u + 2πφₖ) with
  ωₖ drawn from the normalised spectral density and φₖ ~ U[0, 1) — one hidden layer of K cosine
  units with random weights. On a grid, cos(ω_r r + ω_c c + 2πφ) = cos a cos b − sin a sin b
  splits every field into two batched (H × K)(K × W) matrix products. `amplitudes="gaussian"`
  gives x(u) = √(σ²/K) Σₖ Aₖ cos(ωₖ·u) + Bₖ sin(ωₖ·u), A, B ~ N(0, 1) (GSTools' RandMeth).
  Approximate: Gaussian only as K → ∞, and every realisation has its own K frequencies.
- `fft` (Dietrich & Newsam 1997; Wood & Chan 1994): the grid embedded in an M × N torus whose
  covariance matrix is block circulant, diagonalised by the 2-D DFT with eigenvalues λ = DFT(c)
  of the torus covariance c (minimum-image lags). With w = ε₁ + iε₂ complex white noise,
  y = DFT(√(λ / MN) ⊙ w) has independent real and imaginary parts, each an exact realisation
  on the torus; cropped to the grid, exact for the model. The torus grows (×1.1 per side, FFT-
  friendly sizes) until min λ ≥ −1e-9·max λ or the negative eigenvalues' share of the mass
  Σ|λ₋| / Σ|λ| is at most `tol` (1e-6: clipping them to 0 then changes every covariance value by
  at most about tol·C(0)); if a cap is reached they are clipped whatever their share, which is
  reported (`negative_mass`).
- `spde` (Lindgren, Rue & Lindström 2011; Pereira & Desassis 2019): the Matérn field solves
  (κ² − ∇·H∇)^{α/2} x = W / τ with α = ν + 1 in 2-D. In reduced coordinates r = Mh (unit range,
  κ = 1) the operator is S = −∇ᵀG∇ with G = M⁻¹M⁻ᵀ, discretised as a 3 × 3 stencil (the 5-point
  Laplacian, plus the 4-point cross term for a rotated anisotropy) on a torus padded around the
  grid; x = f(S) w with f(s) = (1 + s)^{−α/2}, approximated by a Chebyshev series p_K on
  [0, b], b the Gershgorin bound of the stencil, and applied with the three-term recurrence
  T_{k+1} = 2S̃T_k − T_{k−1}, S̃ = 2S/b − I: K stencil layers — a deep convolutional network with
  a handful of parameters. K is the smallest degree whose coefficient tail Σ_{j>K}|c_j| is below
  `tol` · f(0) (a bound on the sup error on [0, b]). The stencil discretises the Laplacian, so
  the field is the lattice Matérn: its variance is set to the sill exactly (computed from the
  stencil's symbol on the torus) and its covariance approaches the model's as the range grows in
  cells (relative error O(a⁻²)).

Every simulator adds the nugget as independent N(0, nugget) noise and the mean μ, and draws from
a `torch.Generator` (its device is the device of the fields) so seeded runs repeat exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genzoo.errors import GenzooError
from genzoo.geostat.covariance import Covariance, Matern, covariance_matrix, grid_points, lag_grid
from genzoo.nn.noise import noise

MAX_CHOLESKY = 6000  # points: a dense factor of 6,000² float64 is 288 MB
MAX_TORUS = 1 << 26  # FFT torus nodes at most (64 M: 0.5 GB of complex64 per field)
_CHUNK_BYTES = 1 << 28  # work memory of one batch of fields
GROWTH = 1.1  # fft: the torus' growth per side while too much negative eigenvalue mass is left
_CACHE_BYTES = 1 << 25  # spde: batches whose four work arrays stay near the cache (one field at least)


def shape2(shape: Any) -> tuple[int, int]:
    try:
        h, w = (
            (int(shape), int(shape)) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        )
    except (TypeError, ValueError):
        raise GenzooError(f"shape must be two positive integers H W, got {shape!r}") from None
    if h < 1 or w < 1:
        raise GenzooError(f"shape must be two positive integers H W, got {h} {w}")
    return h, w


def grid_shape(shape: Any) -> tuple[int, ...]:
    """A grid's sides: H W, or D H W (layers, rows, cols) for a 3-D block; a single integer is a
    square."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return shape2(shape)
    try:
        sides = tuple(int(s) for s in shape)
        whole = all(float(s) == int(s) for s in shape)
    except (TypeError, ValueError):
        raise GenzooError(f"shape must be H W or D H W positive integers, got {shape!r}") from None
    if len(sides) not in (2, 3) or not whole or min(sides) < 1:
        raise GenzooError(
            f"shape must be H W (a 2-D grid) or D H W (a 3-D block) positive integers, got "
            f"{' '.join(str(s) for s in shape) or 'nothing'}"
        )
    return sides


def _device(generator: torch.Generator | None, device: Any) -> torch.device:
    if device is not None:
        return torch.device(device)
    return generator.device if generator is not None else torch.device("cpu")


def _randn(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device, dtype=torch.float32
) -> Tensor:
    return noise(torch.randn, shape, generator, device, dtype)


def _finish(x: Tensor, cov: Covariance, mean: float, generator: torch.Generator | None) -> Tensor:
    if cov.nugget:
        x = x + math.sqrt(cov.nugget) * _randn(tuple(x.shape), generator, x.device, x.dtype)
    return x + mean if mean else x


def _chunks(n: int, per_field_bytes: int) -> list[int]:
    size = max(1, min(n, _CHUNK_BYTES // max(1, per_field_bytes)))
    return [min(size, n - i) for i in range(0, n, size)]


# --- Cholesky --------------------------------------------------------------------------------
@dataclass
class Cholesky:
    """x = μ + Lz on the points (m, 2) (row, col) or (m, 3) (layer, row, col), with
    LLᵀ = C(p_i − p_j) + εI; ε is 0 unless the factorisation fails in float64 (a smooth model on
    dense points), then the smallest of 1e-12·σ², 1e-11·σ², … that succeeds, reported in `jitter`."""

    cov: Covariance
    points: Tensor
    max_points: int = MAX_CHOLESKY
    factor: Tensor = field(init=False, repr=False)
    jitter: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        m = len(self.points)
        if m > self.max_points:
            raise GenzooError(
                f"cholesky: {m:,} points is above its limit of {self.max_points:,} (a dense {m:,}² factor); "
                "use fft or spde on a grid, or spectral for many scattered points"
            )
        sigma = covariance_matrix(self.cov, self.points)
        factor, info = torch.linalg.cholesky_ex(sigma)
        scale = self.cov.variance or 1.0
        eps = 1e-12 * scale
        while int(info) != 0:
            if eps > 1e-4 * scale:
                raise GenzooError(
                    f"cholesky: the covariance matrix of {self.cov.describe()} is not positive definite"
                )
            factor, info = torch.linalg.cholesky_ex(sigma + eps * torch.eye(m, dtype=sigma.dtype))
            self.jitter, eps = eps, eps * 10
        self.factor = factor  # nugget included in C(0): no separate noise

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, mean: float = 0.0, device: Any = None
    ) -> Tensor:
        """(n, m) fields at the points, float32."""
        dev = _device(generator, device)
        z = _randn((len(self.points), n), generator, dev, torch.float64)
        x = (self.factor.to(dev) @ z).T
        return (x + mean).float()

    def log_prob(self, x: Tensor, mean: float = 0.0) -> Tensor:
        """log N(x; μ, Σ) per row of x (n, m), in nats (float64)."""
        lf = self.factor.to(x.device)
        r = (x.double().reshape(len(x), -1) - mean).T
        z = torch.linalg.solve_triangular(lf, r, upper=False)
        m = lf.shape[0]
        return -0.5 * (z**2).sum(0) - torch.log(torch.diagonal(lf)).sum() - 0.5 * m * math.log(2 * math.pi)


# --- FFT circulant embedding -------------------------------------------------------------------
def _fast_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c ≥ n (sizes the FFT handles fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p3 = 1
    while p3 < 2 * n:
        p5 = p3
        while p5 < 2 * n:
            m = p5
            while m < n:
                m *= 2
            best = min(best, m)
            p5 *= 5
        p3 *= 3
    return best


def torus_covariance(cov: Covariance, shape: tuple[int, ...]) -> Tensor:
    """c(Δ) (M, N) or (L, M, N) float64 on a torus by the minimum image, exactly point-symmetric
    (c[−i, −j] = c[i, j], so the embedding is a symmetric matrix). 2-D: the upper half is evaluated
    and the lower half mirrored; at an even M the ambiguous lag ±M/2 takes the mean of both. A model
    symmetric about the axes (isotropic, or anisotropic at 0° or 90°) is evaluated on a quarter, in
    3-D on an eighth (when G = MᵀM is diagonal), else on the whole torus in slabs, symmetrised."""
    if len(shape) == 3:
        return _torus_covariance3(cov, shape)
    m, n = shape
    half = m // 2 + 1
    rest = m - half  # rows with Δrow = −rest..−1, i.e. c(−i, Δcol) = c(i, −Δcol), i = rest..1
    flip = (-torch.arange(n)) % n
    out = torch.empty(m, n, dtype=torch.float64)
    if cov.ratio == 1 or cov.angle % 90 == 0:  # c(i, j) = c(i, −j): a quarter, by broadcasting
        dr = torch.arange(half, dtype=torch.float64)[:, None, None]
        dc = torch.arange(n // 2 + 1, dtype=torch.float64)[None, :, None]
        quarter = cov(torch.cat(torch.broadcast_tensors(dr, dc), -1))
        out[:half, : n // 2 + 1] = quarter
        out[:half, n // 2 + 1 :] = quarter[:, 1 : n - n // 2].flip(1)
    else:
        out[:half] = cov(lag_grid((m, n))[:half])  # Δrow = 0..M/2 (−M/2 at an even M)
        if m % 2 == 0:
            out[half - 1] = 0.5 * (out[half - 1] + out[half - 1][flip])
    out[half:] = out[torch.arange(rest, 0, -1)][:, flip]
    return out


def _negate(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """x[−i, −j, …] (indices modulo the sides) along `dims`."""
    for d in dims:
        x = torch.roll(x.flip(d), 1, d)
    return x


def _axis_symmetric(cov: Covariance) -> bool:
    """Whether c(h) is even in each coordinate of a 3-D lag separately: G = MᵀM diagonal."""
    g = cov.matrix(3).T @ cov.matrix(3)
    return bool((g - torch.diag(torch.diagonal(g))).abs().max() <= 1e-14 * g.abs().max())


def _octant(cov: Covariance, shape: tuple[int, ...]) -> Tensor:
    """c at the lags 0..s//2 along each axis (the rest of the torus of an axis-symmetric model)."""
    axes = [torch.arange(s // 2 + 1, dtype=torch.float64) for s in shape]
    return cov(torch.stack(torch.meshgrid(*axes, indexing="ij"), -1))


def _mirror(part: Tensor, shape: tuple[int, ...]) -> Tensor:
    """The whole torus from its octant: index s − i holds lag −i, i = 1..s − s//2 − 1."""
    for d, s in enumerate(shape):
        part = torch.cat([part, part.narrow(d, 1, s - s // 2 - 1).flip(d)], d)
    return part


def octant_eigenvalues(cov: Covariance, shape: tuple[int, ...]) -> Tensor:
    """The torus eigenvalues of an axis-symmetric 3-D model on a torus of even sides, on the octant
    0..s/2 of each axis (the others mirror them): the DFT of a covariance even in each axis is its
    DCT-I, λ_k = c_0 + (−1)^k c_{s/2} + 2 Σ_{0<j<s/2} c_j cos(2πjk/s) per axis — an eighth of the
    work and memory of the full real FFT."""
    from scipy.fft import dctn

    part = _octant(cov, shape).numpy()
    return torch.from_numpy(dctn(part, type=1, workers=torch.get_num_threads()))


def _torus_covariance3(cov: Covariance, shape: tuple[int, ...]) -> Tensor:
    out = torch.empty(shape, dtype=torch.float64)
    if _axis_symmetric(cov):  # even in each axis: an eighth, mirrored
        return out.copy_(_mirror(_octant(cov, shape), shape))
    lags = [torch.fft.fftfreq(s, 1 / s, dtype=torch.float64) for s in shape]
    rc = torch.stack(torch.meshgrid(lags[1], lags[2], indexing="ij"), -1)  # (M, N, 2)
    step = max(1, (1 << 22) // (shape[1] * shape[2]))
    for i in range(0, shape[0], step):
        layer = lags[0][i : i + step]
        lag = torch.cat(
            [layer[:, None, None, None].expand(-1, *rc.shape[:2], 1), rc.expand(len(layer), -1, -1, -1)], -1
        )
        out[i : i + step] = cov(lag)
    return out.add_(_negate(out, (0, 1, 2))).mul_(0.5)  # c(h) = c(−h) but at the ambiguous ±s/2 lags


def torus_eigenvalues(cov: Covariance, shape: tuple[int, ...]) -> Tensor:
    """The eigenvalues λ (M, N) or (L, M, N) of the torus covariance: its real DFT (real and even:
    one half-spectrum rfftn, the other half by λ[−k] = λ[k])."""
    n = shape[-1]
    half = torch.fft.rfftn(torus_covariance(cov, shape)).real  # (…, N//2 + 1): last index 0..N/2
    tail = half[..., 1 : n - n // 2]  # last index N−j for j = N/2+1..N−1, as λ[i, j] = λ[−i, N − j]
    tail = _negate(tail, tuple(range(len(shape) - 1))).flip(-1)
    return torch.cat([half, tail], -1)


@dataclass
class FFTEmbedding:
    """Circulant embedding of an H × W grid, or a D × H × W block, in a torus (see the module
    docstring)."""

    cov: Covariance
    shape: tuple[int, ...]
    max_nodes: int = MAX_TORUS
    tol: float = 1e-6  # the negative eigenvalue mass clipped rather than grow the torus
    torus: tuple[int, ...] = field(init=False)
    negative_mass: float = field(init=False, default=0.0)
    sqrt_lambda: Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sides = tuple(_fast_size(2 * s) for s in self.shape)
        symmetric = len(sides) == 3 and _axis_symmetric(self.cov)
        while True:
            octant = symmetric and all(s % 2 == 0 for s in sides)
            lam = octant_eigenvalues(self.cov, sides) if octant else torus_eigenvalues(self.cov, sides)
            if self.cov.nugget:
                lam = lam - self.cov.nugget  # the nugget is added as separate noise
            lo, hi = float(lam.min()), float(lam.max())
            if lo >= -1e-9 * hi:
                break
            if octant:  # each octant value stands for 1 (index 0 and s/2) or 2 torus nodes per axis
                count = math.prod(
                    torch.tensor([1.0] + [2.0] * (s // 2 - 1) + [1.0]).reshape(_along(i, 3))
                    for i, s in enumerate(sides)
                )
                mass = float((lam.clamp_max(0).abs() * count).sum() / (lam.abs() * count).sum())
            else:
                mass = float(lam.clamp_max(0).abs().sum() / lam.abs().sum())
            if mass <= self.tol:  # the clipped mass bounds the covariance error by mass · C(0)
                self.negative_mass = mass
                break
            grown = tuple(_fast_size(math.ceil(s * GROWTH)) for s in sides)
            if math.prod(grown) > self.max_nodes:
                self.negative_mass = mass
                break
            sides = grown
        self.torus = sides
        root = lam.clamp_min_(0).div_(math.prod(sides)).sqrt_().float()
        self.sqrt_lambda = _mirror(root, sides) if octant else root

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, mean: float = 0.0, device: Any = None
    ) -> Tensor:
        """(n, 1, H, W) or (n, 1, D, H, W) float32 fields; each complex FFT gives two."""
        dev = _device(generator, device)
        dims = tuple(range(-len(self.shape), 0))
        crop = (slice(None), *(slice(0, s) for s in self.shape))
        root = self.sqrt_lambda.to(dev)
        out = []
        pairs = (n + 1) // 2
        for size in _chunks(pairs, 16 * math.prod(self.torus)):
            if len(self.shape) == 3:  # (ε₁, ε₂) interleaved: the complex noise without a copy
                w = torch.view_as_complex(_randn((size, *self.torus, 2), generator, dev)).mul_(root)
            else:
                eps = _randn((size, 2, *self.torus), generator, dev).mul_(
                    root
                )  # = root · (ε₁ + iε₂), exactly
                w = torch.complex(eps[:, 0], eps[:, 1])
                del eps
            y = torch.fft.fftn(w, dim=dims)
            del w
            out.append(torch.stack([y.real[crop], y.imag[crop]], dim=1).reshape(2 * size, 1, *self.shape))
        x = torch.cat(out)[:n]
        return _finish(x, self.cov, mean, generator)

    def latent_shape(self) -> tuple[int, ...]:
        return (2, *self.torus)

    def decode(self, z: Tensor, mean: float = 0.0) -> Tensor:
        """x = G(z), linear in z: the real part of DFT(√(λ/MN) ⊙ (z₀ + iz₁)), cropped, plus the mean:
        z (B, 2, M, N) → (B, 1, H, W) (3-D: z (B, 2, L, M, N) → (B, 1, D, H, W); the nugget's
        noise, if any, is not part of G)."""
        dims = tuple(range(-len(self.shape), 0))
        crop = (slice(None), *(slice(0, s) for s in self.shape))
        root = self.sqrt_lambda.to(z.device)
        y = torch.fft.fftn(root * torch.complex(z[:, 0].float(), z[:, 1].float()), dim=dims).real[crop]
        return y[:, None] + mean


# --- spectral (Shinozuka) -----------------------------------------------------------------------
@dataclass
class Spectral:
    """The sum of K random cosines on a grid (see the module docstring)."""

    cov: Covariance
    shape: tuple[int, int]
    modes: int = 1000
    amplitudes: str = "uniform"  # "uniform": random phases; "gaussian": N(0, 1) amplitudes

    def __post_init__(self) -> None:
        if self.amplitudes not in ("uniform", "gaussian"):
            raise GenzooError(f"spectral: amplitudes must be uniform or gaussian, got {self.amplitudes!r}")
        if self.modes < 1:
            raise GenzooError(f"spectral: modes must be a positive integer, got {self.modes}")

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, mean: float = 0.0, device: Any = None
    ) -> Tensor:
        dev = _device(generator, device)
        if len(self.shape) == 3:
            x = torch.cat([self._block(generator, dev) for _ in range(n)])
            return _finish(x, self.cov, mean, generator)
        h, w = self.shape
        k = self.modes
        rows = torch.arange(h, device=dev, dtype=torch.float32)
        cols = torch.arange(w, device=dev, dtype=torch.float32)
        out = []
        for size in _chunks(n, 4 * 2 * k * (h + w) + 4 * h * w):
            omega = torch.stack(
                [self.cov.sample_frequencies(k, generator) for _ in range(size)]
            )  # (B, K, 2) float64 CPU
            omega = omega.to(dev)
            if self.amplitudes == "uniform":
                phase = (2 * math.pi) * torch.rand(size, 1, k, generator=generator, dtype=torch.float64).to(
                    dev
                )
                a = (rows.double()[None, :, None] * omega[:, None, :, 0] + phase).float()  # (B, H, K)
                scale = math.sqrt(2 * self.cov.sill / k)
                ca, sa = torch.cos(a), torch.sin(a)
            else:
                amp = _randn((size, 2, 1, k), generator, dev)
                a = (rows.double()[None, :, None] * omega[:, None, :, 0]).float()
                scale = math.sqrt(self.cov.sill / k)
                ca = amp[:, 0] * torch.cos(a) + amp[:, 1] * torch.sin(a)
                sa = amp[:, 0] * torch.sin(a) - amp[:, 1] * torch.cos(a)
            b = (cols.double()[None, :, None] * omega[:, None, :, 1]).float()  # (B, W, K)
            # Σₖ cos(aₖ + bₖ) = (cos a)(cos b)ᵀ − (sin a)(sin b)ᵀ; Gaussian amplitudes: the same
            # identity with A cos + B sin folded into the row factors
            x = torch.baddbmm(ca @ torch.cos(b).transpose(1, 2), sa, torch.sin(b).transpose(1, 2), alpha=-1)
            out.append(scale * x.unsqueeze(1))
        return _finish(torch.cat(out), self.cov, mean, generator)

    def _block(self, generator: torch.Generator | None, dev: torch.device) -> Tensor:
        """One (1, 1, D, H, W) realisation: x = scale · Re Σₖ bₖ e^{iωₖ·u} with bₖ = e^{2πiφₖ} (random
        phases) or Aₖ − iBₖ (Gaussian amplitudes); e^{iω·u} = e^{iω_l l} e^{iω_r r} e^{iω_c c}
        factorises, so the sum over K is a (slab of D·H, K) × (K, W) complex matrix product."""
        d, h, w = self.shape
        k = self.modes
        omega = self.cov.sample_frequencies(k, generator, dim=3)  # (K, 3) float64 CPU
        if self.amplitudes == "uniform":
            phase = 2 * math.pi * torch.rand(k, generator=generator, dtype=torch.float64)
            coef = torch.polar(torch.ones_like(phase), phase)
            scale = math.sqrt(2 * self.cov.sill / k)
        else:
            amp = torch.randn(2, k, generator=generator, dtype=torch.float64)
            coef = torch.complex(amp[0], -amp[1])
            scale = math.sqrt(self.cov.sill / k)

        def waves(size: int, axis: int) -> Tensor:  # e^{iω_axis·t} (size, K), complex64
            t = torch.arange(size, dtype=torch.float64)[:, None] * omega[:, axis]
            return torch.polar(torch.ones_like(t), t).to(dev, torch.complex64)

        lay, row, col = waves(d, 0) * coef.to(dev, torch.complex64), waves(h, 1), waves(w, 2).T
        out = torch.empty(1, 1, d, h, w, device=dev)
        slab = max(1, (1 << 24) // max(1, h * k))  # layers per product: about 128 MB of complex64
        for i in range(0, d, slab):
            part = (lay[i : i + slab, None, :] * row[None]).reshape(-1, k)  # (layers·H, K)
            out[0, 0, i : i + slab] = (part @ col).real.reshape(-1, h, w) * scale
        return out


# --- SPDE / Chebyshev ---------------------------------------------------------------------------
def chebyshev_coefficients(f: Any, b: float, tol: float, max_degree: int = 10_000) -> np.ndarray:
    """Coefficients c_0..c_K of p_K(s) = Σ c_j T_j(2s/b − 1) interpolating f on [0, b] at Chebyshev
    points, K the smallest degree with Σ_{j>K} |c_j| ≤ tol·max|f| (c_0 carries the ½)."""
    n = 64
    while True:
        theta = np.pi * (np.arange(n) + 0.5) / n
        vals = f(b * (np.cos(theta) + 1) / 2)
        c = 2 / n * np.cos(np.outer(np.arange(n), theta)) @ vals
        c[0] /= 2
        scale = np.abs(vals).max()
        tail = np.cumsum(np.abs(c)[::-1])[::-1]  # tail[j] = Σ_{i≥j} |c_i|
        ok = np.nonzero(tail <= tol * scale)[0]
        if len(ok) and ok[0] < n // 2:  # converged well inside the interpolation degree
            return c[: max(1, ok[0])]
        if n > max_degree:
            raise GenzooError(
                f"spde: no Chebyshev degree below {max_degree:,} meets the tolerance {tol:g}; raise tol"
            )
        n *= 2


def _along(i: int, dim: int) -> list[int]:
    """The view shape of a vector along axis i of a dim-D array."""
    return [-1 if j == i else 1 for j in range(dim)]


@dataclass
class SPDE:
    """The Matérn field by a Chebyshev polynomial of the SPDE's stencil (see the module docstring);
    on a 2-D grid or a 3-D block (α = ν + 3/2, the 7-point Laplacian plus the cross terms of a
    rotated anisotropy: a 3 × 3 × 3 stencil).

    `solver`: "chebyshev" applies p_K(S) by K stencil passes; "fft" applies f(S) exactly through
    the torus DFT that diagonalises the periodic stencil (Rue & Held 2005, §2.6: circulant GMRFs),
    x = DFT⁻¹(f(λ) ⊙ DFT(w)) — the same lattice field without the polynomial's error, at the cost
    of two FFTs instead of K memory passes; "auto" is chebyshev on a 2-D grid and fft on a 3-D
    block, where the K ≈ 200 passes over a padded cube dominate."""

    cov: Covariance
    shape: tuple[int, ...]
    tol: float = 1e-5
    pad: int | None = None  # cells of torus around the grid; default ⌈4·range⌉ (≥ 4) per side
    solver: str = "auto"
    degree: int = field(init=False)
    coefficients: Tensor = field(init=False, repr=False)
    torus: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.cov, Matern) and self.cov.name != "exponential":
            raise GenzooError(
                f"spde simulates the matern family (exponential = matern with nu=0.5); got {self.cov.name}"
            )
        if not 0 < self.tol < 1:
            raise GenzooError(f"spde: tol must be in (0, 1), got {self.tol:g}")
        if self.solver not in ("auto", "chebyshev", "fft"):
            raise GenzooError(f"spde: solver must be auto, chebyshev or fft, got {self.solver!r}")
        dim = len(self.shape)
        if self.solver == "auto":
            self.solver = "chebyshev" if dim == 2 else "fft"
        self.nu = float(getattr(self.cov, "nu", 0.5))
        self.alpha = self.nu + dim / 2  # ν + d/2
        m = self.cov.matrix(dim)
        g = torch.linalg.inv(m) @ torch.linalg.inv(m).T  # G = M⁻¹M⁻ᵀ, (row, col) or (layer, row, col) order
        self.g = g
        # the stencil's terms: G_ii along each axis, and G_ij for each pair of axes (i < j)
        self.axes = [(float(g[i, i]), i - dim) for i in range(dim)]
        self.pairs = [(float(g[i, j]), i - dim, j - dim) for i in range(dim) for j in range(i + 1, dim)]
        diag = sum(c for c, _ in self.axes)
        self.bound = 4 * diag + 2 * sum(abs(c) for c, _, _ in self.pairs)  # Gershgorin: max row sum of |S|
        a = self.alpha / 2
        c = chebyshev_coefficients(lambda s: (1 + s) ** (-a), self.bound, self.tol)
        self.coefficients = torch.from_numpy(c)
        self.degree = len(c) - 1
        reach = self.cov.range * max(1.0, self.cov.ratio, self.cov.ratio3)
        pad = self.pad if self.pad is not None else max(4, math.ceil(4 * reach))
        self.torus = tuple(_fast_size(s + pad) for s in self.shape)
        # the lattice field's variance: (1/MN) Σ f(λ)² over the stencil's eigenvalues on the torus
        lam = self.symbol(self.torus)
        self.lattice_variance = float(((1 + lam) ** (-self.alpha)).mean())

    def symbol(self, torus: tuple[int, ...], half: bool = False) -> Tensor:
        """Eigenvalues of S on the torus: Σᵢ G_ii·4sin²(ωᵢ/2) + Σ_{i<j} 2G_ij·sin ωᵢ sin ωⱼ (with
        `half`, on the last axis' non-negative frequencies only: the grid of rfftn)."""
        dim = len(torus)
        w = [
            2
            * math.pi
            * (torch.fft.rfftfreq if half and i == dim - 1 else torch.fft.fftfreq)(
                t, dtype=torch.float64
            ).reshape(_along(i, dim))
            for i, t in enumerate(torus)
        ]
        out = 0
        for coef, axis in self.axes:
            out = out + coef * 4 * torch.sin(w[axis] / 2) ** 2
        for coef, a, b in self.pairs:
            out = out + 2 * coef * torch.sin(w[a]) * torch.sin(w[b])
        return out

    def apply_stencil(
        self, x: Tensor, out: Tensor | None = None, *, diag: float | None = None, scale: float = 1.0
    ) -> Tensor:
        """S x on the torus for x (..., M, N) or (..., L, M, N), in place into `out` (allocated if
        None) without temporaries: out = scale·(d·x − Σᵢ Gᵢᵢ(x₊ᵢ + x₋ᵢ) − Σ_{i<j} (Gᵢⱼ/2)·crossᵢⱼ),
        where the diagonal d is 2 Σᵢ Gᵢᵢ unless given (S̃ = (2/b)S − I uses scale 2/b and d − b/2)
        and crossᵢⱼ = x₊₊ − x₊₋ − x₋₊ + x₋₋ (the four diagonal neighbours in the plane of i and j)."""
        d = 2 * sum(c for c, _ in self.axes) if diag is None else diag
        out = torch.mul(x, d * scale, out=out) if out is not None else x * (d * scale)
        for coef, dim in self.axes:
            coef = coef * scale
            n = x.shape[dim]
            out.narrow(dim, 1, n - 1).sub_(x.narrow(dim, 0, n - 1), alpha=coef)  # neighbour before
            out.narrow(dim, 0, 1).sub_(x.narrow(dim, n - 1, 1), alpha=coef)
            out.narrow(dim, 0, n - 1).sub_(x.narrow(dim, 1, n - 1), alpha=coef)  # neighbour after
            out.narrow(dim, n - 1, 1).sub_(x.narrow(dim, 0, 1), alpha=coef)
        for coef, a, b in self.pairs:
            if not coef:
                continue
            up, down = torch.roll(x, 1, a), torch.roll(x, -1, a)
            cross = torch.roll(down, -1, b) - torch.roll(down, 1, b)
            cross = cross - torch.roll(up, -1, b) + torch.roll(up, 1, b)
            out.sub_(cross, alpha=coef / 2 * scale)
        return out

    def apply(self, w: Tensor, degree: int | None = None) -> Tensor:
        """p_K(S) w for w (..., M, N) on the torus by the three-term recurrence (K = `degree` or the
        chosen one): Σ c_j T_j(S̃) w, with T_{j+1} = 2S̃T_j − T_{j−1} written over T_{j−1}'s buffer;
        four work arrays of w's size."""
        c = self.coefficients.tolist()
        if degree is not None:
            c = c[: degree + 1]
        s = 2 / self.bound
        diag = 2 * sum(coef for coef, _ in self.axes) - self.bound / 2  # S̃ = s·(S − (b/2)I)
        y = w * c[0]
        if len(c) == 1:
            return y
        prev, cur = w.clone(), self.apply_stencil(w, diag=diag, scale=s)
        y.add_(cur, alpha=c[1])
        buf = torch.empty_like(w)
        for cj in c[2:]:
            self.apply_stencil(cur, buf, diag=diag, scale=s)
            prev.mul_(-1).add_(buf, alpha=2)  # T_{j+1} = 2S̃T_j − T_{j−1}, over T_{j−1}
            y.add_(prev, alpha=cj)
            prev, cur = cur, prev
        return y

    def _crop(self, x: Tensor) -> Tensor:
        return x[(..., *(slice(0, s) for s in self.shape))]

    def _filter(self, w: Tensor) -> Tensor:
        """f(S) w exactly, by the real DFT of the torus (the stencil's symbol is real and even)."""
        dims = tuple(range(-len(self.shape), 0))
        if getattr(self, "_gain", None) is None:
            self._gain = ((1 + self.symbol(self.torus, half=True)) ** (-self.alpha / 2)).float()
        gain = self._gain.to(w.device)
        return torch.fft.irfftn(torch.fft.rfftn(w, dim=dims).mul_(gain), s=self.torus, dim=dims)

    def _solve(self, w: Tensor) -> Tensor:
        return self._filter(w) if self.solver == "fft" else self.apply(w)

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, mean: float = 0.0, device: Any = None
    ) -> Tensor:
        dev = _device(generator, device)
        nodes = math.prod(self.torus)
        scale = math.sqrt(self.cov.sill / self.lattice_variance)
        out = []
        for size in _chunks(n, 16 * nodes * (_CHUNK_BYTES // _CACHE_BYTES)):
            z = _randn((size, 1, *self.torus), generator, dev)
            out.append(scale * self._crop(self._solve(z)))
        return _finish(torch.cat(out), self.cov, mean, generator)

    def latent_shape(self) -> tuple[int, ...]:
        return (1, *self.torus)

    def decode(self, z: Tensor, mean: float = 0.0) -> Tensor:
        """x = G(z), linear in z: the Chebyshev polynomial applied to white noise on the torus,
        scaled to the sill and cropped, plus the mean: z (B, 1, M, N) → (B, 1, H, W), or
        z (B, 1, L, M, N) → (B, 1, D, H, W)."""
        scale = math.sqrt(self.cov.sill / self.lattice_variance)
        return scale * self._crop(self._solve(z.float())) + mean


# --- the front door ----------------------------------------------------------------------------
def simulator(method: str, cov: Covariance, shape: Any, **options: Any) -> Any:
    """A reusable simulator for `method` on a grid of `shape`; its set-up (a factor, FFT
    eigenvalues, Chebyshev coefficients) is done once and `sample(n, generator=)` repeats."""
    sides = grid_shape(shape)
    if not isinstance(cov, Covariance):
        raise GenzooError(
            f"cov must be a covariance model such as genzoo.geostat.Matern(range=10), got {cov!r}"
        )
    build = SIMULATORS.get(str(method).lower())
    if build is None:
        raise GenzooError(f"unknown simulation method {method!r} (valid: {', '.join(METHODS)})")
    if len(sides) == 2 and cov.three_d:
        cov.matrix(2)  # its one-line refusal: dip, roll and ratio3 need a 3-D block
    return build(cov, sides, **options)


@dataclass
class _GridCholesky:
    chol: Cholesky
    shape: tuple[int, ...]

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, mean: float = 0.0, device: Any = None
    ) -> Tensor:
        return self.chol.sample(n, generator=generator, mean=mean, device=device).reshape(n, 1, *self.shape)

    def log_prob(self, x: Tensor, mean: float = 0.0) -> Tensor:
        return self.chol.log_prob(x.reshape(len(x), -1), mean)

    def latent_shape(self) -> tuple[int, ...]:
        return (math.prod(self.shape),)

    def decode(self, z: Tensor, mean: float = 0.0) -> Tensor:
        """x = μ + Lz in float64, back in z's dtype: z (B, H·W) → (B, 1, H, W) (or (B, 1, D, H, W))."""
        f = self.chol.factor.to(z.device, torch.float64)
        return (z.double() @ f.T + mean).to(z.dtype).reshape(len(z), 1, *self.shape)


# method name -> (covariance, (H, W) or (D, H, W), **options) -> simulator
SIMULATORS: dict[str, Callable[..., Any]] = {
    "cholesky": lambda cov, shape, **options: _GridCholesky(
        Cholesky(cov, grid_points(shape), **options), shape
    ),
    "spectral": lambda cov, shape, **options: Spectral(cov, shape, **options),
    "fft": lambda cov, shape, **options: FFTEmbedding(cov, shape, **options),
    "spde": lambda cov, shape, **options: SPDE(cov, shape, **options),
}
METHODS = tuple(SIMULATORS)


def simulate(
    method: str,
    cov: Covariance,
    shape: Any,
    n: int = 1,
    *,
    seed: int | None = 0,
    points: Any = None,
    mean: float = 0.0,
    generator: torch.Generator | None = None,
    device: Any = None,
    kriging: str = "simple",
    neighbours: int | None = None,
    drift: Any = None,
    **options: Any,
) -> Tensor:
    """n realisations (n, 1, H, W) — or blocks (n, 1, D, H, W) for a shape D H W — float32 of a
    Gaussian field with covariance `cov` and mean `mean` by `method` (cholesky, spectral, fft, spde),
    drawn from `seed` (or `generator`).

    `points` — conditioning data (rows, cols, values), an (m, 3) array or a CSV path (in a block
    (layers, rows, cols, values), (m, 4) or a CSV with a layer column) — makes
    every realisation honour them exactly: the unconditional field plus the kriged residuals
    (see `genzoo.geostat.kriging`; `kriging` simple or ordinary, or universal with `drift` —
    "linear", "quadratic" or external drift fields — `neighbours` for a
    moving neighbourhood). Other keywords go to the simulator (modes=, amplitudes=, tol=, ...)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise GenzooError(f"n must be a positive integer, got {n!r}")
    if kriging not in ("simple", "ordinary", "universal"):
        raise GenzooError(f"kriging must be simple, ordinary or universal, got {kriging!r}")
    if (kriging == "universal") != (drift is not None):
        raise GenzooError(
            "kriging='universal' goes with drift= ('linear', 'quadratic' or external drift fields), and "
            "drift= with kriging='universal'"
        )
    if generator is None:
        generator = torch.Generator(device=device or "cpu").manual_seed(0 if seed is None else int(seed))
    sim = simulator(method, cov, shape, **options)
    x = sim.sample(int(n), generator=generator, mean=mean, device=device)
    if points is None:
        return x
    from genzoo.geostat.kriging import condition

    return condition(
        x, points, cov, mean=mean if kriging == "simple" else None, neighbours=neighbours, drift=drift
    )
