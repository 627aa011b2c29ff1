"""Sample metrics against independent implementations (scipy, torchmetrics, prdc, brute-force
loops), their identities on identical sets, their sensitivity, and every refusal."""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from prdc import compute_prdc

from genzoo.errors import GenzooError
from genzoo.metrics import samples as S


def gauss(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


def binary(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=(n, d)).astype(np.float64)


def ring(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    t = 2 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(t), np.sin(t)], 1)


def mixture(n: int, modes: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return modes[rng.integers(0, len(modes), n)] + sigma * rng.normal(size=(n, modes.shape[1]))


def prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the sample sizes
        return {key: float(v) for key, v in compute_prdc(real, fake, nearest_k=k).items()}


PAIRS = [(500, 500, 16), (700, 400, 64)]  # (N, M, D)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few rows, so that the blocked loops run many times."""
    monkeypatch.setattr(S, "_BLOCK", 97)


# --- Fréchet distance --------------------------------------------------------------------------


def fid_scipy(x: np.ndarray, y: np.ndarray) -> float:
    """The classic pytorch-fid formula: real part of sqrtm(Σ₁Σ₂)."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.parametrize("n, m, d", PAIRS)
def test_frechet_matches_scipy_and_torchmetrics(n, m, d):
    from torchmetrics.image.fid import _compute_fid

    x, y = gauss(n, d, 1), gauss(m, d, 2, shift=0.1) * 1.3
    fd = S.frechet_distance(x, y)
    assert isinstance(fd, float)
    assert fd == pytest.approx(fid_scipy(x, y), rel=1e-6)
    stats = [
        torch.from_numpy(a) for a in (x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    ]
    assert fd == pytest.approx(float(_compute_fid(*stats)), rel=1e-6)


def test_frechet_identical_sets_is_zero():
    x = gauss(500, 64, 3)
    fd = S.frechet_distance(x, x.copy())
    assert 0.0 <= fd < 1e-8 * np.trace(np.cov(x, rowvar=False))


def test_frechet_shift_gives_squared_norm():
    shift = np.array([1.0, -2.0, 0.5, 2.0])  # ‖shift‖² = 9.25
    x = gauss(5000, 4, 4)
    assert S.frechet_distance(x, x + shift) == pytest.approx(9.25, rel=1e-9)  # same covariance exactly
    y = gauss(5000, 4, 5) + shift  # a fresh draw: ‖shift‖² plus a small noise floor
    assert abs(S.frechet_distance(x, y) - 9.25) < 0.1


def test_frechet_singular_covariance_is_finite_and_right():
    x, y = gauss(300, 5, 6), gauss(300, 5, 7, shift=0.2)
    base = S.frechet_distance(x, y)
    const = np.full((300, 1), 3.0)  # a constant feature: zero variance, FD unchanged
    assert S.frechet_distance(np.hstack([x, const]), np.hstack([y, const])) == pytest.approx(base, rel=1e-9)
    # a duplicated feature (x₀, x₀) is a rotation of (√2 x₀, 0): FD equals that of the rescaled set
    dup = S.frechet_distance(np.hstack([x, x[:, :1]]), np.hstack([y, y[:, :1]]))
    scale = np.r_[math.sqrt(2), np.ones(4)]
    assert math.isfinite(dup)
    assert dup == pytest.approx(S.frechet_distance(x * scale, y * scale), rel=1e-7)


# --- KID and MMD -------------------------------------------------------------------------------


def torchmetrics_kid(x: np.ndarray, y: np.ndarray, subsets: int, subset_size: int) -> tuple[float, float]:
    from torchmetrics.image.kid import KernelInceptionDistance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "will save all extracted features in buffer"
        metric = KernelInceptionDistance(
            feature=torch.nn.Identity(), subsets=subsets, subset_size=subset_size
        )
    metric.update(torch.from_numpy(x), real=True)
    metric.update(torch.from_numpy(y), real=False)
    mean, std = metric.compute()
    return float(mean), float(std)


@pytest.mark.parametrize("d", [16, 64])
def test_kid_on_the_whole_sets_matches_torchmetrics(d):
    from torchmetrics.image.kid import poly_mmd

    x, y = gauss(500, d, 8), gauss(500, d, 9, shift=0.2)
    ours = S.kid(x, y, subset_size=None)  # one estimate on everything: no randomness, no spread
    assert "std" not in ours and ours["spread"].startswith("none")
    assert ours["mean"] == pytest.approx(float(poly_mmd(torch.from_numpy(x), torch.from_numpy(y))), rel=1e-6)
    assert ours["mean"] == pytest.approx(torchmetrics_kid(x, y, 1, 500)[0], rel=1e-6)


@pytest.mark.parametrize("n, m, d", [(500, 500, 16), (300, 200, 64)])
def test_kid_subsets_are_torchmetrics_subsets(n, m, d):
    """The subsets are drawn as torchmetrics draws them (torch.randperm, real then fake), so with
    its global seed set to ours it reports the same mean and the same std."""
    x, y = gauss(n, d, 8), gauss(m, d, 9, shift=0.2)
    ours = S.kid(x, y, subsets=8, seed=3)
    assert ours["subset_size"] == min(n, m) // 2 and ours["subsets"] == 8  # 250 for the suite's 500 vs 500
    torch.manual_seed(3)
    mean, std = torchmetrics_kid(x, y, 8, ours["subset_size"])
    assert ours["mean"] == pytest.approx(mean, rel=1e-6)
    assert ours["std"] == pytest.approx(std, rel=1e-6)


def test_kid_std_is_the_std_over_genuinely_different_subsets():
    """Default arguments on 200 against 200: subsets of 100, never the whole set, so the std is a
    real spread (at the suite's 500 vs 500 it was 2e-12, the std of 100 copies of one number)."""
    from torchmetrics.image.kid import poly_mmd

    x, y = gauss(200, 16, 13), gauss(200, 16, 14, shift=0.2)
    out = S.kid(x, y, seed=5)
    draws = list(S.kid_subsets(200, 200, 100, 100, seed=5))
    assert len(draws) == 100 and all(len(i) == len(j) == 100 for i, j in draws)
    assert len({tuple(sorted(i)) for i, _ in draws}) == 100  # all different
    values = np.array([float(poly_mmd(torch.from_numpy(x[i]), torch.from_numpy(y[j]))) for i, j in draws])
    assert out["mean"] == pytest.approx(values.mean(), rel=1e-9)
    assert out["std"] == pytest.approx(values.std(), rel=1e-9)
    assert out["std"] > 0.1 * abs(out["mean"])
    assert out["spread"].startswith("std over 100 subsets of 100 per set")


def test_kid_reports_no_spread_where_it_would_be_meaningless():
    from torchmetrics.image.kid import poly_mmd

    x, y = gauss(40, 4, 15), gauss(30, 4, 16)
    one = S.kid(x, y, subsets=1)
    assert "std" not in one and one["subset_size"] == 15 and one["spread"].startswith("none")
    tiny = S.kid(x[:3], y[:3])  # half of 3 is one example, too few for an unbiased MMD²: the whole sets, once
    assert "std" not in tiny and "subset_size" not in tiny and tiny["spread"].startswith("none")
    assert tiny["mean"] == pytest.approx(
        float(poly_mmd(torch.from_numpy(x[:3]), torch.from_numpy(y[:3]))), rel=1e-9
    )


def test_kid_subsets_are_seeded_and_sized():
    x, y = gauss(300, 8, 10), gauss(200, 8, 11, shift=0.3)
    a = S.kid(x, y, subsets=20, subset_size=1000, seed=1)
    assert a["subset_size"] == 100 and a["subsets"] == 20  # half the smaller set
    assert a == S.kid(x, y, subsets=20, subset_size=1000, seed=1)
    assert S.kid(x, y, subsets=20, subset_size=60, seed=1)["subset_size"] == 60
    assert a["mean"] != S.kid(x, y, subsets=20, subset_size=1000, seed=2)["mean"]
    assert a["std"] > 0


def unbiased_identical(k: np.ndarray) -> float:
    """Unbiased MMD² of a set against itself: (2/m)(mean_{i≠j} k − mean_i k(xᵢ,xᵢ)), below 0."""
    m = len(k)
    return 2 / m * ((k.sum() - np.trace(k)) / (m * (m - 1)) - np.trace(k) / m)


def test_kid_and_mmd_of_identical_sets():
    x = gauss(200, 8, 12)
    poly = (x @ x.T / 8 + 1) ** 3
    assert S.kid(x, x.copy(), subset_size=None)["mean"] == pytest.approx(unbiased_identical(poly), rel=1e-9)
    out = S.mmd(x, x.copy(), bandwidth=2.0)
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    assert out["mmd2"] == pytest.approx(unbiased_identical(np.exp(-d2 / 8.0)), rel=1e-9)
    assert -0.02 < out["mmd2"] < 0


def mmd_loops(x: np.ndarray, y: np.ndarray, h: float) -> float:
    def k(a, b):
        return math.exp(-float(((a - b) ** 2).sum()) / (2 * h * h))

    n, m = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return kxx + kyy - 2 * kxy


def median_loops(z: np.ndarray) -> float:
    return float(
        np.median([np.linalg.norm(z[i] - z[j]) for i in range(len(z)) for j in range(i + 1, len(z))])
    )


@pytest.mark.parametrize("m", [20, 15])
def test_mmd_matches_double_loop(m, small_blocks):
    x, y = gauss(20, 3, 13), gauss(m, 3, 14, shift=0.5)
    assert S.mmd(x, y, bandwidth=1.5)["mmd2"] == pytest.approx(mmd_loops(x, y, 1.5), rel=1e-9)
    out = S.mmd(x, y)
    h = median_loops(np.concatenate([x, y]))
    assert out["bandwidth"] == pytest.approx(h, rel=1e-12)
    assert out["mmd2"] == pytest.approx(mmd_loops(x, y, h), rel=1e-9)


def test_mmd_detects_a_shift():
    x = gauss(300, 4, 15)
    assert S.mmd(x, gauss(300, 4, 16, shift=1.0))["mmd2"] > 20 * abs(S.mmd(x, gauss(300, 4, 17))["mmd2"])


# --- precision / recall / density / coverage ---------------------------------------------------


@pytest.mark.parametrize("n, m, d", PAIRS)
@pytest.mark.parametrize("k", [3, 5])
def test_prdc_matches_reference_on_continuous_data(n, m, d, k):
    x, y = gauss(n, d, 18), gauss(m, d, 19, shift=0.2)
    ref = prdc(x, y, k)
    ours = S.precision_recall(x, y, k=k) | S.density_coverage(x, y, k=k)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], rel=1e-6), key


