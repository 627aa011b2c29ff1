"""Covariance models in 3-D (issue 25): geometric anisotropy with three ranges and three rotation
angles, against GSTools' own rotation and anisotropy (its Tait–Bryan angles and anis ratios) and
against the geometry they describe — the principal axes, the 2-D model on a layer's section."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import genzoo.geostat as gs
from genzoo.errors import GenzooError
from genzoo.geostat import stats
from test_geostat_sim import per_field_variogram

CASES = [  # (angle, dip, roll) in degrees, (ratio, ratio3)
    ((0.0, 0.0, 0.0), (1.0, 1.0)),
    ((30.0, 0.0, 0.0), (0.5, 1.0)),
    ((30.0, 20.0, 0.0), (0.5, 0.1)),
    ((-65.0, 40.0, 15.0), (0.3, 0.05)),
    ((120.0, -10.0, 75.0), (2.0, 0.4)),
]


@pytest.mark.parametrize(("angles", "ratios"), CASES)
def test_the_3d_anisotropy_is_gstools_rotation_and_ratios(angles, ratios):
    """Our (angle, dip, roll, ratio, ratio3) on lags (Δlayer, Δrow, Δcol) equal GSTools'
    angles = radians(angle, dip, roll), anis = [ratio, ratio3] on positions (x, y, z) = (Δcol,
    Δrow, Δlayer): the reduced distance and the covariance, to rounding."""
    import gstools

    a, sill = 7.0, 2.5
    cov = gs.Exponential(
        range=a, sill=sill, angle=angles[0], dip=angles[1], roll=angles[2], ratio=ratios[0], ratio3=ratios[1]
    )
    theirs = gstools.Exponential(
        dim=3, var=sill, len_scale=a, anis=list(ratios), angles=[math.radians(t) for t in angles]
    )
    lags = torch.tensor(np.random.default_rng(0).uniform(-20, 20, (200, 3)))
    xyz = lags.numpy()[:, ::-1].T  # (3, n): x = Δcol, y = Δrow, z = Δlayer
    r_theirs = np.linalg.norm(theirs.isometrize(xyz), axis=0) / a
    assert np.allclose(cov.reduced(lags).numpy(), r_theirs, rtol=1e-12, atol=1e-12)
    assert np.allclose(cov(lags).numpy(), theirs.cov_spatial(xyz), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("angles", "ratios"), CASES)
def test_the_principal_axes_have_the_three_ranges(angles, ratios):
    """The columns of M⁻¹ are the principal axes, of lengths a, a·ratio and a·ratio3 and at right
    angles; a lag of length t along the k-th has reduced distance t / (its length)."""
    a = 4.0
    cov = gs.Matern(
        range=a, nu=1.5, angle=angles[0], dip=angles[1], roll=angles[2], ratio=ratios[0], ratio3=ratios[1]
    )
    m = cov.matrix(3)
    axes = torch.linalg.inv(m)  # column k: the lag (Δlayer, Δrow, Δcol) reaching r = 1 along axis k
    lengths = axes.norm(dim=0)
    assert torch.allclose(lengths, torch.tensor([a, a * ratios[0], a * ratios[1]], dtype=torch.float64))
    assert torch.allclose(axes.T @ axes, torch.diag(lengths**2), atol=1e-12)  # orthogonal axes
    for k in range(3):
        lag = 2.5 * axes[:, k] / lengths[k]
        assert float(cov.reduced(lag)) == pytest.approx(2.5 / float(lengths[k]), rel=1e-12)


def test_a_layer_without_dip_roll_or_third_ratio_is_the_2d_model():
    flat = gs.Spherical(range=9.0, sill=1.5, nugget=0.2, angle=35.0, ratio=0.4)
    lags2 = torch.tensor(np.random.default_rng(1).uniform(-12, 12, (100, 2)))
    lags3 = torch.cat([torch.zeros(100, 1, dtype=torch.float64), lags2], 1)
    assert torch.allclose(flat(lags3), flat(lags2), rtol=0, atol=1e-15)
    assert torch.equal(flat(torch.zeros(1, 3, dtype=torch.float64)), torch.tensor([1.7], dtype=torch.float64))


def test_3d_anisotropy_refuses_2d_lags_and_bad_values_in_one_line():
    tilted = gs.Gaussian(range=5.0, dip=10.0)
    with pytest.raises(
        GenzooError, match=r"dip, roll and ratio3 are 3-D anisotropy; a 2-D grid takes"
    ) as err:
        tilted(torch.zeros(1, 2))
    assert "\n" not in str(err.value)
    with pytest.raises(GenzooError, match=r"anisotropy ratio3 must be positive, got -1"):
        gs.Gaussian(range=5.0, ratio3=-1.0)
    with pytest.raises(GenzooError, match=r"roll must be a finite number"):
        gs.Gaussian(range=5.0, roll=float("nan"))
    with pytest.raises(GenzooError, match=r"covariance models are for 2-D or 3-D lags, got 4-D"):
        gs.Gaussian(range=5.0).reduced(torch.zeros(1, 4))
    assert "dip=10°" in tilted.describe()


# --- spectral densities in 3-D ------------------------------------------------------------------
TILTED = dict(angle=30.0, dip=20.0, roll=10.0, ratio=0.7, ratio3=0.5)


@pytest.mark.parametrize(
    "cov",
    [gs.Gaussian(range=1.5, **TILTED), gs.Matern(range=2.0, nu=1.5, sill=2.0, **TILTED)],
    ids=lambda c: c.name,
)
def test_3d_spectral_density_is_the_fourier_transform_of_the_covariance(cov):
    """C(h) = ∫ S(ω) cos(ω·h) dω over R³ by a Riemann sum on a wide grid (an anisotropic, rotated
    model), and the Monte Carlo mean of cos(ω·h) over `sample_frequencies(dim=3)` (4 SE)."""
    w = torch.linspace(-24, 24, 161, dtype=torch.float64)  # step 0.3: the aliases C(h + 2πk/0.3) are < 1e-3
    dw = float(w[1] - w[0])
    ww = torch.stack(torch.meshgrid(w, w, w, indexing="ij"), -1)
    s = cov.spectral_density(ww)
    k = 100_000
    freq = cov.sample_frequencies(k, torch.Generator().manual_seed(0), dim=3)
    assert freq.shape == (k, 3)
    for h in ([0.0, 0.0, 0.0], [0.7, 1.3, -0.4], [-1.0, 0.5, 2.0]):
        ht = torch.tensor(h, dtype=torch.float64)
        want = float(cov(ht))
        assert float((s * torch.cos(ww @ ht)).sum()) * dw**3 == pytest.approx(want, abs=2e-3 * cov.sill)
        c = torch.cos(freq @ ht)
        assert abs(float(c.mean()) * cov.sill - want) <= 4 * float(c.std()) / math.sqrt(k) * cov.sill + 1e-12


def test_3d_spectral_density_of_the_spherical_model_is_the_balls_transform():
    """The spherical model is the overlap of two balls of diameter a at distance |h|, so in 3-D its
    S₁ is |B̂(w)|² / ((2π)³ |B|) with B̂(w) = 4π (sin(w/2) − (w/2) cos(w/2)) / w³ (a closed form
    the quadrature does not use); the cubic's integrates back to its covariance."""
    w = torch.tensor([0.01, 0.5, 2.0, 7.5, 20.0, 60.0], dtype=torch.float64)
    x = w / 2
    ball = 4 * math.pi * (torch.sin(x) - x * torch.cos(x)) / w**3
    want = ball**2 / ((2 * math.pi) ** 3 * math.pi / 6)
    got = gs.Spherical(range=1.0).spectral1(w, 3)
    assert torch.allclose(got, want, rtol=2e-3)
    cub = gs.Cubic(range=1.0)
    t = np.linspace(0, 400, 400_001)
    for h in (0.0, 0.3, 0.7):
        total = float(
            np.trapezoid(
                4 * math.pi * t**2 * cub.spectral1(torch.from_numpy(t), 3).numpy() * np.sinc(t * h / math.pi),
                t,
            )
        )
        assert total == pytest.approx(float(cub.correlation(torch.tensor(h))), abs=3e-3)
    freq = gs.Spherical(range=3.0).sample_frequencies(50_000, torch.Generator().manual_seed(1), dim=3)
    ht = torch.tensor([1.0, -0.5, 1.5], dtype=torch.float64)
    c = torch.cos(freq @ ht)
    assert abs(float(c.mean()) - float(gs.Spherical(range=3.0)(ht))) < 4 * float(c.std()) / math.sqrt(50_000)


