"""Feature spaces for the sample metrics: the shipped classifiers, PCA and pixels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors import safe_open

from genzoo.data import load
from genzoo.data.base import DataInfo
from genzoo.errors import GenzooError
from genzoo.metrics import train_features
from genzoo.metrics.features import (
    FEATURE_SPACES,
    SHIPPED,
    FeatureExtractor,
    default_space,
    describe,
    extract,
    load_classifier,
    weights_path,
)

# measured when the weights were written (grey, binarised): mnist 0.992 / 0.990, digits 0.997 / 0.978
MIN_ACCURACY = {"mnist": (0.98, 0.98), "digits": (0.98, 0.96)}


@pytest.fixture(scope="module")
def mnist_test():
    return load("mnist", split="test")


@pytest.fixture(scope="module")
def mnist_train():
    return load("mnist", split="train")


def _accuracy(name: str, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((load_classifier(name)(x).argmax(1) == y).float().mean())


@pytest.mark.parametrize("name", ["mnist", "digits"])
def test_shipped_classifier_accuracy_grey_and_binarised(name):
    test = load(name, split="test")
    grey = _accuracy(name, test.x, test.y)
    binary = _accuracy(name, (test.x > 0.5).float(), test.y)
    assert grey >= MIN_ACCURACY[name][0]
    assert binary >= MIN_ACCURACY[name][1]
    # the accuracies recorded in the file (and quoted by describe) are the ones we measure
    with safe_open(str(weights_path(name)), framework="pt") as f:
        meta = f.metadata()
    assert float(meta["test_acc_grey"]) == pytest.approx(grey, abs=1e-4)
    assert float(meta["test_acc_binary"]) == pytest.approx(binary, abs=1e-4)
    assert meta["dataset"] == name and meta["feature_dims"] == "128" and meta["seed"] == "0"
    assert meta["config"] == SHIPPED[name].to_json()  # the file rebuilds the documented network
    assert f"test acc {grey:.3f} grey / {binary:.3f} binarised" in describe("classifier", test.info)


@pytest.mark.parametrize("name", ["mnist", "digits"])
def test_weights_files_are_small_float32_safetensors(name):
    path = weights_path(name)
    assert path.stat().st_size < 1_000_000
    with safe_open(str(path), framework="pt") as f:
        assert all(f.get_tensor(k).dtype == torch.float32 for k in f.keys())


def test_classifier_features_are_deterministic_128_d(mnist_test):
    x = mnist_test.x[:300]
    a = extract(x, mnist_test.info)  # "auto" → classifier
    b = FeatureExtractor(mnist_test.info, "classifier", batch_size=7)(
        x.numpy()
    )  # other batching, numpy input
    assert a.shape == (300, 128) and a.dtype == np.float64
    assert FeatureExtractor(mnist_test.info).num_features == 128
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(a, extract(x, mnist_test.info, "classifier"))
    assert load_classifier("mnist", "cpu") is load_classifier("mnist", "cpu")  # loaded once
    # features are the penultimate pre-activations: the network's logits are a linear map of them
    net = load_classifier("mnist")
    with torch.no_grad():
        logits = net(x)
        via = net.head(torch.from_numpy(a).float())
    torch.testing.assert_close(logits, via)


def test_flattened_inputs_are_accepted(mnist_test):
    x = mnist_test.x[:50]
    np.testing.assert_array_equal(extract(x.flatten(1), mnist_test.info), extract(x, mnist_test.info))


def test_range_minus_one_one_gives_the_same_features(mnist_test, mnist_train):
    info01 = mnist_test.info
    info11 = replace(info01, value_range=(-1.0, 1.0))
    x = mnist_test.x[:200]
    ref = mnist_train.x[:500]
    for space in FEATURE_SPACES:
        a = FeatureExtractor(info01, space).fit(ref)(x)
        b = FeatureExtractor(info11, space).fit(ref * 2 - 1)(x * 2 - 1)
        np.testing.assert_allclose(a, b, atol=1e-4, err_msg=space)
    # and the same through `load`
    scaled = load("mnist", split="test", range="-1,1")
    np.testing.assert_allclose(extract(scaled.x[:200], scaled.info), extract(x, info01), atol=1e-4)


def test_default_space():
    assert default_space(load("mnist", split="test").info) == "classifier"
    assert default_space(load("mnist", split="test", binarize="dynamic").info) == "classifier"
    assert default_space(load("digits", split="test").info) == "classifier"
    assert default_space(load("faces", split="test").info) == "pixels"
    assert default_space(DataInfo("moons", "points", (2,), (-np.inf, np.inf))) == "pixels"
    # the name alone is not enough: a different shape has no classifier
    assert default_space(DataInfo("mnist", "image", (1, 14, 14), (0.0, 1.0))) == "pixels"


def test_pixels_flatten(points):
    info = DataInfo("toy", "image", (1, 3, 4), (0.0, 1.0))
    x = torch.rand(5, 1, 3, 4, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(extract(x, info, "pixels"), x.reshape(5, 12).double().numpy())
    # points: the coordinates themselves, whatever their range
    np.testing.assert_array_equal(extract(points.x, points.info), points.x.double().numpy())
    assert describe("pixels", points.info) == "pixels (2-d coordinates)"
    assert describe("pixels", info) == "pixels (12-d)"


def test_pca_fits_once_and_projects_real_and_fake_alike(mnist_test, mnist_train):
    real, fake = mnist_train.x[:400], torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    fx = FeatureExtractor(mnist_test.info, "pca", pca_dims=20).fit(real)
    assert fx.num_features == 20
    comps = fx.components_
    np.testing.assert_allclose(comps @ comps.T, np.eye(20), atol=1e-10)  # orthonormal rows
    # brute force: the components are the leading eigenvectors of the real data's covariance
    flat = real.flatten(1).double().numpy()
    evals, evecs = np.linalg.eigh(np.cov(flat, rowvar=False))
    top = evecs[:, ::-1][:, :20]
    np.testing.assert_allclose(np.abs(comps @ top), np.eye(20), atol=1e-6)
    f_real, f_fake = fx(real), fx(fake)
    np.testing.assert_allclose(f_real.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(f_real.var(0, ddof=1), evals[::-1][:20], rtol=1e-8)
    # the fake examples go through the real data's projection, not one fitted to themselves
    np.testing.assert_allclose(f_fake, (fake.flatten(1).double().numpy() - flat.mean(0)) @ comps.T)
    assert not np.allclose(f_fake, FeatureExtractor(mnist_test.info, "pca", pca_dims=20).fit(fake)(fake))
    np.testing.assert_allclose(extract(fake, mnist_test.info, "pca", reference=real, pca_dims=20), f_fake)
    assert (
        fx.describe().startswith("pca (20 components of the pixels, ")
        and "fit on 400 real examples" in fx.describe()
    )


def test_pca_dims_are_capped_by_examples_and_dimension(points, mnist_test):
    assert FeatureExtractor(mnist_test.info, "pca").fit(mnist_test.x[:10]).num_features == 9  # N - 1
    assert extract(points.x, points.info, "pca", reference=points.x).shape == (300, 2)  # D
    # signs are fixed: the largest entry of each component is positive
    comps = FeatureExtractor(points.info, "pca").fit(points.x).components_
    assert (comps[np.arange(2), np.abs(comps).argmax(1)] > 0).all()


def test_pca_requires_a_reference(mnist_test):
    with pytest.raises(GenzooError, match="pca features are fitted on the real data"):
        extract(mnist_test.x[:10], mnist_test.info, "pca")
    with pytest.raises(GenzooError, match="at least 2 reference examples"):
        FeatureExtractor(mnist_test.info, "pca").fit(mnist_test.x[:1])


@pytest.mark.parametrize(
    "info, message",
    [
        (
            DataInfo("faces", "image", (1, 25, 25), (0.0, 1.0)),
            r"no shipped classifier for faces \(image, shape 1×25×25\)",
        ),
        (
            DataInfo("moons", "points", (2,), (-np.inf, np.inf)),
            r"no shipped classifier for moons \(points, shape 2\)",
        ),
        (
            DataInfo("mnist", "image", (1, 14, 14), (0.0, 1.0)),
            r"no shipped classifier for mnist \(image, shape 1×14×14\)",
        ),
    ],
)
def test_classifier_refused_where_none_is_shipped(info, message):
    with pytest.raises(GenzooError, match=message + r"; use --features pixels or pca"):
        extract(torch.zeros(2, *info.shape), info, "classifier")
    with pytest.raises(GenzooError, match=message):
        describe("classifier", info)


def test_bad_requests(mnist_test):
    info = mnist_test.info
    with pytest.raises(GenzooError, match=r"unknown feature space 'pixel'; did you mean 'pixels'"):
        FeatureExtractor(info, "pixel")
    with pytest.raises(GenzooError, match=r"expected examples of shape \(1, 28, 28\), got \(1, 8, 8\)"):
        extract(torch.zeros(3, 1, 8, 8), info)
    with pytest.raises(GenzooError, match="NaN or infinite"):
        extract(torch.full((2, 1, 28, 28), float("nan")), info, "pixels")
    with pytest.raises(GenzooError, match="pca_dims must be at least 1"):
        FeatureExtractor(info, "pca", pca_dims=0)


def test_training_is_deterministic_and_writes_a_loadable_file(tmp_path):
    """Two short seeded runs give bit-identical weights; the file rebuilds its own network."""
    data = load("digits", split="train")
    x, y = data.x[:256], data.y[:256]
    recipe = replace(train_features.RECIPES["digits"], epochs=2)
    a = train_features.train("digits", x, y, recipe, seed=3, log=False)
    b = train_features.train("digits", x, y, recipe, seed=3, log=False)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(va, vb, rtol=0, atol=0, msg=k)
    path = tmp_path / "lenet-digits.safetensors"
    train_features.save(a, path, {"dataset": "digits"})
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["dataset"] == "digits" and SHIPPED["digits"].to_json() == meta["config"]


def test_training_batches_mix_grey_and_binary():
    g = torch.Generator().manual_seed(0)
    x = torch.full((4000, 1, 2, 2), 0.7)
    out = train_features.grey_or_binary(x, g)
    grey = (out == 0.7).all((1, 2, 3)).float().mean()
    assert 0.45 < float(grey) < 0.55
    assert bool(((out == 0) | (out == 1) | (out == x)).all())
    assert 0.05 < float((out == 0).float().mean()) < 0.1  # only Bernoulli draws (1/4) give 0, w.p. 0.3
