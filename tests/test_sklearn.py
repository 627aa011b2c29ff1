"""genzoo.sklearn: scikit-learn estimators over genzoo's models. The Gaussian KDE equals
scikit-learn's KernelDensity at the same bandwidth, and GridSearchCV picks the same bandwidth from
the same grid with the same folds; get_params/set_params/clone work; a fitted Gaussian field's
score is the multivariate normal log-density of its fitted covariance (scipy); the RBM and the
VAE fit, score and sample through the same interface."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neighbors import KernelDensity as SkKernelDensity

import genzoo
from genzoo.errors import GenzooError
from genzoo.sklearn import VAE, BernoulliRBM, GaussianField, KernelDensity


@pytest.fixture(scope="module")
def ring():
    return genzoo.datasets.load("ring8", split="train").x[:400].double().numpy()


def test_kde_equals_scikit_learns_and_gridsearch_picks_the_same_bandwidth(ring):
    ours = KernelDensity(bandwidth=0.3).fit(ring)
    theirs = SkKernelDensity(kernel="gaussian", bandwidth=0.3).fit(ring)
    queries = ring[:50] + 0.1
    np.testing.assert_allclose(ours.score_samples(queries), theirs.score_samples(queries), rtol=1e-5)
    assert ours.score(queries) == pytest.approx(theirs.score(queries), rel=1e-5)
    grid = {"bandwidth": [0.003, 0.01, 0.04, 0.2, 1.0]}
    folds = KFold(5, shuffle=True, random_state=0)
    a = GridSearchCV(KernelDensity(), grid, cv=folds).fit(ring)
    b = GridSearchCV(SkKernelDensity(), grid, cv=folds).fit(ring)
    assert a.best_params_ == b.best_params_ and a.best_params_["bandwidth"] not in (0.003, 1.0)
    np.testing.assert_allclose(a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"], rtol=1e-5)


def test_params_clone_and_sampling(ring):
    kde = KernelDensity(bandwidth=0.2, cv_grid=7)
    assert kde.get_params() == {"bandwidth": 0.2, "cv_grid": 7, "cv_folds": 5}
    twin = clone(kde)
    assert twin is not kde and twin.get_params() == kde.get_params()
    assert kde.set_params(bandwidth="silverman").bandwidth == "silverman"
    kde.set_params(bandwidth=0.2).fit(ring)
    x, y = kde.sample(300, random_state=0), kde.sample(300, random_state=0)
    assert x.shape == (300, 2) and np.array_equal(x, y)
    assert not np.array_equal(x, kde.sample(300, random_state=np.random.RandomState(1)))
    radius = np.linalg.norm(x, axis=1)  # ring8: modes on a circle of radius 2
    assert abs(np.median(radius) - 2.0) < 0.3
    with pytest.raises(Exception, match="not fitted"):
        KernelDensity().score_samples(ring)


def test_a_gaussian_field_scores_by_its_fitted_covariance():
    from genzoo.geostat.covariance import covariance_matrix, grid_points

    fields = genzoo.datasets.load("grf", split="train", n=60, size=10).x[:, 0].double().numpy()
    est = GaussianField(method="cholesky").fit(fields)
    model = est.model_
    assert model.cov.range == pytest.approx(3.0, rel=0.3)
    sigma = covariance_matrix(model.cov, grid_points((10, 10))).numpy()
    want = multivariate_normal(mean=np.full(100, model.mean), cov=sigma).logpdf(fields[:5].reshape(5, -1))
    np.testing.assert_allclose(est.score_samples(fields[:5]), want, rtol=1e-4)
    assert est.sample(3, random_state=0).shape == (3, 10, 10)
    with pytest.raises(GenzooError, match=r"method must be cholesky, fft, spectral or spde"):
        GaussianField(method="kriging").fit(fields)
    with pytest.raises(GenzooError, match=r"X must be fields \(n, H, W\)"):
        GaussianField().fit(fields.reshape(60, -1))


def test_rbm_and_vae_fit_score_and_sample():
    digits = genzoo.datasets.load("digits", split="train", binarize="static").x[:300].reshape(300, -1).numpy()
    rbm = BernoulliRBM(hidden=16, steps=150, ais_betas=500)
    scores = cross_val_score(rbm, digits, cv=2)
    assert np.isfinite(scores).all() and (scores / 150 > -64 * np.log(2)).all()  # beats uniform bits
    rbm.fit(digits)
    s = rbm.sample(4, random_state=0)
    assert s.shape == (4, 64) and set(np.unique(s)) <= {0.0, 1.0}
    moons = genzoo.datasets.load("moons", split="train").x[:256].numpy()
    vae = VAE(latent_dim=2, hidden=(32,), steps=60).fit(moons)
    assert np.isfinite(vae.score_samples(moons[:10])).all() and vae.sample(5, random_state=1).shape == (5, 2)
    assert clone(vae).get_params()["hidden"] == (32,)