def test_prdc_blocked_equals_unblocked(monkeypatch):
    x, y = gauss(120, 5, 20), gauss(90, 5, 21, shift=0.3)
    whole = S.precision_recall(x, y) | S.density_coverage(x, y)
    monkeypatch.setattr(S, "_BLOCK", 97)
    assert S.precision_recall(x, y) | S.density_coverage(x, y) == whole


def test_prdc_identical_continuous_sets():
    x = gauss(400, 16, 22)
    assert S.precision_recall(x, x.copy()) == {"precision": 1.0, "recall": 1.0}
    assert S.density_coverage(x, x.copy()) == {"density": 1.0, "coverage": 1.0}


def test_prdc_identical_binary_sets_score_one_where_prdc_does_not():
    x = binary(500, 4, 23)  # 16 patterns, ~31 copies each: every k-NN radius is 0
    assert S.precision_recall(x, x.copy()) == {"precision": 1.0, "recall": 1.0}
    assert S.density_coverage(x, x.copy())["coverage"] == 1.0
    ref = prdc(x, x.copy(), 3)  # strict <: nothing lies strictly inside a ball of radius 0
    assert ref["precision"] == ref["recall"] == ref["coverage"] == 0.0
    x8 = binary(500, 8, 24)  # dimension 8: fewer ties, prdc still falls short of 1
    assert S.precision_recall(x8, x8.copy()) == {"precision": 1.0, "recall": 1.0}
    assert S.density_coverage(x8, x8.copy())["coverage"] == 1.0
    ref8 = prdc(x8, x8.copy(), 3)
    assert max(ref8["precision"], ref8["recall"], ref8["coverage"]) < 0.9


