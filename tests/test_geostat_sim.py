"""The classical simulators, kriging and conditional simulation, against exact references:
the model's variogram within 3 standard errors at every lag, z-tests of the marginal moments,
dense solves for kriging and for the SPDE's Chebyshev polynomial, the exact conditional
covariance of a Gaussian field."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genzoo.errors import GenzooError
from genzoo.geostat import covariance as C
from genzoo.geostat.facies import plurigaussian, thresholds, truncate
from genzoo.geostat.kriging import condition, krige
from genzoo.geostat.simulators import (
    SPDE,
    Cholesky,
    FFTEmbedding,
    chebyshev_coefficients,
    simulate,
    simulator,
)

N = 200  # realisations for the variogram checks


def per_field_variogram(x: torch.Tensor, lags: range, axis: int) -> torch.Tensor:
    """γ̂_i(k) of each realisation (n, L) along `axis` (-2 rows, -1 columns), a brute-force mean of ½Δ²."""
    x = x.double()[:, 0]
    out = []
    for k in lags:
        d = x.narrow(axis, k, x.shape[axis] - k) - x.narrow(axis, 0, x.shape[axis] - k)
        out.append(0.5 * (d**2).flatten(1).mean(1))
    return torch.stack(out, 1)


def assert_variogram(x: torch.Tensor, model_gamma, lags: range, what: str) -> None:
    """The mean over realisations within 3 SE of the model at every lag, along both axes."""
    for axis, step in ((-2, (1.0, 0.0)), (-1, (0.0, 1.0))):
        g = per_field_variogram(x, lags, axis)
        mean, se = g.mean(0), g.std(0) / math.sqrt(len(g))
        want = torch.stack(
            [model_gamma(torch.tensor([k * step[0], k * step[1]], dtype=torch.float64)) for k in lags]
        )
        z = (mean - want) / se
        assert bool((z.abs() < 3).all()), f"{what} axis {axis}: z = {[round(v, 2) for v in z.tolist()]}"


def assert_moments(x: torch.Tensor, mean: float, var: float, what: str) -> None:
    """z-tests on the mean and variance of one node per realisation (independent draws)."""
    v = x[:, 0, x.shape[2] // 2, x.shape[3] // 2].double()
    n = len(v)
    assert abs(float(v.mean()) - mean) < 3.5 * math.sqrt(var / n), f"{what}: mean {float(v.mean()):.4f}"
    # Var of the sample variance of a Gaussian: 2σ⁴/(n − 1)
    assert abs(float(v.var()) - var) < 3.5 * math.sqrt(2 * var**2 / (n - 1)), (
        f"{what}: variance {float(v.var()):.4f}"
    )


COVS = [
    C.Matern(range=3.0, nu=1.0),
    C.Exponential(range=4.0, sill=2.0),
    C.Gaussian(range=4.0),
    C.Spherical(range=9.0),
    C.Cubic(range=8.0),
    C.Matern(range=3.0, nu=1.5, angle=30.0, ratio=0.5),
]


@pytest.mark.parametrize("method", ["cholesky", "fft", "spectral"])
@pytest.mark.parametrize("cov", COVS, ids=lambda c: c.describe())
def test_variogram_within_three_standard_errors(method: str, cov: C.Covariance) -> None:
    shape = (24, 24) if method == "cholesky" else (40, 40)
    x = simulate(method, cov, shape, N, seed=3, mean=1.5)
    assert x.shape == (N, 1, *shape) and x.dtype == torch.float32
    assert_variogram(x, cov.variogram, range(1, 11), f"{method} {cov.describe()}")
    assert_moments(x, 1.5, cov.variance, f"{method} {cov.describe()}")


def lattice_variogram(sim: SPDE):
    """γ(h) of the lattice Matérn that spde simulates: the covariance from the stencil's symbol on
    the same torus, (1/MN) Σ f(λ)² e^{iω·h}, scaled to the sill."""
    spec = (1 + sim.symbol(sim.torus)) ** (-sim.alpha)
    c = torch.fft.ifft2(spec).real
    c = c / c[0, 0] * sim.cov.sill

    def gamma(lag: torch.Tensor) -> torch.Tensor:
        return sim.cov.sill - c[int(lag[0]) % c.shape[0], int(lag[1]) % c.shape[1]]

    return gamma


@pytest.mark.parametrize(
    "cov",
    [C.Matern(range=3.0, nu=1.0), C.Exponential(range=3.0), C.Matern(range=3.0, nu=1.5, angle=30, ratio=0.5)],
    ids=lambda c: c.describe(),
)
def test_spde_simulates_the_lattice_matern(cov: C.Covariance) -> None:
    sim = simulator("spde", cov, (40, 40))
    x = sim.sample(N, generator=torch.Generator().manual_seed(5))
    assert_variogram(x, lattice_variogram(sim), range(1, 11), f"spde {cov.describe()}")
    assert_moments(x, 0.0, cov.sill, f"spde {cov.describe()}")


def test_lattice_matern_approaches_the_model_as_the_range_grows() -> None:
    """The stencil's discretisation error: the lattice variogram's worst relative error over lags
    1..3 ranges falls as the range grows in cells (ν = 1.5)."""
    errs = []
    for a in (2.0, 4.0, 8.0):
        cov = C.Matern(range=a, nu=1.5)
        sim = SPDE(cov, (8, 8), pad=int(24 * a))
        gam = lattice_variogram(sim)
        lags = [torch.tensor([k, 0.0]) for k in range(1, int(3 * a) + 1)]
        errs.append(max(abs(float(gam(h)) / float(cov.variogram(h)) - 1) for h in lags))
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.1, errs


def test_chebyshev_error_falls_with_degree_against_a_dense_solve() -> None:
    """‖p_K(S)w − f(S)w‖ with f(S) from the eigendecomposition of the dense stencil matrix on a
    small torus falls with K and meets the tolerance at the chosen degree."""
    cov = C.Matern(range=2.0, nu=1.0, angle=20.0, ratio=0.6)
    sim = SPDE(cov, (6, 6), pad=4, tol=1e-8)
    m, n = sim.torus
    eye = torch.eye(m * n, dtype=torch.float64).reshape(m * n, m, n)
    dense = sim.apply_stencil(eye).reshape(m * n, m * n).T  # column j = S e_j
    assert torch.allclose(dense, dense.T, atol=1e-12)
    evals, evecs = torch.linalg.eigh(dense)
    assert float(evals.min()) > -1e-10 and float(evals.max()) <= sim.bound + 1e-10  # Gershgorin
    w = torch.randn(m * n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = evecs @ ((1 + evals) ** (-sim.alpha / 2) * (evecs.T @ w))
    errors = [
        float((sim.apply(w.reshape(1, m, n), degree=k).reshape(-1) - exact).norm() / exact.norm())
        for k in (2, 5, 10, 20, sim.degree)
    ]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-7


def test_chebyshev_coefficients_meet_the_tolerance() -> None:
    f = lambda s: (1 + s) ** -1.0  # noqa: E731
    for tol in (1e-3, 1e-6):
        c = chebyshev_coefficients(f, 50.0, tol)
        s = np.linspace(0, 50, 2001)
        p = np.polynomial.chebyshev.chebval(2 * s / 50 - 1, c)
        assert np.abs(p - f(s)).max() <= tol


def test_fft_and_spectral_variance_converges_to_the_sill() -> None:
    cov = C.Matern(range=2.0, nu=1.0, sill=2.5)
    fft = simulate("fft", cov, (64, 64), 400, seed=1)
    assert abs(float(fft.var()) / 2.5 - 1) < 0.02
    for k in (
        10,
        100,
        1000,
    ):  # the variance of one node is the sill for any K; the field's too as realisations add up
        x = simulate("spectral", cov, (32, 32), 400, seed=1, modes=k)
        assert abs(float(x.var()) / 2.5 - 1) < 0.05, k


def test_fft_embedding_grows_until_nonnegative_and_reports_the_cap() -> None:
    exact = FFTEmbedding(C.Gaussian(range=12.0), (32, 32), tol=0.0)
    assert exact.torus[0] > 96 and exact.negative_mass == 0.0  # a smooth model needs a larger torus
    # by default the torus stops growing once the clipped negative mass is at most 1e-6, a bound on
    # the error of every covariance value relative to C(0): here 5e-8 on a torus 4/9 the size
    smooth = FFTEmbedding(C.Gaussian(range=12.0), (32, 32))
    assert smooth.torus[0] < exact.torus[0] and 0 < smooth.negative_mass <= 1e-6
    lam = smooth.sqrt_lambda.double() ** 2 * smooth.torus[0] * smooth.torus[1]
    c = torch.fft.ifft2(lam).real
    want = C.Gaussian(range=12.0)(C.lag_grid(smooth.torus))
    assert float((c - want).abs().max()) <= smooth.negative_mass * 1.0 + 1e-7  # float32 √λ rounding
    capped = FFTEmbedding(C.Gaussian(range=12.0), (32, 32), max_nodes=64 * 64)
    assert capped.torus == (64, 64) and capped.negative_mass > 1e-6


def test_fft_matches_the_dense_covariance_exactly() -> None:
    """The embedding's implied covariance on the grid (the torus covariance of the cropped nodes,
    reconstructed from √λ) equals the model's covariance matrix."""
    cov = C.Matern(range=2.5, nu=0.8, angle=40, ratio=0.5)
    emb = FFTEmbedding(cov, (6, 7))
    lam = emb.sqrt_lambda.double() ** 2 * emb.torus[0] * emb.torus[1]
    c = torch.fft.ifft2(lam).real  # the torus covariance c(Δ)
    pts = C.grid_points((6, 7)).long()
    d = pts[:, None, :] - pts[None, :, :]
    implied = c[d[..., 0] % emb.torus[0], d[..., 1] % emb.torus[1]]
    assert torch.allclose(implied, C.covariance_matrix(cov, pts.double()), atol=1e-5)


