"""Geostatistics to double precision, against independent float64 references: a nugget that
float32 cannot represent (1000/3) in C(0), in the Cholesky log-density (scipy's logpdf of a
covariance matrix built in numpy) and in kriging (a direct numpy solve); the bivariate normal
probability P(Y₁ < t, Y₂ < t) up to |ρ| = 1 − 1e-6 against scipy's bivariate CDF and a
40-digit mpmath quadrature of Sheppard's integral; the indicator-covariance inversion near ρ = 1."""

from __future__ import annotations

import math
from functools import cache

import mpmath
import numpy as np
import pytest
import scipy.stats
import torch

import genzoo
from genzoo.data.base import DataInfo
from genzoo.errors import GenzooError
from genzoo.geostat import covariance as C
from genzoo.geostat.facies import bivariate_below, gaussian_correlation_of_indicator
from genzoo.geostat.kriging import krige
from genzoo.geostat.simulators import Cholesky

SILL, NUGGET, RANGE = 2 / 3, 1000 / 3, 3.0  # neither is a float32 number
COV = C.Exponential(range=RANGE, sill=SILL, nugget=NUGGET)


def numpy_covariance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C(a_i − b_j) of COV written out in numpy float64: sill·exp(−d/a) + nugget·1[d = 0]."""
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    return SILL * np.exp(-d / RANGE) + NUGGET * (d == 0)


# --- the nugget in float64 ----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(C.MODELS))
def test_c0_is_sill_plus_nugget_in_float64(name: str) -> None:
    cov = C.make(name, range=RANGE, sill=SILL, nugget=NUGGET)
    c0 = cov(torch.zeros(2, dtype=torch.float64))
    assert c0.dtype == torch.float64
    assert abs(float(c0) - (SILL + NUGGET)) <= 1e-12 * (SILL + NUGGET)
    assert float(cov.variogram(torch.zeros(2, dtype=torch.float64))) == 0.0
    diag = torch.diagonal(C.covariance_matrix(cov, C.grid_points((3, 3))))
    assert torch.allclose(diag, torch.full_like(diag, SILL + NUGGET), rtol=1e-12, atol=0)


def test_cholesky_log_density_matches_scipy_to_1e_10() -> None:
    pts = C.grid_points((4, 5))
    sigma = numpy_covariance(pts.numpy(), pts.numpy())
    x = np.random.default_rng(0).multivariate_normal(np.zeros(len(sigma)), sigma, size=4)
    want = scipy.stats.multivariate_normal(mean=np.full(len(sigma), 0.25), cov=sigma).logpdf(x)
    got = Cholesky(COV, pts).log_prob(torch.from_numpy(x), mean=0.25)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=0)
    # the model's likelihood is that density too, kept in float64
    model = genzoo.models.create("cholesky", DataInfo("grf", "field", (1, 4, 5), (-math.inf, math.inf)))
    model.set_covariance(COV, mean=0.25)
    lp = model.log_prob(torch.from_numpy(x).reshape(4, 1, 4, 5))
    assert lp.dtype == torch.float64
    np.testing.assert_allclose(lp.numpy(), want, rtol=1e-10, atol=0)


@pytest.mark.parametrize("mean", [0.4, None], ids=["simple", "ordinary"])
def test_kriging_with_a_large_nugget_matches_a_numpy_solve(mean: float | None) -> None:
    shape = (9, 8)
    coords = np.array([[1.0, 2.0], [5.0, 7.0], [8.0, 1.0], [3.0, 5.0]])
    values = np.array([1.0, -2.0, 0.5, 3.0])
    grid = C.grid_points(shape).numpy()
    k, k0 = numpy_covariance(coords, coords), numpy_covariance(grid, coords)  # (m, m), (N, m)
    m = len(coords)
    if mean is not None:
        w = np.linalg.solve(k, k0.T)  # (m, N)
        want, want_var = mean + w.T @ (values - mean), SILL + NUGGET - (k0 * w.T).sum(1)
    else:
        a = np.block([[k, np.ones((m, 1))], [np.ones((1, m)), np.zeros((1, 1))]])
        rhs = np.vstack([k0.T, np.ones((1, len(grid)))])
        sol = np.linalg.solve(a, rhs)
        want, want_var = sol[:m].T @ values, SILL + NUGGET - (sol * rhs).sum(0)
    est, var = krige(torch.from_numpy(coords), torch.from_numpy(values), COV, shape, mean=mean, variance=True)
    np.testing.assert_allclose(est.reshape(-1).numpy(), want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(var.reshape(-1).numpy(), want_var, rtol=1e-12, atol=1e-12)
    at = var[coords[:, 0].astype(int), coords[:, 1].astype(int)]
    assert float(at.abs().max()) < 1e-12  # kriging interpolates: no variance left at the data


# --- the bivariate normal probability ---------------------------------------------------------
RHOS = [
    -0.999999,
    -0.99999,
    -0.9999,
    -0.999,
    -0.99,
    -0.9,
    -0.5,
    0.0,
    0.5,
    0.9,
    0.99,
    0.999,
    0.9999,
    0.99999,
    0.999999,
]
TS = [-2.0, -0.5, 0.0, 0.3, 1.5]


@cache
def sheppard_mpmath(t: float, rho: float) -> float:
    """Φ(t)² + (1/2π) ∫₀^ρ exp(−t²/(1 + r))/√(1 − r²) dr at 40 digits, in r = sin θ (which
    removes the end-point singularity): ∫₀^{asin ρ} exp(−t²/(1 + sin θ)) dθ."""
    with mpmath.workdps(40):
        t_, rho_ = mpmath.mpf(t), mpmath.mpf(rho)
        integral = mpmath.quad(lambda th: mpmath.exp(-(t_**2) / (1 + mpmath.sin(th))), [0, mpmath.asin(rho_)])
        return float(mpmath.ncdf(t_) ** 2 + integral / (2 * mpmath.pi))


def scipy_bivariate(t: float, rho: float) -> float:
    """scipy's bivariate normal CDF (Genz's BVNU in 2-D: deterministic; the tolerances bind only
    its quasi-Monte Carlo path for three or more dimensions)."""
    cov = [[1.0, rho], [rho, 1.0]]
    return float(
        scipy.stats.multivariate_normal.cdf([t, t], mean=[0.0, 0.0], cov=cov, abseps=1e-14, releps=1e-14)
    )


@pytest.mark.parametrize("rho", RHOS)
def test_bivariate_below_against_scipy_and_mpmath(rho: float) -> None:
    for t in TS:
        got = bivariate_below(t, torch.tensor(rho, dtype=torch.float64))
        exact = sheppard_mpmath(t, rho)
        assert abs(scipy_bivariate(t, rho) - exact) < 1e-13, (t, rho)  # the two references agree
        assert got.dtype == torch.float64 and abs(float(got) - exact) < 1e-12, (t, rho, float(got) - exact)


def test_bivariate_below_is_vectorised_and_exact_at_plus_minus_one() -> None:
    rho = torch.tensor([[-1.0, -0.3, 0.0], [0.7, 0.9999999, 1.0]], dtype=torch.float64)
    for t in TS:
        got = bivariate_below(t, rho)
        assert got.shape == rho.shape and got.dtype == torch.float64
        phi = float(scipy.stats.norm.cdf(t))
        assert float(got[1, 2]) == pytest.approx(phi, abs=1e-16)  # Y₂ = Y₁: P = Φ(t)
        assert float(got[0, 0]) == pytest.approx(max(0.0, 2 * phi - 1), abs=1e-16)  # Y₂ = −Y₁: P(|Y₁| < t)
        inner = got.reshape(-1)[[1, 2, 3, 4]]
        want = [sheppard_mpmath(t, r) for r in (-0.3, 0.0, 0.7, 0.9999999)]
        assert float((inner - torch.tensor(want, dtype=torch.float64)).abs().max()) < 1e-12
    with pytest.raises(GenzooError, match=r"correlation must lie in \[-1, 1\]"):
        bivariate_below(0.0, torch.tensor([0.5, 1.5], dtype=torch.float64))


@pytest.mark.parametrize("rho", [0.3, 0.9, 0.9999, 0.99999])
@pytest.mark.parametrize("t", [0.0, 0.5244005127080407, -1.0])  # p₀ = 0.5, 0.7, 0.159
def test_indicator_covariance_inverts_to_the_latent_correlation(t: float, rho: float) -> None:
    """The exact indicator covariance P(Y₁ < t, Y₂ < t) − Φ(t)² (by mpmath) maps back to ρ."""
    phi = float(mpmath.ncdf(t))
    cov = torch.tensor(sheppard_mpmath(t, rho) - phi**2, dtype=torch.float64)
    got = float(gaussian_correlation_of_indicator(t, cov))
    assert abs(got - rho) <= 1e-6 * rho, (t, rho, got)
    assert abs((1 - got) - (1 - rho)) <= 1e-8 * (1 - rho), (
        t,
        rho,
        got,
    )  # and 1 − ρ, which the short lags fit