def test_half_the_modes_gives_recall_below_precision():
    modes = ring()
    real = mixture(800, modes, 0.05, 25)
    fake = mixture(800, modes[::2], 0.05, 26)  # 4 of the 8 modes
    pr, dc = S.precision_recall(real, fake), S.density_coverage(real, fake)
    assert pr["precision"] > 0.9 and pr["recall"] < 0.6
    assert 0.4 < dc["coverage"] < 0.6


# --- 1-NN two-sample test ----------------------------------------------------------------------


def one_nn_loops(x: np.ndarray, y: np.ndarray) -> list[float]:
    """Per-point scores with the documented tie rule, point by point."""
    z = np.concatenate([x, y])
    label = [0] * len(x) + [1] * len(y)
    scores = []
    for i in range(len(z)):
        dist = [np.linalg.norm(z[i] - z[j]) if j != i else math.inf for j in range(len(z))]
        best = min(dist)
        tie = [j for j in range(len(z)) if dist[j] == best] + ([i] if best == 0 else [])
        scores.append(sum(label[j] == label[i] for j in tie) / len(tie))
    return scores


@pytest.mark.parametrize(
    "make", [lambda s, n: gauss(n, 3, s), lambda s, n: binary(n, 3, s)], ids=["gauss", "binary"]
)
def test_one_nn_matches_loop(make, small_blocks):
    x, y = make(27, 30), make(28, 25) + 0.0
    scores = one_nn_loops(x, y)
    out = S.one_nn_accuracy(x, y)
    assert out["accuracy"] == pytest.approx(np.mean(scores), rel=1e-12)
    assert out["accuracy_real"] == pytest.approx(np.mean(scores[:30]), rel=1e-12)
    assert out["accuracy_fake"] == pytest.approx(np.mean(scores[30:]), rel=1e-12)


