"""The code density an autoencoder samples from: fits against closed forms, scikit-learn and brute-force
sums."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from genzoo.errors import GenzooError
from genzoo.models.codes import CodeDistribution


def test_gaussian_fit_is_the_sample_mean_and_covariance():
    g = torch.Generator().manual_seed(0)
    a = torch.tensor([[2.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.0, -0.3, 0.2]])
    codes = torch.randn(5000, 3, generator=g) @ a.T + torch.tensor([1.0, -2.0, 0.5])
    dist = CodeDistribution(3, "gaussian").fit(codes)
    torch.testing.assert_close(dist.means[0], codes.mean(0), atol=1e-5, rtol=1e-5)
    cov = dist.chol[0] @ dist.chol[0].T
    torch.testing.assert_close(cov, torch.cov(codes.T), atol=1e-4, rtol=1e-4)
    x = codes[:7]
    expected = multivariate_normal(codes.mean(0).numpy(), torch.cov(codes.T).numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(dist.log_prob(x).numpy(), expected, rtol=1e-4)
    s = dist.sample(20000, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(s.mean(0), codes.mean(0), atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(s.T), torch.cov(codes.T), atol=0.08, rtol=0)


def test_gmm_matches_scikit_learn_and_samples_every_component():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(-5, 0.5, (400, 2)), rng.normal(5, 0.5, (600, 2))])
    dist = CodeDistribution(2, "gmm", components=2).fit(torch.tensor(codes, dtype=torch.float32))
    gm = GaussianMixture(2, covariance_type="full", random_state=0, reg_covar=1e-6).fit(codes)
    order = np.argsort(gm.means_[:, 0])
    mine = np.argsort(dist.means[:, 0].numpy())
    np.testing.assert_allclose(dist.weights.numpy()[mine], gm.weights_[order], rtol=1e-4)
    np.testing.assert_allclose(
        dist.log_prob(torch.tensor(codes[:5], dtype=torch.float32)).numpy(),
        gm.score_samples(codes[:5]),
        rtol=1e-4,
    )
    s = dist.sample(5000, generator=torch.Generator().manual_seed(0))
    assert 0.55 < float((s[:, 0] > 0).float().mean()) < 0.65


def test_seeded_saved_and_refusals():
    dist = CodeDistribution(2, "gaussian")
    with pytest.raises(GenzooError, match="not fitted"):
        dist.sample(3)
    dist.fit(torch.randn(50, 2))
    a = dist.sample(4, generator=torch.Generator().manual_seed(2))
    b = dist.sample(4, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    copy = CodeDistribution(2, "gaussian")
    copy.load_state_dict(dist.state_dict())
    assert torch.equal(copy.sample(4, generator=torch.Generator().manual_seed(2)), a)
    with pytest.raises(GenzooError, match="at least 10 codes"):
        CodeDistribution(2, "gmm", components=10).fit(torch.randn(5, 2))
    with pytest.raises(GenzooError, match="auto, gaussian, gmm, kde"):
        CodeDistribution(2, "flow")


def _clusters(n: int = 2000, seed: int = 0) -> torch.Tensor:
    """Codes in 4-d around 8 well-separated centres, each cluster stretched differently."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (8, 4))
    label = rng.integers(0, 8, n)
    scale = rng.uniform(0.2, 1.0, (8, 4))
    return torch.tensor(centres[label] + rng.normal(size=(n, 4)) * scale[label], dtype=torch.float32)


def test_kde_log_prob_is_the_brute_force_sum_of_kernels():
    codes = _clusters(300)
    dist = CodeDistribution(4, "kde", points=300).fit(codes)
    h = dist.choice["h"]
    cov = np.cov(codes.double().numpy().T, ddof=1)
    cov = cov + 1e-6 * np.trace(cov) / 4 * np.eye(4)
    x = _clusters(5, seed=1).double().numpy()
    expected = [
        np.log(np.mean([multivariate_normal(c, h**2 * cov).pdf(xi) for c in codes.double().numpy()]))
        for xi in x
    ]
    np.testing.assert_allclose(
        dist.log_prob(torch.tensor(x, dtype=torch.float32)).numpy(), expected, rtol=1e-4
    )
    s = dist.sample(
        4000, generator=torch.Generator().manual_seed(0)
    )  # around the codes, at the kernel's scale
    torch.testing.assert_close(torch.cov(s.T), torch.cov(codes.T) * (1 + h**2), atol=0.6, rtol=0.05)


