"""The code distribution an autoencoder samples from: fit against closed forms and scikit-learn."""

from __future__ import annotations

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
    dist = CodeDistribution(3).fit(codes)
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
    np.testing.assert_allclose(dist.log_prob(torch.tensor(codes[:5], dtype=torch.float32)).numpy(), gm.score_samples(codes[:5]), rtol=1e-4)
    s = dist.sample(5000, generator=torch.Generator().manual_seed(0))
    assert 0.55 < float((s[:, 0] > 0).float().mean()) < 0.65


def test_seeded_saved_and_refusals():
    dist = CodeDistribution(2)
    with pytest.raises(GenzooError, match="not fitted"):
        dist.sample(3)
    dist.fit(torch.randn(50, 2))
    a = dist.sample(4, generator=torch.Generator().manual_seed(2))
    b = dist.sample(4, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    copy = CodeDistribution(2)
    copy.load_state_dict(dist.state_dict())
    assert torch.equal(copy.sample(4, generator=torch.Generator().manual_seed(2)), a)
    with pytest.raises(GenzooError, match="at least 10 codes"):
        CodeDistribution(2, "gmm", components=10).fit(torch.randn(5, 2))
    with pytest.raises(GenzooError, match="gaussian, gmm"):
        CodeDistribution(2, "flow")
