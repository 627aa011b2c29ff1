"""Kriging with a trend (issue 25): universal kriging with a polynomial drift and kriging with an
external drift, in 2-D and 3-D, against PyKrige and GSTools on the same data to 1e-8 (estimate and
variance), and against the defining identities — the weights reproduce every drift term exactly,
so a field that is pure drift is kriged without error; the data are interpolated; a drift the data
cannot determine is a one-line error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import genzoo.geostat as gs
from genzoo.errors import GenzooError
from genzoo.geostat.kriging import condition, krige

A, SILL = 6.0, 1.7
COV = gs.Exponential(range=A, sill=SILL)
SHAPE2, SHAPE3 = (13, 17), (5, 7, 9)


def data(shape, m, seed=0, on_nodes=False):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, (m, len(shape))) * (np.array(shape) - 1)
    if on_nodes:
        flat = rng.choice(math.prod(shape), m, replace=False)
        pts = np.stack(np.unravel_index(flat, shape), 1).astype(float)
    trend = pts @ (0.3 * np.arange(1, len(shape) + 1)) - 1.0
    return pts, trend + rng.normal(size=m)


def gamma(params, d):
    """Our exponential's variogram at distances d (no nugget), for PyKrige's custom model."""
    return SILL * (1 - np.exp(-np.asarray(d) / A))


PYKRIGE = {"variogram_model": "custom", "variogram_parameters": [], "variogram_function": gamma}  # ours


def nodes(shape):
    return gs.covariance.grid_points(shape).numpy()


def gstools_model(dim):
    import gstools

    return gstools.Exponential(dim=dim, var=SILL, len_scale=A)


def test_universal_kriging_2d_equals_pykrige_and_gstools():
    import gstools
    from pykrige.uk import UniversalKriging

    pts, vals = data(SHAPE2, 15)
    est, var = krige(
        torch.from_numpy(pts), torch.from_numpy(vals), COV, SHAPE2, mean=None, drift="linear", variance=True
    )
    g = nodes(SHAPE2)
    uk = UniversalKriging(
        pts[:, 1],
        pts[:, 0],
        vals,
        **PYKRIGE,
        drift_terms=["regional_linear"],
    )
    z, ss = uk.execute("points", g[:, 1], g[:, 0])
    assert np.abs(est.numpy().ravel() - z).max() < 1e-8
    assert np.abs(var.numpy().ravel() - ss).max() < 1e-8
    for drift, functions in (("linear", "linear"), ("quadratic", "quadratic")):
        ours, ours_var = krige(
            torch.from_numpy(pts), torch.from_numpy(vals), COV, SHAPE2, mean=None, drift=drift, variance=True
        )
        k = gstools.krige.Universal(
            gstools_model(2), pts.T, vals, drift_functions=functions, exact=True, pseudo_inv=False
        )
        theirs, theirs_var = k(g.T, return_var=True)
        assert np.abs(ours.numpy().ravel() - theirs).max() < 1e-8, drift
        assert np.abs(ours_var.numpy().ravel() - theirs_var).max() < 1e-8, drift


def test_kriging_with_an_external_drift_2d_equals_pykrige_and_gstools():
    import gstools
    from pykrige.uk import UniversalKriging

    r, c = np.meshgrid(np.arange(SHAPE2[0]), np.arange(SHAPE2[1]), indexing="ij")
    ext = np.sin(r / 3.0) + 0.1 * c  # a smooth secondary variable known everywhere
    pts, noise = data(SHAPE2, 14, seed=1, on_nodes=True)
    at = ext[pts[:, 0].astype(int), pts[:, 1].astype(int)]
    vals = 2.0 * at + noise
    est, var = krige(
        torch.from_numpy(pts),
        torch.from_numpy(vals),
        COV,
        SHAPE2,
        mean=None,
        drift=torch.from_numpy(ext),
        variance=True,
    )
    g = nodes(SHAPE2)
    uk = UniversalKriging(
        pts[:, 1],
        pts[:, 0],
        vals,
        **PYKRIGE,
        drift_terms=["specified"],
        specified_drift=[at],
    )
    z, ss = uk.execute("points", g[:, 1], g[:, 0], specified_drift_arrays=[ext.ravel()])
    assert np.abs(est.numpy().ravel() - z).max() < 1e-8
    assert np.abs(var.numpy().ravel() - ss).max() < 1e-8
    k = gstools.krige.ExtDrift(gstools_model(2), pts.T, vals, ext_drift=at, exact=True, pseudo_inv=False)
    theirs, theirs_var = k(g.T, ext_drift=ext.ravel(), return_var=True)
    assert np.abs(est.numpy().ravel() - theirs).max() < 1e-8
    assert np.abs(var.numpy().ravel() - theirs_var).max() < 1e-8


def test_universal_kriging_3d_equals_pykrige_and_gstools():
    import gstools
    from pykrige.uk3d import UniversalKriging3D

    pts, vals = data(SHAPE3, 20, seed=2)
    est, var = krige(
        torch.from_numpy(pts), torch.from_numpy(vals), COV, SHAPE3, mean=None, drift="linear", variance=True
    )
    g = nodes(SHAPE3)
    uk = UniversalKriging3D(
        pts[:, 2],
        pts[:, 1],
        pts[:, 0],
        vals,
        **PYKRIGE,
        drift_terms=["regional_linear"],
    )
    z, ss = uk.execute("points", g[:, 2], g[:, 1], g[:, 0])
    assert est.shape == SHAPE3
    assert np.abs(est.numpy().ravel() - z).max() < 1e-8
    assert np.abs(var.numpy().ravel() - ss).max() < 1e-8
    k = gstools.krige.Universal(
        gstools_model(3), pts.T, vals, drift_functions="linear", exact=True, pseudo_inv=False
    )
    theirs, theirs_var = k(g.T, return_var=True)
    assert np.abs(est.numpy().ravel() - theirs).max() < 1e-8
    assert np.abs(var.numpy().ravel() - theirs_var).max() < 1e-8


@pytest.mark.parametrize("shape", [SHAPE2, SHAPE3], ids=["2-D", "3-D"])
def test_a_pure_drift_is_kriged_exactly_and_the_data_are_interpolated(shape):
    """The weights satisfy Σ wᵢ fₖ(pᵢ) = fₖ(u) for every drift term, so data that are exactly a
    quadratic are kriged to that quadratic everywhere, whatever the covariance; at the data, the
    estimate is the datum and the variance 0."""
    pts, _ = data(shape, 25, seed=3)

    def q(x):
        return 1.0 + x @ np.arange(1, len(shape) + 1) * 0.2 - 0.05 * (x**2).sum(1) + 0.01 * x[:, 0] * x[:, -1]

    est = krige(torch.from_numpy(pts), torch.from_numpy(q(pts)), COV, shape, mean=None, drift="quadratic")
    assert np.abs(est.numpy().ravel() - q(nodes(shape))).max() < 1e-9
    on, vals = data(shape, 6, seed=4, on_nodes=True)
    est, var = krige(
        torch.from_numpy(on), torch.from_numpy(vals), COV, shape, mean=None, drift="linear", variance=True
    )
    at = tuple(on.astype(int).T)
    assert np.abs(est.numpy()[at] - vals).max() < 1e-10 and np.abs(var.numpy()[at]).max() < 1e-10


def test_conditional_simulation_with_a_trend_honours_the_data():
    shape = (6, 8, 10)
    pts, vals = data(shape, 12, seed=5, on_nodes=True)
    x = gs.simulate("fft", COV, shape, 3, seed=1)
    y = condition(x, np.c_[pts, vals], COV, mean=None, drift="linear")
    at = y[(slice(None), 0, *torch.from_numpy(pts.astype(int).T))]
    assert float((at - torch.from_numpy(vals)).abs().max()) < 1e-12


def test_trend_errors_in_one_line():
    pts, vals = data(SHAPE2, 3)
    line = np.c_[np.arange(4.0), np.arange(4.0)]  # collinear: a linear drift is not determined
    for kwargs, match in (
        (
            {"coords": line, "drift": "linear"},
            r"kriging with a drift of 3 terms: the 4 data do not determine them",
        ),
        ({"drift": "cubic"}, r"drift must be linear, quadratic or external drift fields, got 'cubic'"),
        ({"drift": torch.zeros(4, 4)}, r"an external drift is a field of the grid's shape \(13, 17\)"),
        ({"drift": torch.zeros(SHAPE2)}, r"needs the data on grid nodes"),
        ({"drift": "linear", "mean": 0.0}, r"kriging with a drift estimates the mean: give mean=None"),
    ):
        coords = torch.from_numpy(kwargs.pop("coords", pts))
        kwargs.setdefault("mean", None)
        with pytest.raises(GenzooError, match=match) as err:
            krige(coords, torch.ones(len(coords), dtype=torch.float64), COV, SHAPE2, **kwargs)
        assert "\n" not in str(err.value)


def test_simulate_with_a_drift_from_python_and_the_command_line(tmp_path, capsys):
    from genzoo.cli import main

    pts, vals = data(SHAPE2, 10, seed=6, on_nodes=True)
    x = gs.simulate(
        "fft", COV, SHAPE2, 2, seed=0, points=np.c_[pts, vals], kriging="universal", drift="linear"
    )
    at = x[(slice(None), 0, *torch.from_numpy(pts.astype(int).T))]
    assert float((at - torch.from_numpy(vals)).abs().max()) < 1e-12
    with pytest.raises(GenzooError, match="kriging='universal' goes with drift="):
        gs.simulate("fft", COV, SHAPE2, 1, points=np.c_[pts, vals], drift="linear")
    csv = tmp_path / "p.csv"
    csv.write_text(
        "row,col,value\n" + "".join(f"{int(a)},{int(b)},{v!r}\n" for (a, b), v in zip(pts, vals.tolist()))
    )
    out = tmp_path / "f.npz"
    argv = ["simulate", "fft", "--range", "6", "--shape", "13", "17", "--out", str(out)]
    assert main([*argv, "--points", str(csv), "--drift", "quadratic"]) == 0
    with np.load(out, allow_pickle=False) as z:
        assert np.abs(z["x"][0, 0, pts[:, 0].astype(int), pts[:, 1].astype(int)] - vals).max() < 1e-8
    capsys.readouterr()
    assert main([*argv, "--drift", "linear"]) == 2
    assert "--drift is the trend of kriging the --points; give --points too" in capsys.readouterr().err
