"""Spatial statistics: variograms against brute force and exact cases, fits recovering known models,
facies statistics on hand-made images with hand-computed answers, and one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genzoo.errors import GenzooError
from genzoo.geostat import stats as S
from genzoo.geostat.covariance import covariance_matrix, grid_points, make


# --- brute-force references ------------------------------------------------------------------
def brute_grid(x: np.ndarray, step: tuple[int, int], kmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """γ̂(k), pair counts and per-field γ̂ by a loop over every pixel of every field."""
    n, h, w = x.shape
    gam, cnt, per = [], [], np.zeros((n, kmax))
    for k in range(1, kmax + 1):
        tot, c = 0.0, 0
        for i in range(n):
            s_i, c_i = 0.0, 0
            for r in range(h):
                for col in range(w):
                    r2, c2 = r + k * step[0], col + k * step[1]
                    if 0 <= r2 < h and 0 <= c2 < w:
                        s_i += (x[i, r2, c2] - x[i, r, col]) ** 2
                        c_i += 1
            per[i, k - 1] = s_i / (2 * c_i)
            tot += s_i
            c += c_i
        gam.append(tot / (2 * c))
        cnt.append(c)
    return np.array(gam), np.array(cnt), per


def brute_points(xy, z, edges, direction=None, tol=22.5):
    nb = len(edges) - 1
    s, c, dd = np.zeros(nb), np.zeros(nb), np.zeros(nb)
    for i in range(len(z)):
        for j in range(i + 1, len(z)):
            sep = xy[j] - xy[i]
            d = math.hypot(*sep)
            if direction is not None:
                ang = math.degrees(math.atan2(sep[0], sep[1]))
                off = (ang - direction + 90) % 180 - 90
                if abs(off) > tol:
                    continue
            for b in range(nb):
                if edges[b] < d <= edges[b + 1]:
                    s[b] += (z[i] - z[j]) ** 2
                    c[b] += 1
                    dd[b] += d
    seen = c > 0
    return dd[seen] / c[seen], s[seen] / (2 * c[seen]), c[seen]


def simulate(cov, n: int, shape=(24, 24), seed: int = 0) -> torch.Tensor:
    """n Gaussian fields (n, 1, H, W) with covariance `cov`, by a dense Cholesky factor."""
    c = covariance_matrix(cov, grid_points(shape))
    chol = torch.linalg.cholesky(c + 1e-10 * torch.eye(len(c), dtype=torch.float64))
    z = torch.randn(len(c), n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (chol @ z).T.reshape(n, 1, *shape)


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


CHECKER = torch.tensor([[(r + c) % 2 for c in range(4)] for r in range(4)], dtype=torch.float32)


# --- grid variograms ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "direction, step, kmax",
    [
        ("row", (1, 0), 4),
        ("col", (0, 1), 5),
        ((1, 1), (1, 1), 4),
        ((1, -1), (1, -1), 4),
        ((1, 2), (1, 2), 2),
        ((-2, 1), (-2, 1), 2),
    ],
)
def test_grid_variogram_matches_brute_force(direction, step, kmax):
    x = torch.randn(2, 1, 5, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    vg = S.grid_variogram(x, max_lag=kmax, direction=direction)
    gam, cnt, per = brute_grid(x[:, 0].numpy(), step, kmax)
    np.testing.assert_allclose(vg.gamma.numpy(), gam, rtol=1e-12)
    np.testing.assert_array_equal(vg.pairs.numpy(), cnt)
    np.testing.assert_allclose(vg.per_field.numpy(), per, rtol=1e-12)
    np.testing.assert_allclose(vg.lags.numpy(), np.arange(1, kmax + 1) * math.hypot(*step))
    np.testing.assert_allclose(vg.vectors.numpy(), np.arange(1, kmax + 1)[:, None] * np.array(step))
    np.testing.assert_allclose(vg.stderr.numpy(), per.std(0, ddof=1) / math.sqrt(2), rtol=1e-10)


def test_grid_variogram_both_pools_the_pairs_of_both_axes():
    x = torch.randn(3, 1, 5, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    vg = S.grid_variogram(x, max_lag=4, direction="both")
    gr, cr, _ = brute_grid(x[:, 0].numpy(), (1, 0), 4)
    gc, cc, _ = brute_grid(x[:, 0].numpy(), (0, 1), 4)
    np.testing.assert_allclose(vg.gamma.numpy(), (gr * cr + gc * cc) / (cr + cc), rtol=1e-12)
    np.testing.assert_array_equal(vg.pairs.numpy(), cr + cc)
    assert vg.vectors is None
    # default max_lag = min(H, W) // 2; a 2-D field is one realisation
    assert len(S.grid_variogram(x)) == 2
    assert S.grid_variogram(x[0, 0]).per_field.shape == (1, 2)


def test_linear_trend_variogram_is_exact():
    a = 0.7
    rows = torch.arange(9, dtype=torch.float64)[:, None].expand(9, 7)
    x = a * rows
    k = torch.arange(1, 7, dtype=torch.float64)
    np.testing.assert_allclose(
        S.grid_variogram(x, 6, "row").gamma.numpy(), (a**2 * k**2 / 2).numpy(), rtol=1e-13
    )
    assert S.grid_variogram(x, 6, "col").gamma.abs().max() == 0
    diag = S.grid_variogram(x, 4, (1, 1))
    np.testing.assert_allclose(diag.gamma.numpy(), (a**2 * k[:4] ** 2 / 2).numpy(), rtol=1e-13)
    np.testing.assert_allclose(diag.lags.numpy(), (k[:4] * math.sqrt(2)).numpy())
    both = S.grid_variogram(x, 6, "both")
    n_row, n_col = (9 - k) * 7, 9 * (7 - k)
    np.testing.assert_allclose(
        both.gamma.numpy(), (a**2 * k**2 * n_row / (2 * (n_row + n_col))).numpy(), rtol=1e-13
    )


# --- point variograms ----------------------------------------------------------------------------
def test_point_variogram_matches_brute_force():
    rng = np.random.default_rng(3)
    xy, z = rng.uniform(0, 20, (30, 2)), rng.normal(size=30)
    vg = S.point_variogram(torch.from_numpy(xy), torch.from_numpy(z), bins=6, max_dist=10.0)
    d, g, c = brute_points(xy, z, np.linspace(0, 10, 7))
    np.testing.assert_allclose(vg.lags.numpy(), d, rtol=1e-12)
    np.testing.assert_allclose(vg.gamma.numpy(), g, rtol=1e-12)
    np.testing.assert_array_equal(vg.pairs.numpy(), c)
    assert vg.per_field is None and vg.stderr is None and vg.vectors is None
    # explicit edges, and a direction with its tolerance
    edges = [0.0, 2.0, 5.0, 9.0, 14.0]
    vg = S.point_variogram(xy, z, bins=edges, direction=30.0, tolerance=22.5)
    d, g, c = brute_points(xy, z, np.array(edges), direction=30.0)
    np.testing.assert_allclose(vg.gamma.numpy(), g, rtol=1e-12)
    np.testing.assert_array_equal(vg.pairs.numpy(), c)
    np.testing.assert_allclose(
        vg.vectors.numpy(), d[:, None] * np.array([math.sin(math.pi / 6), math.cos(math.pi / 6)])
    )
    assert vg.pairs.sum() < S.point_variogram(xy, z, bins=edges).pairs.sum()
    # a tolerance of 90° keeps every pair
    full = S.point_variogram(xy, z, bins=edges, direction=-70.0, tolerance=90)
    np.testing.assert_allclose(
        full.gamma.numpy(), S.point_variogram(xy, z, bins=edges).gamma.numpy(), rtol=1e-12
    )


def test_point_variogram_bins_are_open_on_the_left():
    # a 2×2 grid and a duplicate of (0, 0): four pairs at distance 1, two at √2, one at 0 (never counted)
    pts = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1], [0, 0]], dtype=torch.float64)
    z = torch.tensor([0.0, 1.0, 2.0, 4.0, 3.0])
    vg = S.point_variogram(pts, z, bins=[0.0, 1.0, 2.0])
    # (0, 1] holds the 4 unit pairs and 2 more of the duplicate; (1, 2] the diagonals (0,3) (1,2) (4,3)
    assert vg.pairs.tolist() == [6, 3]
    # unit pairs: (0,1) 1, (0,2) 4, (1,3) 9, (2,3) 4, (4,1) 4, (4,2) 1; diagonals 16, 1, 1
    assert vg.gamma.tolist() == [23 / 12, 18 / 6]
    assert vg.lags.tolist() == [1.0, math.sqrt(2)]


def test_point_variogram_on_a_grid_matches_the_grid_variogram():
    x = torch.randn(6, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    pts = grid_points((6, 6))
    # pairs exactly one row apart (angle 90°, within 1°) at distance 1, 2, 3
    vg = S.point_variogram(pts, x.reshape(-1), bins=[0.5, 1.5, 2.5, 3.5], direction=90.0, tolerance=1.0)
    np.testing.assert_allclose(vg.gamma.numpy(), S.grid_variogram(x, 3, "row").gamma.numpy(), rtol=1e-12)


# --- fits ------------------------------------------------------------------------------------------
def exact(cov, step=(1, 0), kmax=15) -> S.Variogram:
    k = torch.arange(1, kmax + 1, dtype=torch.float64)
    vec = k[:, None] * torch.tensor(step, dtype=torch.float64)
    pairs = torch.linspace(800, 200, kmax, dtype=torch.float64)
    return S.Variogram(
        lags=vec.norm(dim=-1),
        gamma=cov.variogram(vec),
        pairs=pairs,
        per_field=None,
        direction=step,
        vectors=vec,
    )


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * abs(b)


@pytest.mark.parametrize(
    "name, params, kwargs",
    [
        ("exponential", dict(range=3.0, sill=2.0), {}),
        ("gaussian", dict(range=4.0, sill=0.5), {}),
        ("spherical", dict(range=9.0, sill=1.3), {}),
        ("cubic", dict(range=8.0, sill=1.0), {}),
        ("matern", dict(range=2.5, sill=1.5, nu=1.5), dict(nu=1.5)),
        ("matern", dict(range=2.5, sill=1.5, nu=0.8), {}),  # ν fitted too
        ("exponential", dict(range=4.0, sill=1.0, nugget=0.3), dict(nugget=True)),
        ("matern", dict(range=2.0, sill=1.0, nu=1.2, nugget=0.2), dict(nugget=True)),
    ],
)
def test_fit_recovers_an_exact_curve(name, params, kwargs):
    true = make(name, **params)
    for weights in ("cressie", "pairs", "pairs/h2", "equal"):
        fit = S.fit_variogram(exact(true), name, weights=weights, **kwargs)
        assert type(fit) is type(true)
        for key in ("range", "sill", "nugget", "nu"):
            if key in params:
                assert close(getattr(fit, key), params[key], 1e-4), (weights, fit.describe())
        if "nugget" not in params:
            assert fit.nugget == 0


def test_fit_minimises_the_stated_weighted_criterion():
    """On a noisy curve each weighting gives a different fit, each a minimum of its own criterion."""
    true = make("exponential", range=4.0, sill=1.0, nugget=0.1)
    vg = exact(true)
    noise = 1 + 0.08 * torch.randn(len(vg), generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    vg = S.Variogram(vg.lags, vg.gamma * noise, vg.pairs, None, vg.direction, vg.vectors)
    n, h, g = vg.pairs, vg.lags, vg.gamma
    criteria = {
        "cressie": lambda gm: (n * (g / gm - 1) ** 2).sum(),
        "pairs": lambda gm: (n * (g - gm) ** 2).sum(),
        "pairs/h2": lambda gm: (n / h**2 * (g - gm) ** 2).sum(),
        "equal": lambda gm: ((g - gm) ** 2).sum(),
    }
    fits = {}
    for weights, crit in criteria.items():
        fit = S.fit_variogram(vg, "exponential", nugget=True, weights=weights)
        fits[weights] = fit
        best = float(crit(fit.variogram(vg.vectors)))
        for key in ("range", "sill", "nugget"):
            if getattr(fit, key) == 0:  # a nugget fitted to its bound, zero
                continue
            for f in (1 - 1e-4, 1 + 1e-4):
                other = make(
                    "exponential",
                    **{**dict(range=fit.range, sill=fit.sill, nugget=fit.nugget), key: getattr(fit, key) * f},
                )
                assert float(crit(other.variogram(vg.vectors))) > best, (weights, key, f)
    ranges = sorted(f.range for f in fits.values())
    assert ranges[-1] - ranges[0] > 1e-3 * ranges[0]


@pytest.mark.parametrize("angle, ratio", [(90.0, 0.5), (0.0, 0.4)])
def test_anisotropic_fit_recovers_an_exact_curve(angle, ratio):
    true = make("exponential", range=6.0, sill=1.2, angle=angle, ratio=ratio)
    vgs = [exact(true, (1, 0), 10), exact(true, (0, 1), 10), exact(true, (1, 1), 7)]
    fit = S.fit_variogram(vgs, "exponential", anisotropic=True)
    assert fit.angle == angle
    for key in ("range", "sill", "ratio"):
        assert close(getattr(fit, key), getattr(true, key), 1e-4), fit.describe()
    # the isotropic fit of the same curves is a compromise, not the truth
    iso = S.fit_variogram(vgs, "exponential")
    assert iso.ratio == 1 and not close(iso.range, 6.0, 0.05)


def test_fit_field_recovers_simulated_parameters():
    for true, kwargs in [
        (make("exponential", range=3.0, sill=2.0), {}),
        (make("matern", range=2.0, sill=1.5, nu=1.5), dict(nu=1.5)),
    ]:
        x = simulate(true, 200, seed=0)
        fit = S.fit_field(x, true.name, **kwargs)
        assert close(fit.range, true.range, 0.1) and close(fit.sill, true.sill, 0.1), fit.describe()
        for d in ("row", "col"):
            vg = S.grid_variogram(x, direction=d)
            gm = fit.variogram(vg.vectors)
            assert float((gm - vg.gamma).abs().max()) < 0.05 * true.sill
    # anisotropic: the longer range along the rows → angle 90
    true = make("exponential", range=5.0, sill=1.0, angle=90, ratio=0.5)
    fit = S.fit_field(simulate(true, 200, seed=1), "exponential", anisotropic=True)
    assert fit.angle == 90 and close(fit.range, 5.0, 0.1) and close(fit.ratio, 0.5, 0.1), fit.describe()
    assert S.fit_field(simulate(true, 50, seed=2), "exponential").ratio == 1


def test_stderr_covers_the_truth():
    true = make("exponential", range=3.0, sill=2.0)
    vg = S.grid_variogram(simulate(true, 200, seed=3), direction="col")
    assert torch.allclose(vg.per_field.mean(0), vg.gamma)
    z = (vg.gamma - true.variogram(vg.vectors)) / vg.stderr
    assert float(z.abs().max()) < 4


# --- facies statistics ----------------------------------------------------------------------------
def test_proportions():
    img = torch.tensor([[0.0, 1.0], [1.0, 2.0]])
    assert torch.equal(S.proportions(img), torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64))
    assert torch.equal(S.proportions(img, k=4), torch.tensor([0.25, 0.5, 0.25, 0.0], dtype=torch.float64))
    batch = torch.stack([img, torch.zeros(2, 2)])[:, None]
    per = S.proportions(batch, per_image=True)
    assert torch.equal(per, torch.tensor([[0.25, 0.5, 0.25], [1.0, 0.0, 0.0]], dtype=torch.float64))
    assert torch.equal(S.proportions(batch), torch.tensor([0.625, 0.25, 0.125], dtype=torch.float64))


def test_indicator_variogram_of_a_checkerboard_and_stripes():
    # checkerboard: neighbours along an axis always differ (γ = 1/2), two apart always agree (0)
    for facies in (0, 1):
        for d in ("row", "col", "both"):
            vg = S.indicator_variogram(CHECKER, facies, 3, d)
            assert vg.gamma.tolist() == [0.5, 0.0, 0.5]
        assert S.indicator_variogram(CHECKER, facies, 3, (1, 1)).gamma.tolist() == [0.0, 0.0, 0.0]
        assert S.indicator_variogram(CHECKER, facies, 1, (1, 2)).gamma.tolist() == [0.5]
    assert S.indicator_variogram(CHECKER, 0, 3, "row").pairs.tolist() == [12, 8, 4]
    # vertical stripes x = col % 2 over 4 columns: nothing changes down a column
    stripes = torch.tensor([[c % 2 for c in range(4)] for _ in range(5)], dtype=torch.float32)
    assert S.indicator_variogram(stripes, 1, 3, "row").gamma.tolist() == [0.0, 0.0, 0.0]
    assert S.indicator_variogram(stripes, 1, 3, "col").gamma.tolist() == [0.5, 0.0, 0.5]
    # pooled: lag 1 has 4·4 row pairs (each adding 0) and 5·3 col pairs (each adding 1) → 15/(2·31)
    assert S.indicator_variogram(stripes, 1, 1, "both").gamma.item() == pytest.approx(15 / 62, rel=1e-14)


def test_connectivity_two_blobs_and_one():
    img = torch.zeros(3, 6)
    img[1] = torch.tensor([1, 1, 0, 1, 1, 1.0])  # two blobs on the middle row: columns 0–1 and 3–5
    con = S.connectivity(img, 1, 3, "col")
    # lag 1: (0,1) (3,4) (4,5) all connected; lag 2: (1,3) no, (3,5) yes; lag 3: (0,3) (1,4) no
    assert con.pairs.tolist() == [3, 2, 2] and con.connected.tolist() == [3, 1, 0]
    assert con.tau.tolist() == [1.0, 0.5, 0.0]
    rows = S.connectivity(img, 1, 2, "row")  # no vertical pair inside the facies
    assert rows.pairs.tolist() == [0, 0] and torch.isnan(rows.tau).all()
    # facies 0 is one component (rows 0 and 2 join through the gap at column 2)
    assert S.connectivity(img, 0, 2, "row").tau.tolist() == [1.0, 1.0]
    joined = img.clone()
    joined[1, 2] = 1
    assert S.connectivity(joined, 1, 5, "col").tau.tolist() == [1.0] * 5
    # pooled over the batch and both axes: the checkerboard has no 4-connected pair at all
    che = S.connectivity(torch.stack([CHECKER, CHECKER])[:, None], 0, 3, "both")
    assert che.pairs.tolist() == [0, 16, 0] and che.tau[1].item() == 0.0
    # a diagonal step: the checkerboard's diagonal neighbours share the facies but not a 4-component
    assert S.connectivity(CHECKER, 0, 2, (1, 1)).tau.tolist() == [0.0, 0.0]


def test_pattern_histogram_by_hand():
    img = torch.tensor([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.float32)
    h = S.pattern_histogram(img, size=2)
    # windows [[0,1],[1,0]] → 0110₂ = 6 (twice) and [[1,0],[0,1]] → 1001₂ = 9 (twice)
    assert h.codes.tolist() == [6, 9] and h.counts.tolist() == [2, 2] and h.freq.tolist() == [0.5, 0.5]
    assert h.k == 2 and h.size == (2, 2) and h.as_dict() == {6: 0.5, 9: 0.5}
    assert h.pattern(9).tolist() == [[1, 0], [0, 1]]
    # rectangular windows, base 3 (k given): 1×2 windows of [[2, 0, 1]] → 2·3+0 = 6, 0·3+1 = 1
    h3 = S.pattern_histogram(torch.tensor([[2.0, 0.0, 1.0]]), size=(1, 2), k=3)
    assert h3.codes.tolist() == [1, 6] and h3.freq.tolist() == [0.5, 0.5]
    # a batch pools all windows: 3×3 checkerboard windows come in two kinds, 2·4 each over two images
    hc = S.pattern_histogram(torch.stack([CHECKER, 1 - CHECKER])[:, None], size=3)
    assert hc.counts.tolist() == [4, 4]
    assert [hc.pattern(c).tolist() for c in hc.codes.tolist()] == [
        [[0, 1, 0], [1, 0, 1], [0, 1, 0]],
        [[1, 0, 1], [0, 1, 0], [1, 0, 1]],
    ]


def test_js_distance():
    from scipy.spatial.distance import jensenshannon

    a = S.pattern_histogram(CHECKER, 2)
    assert S.js_distance(a, a) == 0.0
    assert S.js_distance(a, S.pattern_histogram(torch.zeros(4, 4), 2, k=2)) == pytest.approx(1.0, abs=1e-15)
    p = {1: 0.5, 2: 0.3, 7: 0.2}
    q = {2: 0.1, 7: 0.6, 9: 0.3}
    ref = jensenshannon([0.5, 0.3, 0.2, 0.0], [0.0, 0.1, 0.6, 0.3], base=2) ** 2
    assert S.js_distance(p, q) == pytest.approx(ref, rel=1e-12)
    assert S.js_distance(q, p) == pytest.approx(ref, rel=1e-12)
    # unnormalised dicts are normalised
    assert S.js_distance({1: 5, 2: 3, 7: 2}, q) == pytest.approx(ref, rel=1e-12)


def test_pattern_scores():
    zeros, ones = torch.zeros(1, 1, 5, 5), torch.ones(1, 1, 5, 5)
    s = S.pattern_scores(torch.cat([zeros, ones]), zeros, size=3)
    assert s["inconsistency"] == pytest.approx(0.5) and s["diversity"] == pytest.approx(1.0)
    assert s["training_inconsistency"] == 0.0 and math.isnan(s["training_diversity"])
    stripes = torch.tensor([[c % 2 for c in range(6)] for _ in range(6)], dtype=torch.float32)
    train = torch.stack([stripes, 1 - stripes, stripes])[:, None]
    s = S.pattern_scores(train, train, size=2)
    assert s["inconsistency"] == s["training_inconsistency"] and s["diversity"] == s["training_diversity"]
    # stripes and their negative: 2×2 windows [[0,1],[0,1]] and [[1,0],[1,0]] in shares 3:2 vs 2:3
    p = S.pattern_histogram(stripes, 2).as_dict()
    assert p == {5: 0.6, 10: 0.4}
    js = S.js_distance(p, {5: 0.4, 10: 0.6})
    assert s["diversity"] == pytest.approx(2 * js / 3)  # pairs (0,1) and (1,2) differ, (0,2) agree
    # with a cap on pairs the mean is over a sample of them
    many = torch.stack([stripes, 1 - stripes] * 5)[:, None]
    assert 0 < S.pattern_scores(many, train, size=2, max_pairs=10)["diversity"] <= js


def test_facies_errors():
    same = S.facies_errors(torch.stack([CHECKER, 1 - CHECKER])[:, None], CHECKER, max_lag=2)
    assert same == {"proportion": 0.0, "indicator_variogram": 0.0, "connectivity": 0.0, "pattern_js": 0.0}
    e = S.facies_errors(torch.zeros(4, 4), CHECKER, max_lag=2)
    assert e["proportion"] == 0.5
    assert e["indicator_variogram"] == pytest.approx(
        0.25
    )  # |0 − ½| at lag 1, 0 at lag 2, each facies and axis
    assert e["connectivity"] == 1.0  # facies 0 at lag 2: all connected (τ 1) vs isolated cells (τ 0)
    assert e["pattern_js"] == pytest.approx(1.0)


# --- devices ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    x = torch.randn(3, 1, 9, 11, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for d in ("both", (1, 2)):
        a, b = S.grid_variogram(x, direction=d), S.grid_variogram(x.cuda(), direction=d)
        assert b.gamma.is_cuda
        torch.testing.assert_close(a.gamma, b.gamma.cpu())
        torch.testing.assert_close(a.stderr, b.stderr.cpu())
    xy, z = torch.rand(40, 2, dtype=torch.float64) * 10, torch.randn(40, dtype=torch.float64)
    torch.testing.assert_close(
        S.point_variogram(xy, z, 5, direction=45.0).gamma,
        S.point_variogram(xy.cuda(), z.cuda(), 5, direction=45.0).gamma.cpu(),
    )
    f = (x > 0).double()
    torch.testing.assert_close(
        S.connectivity(f, 1).tau, S.connectivity(f.cuda(), 1).tau.cpu(), equal_nan=True
    )
    ha, hb = S.pattern_histogram(f, 3), S.pattern_histogram(f.cuda(), 3)
    assert torch.equal(ha.codes, hb.codes.cpu()) and S.js_distance(ha, hb) == 0.0
    assert S.facies_errors(f.cuda(), f)["pattern_js"] == 0.0
    fit = S.fit_field(simulate(make("exponential", range=3.0), 50).cuda(), "exponential")
    assert close(fit.range, 3.0, 0.2)


# --- errors -----------------------------------------------------------------------------------------
def test_bad_input_is_one_line():
    x = torch.randn(2, 1, 5, 6)
    with pytest.raises(GenzooError) as e:
        S.grid_variogram(torch.randn(2, 5, 6))
    assert "(n, 1, H, W)" in one_line(e)
    with pytest.raises(GenzooError) as e:
        S.grid_variogram(torch.randn(2, 3, 5, 6))
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.grid_variogram(x, max_lag=5, direction="row")
    assert "max_lag = 5" in one_line(e)
    with pytest.raises(GenzooError) as e:
        S.grid_variogram(x, max_lag=6, direction="both")
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.grid_variogram(x, max_lag=3, direction=(1, 2))
    one_line(e)
    for bad in ("diagonal", (0, 0), (1.5, 0), (True, 0)):
        with pytest.raises(GenzooError) as e:
            S.grid_variogram(x, direction=bad)
        one_line(e)
    x_nan = x.clone()
    x_nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(GenzooError) as e:
        S.grid_variogram(x_nan)
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.proportions(torch.tensor([[0.0, 1.5], [1.0, 2.0]]))
    assert "integer" in one_line(e)
    with pytest.raises(GenzooError) as e:
        S.proportions(torch.tensor([[0.0, -1.0]]))
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.pattern_histogram(CHECKER, 2, k=1)
    assert "k = 1" in one_line(e)
    with pytest.raises(GenzooError) as e:
        S.indicator_variogram(CHECKER, 2)
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.connectivity(CHECKER, 0, max_lag=4)
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.pattern_histogram(CHECKER, 5)
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.pattern_histogram(torch.full((8, 8), 9.0), 8)
    assert "64-bit" in one_line(e)
    with pytest.raises(GenzooError) as e:
        S.js_distance(S.pattern_histogram(CHECKER, 2), S.pattern_histogram(CHECKER, 3))
    one_line(e)
    vg = S.grid_variogram(x)
    with pytest.raises(GenzooError) as e:
        S.fit_variogram(vg, "matérn")
    assert "unknown covariance model" in one_line(e)
    with pytest.raises(GenzooError) as e:
        S.fit_variogram(vg, "gaussian", nu=1.0)
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.fit_variogram(vg, "exponential", anisotropic=True)  # pooled: no lag vectors
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.fit_variogram(
            S.grid_variogram(x, direction="row"), "exponential", anisotropic=True
        )  # one direction
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.fit_variogram(vg, "exponential", weights="cressy")
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.fit_variogram(S.grid_variogram(torch.zeros(6, 6)), "exponential")
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.point_variogram(torch.rand(5, 3), torch.rand(5))
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.point_variogram(torch.rand(5, 2), torch.rand(4))
    one_line(e)
    with pytest.raises(GenzooError) as e:
        S.point_variogram(torch.rand(5, 2), torch.rand(5), bins=[1.0, 0.5])
    one_line(e)