# --- the simulators in 3-D -----------------------------------------------------------------------
def assert_axis_variograms(x, gamma, lags, what):
    """The mean over realisations within 3 SE of the model at every lag along each of the 3 axes."""
    for axis in (-3, -2, -1):
        g = per_field_variogram(x, lags, axis)  # the brute force of test_geostat_sim, any axis
        mean, se = g.mean(0), g.std(0) / math.sqrt(len(g))
        want = torch.stack([gamma(torch.tensor([k * (axis == a) for a in (-3, -2, -1)])) for k in lags])
        z = (mean - want) / se
        assert bool((z.abs() < 3).all()), f"{what} axis {axis}: z = {[round(v, 2) for v in z.tolist()]}"


ANISO = gs.Matern(range=3.0, nu=1.5, angle=30.0, dip=20.0, ratio=0.6, ratio3=0.5)


@pytest.mark.parametrize(
    ("method", "cov", "shape"),
    [
        ("fft", ANISO, (12, 16, 20)),
        ("fft", gs.Spherical(range=6.0, sill=2.0), (12, 16, 20)),
        ("spectral", ANISO, (12, 16, 20)),
        ("cholesky", ANISO, (8, 9, 10)),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_3d_variograms_along_the_three_axes_within_three_standard_errors(method, cov, shape):
    x = gs.simulate(method, cov, shape, 100, seed=2, mean=0.5)
    assert x.shape == (100, 1, *shape) and x.dtype == torch.float32
    assert_axis_variograms(x, cov.variogram, range(1, 6), f"{method} {cov.describe()}")
    v = x[:, 0, 3, 4, 5].double()
    assert abs(float(v.mean()) - 0.5) < 3.5 * math.sqrt(cov.variance / 100)


def test_3d_spde_simulates_the_lattice_matern():
    """The 3-D SPDE's variograms along the three axes are those of its lattice Matérn (the
    covariance from the stencil's symbol on the torus); the stencil is the symbol's operator."""
    cov = gs.Matern(range=2.5, nu=1.0, angle=30.0, dip=20.0, ratio=0.6)
    sim = gs.simulator("spde", cov, (10, 12, 14))
    spec = (1 + sim.symbol(sim.torus)) ** (-sim.alpha)
    c = torch.fft.ifftn(spec).real
    c = c / c[0, 0, 0] * cov.sill

    def gamma(lag):
        return cov.sill - c[tuple(int(v) % s for v, s in zip(lag, c.shape))]

    x = sim.sample(100, generator=torch.Generator().manual_seed(4))
    assert x.shape == (100, 1, 10, 12, 14)
    assert_axis_variograms(x, gamma, range(1, 6), "spde 3-D")
    w = torch.randn(2, *sim.torus, dtype=torch.float64)
    by_fft = torch.fft.ifftn(sim.symbol(sim.torus) * torch.fft.fftn(w, dim=(-3, -2, -1)), dim=(-3, -2, -1))
    assert torch.allclose(sim.apply_stencil(w), by_fft.real, atol=1e-10)


@pytest.mark.parametrize("shape", [(20, 24), (10, 12, 14)], ids=["2-D", "3-D"])
def test_spde_fft_solver_is_the_chebyshev_polynomial_without_its_error(shape):
    """Both solvers give the lattice field f(S)w of the same noise: ‖p_K(S)w − f(S)w‖ ≤ tol·f(0)‖w‖
    (the polynomial's sup error on the spectrum), and the 3-D default is the DFT solver."""
    cov = gs.Matern(range=2.5, nu=1.0, angle=30.0, ratio=0.6, **({"dip": 20.0} if len(shape) == 3 else {}))
    cheb = gs.simulators.SPDE(cov, shape, tol=1e-6, solver="chebyshev")
    fft = gs.simulators.SPDE(cov, shape, tol=1e-6, solver="fft")
    assert gs.simulators.SPDE(cov, shape).solver == ("chebyshev" if len(shape) == 2 else "fft")
    z = torch.randn(2, *cheb.latent_shape(), generator=torch.Generator().manual_seed(0))
    a, b = cheb.decode(z).double(), fft.decode(z).double()
    scale = math.sqrt(cov.sill / cheb.lattice_variance)
    assert float((a - b).norm()) <= 1e-6 * scale * float(z.norm()) + 1e-5 * float(b.norm())
    with pytest.raises(GenzooError, match="spde: solver must be auto, chebyshev or fft, got 'lu'"):
        gs.simulators.SPDE(cov, shape, solver="lu")


def test_3d_fft_matches_the_dense_covariance_exactly():
    """The 3-D embedding's implied covariance on the block (the torus covariance of the cropped
    nodes, rebuilt from √λ) equals the model's covariance matrix, for a rotated model and one
    symmetric about the axes (the eighth-of-the-torus path)."""
    for cov in (
        gs.Matern(range=2.0, nu=0.8, angle=40.0, dip=-25.0, roll=15.0, ratio=0.5, ratio3=0.7),
        gs.Exponential(range=2.0, ratio=0.5, ratio3=0.8),
    ):
        emb = gs.simulators.FFTEmbedding(cov, (4, 5, 6))
        lam = emb.sqrt_lambda.double() ** 2 * math.prod(emb.torus)
        c = torch.fft.ifftn(lam).real
        pts = gs.covariance.grid_points((4, 5, 6)).long()
        d = pts[:, None, :] - pts[None, :, :]
        implied = c[d[..., 0] % emb.torus[0], d[..., 1] % emb.torus[1], d[..., 2] % emb.torus[2]]
        assert torch.allclose(implied, gs.covariance.covariance_matrix(cov, pts.double()), atol=1e-5)
        z = torch.randn(3, *emb.latent_shape())
        assert emb.decode(z).shape == (3, 1, 4, 5, 6)


def test_3d_octant_eigenvalues_by_dct_equal_the_full_fft():
    """For a model even in each axis, the DCT-I of the octant is the torus' DFT on the octant."""
    from genzoo.geostat.simulators import octant_eigenvalues, torus_eigenvalues

    cov = gs.Matern(range=2.5, nu=1.5, ratio=0.5, ratio3=0.3, nugget=0.1)
    full = torus_eigenvalues(cov, (8, 12, 10))
    assert torch.allclose(octant_eigenvalues(cov, (8, 12, 10)), full[:5, :7, :6], rtol=0, atol=1e-11)


def test_3d_cholesky_log_density_and_seeded_repeats():
    cov = gs.Exponential(range=2.0, nugget=0.1, dip=30.0)
    sim = gs.simulator("cholesky", cov, (3, 4, 5))
    x = sim.sample(4, generator=torch.Generator().manual_seed(0)).double()
    sigma = gs.covariance.covariance_matrix(cov, gs.covariance.grid_points((3, 4, 5)))
    want = torch.distributions.MultivariateNormal(torch.zeros(60, dtype=torch.float64), sigma)
    assert torch.allclose(sim.log_prob(x), want.log_prob(x.reshape(4, -1)), atol=1e-8)
    for method in ("fft", "spectral", "spde", "cholesky"):
        a = gs.simulate(method, ANISO, (5, 6, 7), 2, seed=9)
        assert torch.equal(a, gs.simulate(method, ANISO, (5, 6, 7), 2, seed=9)), method


def test_3d_shape_errors_in_one_line():
    with pytest.raises(GenzooError, match=r"shape must be H W \(a 2-D grid\) or D H W .* got 1 2 3 4") as err:
        gs.simulate("fft", ANISO, (1, 2, 3, 4))
    assert "\n" not in str(err.value)
    with pytest.raises(GenzooError, match=r"got 0 4 4"):
        gs.simulate("fft", gs.Gaussian(range=2.0), (0, 4, 4))
    with pytest.raises(GenzooError, match=r"dip, roll and ratio3 are 3-D anisotropy; a 2-D grid takes"):
        gs.simulate("spectral", ANISO, (8, 8))


# --- spatial statistics of blocks -------------------------------------------------------------------
def brute_variogram(x: np.ndarray, step, lag: int) -> float:
    """½ mean of (x(u + k·e) − x(u))² over every pair inside the block, in every realisation, by loops."""
    n, d, h, w = x.shape
    total, count = 0.0, 0
    for i in range(n):
        for a in range(d):
            for b in range(h):
                for c in range(w):
                    p = (a + lag * step[0], b + lag * step[1], c + lag * step[2])
                    if 0 <= p[0] < d and 0 <= p[1] < h and 0 <= p[2] < w:
                        total += (x[i, p[0], p[1], p[2]] - x[i, a, b, c]) ** 2
                        count += 1
    return total / (2 * count)


def test_block_variograms_equal_a_brute_force_sum():
    x = torch.randn(2, 1, 4, 5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    xn = x[:, 0].numpy()
    for direction, steps in (
        ("layer", [(1, 0, 0)]),
        ("row", [(0, 1, 0)]),
        ("col", [(0, 0, 1)]),
        ((1, 1, -1), [(1, 1, -1)]),
    ):
        v = stats.grid_variogram(x, max_lag=2, direction=direction)
        want = [brute_variogram(xn, steps[0], k) for k in (1, 2)]
        assert np.allclose(v.gamma.numpy(), want, rtol=1e-12), direction
        assert v.lags[0] == pytest.approx(math.sqrt(sum(s * s for s in steps[0])))
    pooled = stats.grid_variogram(x, max_lag=1, direction="all")  # pairs of the three axes together
    n_pairs = [3 * 5 * 6, 4 * 4 * 6, 4 * 5 * 5]
    want = sum(c * brute_variogram(xn, s, 1) for c, s in zip(n_pairs, [(1, 0, 0), (0, 1, 0), (0, 0, 1)]))
    assert float(pooled.gamma[0]) == pytest.approx(want / sum(n_pairs), rel=1e-12)
    assert stats.grid_variogram(x, direction="layer").lags.tolist() == [1.0, 2.0]  # D // 2 by default


def brute_components(mask: np.ndarray) -> np.ndarray:
    """6-connected components of a boolean block by a breadth-first search."""
    lab = np.zeros(mask.shape, dtype=int)
    nxt = 0
    for start in zip(*np.nonzero(mask)):
        if lab[start]:
            continue
        nxt += 1
        lab[start] = nxt
        queue = [start]
        while queue:
            p = queue.pop()
            for axis in range(3):
                for sgn in (-1, 1):
                    q = list(p)
                    q[axis] += sgn
                    q = tuple(q)
                    if all(0 <= q[i] < mask.shape[i] for i in range(3)) and mask[q] and not lab[q]:
                        lab[q] = nxt
                        queue.append(q)
    return lab


def test_block_connectivity_and_layer_proportions_equal_brute_force():
    """Two bodies joined only through the layer above are one 6-connected component (in a layer's
    section they are two); τ along each axis and the vertical proportion curve by brute force."""
    rng = np.random.default_rng(3)
    x = (rng.random((2, 4, 6, 7)) < 0.45).astype(np.int64)
    x[0] = 0
    x[0, 1, 2, 0:3] = 1  # body A in layer 1
    x[0, 1, 2, 4:7] = 1  # body B in layer 1, apart from A within the layer
    x[0, 0, 2, 0:7] = 1  # the bridge in layer 0
    t = torch.from_numpy(x)[:, None].double()
    for direction, step in (("layer", (1, 0, 0)), ("row", (0, 1, 0)), ("col", (0, 0, 1))):
        con = stats.connectivity(t, 1, max_lag=2, direction=direction)
        for k in (1, 2):
            both = same = 0
            for i in range(2):
                lab = brute_components(x[i] == 1)
                a = lab[tuple(slice(0, s - k * d) for s, d in zip(lab.shape, step))]
                b = lab[tuple(slice(k * d, s) for s, d in zip(lab.shape, step))]
                both += int(((a > 0) & (b > 0)).sum())
                same += int(((a > 0) & (b > 0) & (a == b)).sum())
            assert int(con.pairs[k - 1]) == both and int(con.connected[k - 1]) == same, (direction, k)
    col = stats.connectivity(t[:1], 1, max_lag=6, direction="col")
    assert float(col.tau[5]) == 1.0  # columns 0 and 6 of layer 1: joined through the bridge
    curve = stats.proportions(t, 2, per_layer=True)
    want = np.stack([np.bincount(x[:, d].ravel(), minlength=2) / x[:, d].size for d in range(4)])
    assert curve.shape == (4, 2) and np.allclose(curve.numpy(), want)
    with pytest.raises(GenzooError, match=r"per_layer proportions need 3-D blocks"):
        stats.proportions(t[:, :, 0], per_layer=True)
    with pytest.raises(GenzooError, match=r"direction must be 'all', 'both', 'layer'"):
        stats.grid_variogram(t, direction=(1, 0))
    with pytest.raises(
        GenzooError, match=r"or a batch of 3-D blocks \(n, 1, D, H, W\), got shape \(4, 6, 7\)"
    ):
        stats.grid_variogram(t[0, 0])


# --- kriging and conditioning in 3-D ------------------------------------------------------------------
@pytest.mark.parametrize("mean", [0.3, None], ids=["simple", "ordinary"])
def test_3d_kriging_equals_a_dense_solve(mean):
    """Simple and ordinary kriging of scattered 3-D data (a tilted anisotropic model) onto a block:
    estimate and variance equal a NumPy solve of the (bordered) system at every node, to 1e-10."""
    from genzoo.geostat.kriging import krige

    cov = gs.Matern(range=3.0, nu=1.5, nugget=0.05, angle=25.0, dip=30.0, ratio=0.6, ratio3=0.4)
    rng = np.random.default_rng(0)
    shape = (5, 6, 7)
    pts = rng.uniform(0, 1, (12, 3)) * (np.array(shape) - 1)
    vals = rng.normal(size=12)
    est, var = krige(torch.from_numpy(pts), torch.from_numpy(vals), cov, shape, mean=mean, variance=True)
    grid = gs.covariance.grid_points(shape).numpy()
    k = gs.covariance.covariance_matrix(cov, torch.from_numpy(pts)).numpy()
    k0 = gs.covariance.covariance_matrix(cov, torch.from_numpy(grid), torch.from_numpy(pts)).numpy()
    if mean is None:
        a = np.block([[k, np.ones((12, 1))], [np.ones((1, 12)), np.zeros((1, 1))]])
        rhs = np.concatenate([k0, np.ones((len(grid), 1))], 1)
        w = np.linalg.solve(a, rhs.T).T
        want = w[:, :12] @ vals
    else:
        a, rhs = k, k0
        w = np.linalg.solve(a, rhs.T).T
        want = mean + w @ (vals - mean)
    want_var = cov.variance - (w * rhs).sum(1)
    assert est.shape == shape and var.shape == shape
    assert np.allclose(est.numpy().reshape(-1), want, rtol=0, atol=1e-10)
    assert np.allclose(var.numpy().reshape(-1), want_var, rtol=0, atol=1e-10)


def test_3d_conditional_simulation_honours_wells(tmp_path):
    """Two wells (vertical lines of data through every layer) and a point: every realisation of
    fft and spde honours them to 1e-12, from an array and from a CSV with a layer column; away
    from the data the realisations differ."""
    shape = (8, 10, 12)
    cov = gs.Matern(range=3.0, nu=1.0, ratio3=0.5)
    rng = np.random.default_rng(1)
    wells = [(k, r, c, v) for r, c in ((2, 3), (7, 9)) for k, v in zip(range(8), rng.normal(size=8))]
    data = np.array(wells + [(4, 5, 0, 2.5)])
    path = tmp_path / "wells.csv"
    path.write_text(
        "layer,row,col,value\n" + "".join(f"{int(a)},{int(b)},{int(c)},{float(v)!r}\n" for a, b, c, v in data)
    )
    for method, points in (("fft", data), ("spde", str(path))):
        x = gs.simulate(method, cov, shape, 3, seed=0, points=points)
        assert x.shape == (3, 1, *shape) and x.dtype == torch.float64
        at = x[:, 0, data[:, 0].astype(int), data[:, 1].astype(int), data[:, 2].astype(int)]
        assert float((at - torch.from_numpy(data[:, 3])).abs().max()) < 1e-12, method
        assert float((x[0] - x[1]).abs().max()) > 0.5


def test_3d_points_errors_in_one_line(tmp_path):
    from genzoo.geostat.kriging import condition

    x = gs.simulate("fft", gs.Exponential(range=2.0), (4, 5, 6), 1)
    for points, match in (
        (
            np.array([[1, 2, 0.5]]),
            r"points must be \(m, 4\) rows of \(layer, row, col, value\), got shape \(1, 3\)",
        ),
        (np.array([[1, 2, 6, 0.5]]), r"point \(1, 2, 6\) lies outside the 4×5×6 block"),
        (np.array([[1, 2, 3, 0.5], [1, 2, 3, 0.7]]), r"point \(1, 2, 3\) is given more than once"),
    ):
        with pytest.raises(GenzooError, match=match) as err:
            condition(x, points, gs.Exponential(range=2.0))
        assert "\n" not in str(err.value)
    bad = tmp_path / "no_layer.csv"
    bad.write_text("row,col,value\n1,2,0.5\n")
    with pytest.raises(
        GenzooError, match=r"missing column\(s\) layer \(a points CSV needs layer, row, col, value\)"
    ):
        condition(x, str(bad), gs.Exponential(range=2.0))


def test_cli_simulates_a_conditioned_block_with_its_sections(tmp_path, capsys):
    from genzoo.cli import main

    wells = tmp_path / "wells.csv"
    wells.write_text("layer,row,col,value\n" + "".join(f"{k},3,4,{0.1 * k}\n" for k in range(6)))
    out = tmp_path / "b.npz"
    argv = ["simulate", "fft", "--range", "3", "--dip", "20", "--ratio3", "0.5", "--shape", "6", "10", "12"]
    assert main([*argv, "-n", "2", "--points", str(wells), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "2 blocks 6×10×12" in said and "dip=20°" in said
    with np.load(out, allow_pickle=False) as z:
        x = z["x"]
    assert x.shape == (2, 1, 6, 10, 12)
    assert np.abs(x[:, 0, range(6), 3, 4] - 0.1 * np.arange(6)).max() < 1e-8
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "b-3d.png").read_bytes()[:4] == b"\x89PNG" and "b-3d.png" in said
    for args, message in (
        (
            ["--shape", "4", "5", "6", "7"],
            "--shape takes H W (a 2-D grid) or D H W (a 3-D block), got 4 numbers",
        ),
        (["--shape", "8", "8", "--dip", "10"], "dip, roll and ratio3 are 3-D anisotropy"),
        (["--shape", "4", "5", "6", "--points", str(tmp_path / "missing.csv")], "no such file"),
    ):
        assert main(["simulate", "spectral", "--range", "2", *args, "--out", str(tmp_path / "x.npz")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_fit_field_recovers_the_three_ranges_of_blocks():
    """The layers', rows' and columns' variograms of layered blocks fitted jointly: the horizontal
    ranges as in 2-D and the vertical one as ratio3, within 10 % of the truth on 20 blocks."""
    truth = gs.Exponential(range=4.0, sill=2.0, ratio=0.5, ratio3=0.25)
    x = gs.simulate("fft", truth, (16, 32, 32), 20, seed=1)
    got = stats.fit_field(x, "exponential", anisotropic=True)
    assert got.range == pytest.approx(4.0, rel=0.1) and got.sill == pytest.approx(2.0, rel=0.1)
    assert got.ratio == pytest.approx(0.5, rel=0.1) and got.ratio3 == pytest.approx(0.25, rel=0.1)
    assert got.angle == 0.0 and got.dip == 0.0
    with pytest.raises(GenzooError, match=r"needs variograms along the three axes"):
        stats.fit_variogram(
            [stats.grid_variogram(x, 4, "row"), stats.grid_variogram(x, 4, "col")],
            "exponential",
            anisotropic=True,
        )


# --- the field models on 3-D blocks -------------------------------------------------------------------
@pytest.fixture(scope="module")
def grf3d():
    import genzoo

    return genzoo.datasets.load("grf3d", split="train", n=200)


@pytest.mark.parametrize("name", ["fft", "spde", "cholesky"])
def test_field_models_fit_layered_blocks_and_sample_them(grf3d, name):
    """Trained on the layered grf3d blocks (a = 3, ratio3 = 0.5), the models fit the horizontal and
    the vertical range, draw blocks of the training size or any other, honour wells exactly, and
    (fft, cholesky) give the exact log-density of the true law."""
    import genzoo

    assert grf3d.x.shape == (200, 1, 8, 16, 16) and grf3d.info.shape == (1, 8, 16, 16)
    model = genzoo.models.create(name, grf3d)
    genzoo.train(model, grf3d, progress=False, sample_grid=False)
    cov = model.cov
    assert cov.range == pytest.approx(3.0, rel=0.1) and cov.ratio3 == pytest.approx(0.5, rel=0.1), cov
    g = torch.Generator().manual_seed(0)
    assert model.sample(3, generator=g).shape == (3, 1, 8, 16, 16)
    assert model.sample(2, generator=g, size=(4, 6, 10)).shape == (2, 1, 4, 6, 10)
    assert model.sample(1, generator=g, size=12).shape == (1, 1, 12, 12, 12)
    well = (torch.arange(8), torch.full((8,), 5), torch.full((8,), 7), torch.linspace(-1, 1, 8).double())
    x = model.sample(2, generator=g, points=well)
    assert float((x[:, 0, well[0], well[1], well[2]] - well[3]).abs().max()) < 1e-8
    if model.likelihood == "exact":
        truth = genzoo.models.create(name, grf3d, range=3.0, sill=1.0, ratio3=0.5, mean=0.0)
        genzoo.train(truth, grf3d, progress=False, sample_grid=False)
        assert torch.allclose(
            truth.log_prob(grf3d.x[:4]).double(), grf3d.log_density(grf3d.x[:4]).double(), atol=1e-3
        )
    with pytest.raises(
        GenzooError, match=r"size: model '\w+' simulates \(D, H, W\) blocks; got the sides \(8, 8\)"
    ):
        model.sample(1, size=(8, 8))


def test_3d_anisotropy_options_refused_on_2d_fields():
    import genzoo

    grf = genzoo.datasets.load("grf", split="train", n=8, size=8)
    with pytest.raises(
        GenzooError, match=r"model.dip, model.roll and model.ratio3 are 3-D anisotropy; grf holds 2-D"
    ):
        genzoo.models.create("fft", grf, ratio3=0.5)


def test_blocks_are_pictured_by_their_sections():
    """image_grid tiles a block as its middle layer above its vertical section through the middle row."""
    from genzoo.pictures import block_cards, image_grid

    x = np.arange(2 * 1 * 3 * 4 * 5, dtype=np.float64).reshape(2, 1, 3, 4, 5)
    cards = block_cards(x)
    assert cards.shape == (2, 1, 4 + 1 + 3, 5)
    assert np.array_equal(cards[:, :, :4], x[:, :, 1]) and np.array_equal(cards[:, :, 5:], x[:, :, :, 2])
    assert np.all(cards[:, :, 4] == x.min())
    assert image_grid(torch.from_numpy(x)).size[0] > 0


def test_facies3d_blocks_and_the_facies_model_on_them():
    """facies3d: thin elongated bodies in the declared proportions; the truncated-Gaussian model fits
    the proportions and the latent field's horizontal and vertical ranges from the indicator
    covariances and draws blocks of the same law (facies errors near those of held-out blocks)."""
    import genzoo

    data = genzoo.datasets.load("facies3d", split="train", n=60, depth=8, size=24)
    assert data.x.shape == (60, 1, 8, 24, 24) and data.extras["categories"] == 2
    share = float((data.x == 1).double().mean())
    assert share == pytest.approx(0.3, abs=0.03)
    model = genzoo.models.create("facies", data)
    genzoo.train(model, data, progress=False, sample_grid=False)
    cov = model.latent_cov
    assert cov.ratio3 == pytest.approx(0.2, rel=0.25) and cov.range == pytest.approx(6.0, rel=0.25), cov
    x = model.sample(60, generator=torch.Generator().manual_seed(0))
    assert x.shape == (60, 1, 8, 24, 24)
    held = genzoo.datasets.load("facies3d", split="test", n=120, depth=8, size=24)
    err = stats.facies_errors(x, held.x, k=2)
    floor = stats.facies_errors(data.x, held.x, k=2)
    for key in (
        "proportion",
        "indicator_variogram",
        "connectivity",
        "pattern_js",
    ):  # train vs held-out: the floor
        assert err[key] < 2 * floor[key] + 0.02, (key, err[key], floor[key])
    assert cov.ratio == pytest.approx(0.35, rel=0.15)
    assert model.sample(1, size=(4, 10, 12)).shape == (1, 1, 4, 10, 12)


def test_plurigaussian_blocks_hold_the_declared_proportions_and_their_layering():
    """facies3d with the plurigaussian rule: three facies in the declared proportions; both latent
    fields are layered (ratio3 0.2), so each facies' indicator variogram rises faster along the
    layers than along the rows; two facies are refused in one line."""
    import genzoo

    data = genzoo.datasets.load(
        "facies3d", split="train", n=24, depth=8, size=24, rule="plurigaussian", proportions=(0.5, 0.3, 0.2)
    )
    assert data.extras["categories"] == 3 and data.x.shape == (24, 1, 8, 24, 24)
    share = torch.bincount(data.x.long().reshape(-1), minlength=3).double() / data.x.numel()
    assert torch.allclose(share, torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64), atol=0.04), share
    for f in range(3):
        up = stats.indicator_variogram(data.x, f, 2, "layer", 3).gamma[0]
        across = stats.indicator_variogram(data.x, f, 2, "row", 3).gamma[0]
        assert float(up) > 1.5 * float(across), (f, float(up), float(across))
    with pytest.raises(GenzooError, match="the plurigaussian rule needs at least three facies") as err:
        genzoo.datasets.load("facies3d", split="train", n=4, rule="plurigaussian")
    assert "\n" not in str(err.value)


def test_a_fully_convolutional_gan_on_blocks_trains_and_samples_larger_blocks():
    """arch=fcn on 3-D blocks: Conv3d generator and patch critic; a few steps move the weights, the
    samples are blocks of the training size and, from a larger noise field, of a larger size; the
    2-D networks are unchanged (same parameter shapes as before)."""
    import genzoo
    from genzoo.nn.blocks import FieldGenerator, PatchCritic

    data = genzoo.datasets.load("facies3d", split="train", n=16, depth=8, size=16)
    model = genzoo.models.create(
        "gan", data, arch="fcn", channels=(8, 16), loss="wgan-gp", upsample="nearest"
    )
    assert any(isinstance(m, torch.nn.Conv3d) for m in model.generator.modules())
    before = [p.detach().clone() for p in model.generator.parameters()]
    genzoo.train(model, data, steps=3, batch_size=4, progress=False, sample_grid=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.generator.parameters()))
    g = torch.Generator().manual_seed(0)
    x = model.sample(2, generator=g)
    assert x.shape == (2, 1, 8, 16, 16) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert model.sample(1, generator=g, size=(16, 32, 32)).shape == (1, 1, 16, 32, 32)
    with pytest.raises(GenzooError, match=r"size must be a positive multiple of 4 on each of the 3 sides"):
        model.sample(1, size=(6, 16, 16))
    two = FieldGenerator(16, (8, 16), 1)
    assert [tuple(p.shape) for p in two.parameters()] == [
        (16, 16, 4, 4),
        (16,),
        (16, 8, 4, 4),
        (8,),
        (1, 8, 3, 3),
        (1,),
    ]
    assert PatchCritic(1, (8, 16))(torch.zeros(2, 1, 16, 16)).shape == (2, 1)


def test_the_report_of_a_model_of_blocks_shows_sections_and_a_sweep_through_the_layers(grf3d):
    """A run on blocks has a "Blocks" section: held-out and generated sections with the variograms
    along the three axes, and an animated GIF through the layers (no script, no network)."""
    import genzoo
    from genzoo.viz.fields import layer_sweep
    from genzoo.viz.report import render_report

    model = genzoo.models.create("fft", grf3d)
    genzoo.train(model, grf3d, progress=False, sample_grid=False)
    page = render_report(model, {"model": {"name": "fft"}}, [], None, data=grf3d)
    assert "<h2>Blocks</h2>" in page and "could not" not in page.split("<h2>Blocks</h2>")[1].split("<h2>")[0]
    blocks = page.split("<h2>Blocks</h2>")[1].split("<h2>")[0]
    assert "data:image/gif;base64," in blocks and 'alt="the blocks in 3-D"' in blocks
    gif = layer_sweep(grf3d.x[:2], ["a", "b"])
    import io

    from PIL import Image

    frames = Image.open(io.BytesIO(gif))
    assert frames.format == "GIF" and frames.n_frames == 8  # one frame per layer


def test_genzoo_condition_honours_wells_in_blocks_exactly_and_by_the_latent_vector(tmp_path, capsys):
    """`genzoo condition RUN --points wells.csv` on a run of blocks: a classical simulator honours
    the wells exactly (kriging), a 3-D fcn GAN by optimising its noise field (layers= in
    condition_points)."""
    import genzoo
    from genzoo.cli import main
    from genzoo.geostat.latent import condition_points

    wells = tmp_path / "wells.csv"
    wells.write_text("layer,row,col,value\n" + "".join(f"{k},5,9,{0.2 * k - 0.5}\n" for k in range(8)))
    run = tmp_path / "fft"
    assert main(["train", "fft", "--data", "grf3d", "--set", "data.n=40", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "c.npz"
    assert main(["condition", str(run), "--points", str(wells), "-n", "3", "--out", str(out)]) == 0
    assert "data honoured 100.0 %" in capsys.readouterr().out
    with np.load(out, allow_pickle=False) as z:
        assert z["x"].shape == (3, 1, 8, 16, 16) and z["points"].shape == (8, 4)
    png = tmp_path / "c.png"
    assert main(["condition", str(run), "--points", str(wells), "-n", "2", "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    data = genzoo.datasets.load("facies3d", split="train", n=8, depth=8, size=16)
    gan = genzoo.models.create("gan", data, arch="fcn", channels=(8, 16), loss="wgan-gp")
    layers, rows, cols = torch.arange(8), torch.full((8,), 5), torch.full((8,), 9)
    values = (torch.arange(8) % 2).double()
    res = condition_points(
        gan, rows, cols, values, n=4, steps=60, layers=layers, generator=torch.Generator().manual_seed(0)
    )
    assert res.x.shape == (4, 1, 8, 16, 16) and res.misfit.shape == (4,)
    start = condition_points(
        gan, rows, cols, values, n=4, steps=0, layers=layers, generator=torch.Generator().manual_seed(0)
    )
    assert float(res.misfit.mean()) < float(start.misfit.mean())  # the optimisation moves towards the wells
    with pytest.raises(GenzooError, match=r"facies3d holds 3-D blocks: give the points' layers as well"):
        condition_points(gan, rows, cols, values, n=1, steps=1)


@pytest.mark.parametrize(("angles", "ratios"), CASES)
def test_gstlearn_angles_compose_its_way_to_our_rotation(angles, ratios):
    """gstlearn composes G_xy(θ₁)·G_xz(−θ₂)·G_yz(θ₃) (the other order from ours and GSTools'):
    the angles we give it rebuild our rotation exactly, and a single non-zero angle maps to itself
    (gstlearn's own covariances agree to 1e-16: benchmarks/bench_geostat_peers.py check_conventions3d)."""
    from genzoo.geostat.covariance import _givens

    cov = gs.Matern(
        range=4.0, nu=1.5, angle=angles[0], dip=angles[1], roll=angles[2], ratio=ratios[0], ratio3=ratios[1]
    )
    t1, t2, t3 = cov.gstlearn_angles()
    theirs = (
        _givens(0, 1, math.radians(t1)) @ _givens(0, 2, -math.radians(t2)) @ _givens(1, 2, math.radians(t3))
    )
    assert torch.allclose(theirs, cov.rotation(), atol=1e-14)
    for one in ({"angle": 35.0}, {"dip": -20.0}, {"roll": 50.0}):
        single = gs.Exponential(range=2.0, ratio3=0.5, **one)
        assert np.allclose(
            single.gstlearn_angles(), [one.get("angle", 0.0), one.get("dip", 0.0), one.get("roll", 0.0)]
        )


def test_the_3d_view_places_faces_and_bodies_where_the_cells_are():
    """block_faces and block_isosurface share one frame: x east along the columns, y north (row 0
    farthest), z up (layer 0 on top). A box of facies code 1 at layers 2–4, rows 3–6, columns 0–1
    (touching the west side) gives a closed surface (every edge in two triangles) spanning exactly
    the box's cells; the faces show layer 0, the last row and the last column."""
    from genzoo.viz.fields import block_faces, block_isosurface, block_view

    d, h, w = 7, 9, 5
    block = np.zeros((d, h, w))
    block[2:5, 3:7, 0:2] = 1.0
    tris = block_isosurface(block, 0.5)
    pts = tris.reshape(-1, 3)
    assert np.allclose(pts.min(0), [0, h - 7, d - 5]) and np.allclose(pts.max(0), [2, h - 3, d - 2])
    keys = np.round(tris * 1e6).astype(np.int64)
    edges: dict = {}
    for t in keys:
        for a, b in ((0, 1), (1, 2), (2, 0)):
            e = tuple(sorted((tuple(t[a]), tuple(t[b]))))
            edges[e] = edges.get(e, 0) + 1
    assert set(edges.values()) == {2}  # closed, also where the box meets the block's side
    assert len(block_isosurface(block, 1.5)) == 0  # no cell above the level
    rng = np.random.default_rng(0)
    values = rng.normal(size=(d, h, w))
    (tx, ty, tz, top), (sx, sy, sz, south), (ex, ey, ez, east) = block_faces(values)
    assert (tz == d).all() and (sy == 0).all() and (ex == w).all()
    # the patch with first corner (i, j) spans [x, x+1] × … and carries one cell's value
    for r, c in ((0, 0), (3, 4), (8, 2)):
        assert top[r, c] == values[0, r, c] and (tx[r, c], ty[r, c]) == (c, h - r)
        assert south[2, c] == values[2, -1, c] and (sx[2, c], sz[2, c]) == (c, d - 2)
        assert east[2, r] == values[2, r, -1] and (ey[2, r], ez[2, r]) == (h - r, d - 2)
    # the top-left cell of layer 0 as a body lies under the top face's patch of that cell
    one = np.zeros((d, h, w))
    one[0, 0, 0] = 1.0
    p = block_isosurface(one, 0.5).reshape(-1, 3)
    assert p[:, 0].max() <= 1 and p[:, 1].min() >= h - 1 and p[:, 2].min() >= d - 1
    png = block_view(torch.from_numpy(block)[None, None].float(), ["box"])
    assert png[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"blocks must be \(k, 1, D, H, W\)"):
        block_view(torch.zeros(2, 1, 4, 4))