@pytest.mark.parametrize("x", [gauss(300, 8, 29), binary(300, 8, 30)], ids=["gauss", "binary"])
def test_one_nn_identical_sets_is_one_half(x):
    assert S.one_nn_accuracy(x, x.copy()) == {"accuracy": 0.5, "accuracy_real": 0.5, "accuracy_fake": 0.5}


def test_one_nn_separable_and_fresh_draws():
    assert S.one_nn_accuracy(gauss(100, 2, 31), gauss(100, 2, 32, shift=20.0))["accuracy"] == 1.0
    assert abs(S.one_nn_accuracy(gauss(500, 2, 33), gauss(500, 2, 34))["accuracy"] - 0.5) < 0.06


# --- memorisation and mode coverage ------------------------------------------------------------


def test_memorization_copies_against_fresh_draws():
    train, test = gauss(1000, 8, 35), gauss(1000, 8, 36)
    copies = train[50:350]
    out = S.memorization(copies, train, test)
    assert out["copy_rate"] == 1.0 and out["ratio"] == 0.0 and out["median_sample_distance"] == 0.0
    assert out["closest"][:3] == [(i, 50 + i, 0.0) for i in range(3)]
    assert len(out["closest"]) == 8

    fresh = S.memorization(gauss(4000, 8, 37), train, test)
    assert abs(fresh["copy_rate"] - 0.05) < 0.02
    assert 0.93 < fresh["ratio"] < 1.07
    d = [c[2] for c in fresh["closest"]]
    assert d == sorted(d) and d[-1] < fresh["threshold"]


def test_memorization_nearest_matches_loop(small_blocks):
    s, train, test = gauss(15, 3, 38), gauss(40, 3, 39), gauss(20, 3, 40)
    d_s = [min(np.linalg.norm(a - b) for b in train) for a in s]
    d_t = [min(np.linalg.norm(a - b) for b in train) for a in test]
    out = S.memorization(s, train, test, n_closest=15)
    assert out["median_sample_distance"] == pytest.approx(np.median(d_s), rel=1e-9)
    assert out["threshold"] == pytest.approx(np.percentile(d_t, 5), rel=1e-9)
    assert sorted(i for i, _, _ in out["closest"]) == list(range(15))
    for i, j, dist in out["closest"]:
        assert dist == pytest.approx(np.linalg.norm(s[i] - train[j]), rel=1e-9)
        assert dist == pytest.approx(d_s[i], rel=1e-9)


def test_mode_coverage():
    modes, sigma = ring(), 0.02
    exact = np.repeat(modes, 5, axis=0)
    assert S.mode_coverage(exact, modes, sigma) == {
        "modes_covered": 8,
        "high_quality_rate": 1.0,
        "counts": [5] * 8,
    }
    near3 = mixture(300, modes[:3], sigma, 41)
    out = S.mode_coverage(near3, modes, sigma)
    assert out["modes_covered"] == 3 and out["high_quality_rate"] > 0.9 and sum(out["counts"][3:]) == 0
    far = gauss(100, 2, 42) * 0.1  # near the centre, 2 away from every mode
    assert S.mode_coverage(far, modes, sigma) == {
        "modes_covered": 0,
        "high_quality_rate": 0.0,
        "counts": [0] * 8,
    }
    few = np.concatenate([np.repeat(modes[:7], 10, axis=0), modes[7:]])  # the 8th mode holds one sample
    assert S.mode_coverage(few, modes, sigma)["modes_covered"] == 8
    assert S.mode_coverage(few, modes, sigma, min_count=5)["modes_covered"] == 7


# --- inputs and refusals -----------------------------------------------------------------------


