"""The DDPM family: the prediction targets convert back to ε exactly, sampling paths and steps,
the likelihood bound against sampled chains and the exact denoiser of Gaussian data, classifier-
free guidance, inpainting against the exact conditional of a Gaussian,
a short training that lowers the loss, bad input. (Save → load and seeded sampling: the shared
contract in test_models_common.py.)"""

from __future__ import annotations

import math

import pytest
import torch

import genzoo
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models import create

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ring():
    return genzoo.datasets.load("ring8", n=512)


@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
def test_every_prediction_converts_back_to_the_true_noise(ring, prediction):
    """A network that outputs the exact target for (x_0, ε) must give ε̂ = ε after conversion."""
    model = create("ddpm", ring, seed=0, prediction=prediction, timesteps=100)
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    t = torch.randint(100, (16,), generator=g)
    x_t = model.schedule.q_sample(x0, t, eps)
    ab = model.schedule.alpha_bar[t].float()[:, None]
    target = {"eps": eps, "x0": x0, "v": ab.sqrt() * eps - (1 - ab).sqrt() * x0}[prediction]
    model.forward = lambda x, tt: target  # the perfect network
    assert torch.allclose(model.predict_eps(x_t, t), eps, atol=1e-4)


def test_training_lowers_the_loss_and_sampling_paths(ring):
    model = create("ddpm", ring, seed=0, hidden=(64, 64), timesteps=200)
    run = genzoo.train(model, ring, steps=300, progress=False, batch_size=128, ema=None)
    losses = [r["loss"] for r in run.log]
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    m = run.model
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    path = m.sample(5, generator=g(), trajectory=True)
    assert path.shape == (5, 201, 2)
    assert torch.allclose(path[:, -1], m.sample(5, generator=g()))  # the trajectory ends at the sample
    assert m.sample(5, generator=g(), sampler="ddim", steps=10).shape == (5, 2)
    a, b = (m.sample(5, generator=g(), sampler="ddim", steps=10, eta=0.0) for _ in range(2))
    assert torch.equal(a, b)


def test_images_stay_in_range():
    digits = genzoo.datasets.load("digits", split="test").subset(torch.arange(32))
    model = create("ddpm", digits, seed=0, hidden=(32,), timesteps=20)
    model.prepare(digits)
    x = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4, 1, 8, 8) and x.min() >= 0 and x.max() <= 1


def test_bad_input(ring):
    model = create("ddpm", ring, seed=0, hidden=(8,), timesteps=50)
    with pytest.raises(GenzooError, match="between 1 and the 50 training steps"):
        model.sample(2, steps=51)
    with pytest.raises(GenzooError, match="between 1 and the 50 training steps"):
        model.sample(2, steps=0, sampler="ddim")
    with pytest.raises(GenzooError, match="unconditional"):
        model.sample(2, label=3)
    with pytest.raises(GenzooError, match="sampler must be one of"):
        model.sample(2, sampler="euler")
    with pytest.raises(GenzooError, match="cannot exceed model.timesteps"):
        create("ddpm", ring, timesteps=10, sample_steps=20)
    assert create("ddpm", ring).default_train["steps"] == 40000