def test_cholesky_refuses_large_grids_and_gives_exact_log_density() -> None:
    with pytest.raises(
        GenzooError, match="cholesky: 10,000 points is above its limit of 6,000.*use fft or spde"
    ):
        simulator("cholesky", C.Exponential(range=2.0), (100, 100))
    cov = C.Exponential(range=2.0, nugget=0.1)
    pts = C.grid_points((3, 4))
    chol = Cholesky(cov, pts)
    x = torch.randn(5, 12, dtype=torch.float64)
    sigma = C.covariance_matrix(cov, pts)
    want = torch.distributions.MultivariateNormal(torch.zeros(12, dtype=torch.float64), sigma).log_prob(x)
    assert torch.allclose(chol.log_prob(x), want, atol=1e-10)


def test_seeded_simulation_repeats_exactly() -> None:
    cov = C.Matern(range=3.0, nu=1.5)
    for method in ("cholesky", "fft", "spectral", "spde"):
        a = simulate(method, cov, (16, 20), 3, seed=7)
        b = simulate(method, cov, (16, 20), 3, seed=7)
        c = simulate(method, cov, (16, 20), 3, seed=8)
        assert torch.equal(a, b) and not torch.equal(a, c), method


# --- kriging and conditional simulation -----------------------------------------------------------
def _points(shape=(12, 10)):
    rows = torch.tensor([1, 5, 9, 3, 11, 6])
    cols = torch.tensor([2, 7, 1, 8, 9, 4])
    values = torch.tensor([0.5, -1.0, 1.2, 0.3, -0.4, 2.0], dtype=torch.float64)
    return rows, cols, values


