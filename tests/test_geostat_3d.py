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