def test_cli_samples_with_chosen_steps_and_sampler(tmp_path, capsys):
    import numpy as np

    from genzoo.cli import main

    out = tmp_path / "d"
    assert (
        main(
            [
                "train",
                "ddpm",
                "--data",
                "ring8",
                "--set",
                "data.n=300",
                "--set",
                "timesteps=40",
                "--set",
                "hidden=16",
                "--steps",
                "5",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "sample",
                str(out),
                "-n",
                "3",
                "--steps",
                "8",
                "--sampler",
                "ddim",
                "--out",
                str(tmp_path / "s.npy"),
            ]
        )
        == 0
    )
    model = genzoo.load(out)
    ref = model.sample(3, generator=torch.Generator().manual_seed(0), steps=8, sampler="ddim")
    assert np.allclose(np.load(tmp_path / "s.npy"), ref.numpy())
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "3", "--steps", "41", "--out", str(tmp_path / "bad.npy")]) == 2
    assert "between 1 and the 40 training steps" in capsys.readouterr().err
    gan = tmp_path / "g"
    assert (
        main(
            [
                "train",
                "gan",
                "--data",
                "ring8",
                "--set",
                "data.n=300",
                "--steps",
                "2",
                "--out",
                str(gan),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["sample", str(gan), "-n", "2", "--steps", "8", "--out", str(tmp_path / "g.npy")]) == 2
    assert "no reverse sampler" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["points", "image"])
def test_report_shows_the_denoising_trajectory(ring, kind):
    from genzoo.viz.report import render_report

    data = ring if kind == "points" else genzoo.datasets.load("digits", split="test").subset(torch.arange(16))
    model = create("ddpm", data, seed=0, hidden=(8,), timesteps=30)
    model.prepare(data)
    page = render_report(model, {"model": {"name": "ddpm"}}, [], None, data=data)
    assert "<h2>Denoising trajectory</h2>" in page and "could not draw the denoising trajectory" not in page
    gan = create("gan", ring, seed=0, hidden=(8,))
    assert "Denoising trajectory" not in render_report(gan, {"model": {"name": "gan"}}, [], None, data=ring)


def test_unet_denoiser_on_images_trains_and_samples():
    digits = genzoo.datasets.load("digits", split="train").subset(torch.arange(64))
    model = create("ddpm", digits, seed=0, channels=(8, 16), attention=(1,), timesteps=50)
    assert model.arch == "unet" and create("ddpm", genzoo.datasets.load("ring8", n=50)).arch == "mlp"
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = genzoo.train(model, digits, steps=3, batch_size=16, progress=False)
    assert any(not torch.equal(before[k], v) for k, v in run.model.state_dict().items())
    x = run.model.sample(2, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=5)
    assert x.shape == (2, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    with pytest.raises(GenzooError, match="unet needs images"):
        create("ddpm", genzoo.datasets.load("ring8", n=50), arch="unet")


# --- the likelihood bound --------------------------------------------------------------------------
def _gaussian_data(n: int, mu=(0.3, -1.0), sd=(1.5, 0.7), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g) * torch.tensor(sd) + torch.tensor(mu)
    return Dataset(x, DataInfo("gauss", "points", (2,), (-math.inf, math.inf)))


def _gaussian_denoiser(model, mu, sd):
    """E[ε | x_t] for x_0 ~ N(mu, diag sd²) in the model's standardised space (a linear function)."""
    ms, ss = (torch.tensor(mu) - model.shift) / model.scale, torch.tensor(sd) / model.scale

    def eps(x_t, t, y=None):
        ab = model.schedule.alpha_bar[t.cpu()].float()[:, None]
        a, b = ab.sqrt(), (1 - ab).sqrt()
        return b * (x_t - a * ms) / (a**2 * ss**2 + b**2)

    return eps


def test_bound_equals_the_elbo_of_sampled_forward_chains():
    """The closed-form KL terms against a brute-force Monte-Carlo ELBO,
    E_q[log p(x_{0:T}) − log q(x_{1:T} | x_0)] over sampled forward chains, with every Gaussian density
    written out — for a model that is not exact."""
    data = _gaussian_data(4)
    model = create("ddpm", data, seed=0, hidden=(8,), timesteps=6, schedule="cosine")
    model.prepare(data)
    model.predict_eps = _gaussian_denoiser(model, (0.6, -0.7), (1.2, 0.56))  # a wrong mean and spread
    sch, N = model.schedule, 4000
    x = (data.x - model.shift) / model.scale
    xr = x.repeat_interleave(N, 0)
    g = torch.Generator().manual_seed(3)

    def log_normal(v, mean, var):
        return (-0.5 * ((v - mean) ** 2 / var + math.log(2 * math.pi * var))).sum(1).double()

    z, zs, log_q = xr, [], 0.0
    for t in range(6):
        new = sch.q_step(z, t, torch.randn(z.shape, generator=g))
        log_q = log_q + log_normal(new, math.sqrt(sch.alphas[t]) * z, float(sch.betas[t]))
        z = new
        zs.append(z)
    log_p = log_normal(zs[-1], 0.0, 1.0)
    ab, b = sch.alpha_bar, sch.betas
    for t in range(5, 0, -1):
        tt = torch.full((len(xr),), t)
        x0 = sch.predict_x0(zs[t], tt, model.predict_eps(zs[t], tt))
        mean = (
            math.sqrt(ab[t - 1]) * b[t] / (1 - ab[t]) * x0
            + math.sqrt(1 - b[t]) * (1 - ab[t - 1]) / (1 - ab[t]) * zs[t]
        )
        log_p = log_p + log_normal(zs[t - 1], mean.float(), float((1 - ab[t - 1]) / (1 - ab[t]) * b[t]))
    t0 = torch.zeros(len(xr), dtype=torch.long)
    log_p = log_p + log_normal(
        xr, sch.predict_x0(zs[0], t0, model.predict_eps(zs[0], t0)), float((1 - ab[0]) / (1 - ab[1]) * b[1])
    )
    elbo = (log_p - log_q).reshape(4, N) - 2 * math.log(float(model.scale))
    ours = torch.stack([model.log_prob(data.x, generator=g) for _ in range(2000)]).double()
    se = (elbo.var(1) / N + ours.var(0) / 2000).sqrt()
    assert ((elbo.mean(1) - ours.mean(0)).abs() < 4 * se).all(), (elbo.mean(1), ours.mean(0), se)


def test_bound_of_the_exact_denoiser_is_above_the_true_nll_and_tightens_with_more_steps():
    """With the exact ε̂ of Gaussian data the bound is a bound (≥ the true NLL: Gibbs) and its gap
    shrinks as T grows (1.3 nats at T = 1000 linear on this 2-D Gaussian against 3.0 at T = 100)."""
    mu, sd = (0.3, -1.0), (1.5, 0.7)
    data = _gaussian_data(2000, mu, sd)
    true = -torch.distributions.Normal(torch.tensor(mu), torch.tensor(sd)).log_prob(data.x).sum(1)
    gaps = {}
    for T in (100, 1000):
        model = create("ddpm", data, seed=0, hidden=(8,), timesteps=T)
        model.prepare(data)
        model.predict_eps = _gaussian_denoiser(model, mu, sd)
        bound = -model.log_prob(data.x, steps=T, generator=torch.Generator().manual_seed(1))
        gap = bound - true
        assert float(gap.mean()) > -3 * float(gap.std()) / math.sqrt(len(gap))
        gaps[T] = float(gap.mean())
    assert 0 < gaps[1000] < 0.6 * gaps[100], gaps


def test_stratified_estimate_of_the_bound_is_unbiased():
    data = _gaussian_data(500)
    model = create("ddpm", data, seed=0, hidden=(8,), timesteps=60, schedule="cosine")
    model.prepare(data)
    model.predict_eps = _gaussian_denoiser(model, (0.5, -0.8), (1.3, 0.8))
    g = torch.Generator().manual_seed(0)
    full = torch.stack([model.log_prob(data.x, steps=59, generator=g) for _ in range(20)]).double().mean(0)
    few = torch.stack([model.log_prob(data.x, steps=4, generator=g) for _ in range(20)]).double().mean(0)
    diff = few - full
    assert abs(float(diff.mean())) < 4 * float(diff.std()) / len(diff) ** 0.5 + 1e-3


def test_discretised_decoder_is_a_probability_over_the_grid():
    import numpy as np
    from scipy.stats import norm

    from genzoo.models.ddpm import discretised_gaussian_log_prob, grid_levels

    assert grid_levels(torch.arange(256) / 255) == 256 and grid_levels(torch.arange(17) / 16) == 17
    assert grid_levels(torch.tensor([0.0, 1.0, 1.0])) == 2 and grid_levels(torch.rand(500)) == 0
    for levels in (2, 17, 256):
        grid = torch.linspace(-1, 1, levels, dtype=torch.float64)
        for mean, var in ((-1.3, 1e-4), (0.2, 0.01), (0.999, 1.0), (40.0, 1e-3)):
            logp = discretised_gaussian_log_prob(grid, torch.full_like(grid, mean), var, levels)
            assert torch.isfinite(logp).all()
            assert abs(float(logp.exp().sum()) - 1) < 1e-9
            edges = np.concatenate([[-np.inf], (grid[:-1] + grid[1:]).numpy() / 2, [np.inf]])
            lower, upper = norm.cdf(edges, loc=mean, scale=var**0.5), norm.sf(edges, loc=mean, scale=var**0.5)
            ref = np.where(
                grid.numpy() < mean, np.diff(lower), -np.diff(upper)
            )  # the tail that does not cancel
            mask = ref > 1e-300
            assert np.allclose(logp.numpy()[mask], np.log(ref[mask]), rtol=1e-6, atol=1e-9)


def test_bound_is_finite_and_falls_with_training(ring):
    model = create("ddpm", ring, seed=0, hidden=(128, 128), timesteps=100)
    model.prepare(ring)
    x = ring.x[:256]

    def bound(m):
        return float(-m.log_prob(x, generator=torch.Generator().manual_seed(0)).mean())

    bounds = [bound(model)]
    for _ in range(2):
        model = genzoo.train(model, ring, steps=750, batch_size=256, lr=2e-3, progress=False, ema=None).model
        bounds.append(bound(model))
    assert model.likelihood == "bound" and not model.discrete
    assert all(map(math.isfinite, bounds)) and bounds[0] - 1 > bounds[1] > bounds[2], bounds
    digits = genzoo.datasets.load("digits", split="test").subset(torch.arange(16))
    img = create("ddpm", digits, seed=0, channels=(8,), attention=(), timesteps=20)
    img.prepare(digits)
    assert int(img.levels) == 17 and img.discrete
    scores = genzoo.evaluate(img, digits, metrics=["nll"], seed=0)["metrics"]["nll"]
    assert scores["kind"] == "bound" and 0 < scores["bits_per_dim"] < 50


# --- classifier-free guidance --------------------------------------------------------------------
def test_conditional_model_follows_its_labels_and_guidance_mixes_the_two_predictions(ring):
    model = create("ddpm", ring, seed=0, hidden=(128, 128), timesteps=100, conditional=True)
    run = genzoo.train(model, ring, steps=1500, batch_size=256, lr=2e-3, ema=None, progress=False, seed=0)
    m = run.model
    modes = ring.extras["modes"]
    labels = torch.arange(8).repeat_interleave(25)
    hits = {}
    for s in (1.0, 3.0, 0.0):
        x = m.sample(
            200,
            generator=torch.Generator().manual_seed(0),
            label=labels,
            guidance=s,
            sampler="ddim",
            steps=25,
        )
        hits[s] = float((torch.cdist(x, modes).argmin(1) == labels).float().mean())
    assert hits[1.0] > 0.95 and hits[3.0] > 0.95 and hits[0.0] < 0.4, hits  # s = 0: the unconditional model
    x_t, t = torch.randn(6, 2), torch.full((6,), 40)
    y = torch.arange(6)
    cond, uncond = m.predict_eps(x_t, t, y), m.predict_eps(x_t, t, torch.full_like(y, 8))
    assert torch.allclose(m.guided_eps(x_t, t, y, 2.5), uncond + 2.5 * (cond - uncond), atol=1e-5)
    assert torch.allclose(m.guided_eps(x_t, t, y, 1.0), cond) and torch.allclose(
        m.guided_eps(x_t, t, y, 0.0), uncond
    )
    with pytest.raises(GenzooError, match=r"label must be in \[0, 7\]"):
        m.sample(2, label=8)
    with pytest.raises(GenzooError, match="guidance must be"):
        m.sample(2, label=1, guidance=-1.0)


def test_label_dropout_trains_the_null_label():
    data = genzoo.datasets.load("ring8", n=64)
    model = create("ddpm", data, seed=0, hidden=(8,), timesteps=10, conditional=True, label_dropout=1.0)
    seen = []
    model.label_emb.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].clone()))
    model.loss({"x": data.x, "y": data.y})
    assert (seen[0] == 8).all()  # every label dropped to ∅ = K
    model.config.label_dropout = 0.0
    model.loss({"x": data.x, "y": data.y})
    assert torch.equal(seen[1], data.y)
    with pytest.raises(GenzooError, match="no labels"):
        create("ddpm", genzoo.datasets.load("swissroll", n=64), conditional=True)