@pytest.mark.parametrize("mean", [0.7, None], ids=["simple", "ordinary"])
def test_kriging_against_a_dense_solve(mean) -> None:
    cov = C.Spherical(range=6.0, nugget=0.05)
    rows, cols, values = _points()
    coords = torch.stack([rows, cols], 1).double()
    grid = C.grid_points((12, 10))
    k = C.covariance_matrix(cov, coords)
    k0 = C.covariance_matrix(cov, grid, coords)  # (N, m)
    if mean is not None:
        lam = torch.linalg.solve(k, k0.T)  # (m, N)
        want = mean + lam.T @ (values - mean)
        want_var = cov.variance - (k0 * lam.T).sum(1)
    else:
        m = len(values)
        a = torch.zeros(m + 1, m + 1, dtype=torch.float64)
        a[:m, :m], a[:m, m], a[m, :m] = k, 1, 1
        rhs = torch.cat([k0.T, torch.ones(1, len(grid), dtype=torch.float64)])
        sol = torch.linalg.solve(a, rhs)
        want = sol[:m].T @ values
        want_var = cov.variance - (sol * rhs).sum(0)
        assert torch.allclose(sol[:m].sum(0), torch.ones(len(grid), dtype=torch.float64))
    est, var = krige(coords, values, cov, (12, 10), mean=mean, variance=True)
    assert torch.allclose(est.reshape(-1), want, atol=1e-10)
    assert torch.allclose(var.reshape(-1), want_var, atol=1e-10)
    # the moving neighbourhood with all the data is the global one; with fewer, still exact at the data
    est_all = krige(coords, values, cov, (12, 10), mean=mean, neighbours=len(values) + 3)
    assert torch.allclose(est_all, est, atol=1e-10)
    est_local = krige(coords, values, cov, (12, 10), mean=mean, neighbours=3)
    assert torch.allclose(est_local[rows, cols], values, atol=1e-10)