def test_torch_input_equals_numpy_input():
    x, y = gauss(200, 8, 43).astype(np.float32), gauss(150, 8, 44, shift=0.2).astype(np.float32)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    assert S.frechet_distance(tx, ty) == S.frechet_distance(x, y)
    assert S.precision_recall(tx, ty) == S.precision_recall(x, y)
    assert S.one_nn_accuracy(tx, ty) == S.one_nn_accuracy(x.astype(np.float64), y)


ALL = {
    "fd": lambda x, y: S.frechet_distance(x, y),
    "kid": lambda x, y: S.kid(x, y, subsets=2),
    "mmd": lambda x, y: S.mmd(x, y),
    "pr": lambda x, y: S.precision_recall(x, y),
    "dc": lambda x, y: S.density_coverage(x, y),
    "1nn": lambda x, y: S.one_nn_accuracy(x, y),
    "mem": lambda x, y: S.memorization(x, y, y),
    "modes": lambda x, y: S.mode_coverage(x, y, 0.1),
}


@pytest.mark.parametrize("name", ALL)
def test_refuses_mismatched_dimensions(name):
    with pytest.raises(GenzooError, match=r"different feature dimensions: D=4 and D=3"):
        ALL[name](gauss(50, 4, 45), gauss(50, 3, 46))


@pytest.mark.parametrize("name", ALL)
def test_refuses_nan_and_wrong_rank(name):
    bad = gauss(50, 3, 47)
    bad[[3, 7], 1] = [np.nan, np.inf]
    with pytest.raises(GenzooError, match=r"has 2 NaN or infinite values \(of 50×3\)"):
        ALL[name](gauss(50, 3, 48), bad)
    with pytest.raises(GenzooError, match=r"must be a 2-D \(n, D\) array of features; got shape \(50,\)"):
        ALL[name](gauss(50, 3, 48)[:, 0], gauss(50, 3, 49))


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: S.frechet_distance(gauss(16, 16, 0), gauss(100, 16, 1)),
            r"more samples than feature dimensions .* N=16 real and M=100 fake for D=16 .*biased in N",
        ),
        (
            lambda: S.frechet_distance(gauss(100, 16, 0), gauss(10, 16, 1)),
            r"N=100 real and M=10 fake for D=16",
        ),
        (lambda: S.kid(gauss(1, 4, 0), gauss(10, 4, 1)), r"KID needs at least 2 real samples; got 1"),
        (
            lambda: S.kid(gauss(10, 4, 0), gauss(10, 4, 1), subset_size=1),
            r"subset_size must be an integer ≥ 2 or None; got 1",
        ),
        (lambda: S.mmd(gauss(10, 4, 0), gauss(1, 4, 1)), r"MMD needs at least 2 fake samples; got 1"),
        (
            lambda: S.mmd(gauss(10, 4, 0), gauss(10, 4, 1), bandwidth=0.0),
            r"bandwidth must be a positive finite number; got 0.0",
        ),
        (lambda: S.mmd(np.zeros((10, 2)), np.zeros((10, 2))), r"median heuristic gives bandwidth 0"),
        (
            lambda: S.precision_recall(gauss(3, 4, 0), gauss(10, 4, 1)),
            r"k=3 needs more than k real samples \(k < N\); got N=3",
        ),
        (
            lambda: S.precision_recall(gauss(10, 4, 0), gauss(2, 4, 1)),
            r"k=3 needs more than k fake samples \(k < N\); got N=2",
        ),
        (
            lambda: S.density_coverage(gauss(5, 4, 0), gauss(10, 4, 1)),
            r"k=5 needs more than k real samples \(k < N\); got N=5",
        ),
        (
            lambda: S.density_coverage(gauss(10, 4, 0), gauss(10, 4, 1), k=0),
            r"k must be a positive integer; got 0",
        ),
        (
            lambda: S.mode_coverage(gauss(10, 2, 0), ring(), -1.0),
            r"sigma must be a positive finite number; got -1.0",
        ),
        (
            lambda: S.mode_coverage(gauss(10, 2, 0), ring(), 0.1, min_count=0),
            r"min_count must be a positive integer; got 0",
        ),
        (
            lambda: S.memorization(gauss(10, 2, 0), gauss(10, 2, 1), np.zeros((0, 2))),
            r"test is empty: shape \(0, 2\)",
        ),
        (
            lambda: S.memorization(gauss(10, 2, 0), gauss(10, 2, 1), gauss(10, 2, 2), n_closest=-1),
            r"n_closest must be a non-negative integer; got -1",
        ),
    ],
)
def test_refusals_name_the_numbers(call, message):
    with pytest.raises(GenzooError, match=message):
        call()
