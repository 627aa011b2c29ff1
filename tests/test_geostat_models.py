"""The classical simulators as genzoo models, the grf and facies datasets, the field metrics and
the geostatistics commands of the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import genzoo
from genzoo.cli import main
from genzoo.errors import GenzooError
from genzoo.geostat import covariance as C
from genzoo.geostat.latent import condition_points
from genzoo.metrics.fields import gaussian_w2


@pytest.fixture(scope="module")
def grf():
    return genzoo.datasets.load("grf", split="train", n=400, size=16, corr_range=2.5, nu=1.5)


@pytest.fixture(scope="module")
def facies():
    return genzoo.datasets.load("facies", split="train", n=300, size=48)


def test_grf_dataset_has_its_law_and_exact_density(grf) -> None:
    assert grf.x.shape == (400, 1, 16, 16) and grf.info.kind == "field"
    test = genzoo.datasets.load("grf", split="test", n=400, size=16, corr_range=2.5, nu=1.5)
    assert len(test) == 200 and not torch.equal(test.x[:5], grf.x[:5])
    cov = grf.extras["cov"]
    assert cov == C.Matern(range=2.5, nu=1.5)
    sigma = C.covariance_matrix(cov, C.grid_points((16, 16)))
    want = torch.distributions.MultivariateNormal(torch.zeros(256, dtype=torch.float64), sigma).log_prob(
        grf.x[:4].reshape(4, -1).double()
    )
    assert torch.allclose(grf.log_density(grf.x[:4]).double(), want, atol=1e-3)


def test_facies_dataset_proportions_and_options(facies) -> None:
    k = facies.extras["categories"]
    assert k == 2 and facies.info.value_range == (0.0, 1.0)
    share = torch.bincount(facies.x.long().reshape(-1)).double() / facies.x.numel()
    assert torch.allclose(share, torch.tensor([0.7, 0.3], dtype=torch.float64), atol=0.02)
    pg = genzoo.datasets.load(
        "facies", split="train", n=50, size=32, rule="plurigaussian", proportions=(0.5, 0.3, 0.2)
    )
    assert pg.extras["categories"] == 3 and set(pg.x.unique().tolist()) == {0.0, 1.0, 2.0}
    with pytest.raises(GenzooError, match="at least three facies"):
        genzoo.datasets.load("facies", split="train", n=10, rule="plurigaussian")
    with pytest.raises(GenzooError, match="sum to 1"):
        genzoo.datasets.load("facies", split="train", n=10, proportions=(0.5, 0.6))


@pytest.mark.parametrize("name", ["cholesky", "fft", "spectral", "spde"])
def test_field_models_fit_the_covariance_and_sample(grf, name) -> None:
    model = genzoo.models.create(name, grf)
    genzoo.train(model, grf, progress=False, sample_grid=False)
    cov = model.cov
    assert cov.name == "matern" and cov.nu == 1.5
    assert abs(cov.range / 2.5 - 1) < 0.1 and abs(cov.sill - 1) < 0.15, cov
    g = torch.Generator().manual_seed(0)
    x = model.sample(5, generator=g)
    assert x.shape == (5, 1, 16, 16)
    big = model.sample(2, generator=g, size=(20, 24))
    assert big.shape == (2, 1, 20, 24)
    rows, cols, vals = (
        torch.tensor([1, 7]),
        torch.tensor([3, 12]),
        torch.tensor([1.5, -0.5], dtype=torch.float64),
    )
    cond = model.sample(3, generator=g, points=(rows, cols, vals))
    assert float((cond[:, 0, rows, cols] - vals).abs().max()) < 1e-8
    with pytest.raises(GenzooError, match="unconditional"):
        model.sample(1, label=3)


def test_exact_models_log_prob_is_the_true_gaussian_density(grf) -> None:
    model = genzoo.models.create("fft", grf, range=2.5, sill=1.0, nu=1.5, mean=0.0)
    genzoo.train(model, grf, progress=False, sample_grid=False)
    assert model.likelihood == "exact"
    assert torch.allclose(model.log_prob(grf.x[:6]).double(), grf.log_density(grf.x[:6]).double(), atol=1e-3)


@pytest.mark.parametrize("name", ["cholesky", "fft", "spde"])
def test_decode_is_the_linear_generator_of_the_samples(grf, name) -> None:
    """decode(z) for z ~ N(0, I) has the law of sample(): its empirical covariance at two nodes
    matches the model's, and decode is linear in z (affine with the mean)."""
    model = genzoo.models.create(name, grf, range=2.5, sill=1.0, nu=1.5, mean=0.5)
    genzoo.train(model, grf, progress=False, sample_grid=False)
    z = model.sample_latent(4000, generator=torch.Generator().manual_seed(0))
    x = model.decode(z).double()
    assert x.shape == (4000, 1, 16, 16)
    a, b = x[:, 0, 8, 8], x[:, 0, 8, 10]
    assert abs(float(a.mean()) - 0.5) < 0.06
    want = float(model.cov(torch.tensor([0.0, 2.0]))) if name != "spde" else None
    if want is not None:
        assert abs(float(torch.cov(torch.stack([a, b]))[0, 1]) - want) < 0.06
    z2 = model.sample_latent(2, generator=torch.Generator().manual_seed(1))
    lin = model.decode(z2[:1] + 2 * z2[1:]) - 0.5
    assert torch.allclose(lin, (model.decode(z2[:1]) - 0.5) + 2 * (model.decode(z2[1:]) - 0.5), atol=1e-4)