@pytest.mark.parametrize("method", ["fft", "spde", "spectral"])
def test_conditional_simulation_honours_the_data(method: str) -> None:
    cov = C.Matern(range=3.0, nu=1.0)
    rows, cols, values = _points()
    x = simulate(method, cov, (12, 10), 6, seed=0, points=(rows, cols, values))
    assert x.dtype == torch.float64
    assert float((x[:, 0, rows, cols] - values).abs().max()) < 1e-8
    ok = simulate(
        method, cov, (12, 10), 6, seed=0, points=(rows, cols, values), kriging="ordinary", neighbours=3
    )
    assert float((ok[:, 0, rows, cols] - values).abs().max()) < 1e-8


def test_conditional_simulation_has_the_exact_conditional_covariance() -> None:
    """The ensemble's mean and covariance converge to the kriging mean and Σ_uu − Σ_up Σ_pp⁻¹ Σ_pu
    (a 1-D transect: one row of 30 nodes, 3 data), 4,000 realisations, within 4 standard errors."""
    cov = C.Exponential(range=5.0)
    rows, cols = torch.tensor([0, 0, 0]), torch.tensor([4, 15, 22])
    values = torch.tensor([1.0, -0.5, 0.8], dtype=torch.float64)
    n = 4000
    x = simulate("fft", cov, (1, 30), n, seed=11, points=(rows, cols, values))[:, 0, 0]  # (n, 30)
    grid = C.grid_points((1, 30))
    coords = torch.stack([rows, cols], 1).double()
    k, k0 = C.covariance_matrix(cov, coords), C.covariance_matrix(cov, grid, coords)
    mean = k0 @ torch.linalg.solve(k, values)
    cond = C.covariance_matrix(cov, grid) - k0 @ torch.linalg.solve(k, k0.T)
    emp_mean, emp_cov = x.mean(0), torch.cov(x.T)
    sd = cond.diagonal().clamp_min(1e-12).sqrt()
    assert bool(((emp_mean - mean).abs() <= 4 * sd / math.sqrt(n) + 1e-9).all())
    # SE of a covariance estimate of Gaussians: √((σ_ii σ_jj + σ_ij²)/n)
    se = ((cond.diagonal()[:, None] * cond.diagonal()[None, :] + cond**2) / n).sqrt()
    assert bool(((emp_cov - cond).abs() <= 4 * se + 1e-9).all())
    # the shortcut "kriging mean + scaled unconditional field" misses this covariance
    uncond = simulate("fft", cov, (1, 30), n, seed=12)[:, 0, 0].double()
    scaled = mean + uncond * sd / math.sqrt(cov.sill)
    assert float((torch.cov(scaled.T) - cond).abs().max()) > 10 * float(se.max())


def test_conditioning_errors() -> None:
    cov = C.Exponential(range=2.0)
    with pytest.raises(GenzooError, match="outside"):
        simulate("fft", cov, (8, 8), 1, points=(torch.tensor([8]), torch.tensor([0]), torch.tensor([1.0])))
    with pytest.raises(GenzooError, match="duplicate|different values"):
        simulate(
            "fft",
            cov,
            (8, 8),
            1,
            points=(torch.tensor([1, 1]), torch.tensor([2, 2]), torch.tensor([1.0, 2.0])),
        )
    with pytest.raises(GenzooError, match=r"\(m, 3\)"):
        condition(torch.zeros(1, 1, 8, 8), torch.zeros(4, 2), cov)


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(range=0.0), "range must be positive"),
        (dict(range=-3.0), "range must be positive"),
        (dict(range=2.0, ratio=0.0), "anisotropy ratio must be positive"),
        (dict(range=2.0, nu=0.0), "nu must be a positive number"),
        (dict(range=2.0, nu=-1.0), "nu must be a positive number"),
        (dict(range=float("nan")), "range must be a finite number"),
    ],
)
def test_bad_covariance_parameters(bad, match) -> None:
    with pytest.raises(GenzooError, match=match):
        C.make("matern", **bad)


