"""Direct sampling (genzoo.geostat.mps): a training image with an exact structure — stripes —
reproduced exactly at threshold 0; data honoured exactly; facies proportions and indicator variograms
of a random training image reproduced; 2-D and 3-D; bad input in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genzoo.geostat as gs
from genzoo.errors import GenzooError
from genzoo.geostat import stats
from genzoo.geostat.mps import DirectSampling, direct_sampling


def test_stripes_are_reproduced_exactly_in_2d_and_3d():
    """Vertical stripes of period 2: with threshold 0 every pasted value continues the stripes, so
    every column of a realisation is constant and neighbouring columns differ; in 3-D, layers of
    period 2 likewise."""
    ti = (torch.arange(20)[None, :] % 2).expand(20, 20).double()
    x = direct_sampling(ti, (12, 14), 2, seed=1, neighbours=8, threshold=0.0)
    assert x.shape == (2, 1, 12, 14)
    f = x[:, 0]
    assert bool((f == f[:, :1, :]).all()), "each column constant"
    assert bool((f[:, :, 1:] != f[:, :, :-1]).all()), "neighbouring columns differ"
    block = (torch.arange(10)[:, None, None] % 2).expand(10, 12, 12).double()
    y = direct_sampling(block, (6, 8, 8), 1, seed=2, neighbours=12, threshold=0.0)[0, 0]
    assert bool((y == y[:, :1, :1]).all()) and bool((y[1:] != y[:-1]).all())


def test_data_are_honoured_exactly():
    rng = np.random.default_rng(0)
    ti = torch.from_numpy((rng.random((40, 40)) < 0.3).astype(np.float64))
    pts = np.array([[2, 3, 1.0], [10, 11, 0.0], [7, 7, 1.0], [0, 19, 1.0]])
    x = direct_sampling(ti, (16, 20), 3, seed=0, points=pts)
    assert x.dtype == torch.float64
    assert bool((x[:, 0, pts[:, 0].astype(int), pts[:, 1].astype(int)] == torch.from_numpy(pts[:, 2])).all())
    block = torch.from_numpy((rng.random((10, 20, 20)) < 0.4).astype(np.float64))
    wells = np.array([[k, 4, 5, k % 2] for k in range(6)], dtype=float)
    y = direct_sampling(block, (6, 10, 10), 2, seed=0, points=wells, neighbours=10)
    assert bool((y[:, 0, range(6), 4, 5] == torch.from_numpy(wells[:, 3])).all())


def test_facies_statistics_of_a_training_image_are_reproduced():
    """On an elongated truncated-Gaussian training image, realisations keep its facies proportion
    and its indicator variograms along rows and columns (within 0.03 absolute on average)."""
    ti = gs.facies.truncate(
        gs.simulate("fft", gs.Matern(range=4.0, nu=1.5, ratio=0.4), (64, 64), 1, seed=3), (0.7, 0.3)
    )[0, 0]
    x = direct_sampling(ti, (40, 40), 4, seed=5, neighbours=20, threshold=0.05, fraction=0.5)
    p_ti, p_x = float(ti.mean()), float(x.mean())
    assert abs(p_x - p_ti) < 0.06
    for d in ("row", "col"):
        a = stats.indicator_variogram(x, 1, 10, d, 2).gamma
        b = stats.indicator_variogram(ti[None, None], 1, 10, d, 2).gamma
        assert float((a - b).abs().mean()) < 0.03, d


def test_continuous_training_images_and_bad_input():
    ti = gs.simulate("fft", gs.Gaussian(range=4.0), (30, 30), 1, seed=0)[0, 0].double()
    sim = DirectSampling(ti, neighbours=10, threshold=0.1)
    assert not sim.categorical
    x = sim.sample(1, (12, 12), generator=torch.Generator().manual_seed(0))
    assert (
        x.shape == (1, 1, 12, 12) and float(x.min()) >= float(ti.min()) and float(x.max()) <= float(ti.max())
    )
    for kwargs, match in (
        ({"ti": torch.zeros(2, 2, 2, 2)}, r"the training image must be \(H, W\) or \(D, H, W\)"),
        ({"ti": ti, "neighbours": 0}, r"neighbours must be a positive integer"),
        ({"ti": ti, "threshold": 2.0}, r"threshold must be in \[0, 1\]"),
        ({"ti": ti, "fraction": 0.0}, r"fraction must be in \(0, 1\]"),
    ):
        with pytest.raises(GenzooError, match=match) as err:
            DirectSampling(**kwargs)
        assert "\n" not in str(err.value)
    with pytest.raises(GenzooError, match=r"a 2-D training image simulates 2-D grids"):
        sim.sample(1, (4, 4, 4))


def test_defaults_by_dimension_and_the_byte_path_equals_the_float_one():
    """N = 30, t = 0.05 in 2-D and N = 16, t = 0 in 3-D unless given; categorical codes are
    compared as bytes — the same realisations, to the bit, as comparing them as floats."""
    rng = np.random.default_rng(1)
    ti2 = torch.from_numpy((rng.random((30, 30)) < 0.35).astype(np.float64))
    ti3 = torch.from_numpy(rng.integers(0, 3, (8, 16, 16)).astype(np.float64))
    two, three = DirectSampling(ti2), DirectSampling(ti3)
    assert (two.neighbours, two.threshold, three.neighbours, three.threshold) == (30, 0.05, 16, 0.0)
    assert DirectSampling(ti3, neighbours=5, threshold=0.1).neighbours == 5
    wells = np.array([[k, 2, 3, k % 3] for k in range(5)], dtype=float)
    for sim, shape, pts in ((two, (14, 12), None), (three, (5, 9, 8), wells)):
        assert sim._pad_codes is not None and sim._pad_codes.dtype == torch.uint8
        fast = sim.sample(2, shape, points=pts, generator=torch.Generator().manual_seed(4))
        sim._pad_codes = None  # the float path
        slow = sim.sample(2, shape, points=pts, generator=torch.Generator().manual_seed(4))
        assert torch.equal(fast, slow)
    assert DirectSampling(ti2 + 300)._pad_codes is None  # codes beyond a byte: floats