# --- inpainting ------------------------------------------------------------------------------------
def test_repaint_fills_a_gaussian_with_its_exact_conditional():
    """x ~ N(0, [[1, ρ], [ρ, 1]]) with the exact denoiser; fill x₂ given x₁ = 1. The conditional is
    N(ρ, 1 − ρ²). Replacement alone is biased towards the prior (a known fault); RePaint's
    resampling removes most of it."""
    rho = 0.9
    cov = torch.tensor([[1.0, rho], [rho, 1.0]])
    x = torch.randn(4000, 2, generator=torch.Generator().manual_seed(0)) @ torch.linalg.cholesky(cov).T
    data = Dataset(x, DataInfo("g2", "points", (2,), (-math.inf, math.inf)))
    model = create("ddpm", data, seed=0, hidden=(8,), timesteps=200, schedule="cosine")
    model.shift.fill_(0.0)
    model.scale.fill_(1.0)

    def exact(x_t, t, y=None):  # E[ε | x_t] = √(1 − ᾱ) Σ_t⁻¹ x_t, Σ_t = ᾱ C + (1 − ᾱ) I
        ab = model.schedule.alpha_bar[t.cpu()].float()[:, None, None]
        s = ab * cov + (1 - ab) * torch.eye(2)
        return (1 - ab[:, :, 0]).sqrt() * torch.linalg.solve(s, x_t.unsqueeze(-1)).squeeze(-1)

    model.predict_eps = exact
    known = torch.tensor([[1.0, 0.0]]).repeat(4000, 1)
    errors = {}
    for r in (1, 20):
        out = model.inpaint(
            known, torch.tensor([1.0, 0.0]), generator=torch.Generator().manual_seed(0), resample=r
        )
        assert (out[:, 0] == 1.0).all()  # the known part is kept exactly
        errors[r] = (abs(float(out[:, 1].mean()) - rho), abs(float(out[:, 1].std()) - math.sqrt(1 - rho**2)))
    assert errors[20][0] < 0.03 and errors[20][1] < 0.05, errors
    assert errors[1][0] > 0.2  # replacement alone misses the conditional mean