def test_latent_conditioning_of_a_linear_field_is_kriging_with_a_nugget(grf) -> None:
    """For x = Lz the MAP of z given point data with noise σ is the simple-kriging estimate with a
    nugget σ² at the data: the latent optimisation and kriging agree."""
    model = genzoo.models.create("cholesky", grf, range=2.5, sill=1.0, nu=1.5, mean=0.0)
    genzoo.train(model, grf, progress=False, sample_grid=False)
    rows, cols = torch.tensor([2, 9, 13]), torch.tensor([4, 11, 2])
    vals = torch.tensor([1.0, -0.7, 0.4], dtype=torch.float64)
    sigma = 0.3
    res = condition_points(
        model,
        rows,
        cols,
        vals,
        n=2,
        steps=1500,
        lr=0.05,
        sigma=sigma,
        generator=torch.Generator().manual_seed(0),
    )
    coords = torch.stack([rows, cols], 1).double()
    k = C.covariance_matrix(model.cov, coords) + sigma**2 * torch.eye(3, dtype=torch.float64)
    k0 = C.covariance_matrix(model.cov, C.grid_points((16, 16)), coords)
    want = (k0 @ torch.linalg.solve(k, vals)).reshape(16, 16)
    assert float((res.x[:, 0].double() - want).abs().max()) < 2e-3