def test_bad_simulation_requests() -> None:
    cov = C.Exponential(range=2.0)
    with pytest.raises(GenzooError, match="unknown simulation method 'kriging'"):
        simulate("kriging", cov, (8, 8))
    with pytest.raises(GenzooError, match="spde simulates the matern family"):
        simulate("spde", C.Spherical(range=3.0), (8, 8))
    with pytest.raises(GenzooError, match=r"shape must be H W \(a 2-D grid\) or D H W .*, got 0 8"):
        simulate("fft", cov, (0, 8))
    with pytest.raises(GenzooError, match="unknown covariance model 'linear'"):
        C.make("linear", range=2.0)
    with pytest.raises(GenzooError, match="the spherical model has none"):
        C.make("spherical", range=2.0, nu=1.5)


# --- covariance models ----------------------------------------------------------------------------
def test_covariance_functions_against_closed_forms_and_scipy() -> None:
    from scipy.special import gamma as G
    from scipy.special import kv

    h = torch.tensor([0.3, 1.0, 2.5, 7.0], dtype=torch.float64)
    for nu in (0.5, 0.8, 1.0, 1.5, 2.5, 3.7):
        r = h.numpy() / 2.0
        want = 2 ** (1 - nu) / G(nu) * r**nu * kv(nu, r)
        got = C.Matern(range=2.0, nu=nu).of_distance(h).numpy()
        assert np.allclose(got, want, rtol=1e-10), nu
    assert torch.allclose(C.Exponential(range=2.0).of_distance(h), torch.exp(-h / 2))
    assert torch.allclose(C.Gaussian(range=2.0).of_distance(h), torch.exp(-((h / 2) ** 2)))
    sph = C.Spherical(range=5.0).of_distance(torch.tensor([0.0, 2.5, 5.0, 6.0], dtype=torch.float64))
    assert torch.allclose(sph, torch.tensor([1.0, 1 - 0.75 + 0.0625, 0.0, 0.0], dtype=torch.float64))
    cub = C.Cubic(range=1.0).of_distance(torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert torch.allclose(
        cub, torch.tensor([1.0, 1 - 7 / 4 + 35 / 32 - 7 / 64 + 3 / 512, 0.0], dtype=torch.float64)
    )
    # anisotropy: range a along the major axis at `angle` from the columns, a·ratio across it
    cov = C.Exponential(range=4.0, angle=30.0, ratio=0.25)
    t = math.radians(30)
    along = (
        torch.tensor([math.sin(t), math.cos(t)], dtype=torch.float64) * 4.0
    )  # (Δrow, Δcol) along the major axis
    across = torch.tensor([math.cos(t), -math.sin(t)], dtype=torch.float64) * 1.0
    assert math.isclose(float(cov(along)), math.exp(-1), rel_tol=1e-12)
    assert math.isclose(float(cov(across)), math.exp(-1), rel_tol=1e-12)
    # variogram and nugget
    nug = C.Gaussian(range=2.0, sill=2.0, nugget=0.5)
    assert float(nug.variogram(torch.zeros(2))) == 0.0
    assert math.isclose(float(nug.variogram(torch.tensor([0.0, 1e-9]))), 0.5, abs_tol=1e-12)
    assert math.isclose(float(nug(torch.zeros(2))), 2.5)


@pytest.mark.parametrize(
    "cov",
    [
        C.Gaussian(range=1.5),
        C.Matern(range=1.5, nu=1.2),
        C.Spherical(range=3.0),
        C.Cubic(range=3.0),
        C.Matern(range=2.0, nu=1.5, angle=30, ratio=0.5, sill=2.0),
    ],
    ids=lambda c: c.describe(),
)
def test_spectral_density_is_the_fourier_transform_of_the_covariance(cov: C.Covariance) -> None:
    """C(h) = ∫ S(ω) cos(ω·h) dω — by a Riemann sum on a wide 2-D grid, or for the compact models
    (whose S decays like |ω|⁻³) by the radial integral ∫ 2πw S(w) J₀(w|h|) dw to |ω| = 1000 — and
    the mean of cos(ω·h) over frequencies drawn by `sample_frequencies` (Monte Carlo, 4 SE)."""
    from scipy.special import j0

    if isinstance(cov, (C.Spherical, C.Cubic)):
        w = torch.linspace(0, 1000, 400_001, dtype=torch.float64)[1:]
        dens = (2 * math.pi * w * cov.spectral_density(torch.stack([w, torch.zeros_like(w)], -1))).numpy()
        for h in (0.0, 0.7, 2.0):
            integral = float(np.trapezoid(dens * j0(w.numpy() * h), w.numpy()))
            assert abs(integral - float(cov(torch.tensor([h, 0.0])))) < 2e-3 * cov.sill, (h, integral)
    else:
        w = torch.linspace(-40, 40, 801, dtype=torch.float64)
        dw = float(w[1] - w[0])
        ww = torch.stack(torch.meshgrid(w, w, indexing="ij"), -1)
        s = cov.spectral_density(ww)
        for h in ([0.0, 0.0], [0.7, 1.3], [2.0, -0.5]):
            ht = torch.tensor(h, dtype=torch.float64)
            integral = float((s * torch.cos(ww @ ht)).sum() * dw * dw)
            assert abs(integral - float(cov(ht))) < 2e-3 * cov.sill, (h, integral, float(cov(ht)))
    k = 100_000
    freq = cov.sample_frequencies(k, torch.Generator().manual_seed(0))
    for h in ([0.7, 1.3], [2.0, -0.5]):
        c = torch.cos(freq @ torch.tensor(h, dtype=torch.float64))
        assert (
            abs(float(c.mean()) * cov.sill - float(cov(torch.tensor(h))))
            < 4 * float(c.std()) / math.sqrt(k) * cov.sill
        )


# --- facies ----------------------------------------------------------------------------------------
def test_truncated_gaussian_proportions_match_the_threshold_probabilities() -> None:
    p = [0.5, 0.3, 0.2]
    t = thresholds(p)
    assert torch.allclose(
        0.5 * (1 + torch.erf(t / math.sqrt(2))), torch.tensor([0.5, 0.8], dtype=torch.float64)
    )
    y = simulate("fft", C.Matern(range=2.0, nu=1.5), (32, 32), 300, seed=2)
    codes = truncate(y, p)
    share = torch.bincount(codes.long().reshape(-1), minlength=3).double() / codes.numel()
    # one node per field is an independent multinomial draw: the whole grid's share has a smaller SE
    assert torch.allclose(share, torch.tensor(p, dtype=torch.float64), atol=0.02)
    y2 = simulate("fft", C.Matern(range=4.0, nu=1.5), (32, 32), 300, seed=3)
    pg = plurigaussian(y, y2, p)
    share = torch.bincount(pg.long().reshape(-1), minlength=3).double() / pg.numel()
    assert torch.allclose(share, torch.tensor(p, dtype=torch.float64), atol=0.02)
    # exactly: the codes are the buckets of the thresholds
    assert torch.equal(codes == 0, y < float(t[0]))


def test_anamorphosis_to_a_law_and_to_data() -> None:
    from scipy import stats

    from genzoo.geostat.facies import anamorphosis

    y = simulate("fft", C.Matern(range=3.0, nu=1.5, sill=4.0), (32, 32), 50, seed=4, mean=1.0)
    x = anamorphosis(y, stats.expon(scale=2.0), mean=1.0, std=2.0)
    want = stats.expon(scale=2.0).ppf(stats.norm.cdf((y.double().numpy() - 1.0) / 2.0))
    assert np.allclose(x.double().numpy(), want, rtol=1e-5)
    ranked = x.reshape(-1)[torch.argsort(y.reshape(-1))]
    assert bool((ranked[1:] >= ranked[:-1]).all())  # a monotone map keeps the order
    data = torch.tensor([0.0, 1.0, 1.0, 5.0, 10.0, 20.0])
    z = anamorphosis(torch.tensor([-10.0, 0.0, 10.0]), data)
    assert z.tolist() == [
        0.0,
        pytest.approx(3.0),
        20.0,
    ]  # the median of the data; the extremes clip to the data's range
    # the empirical quantile function: linear between the order statistics at the Hazen levels (i + ½)/n
    u = stats.norm.cdf((y.double().numpy() - 1.0) / 2.0).clip(1e-12, 1 - 1e-12)
    want = np.interp(u, (np.arange(6) + 0.5) / 6, np.sort(data.numpy()))
    assert np.allclose(anamorphosis(y, data, mean=1.0, std=2.0).double().numpy(), want, rtol=1e-6)


def test_spectral_gaussian_amplitudes_match_the_model() -> None:
    cov = C.Matern(range=3.0, nu=1.0, sill=1.5)
    x = simulate("spectral", cov, (40, 40), N, seed=6, amplitudes="gaussian")
    assert_variogram(x, cov.variogram, range(1, 11), "spectral gaussian amplitudes")
    assert_moments(x, 0.0, cov.variance, "spectral gaussian amplitudes")