def test_inpainting_keeps_the_known_pixels_and_rejects_bad_masks():
    digits = genzoo.datasets.load("digits", split="test").subset(torch.arange(4))
    model = create("ddpm", digits, seed=0, channels=(8,), attention=(), timesteps=10)
    model.prepare(digits)
    from genzoo.models.base import hole_mask

    mask = hole_mask("bottom-half", (1, 8, 8))
    assert mask[:, :4].eq(1).all() and mask[:, 4:].eq(0).all()
    out = model.inpaint(digits.x, mask, generator=torch.Generator().manual_seed(0), resample=2)
    assert torch.allclose(out[:, :, :4], digits.x[:, :, :4], atol=1e-6)
    assert not torch.allclose(out[:, :, 4:], digits.x[:, :, 4:])
    assert torch.equal(model.inpaint(digits.x, torch.ones(8, 8)), digits.x)  # everything known
    for bad in (torch.ones(7, 8), torch.ones(3, 1, 8, 8), torch.ones(2, 8, 8, 8)):
        with pytest.raises(GenzooError, match="mask has shape"):
            model.inpaint(digits.x, bad)
    with pytest.raises(GenzooError, match="named hole"):
        hole_mask("middle", (1, 8, 8))


def test_cli_condition_and_guidance(tmp_path, capsys):
    import numpy as np

    from genzoo.cli import main

    run = tmp_path / "c"
    assert (
        main(
            [
                "train",
                "ddpm",
                "--data",
                "digits",
                "--set",
                "conditional=true",
                "--set",
                "timesteps=20",
                "--set",
                "channels=8",
                "--set",
                "attention=",
                "--steps",
                "3",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "sample",
                str(run),
                "-n",
                "4",
                "--label",
                "3",
                "--guidance",
                "2",
                "--steps",
                "5",
                "--out",
                str(tmp_path / "s.npy"),
            ]
        )
        == 0
    )
    model = genzoo.load(run)
    ref = model.sample(4, generator=torch.Generator().manual_seed(0), label=3, guidance=2.0, steps=5)
    assert np.allclose(np.load(tmp_path / "s.npy"), ref.numpy())
    assert (
        main(
            [
                "condition",
                str(run),
                "--mask",
                "center",
                "-n",
                "3",
                "--steps",
                "5",
                "--out",
                str(tmp_path / "c.npz"),
            ]
        )
        == 0
    )
    with np.load(tmp_path / "c.npz") as z:
        assert z["x"].shape == (3, 1, 8, 8) and np.array_equal(z["x"] * z["mask"], z["input"] * z["mask"])
    assert (
        main(
            [
                "condition",
                str(run),
                "--mask",
                "center",
                "-n",
                "3",
                "--steps",
                "5",
                "--out",
                str(tmp_path / "c.png"),
            ]
        )
        == 0
    )
    np.save(tmp_path / "m.npy", np.ones((7, 8)))
    capsys.readouterr()
    assert (
        main(["condition", str(run), "--mask", str(tmp_path / "m.npy"), "--out", str(tmp_path / "x.png")])
        == 2
    )
    err = capsys.readouterr().err
    assert "mask has shape (7, 8)" in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()
    plain = tmp_path / "u"
    assert (
        main(
            [
                "train",
                "ddpm",
                "--data",
                "digits",
                "--set",
                "timesteps=20",
                "--set",
                "channels=8",
                "--set",
                "attention=",
                "--steps",
                "1",
                "--out",
                str(plain),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["sample", str(plain), "-n", "2", "--guidance", "2", "--out", str(tmp_path / "g.png")]) == 2
    assert "unconditional" in capsys.readouterr().err
