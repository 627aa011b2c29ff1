"""The DDPM family: the prediction targets convert back to ε exactly, sampling paths and steps,
a short training that lowers the loss, bad input. (Save → load and seeded sampling: the shared
contract in test_models_common.py.)"""

from __future__ import annotations

import pytest
import torch

import genzoo
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
    assert main(["train", "ddpm", "--data", "ring8", "--set", "data.n=300", "--set", "timesteps=40", "--set", "hidden=16",
                 "--steps", "5", "--out", str(out), "--quiet"]) == 0
    assert main(["sample", str(out), "-n", "3", "--steps", "8", "--sampler", "ddim", "--out", str(tmp_path / "s.npy")]) == 0
    model = genzoo.load(out)
    ref = model.sample(3, generator=torch.Generator().manual_seed(0), steps=8, sampler="ddim")
    assert np.allclose(np.load(tmp_path / "s.npy"), ref.numpy())
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "3", "--steps", "41", "--out", str(tmp_path / "bad.npy")]) == 2
    assert "between 1 and the 40 training steps" in capsys.readouterr().err
    gan = tmp_path / "g"
    assert main(["train", "gan", "--data", "ring8", "--set", "data.n=300", "--steps", "2", "--out", str(gan), "--quiet"]) == 0
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