def test_auto_chooses_by_held_out_likelihood_and_the_scores_are_right():
    codes = _clusters()
    dist = CodeDistribution(4, "auto", components=30, points=2000).fit(codes)
    scores = dist.choice["held_out_loglik"]
    assert {"gaussian", "gmm k=2", "gmm k=5", "kde h=0.3"} <= set(scores)
    tried = [scores["gaussian"]] + [
        scores[f"gmm k={k}"] for k in (2, 5, 10, 20, 30) if f"gmm k={k}" in scores
    ]
    assert (
        all(a <= b for a, b in zip(tried[:-2], tried[1:-1])) and tried[-1] < tried[-2]
    )  # up to the best size, then one past it
    best = max(scores, key=scores.get)
    assert best.startswith(dist.choice["kind"]) and best.startswith("gmm")  # 8 clusters: a mixture wins
    assert dist.choice["k"] >= 8 and scores["gaussian"] < scores[best] - 1.0
    # the held-out score of the kernel density, recomputed by brute force on the same split
    c = codes.double().numpy()
    order = np.random.default_rng(0).permutation(len(c))
    fit, held = c[order[:1600]], c[order[1600:]]
    cov = np.cov(c.T, ddof=1)
    cov = cov + 1e-6 * np.trace(cov) / 4 * np.eye(4)
    dens = np.mean([multivariate_normal(f, 0.3**2 * cov).pdf(held) for f in fit], axis=0)
    assert scores["kde h=0.3"] == pytest.approx(np.mean(np.log(dens)), rel=1e-6)
    gm = GaussianMixture(8, covariance_type="full", random_state=0, reg_covar=1e-6).fit(fit)
    assert (
        scores["gmm k=10"] >= gm.score(held) - 0.05
    )  # the mixture scores like scikit-learn's on the raw codes
    assert dist.describe().startswith("gmm")
    # the mixture sampled puts every cluster's share within 3 points of the data's
    s = dist.sample(8000, generator=torch.Generator().manual_seed(0))
    centres = torch.stack(
        [codes[torch.cdist(codes, codes[i : i + 1]).squeeze(1) < 3].mean(0) for i in range(0, 2000, 250)]
    )
    share = lambda x: (  # noqa: E731
        torch.bincount(torch.cdist(x, centres).argmin(1), minlength=len(centres)).float() / len(x)
    )
    assert (share(s) - share(codes)).abs().max() < 0.03


def test_a_refit_between_checkpoints_keeps_the_choice():
    codes = _clusters()
    dist = CodeDistribution(4, "auto", points=2000)
    dist.fit(codes, select=False)
    assert dist.choice["kind"] == "gaussian"  # nothing chosen yet: a Gaussian, at no cost
    dist.fit(codes)
    chosen = dict(dist.choice)
    dist.fit(_clusters(seed=0)[:1500] * 1.01, select=False)
    assert {k: chosen[k] for k in ("kind", "k")} == {k: dist.choice[k] for k in ("kind", "k")}
    assert int((dist.weights > 0).sum()) == chosen["k"]


@pytest.mark.parametrize("kind", ["auto", "kde", "gmm"])
def test_every_kind_is_saved_and_loaded(kind):
    codes = _clusters(500)
    dist = CodeDistribution(4, kind, components=10, points=500).fit(codes)
    copy = CodeDistribution(4, kind, components=10, points=500)
    copy.load_state_dict(dist.state_dict())
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(copy.sample(16, generator=g()), dist.sample(16, generator=g()))
    torch.testing.assert_close(copy.log_prob(codes[:9]), dist.log_prob(codes[:9]))
    with pytest.raises(GenzooError, match="at most 500 codes") if kind != "gmm" else contextlib.nullcontext():
        CodeDistribution(4, kind, components=10, points=500).fit(_clusters(600))


def test_a_density_saved_before_the_kernel_density_existed_still_loads():
    dist = CodeDistribution(3, "gaussian").fit(
        torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
    )
    old = {
        k: v for k, v in dist.state_dict().items() if not k.startswith(("kde_", "use_kde"))
    }  # what such a run saved
    copy = CodeDistribution(3, "gaussian")
    copy.load_state_dict(old)
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert torch.equal(copy.sample(5, generator=g()), dist.sample(5, generator=g()))
    with pytest.raises(RuntimeError, match="means"):  # other missing buffers are still refused
        CodeDistribution(3, "gaussian").load_state_dict({k: v for k, v in old.items() if k != "means"})


def test_the_state_depends_on_the_last_fit_alone():
    """A kde fit after a mixture (or the other way) leaves nothing of the earlier kind in the buffers,
    so that a resumed run saves what a straight one does."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 3, generator=g), 2 + torch.randn(300, 3, generator=g)

    def state(*fits: tuple[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        dist = CodeDistribution(3, "auto", components=5, points=300)
        for kind, codes in fits:
            dist.kind = kind
            dist.fit(codes)
        return dist.state_dict()

    for first, last in (("gmm", "kde"), ("kde", "gaussian"), ("kde", "gmm")):
        straight, after = state((last, b)), state((first, a), (last, b))
        assert all(torch.equal(straight[k], after[k]) for k in straight), (first, last)