def test_facies_model_fits_proportions_and_latent_range(facies) -> None:
    model = genzoo.models.create("facies", facies)
    genzoo.train(model, facies, progress=False, sample_grid=False)
    assert torch.allclose(model.proportions, torch.tensor([0.7, 0.3], dtype=torch.float64), atol=0.02)
    rng, ratio, angle, _ = model.latent_params.tolist()
    assert abs(rng / 6.0 - 1) < 0.15 and abs(ratio / 0.35 - 1) < 0.2 and angle == 0.0
    x = model.sample(4, generator=torch.Generator().manual_seed(0), size=80)
    assert x.shape == (4, 1, 80, 80) and set(x.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(GenzooError, match="facies codes"):
        model.prepare(genzoo.datasets.Dataset(facies.x * 0.5, facies.info))


def test_field_models_refuse_other_data() -> None:
    mnist = genzoo.datasets.DataInfo("toy", "image", (1, 8, 8), (0.0, 1.0))
    with pytest.raises(GenzooError, match="models field data"):
        genzoo.models.create("fft", mnist)
    with pytest.raises(GenzooError, match="spde simulates the matern family"):
        genzoo.models.create(
            "spde", genzoo.datasets.DataInfo("f", "field", (1, 8, 8), (-math.inf, math.inf)), cov="spherical"
        )


# --- metrics ---------------------------------------------------------------------------------------
def test_gaussian_w2_against_the_closed_form_of_commuting_covariances() -> None:
    """Diagonal covariances: W₂² = ‖μ₁ − μ₂‖² + Σ (√a_i − √b_i)²; the sample moments are set exactly."""
    rng = np.random.default_rng(0)
    n, d = 2000, 5
    z = rng.standard_normal((n, d))
    z = (z - z.mean(0)) @ np.linalg.inv(
        np.linalg.cholesky(np.cov(z, rowvar=False))
    ).T  # exact identity covariance
    var_b = np.array([0.5, 1.0, 2.0, 4.0, 0.1])
    x = torch.from_numpy(z * np.sqrt(var_b) + 0.3)
    var_a = np.array([1.0, 1.0, 1.0, 2.0, 0.4])
    want = math.sqrt(5 * 0.3**2 + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum())
    assert math.isclose(gaussian_w2(x, np.zeros(d), np.diag(var_a)), want, rel_tol=1e-9)


def test_field_metrics_run_and_rank_a_wrong_model_worse(grf) -> None:
    test = genzoo.datasets.load("grf", split="test", n=400, size=16, corr_range=2.5, nu=1.5)
    good = genzoo.models.create("fft", grf)
    genzoo.train(good, grf, progress=False, sample_grid=False)
    bad = genzoo.models.create("fft", grf, range=6.0, sill=1.0)
    genzoo.train(bad, grf, progress=False, sample_grid=False)
    rg = genzoo.evaluate(good, test, metrics=["w2", "variogram"], n=200)["metrics"]
    rb = genzoo.evaluate(bad, test, metrics=["w2", "variogram"], n=200)["metrics"]
    assert rg["w2"]["w2"] < rb["w2"]["w2"] and rg["variogram"]["error"] < rb["variogram"]["error"]
    assert rg["w2"]["relative"] < 1.3 * rg["w2"]["relative_floor"]


def test_facies_metric_applies_to_facies_only(facies, grf) -> None:
    model = genzoo.models.create("facies", facies)
    genzoo.train(model, facies, progress=False, sample_grid=False)
    test = genzoo.datasets.load("facies", split="test", n=300, size=48)
    r = genzoo.evaluate(model, test, metrics=["facies"], n=100)["metrics"]["facies"]
    assert r["proportion"] < 0.05 and 0 <= r["pattern_js"] < 0.05
    assert "facies" not in genzoo.metrics.default_metrics(genzoo.models.create("fft", grf), grf)
    assert "w2" not in genzoo.metrics.default_metrics(model, facies)


# --- CLI -------------------------------------------------------------------------------------------
def test_cli_simulate_writes_fields_and_a_figure(tmp_path, capsys) -> None:
    out = tmp_path / "f.npz"
    wells = tmp_path / "wells.csv"
    wells.write_text("row,col,value\n3,4,2.0\n10,12,-1.0\n")
    rc = main(
        [
            "simulate",
            "spde",
            "--cov",
            "matern",
            "--nu",
            "1.5",
            "--range",
            "4",
            "--shape",
            "24",
            "32",
            "-n",
            "3",
            "--seed",
            "1",
            "--points",
            str(wells),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    with np.load(out, allow_pickle=False) as z:
        f = z["x"]
    assert f.shape == (3, 1, 24, 32)
    assert np.abs(f[:, 0, [3, 10], [4, 12]] - [2.0, -1.0]).max() < 1e-8
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert "Chebyshev degree" in capsys.readouterr().out
    rc = main(
        [
            "simulate",
            "fft",
            "--range",
            "4",
            "--shape",
            "24",
            "32",
            "-n",
            "3",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "g.npz"),
        ]
    )
    rc2 = main(
        [
            "simulate",
            "fft",
            "--range",
            "4",
            "--shape",
            "24",
            "32",
            "-n",
            "3",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "h.npz"),
        ]
    )
    with np.load(tmp_path / "g.npz") as a, np.load(tmp_path / "h.npz") as b:
        assert rc == rc2 == 0 and np.array_equal(a["x"], b["x"])


def test_simulated_fields_train_directly(tmp_path, capsys) -> None:
    """`genzoo simulate` writes its fields under x, the key --data npz: reads: they train as they are,
    and the fitted covariance finds the range they were simulated with."""
    out = tmp_path / "f.npz"
    assert (
        main(
            [
                "simulate",
                "fft",
                "--cov",
                "exponential",
                "--range",
                "5",
                "--shape",
                "32",
                "32",
                "-n",
                "200",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "fft",
                "--data",
                f"npz:{out}",
                "--out",
                str(run),
                "--quiet",
                "--set",
                "model.cov=exponential",
            ]
        )
        == 0
    )
    model = genzoo.load(run)
    assert model.info.kind == "field" and model.info.shape == (1, 32, 32)
    assert abs(model.cov.range - 5) < 1.0
    assert main(["evaluate", str(run), "--metrics", "nll,variogram"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    "args, message",
    [
        (["simulate", "fft", "--range", "0", "--shape", "8", "8"], "range must be positive"),
        (
            ["simulate", "fft", "--range", "2", "--ratio", "-1", "--shape", "8", "8"],
            "anisotropy ratio must be positive",
        ),
        (
            ["simulate", "fft", "--range", "2", "--nu", "0", "--shape", "8", "8"],
            "nu must be a positive number",
        ),
        (["simulate", "cholesky", "--range", "2", "--shape", "100", "100"], "above its limit"),
        (["simulate", "fft", "--shape", "8", "8"], "--range is required"),
        (
            ["simulate", "fft", "--range", "2", "--shape", "8", "8", "--modes", "10"],
            "--modes is an option of the spectral method",
        ),
    ],
)
def test_cli_simulate_bad_input(tmp_path, capsys, args, message) -> None:
    out = tmp_path / "x.npz"
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_condition_points(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "fft",
                "--data",
                "grf",
                "--set",
                "data.n=100",
                "--set",
                "data.size=16",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    wells = tmp_path / "wells.csv"
    wells.write_text(" value , row,col\n1.5,2,3\n-0.5,10,11\n")
    out = tmp_path / "c.npz"
    assert main(["condition", str(run), "--points", str(wells), "-n", "4", "--out", str(out)]) == 0
    with np.load(out) as z:
        assert z["x"].shape == (4, 1, 16, 16) and np.all(z["honoured"] == 1.0)
        assert np.abs(z["x"][:, 0, [2, 10], [3, 11]] - [1.5, -0.5]).max() < 1e-8
    assert "data honoured 100.0 %" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("row,col\n1,2\n")
    assert main(["condition", str(run), "--points", str(bad), "--out", str(out)]) == 2
    assert "missing column(s) value" in capsys.readouterr().err
    outside = tmp_path / "outside.csv"
    outside.write_text("row,col,value\n16,2,1.0\n")
    assert main(["condition", str(run), "--points", str(outside), "--out", str(out)]) == 2
    assert "outside" in capsys.readouterr().err
    assert main(["condition", str(run), "--out", str(out)]) == 2
    assert "exactly one of --mask" in capsys.readouterr().err
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "<h2>Fields</h2>" in page and "fitted model (lines)" in page


def test_cli_condition_points_by_latent_optimisation(tmp_path, capsys) -> None:
    run = tmp_path / "vae"
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                "grf",
                "--set",
                "data.n=64",
                "--set",
                "data.size=8",
                "--steps",
                "5",
                "--set",
                "model.latent_dim=4",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    wells = tmp_path / "wells.csv"
    wells.write_text("row,col,value\n1,1,0.2\n")
    out = tmp_path / "c.npz"
    assert (
        main(["condition", str(run), "--points", str(wells), "-n", "3", "--steps", "50", "--out", str(out)])
        == 0
    )
    with np.load(out) as z:
        assert z["x"].shape == (3, 1, 8, 8) and "z" in z.files and z["honoured"].shape == (3,)
    assert "latent optimisation, 50 steps" in capsys.readouterr().out
