"""The GAN: which network each update touches, the gradient penalty (per-example interpolation,
zero for a unit-gradient linear critic), weight clipping, save → load, and the optimal
discriminator D*(x) = p / (p + q) on a 1-D case with a fixed generator."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

import genzoo
import genzoo.models.gan  # noqa: F401  (registers "gan")
from genzoo.data.base import DataInfo
from genzoo.models import create
from genzoo.models.base import StepContext
from genzoo.models.gan import GAN, generator_loss, gradient_penalty, interpolate

pytestmark = pytest.mark.usefixtures("one_thread")
LINE = DataInfo("line", "points", (1,), (float("-inf"), float("inf")))
PLANE = DataInfo("plane", "points", (2,), (float("-inf"), float("inf")))


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def ring():
    return genzoo.datasets.load("ring8", n=500)


@pytest.fixture(scope="module")
def digits():
    ds = genzoo.datasets.load("digits", split="train")
    return ds.subset(torch.arange(64))


def make_ctx(model: GAN, step: int, lr: float = 1e-3) -> StepContext:
    return StepContext(model.configure_optimizers(lambda p: torch.optim.Adam(p, lr=lr)), step=step, total=10)


def params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("loss", ["minimax", "non-saturating", "wgan", "wgan-gp"])
def test_builds_and_trains_on_points(ring, loss):
    model = create("gan", ring, seed=0, loss=loss, critic_steps=1)
    assert model.latent_shape() == (2,)
    model.prepare(ring)
    terms = model.training_step(ring.batch(torch.arange(64)), make_ctx(model, 0))
    assert {"loss", "d_loss", "g_loss"} <= terms.keys() and all(torch.isfinite(v) for v in terms.values())
    assert ("gp" in terms) == (loss == "wgan-gp")
    assert model.sample(5, generator=gen(0)).shape == (5, 2)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_builds_on_images(digits, arch):
    model = create("gan", digits, seed=0, arch=arch, channels=(8, 16), hidden=(32,), loss="wgan-gp")
    assert model.latent_shape() == (64,)
    model.prepare(digits)
    terms = model.training_step(digits.batch(torch.arange(16)), make_ctx(model, 0))
    assert torch.isfinite(terms["loss"]) and torch.isfinite(terms["gp"])
    x = model.sample(3, generator=gen(0))
    assert x.shape == (3, *digits.info.shape) and x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("loss", ["non-saturating", "wgan-gp"])
def test_each_update_touches_only_its_network(ring, loss):
    model = create("gan", ring, seed=0, loss=loss, critic_steps=2)
    batch = ring.batch(torch.arange(64))
    twin = copy.deepcopy(model)
    g0, d0 = params(model.generator), params(model.critic)

    torch.manual_seed(3)
    terms = model.training_step(batch, make_ctx(model, step=0))  # critic only (k = 2)
    assert "g_loss" not in terms
    assert same(params(model.generator), g0) and not same(params(model.critic), d0)

    torch.manual_seed(3)
    terms = twin.training_step(batch, make_ctx(twin, step=1))  # critic, then generator
    assert "g_loss" in terms
    assert not same(params(twin.generator), g0)
    # the generator update left the critic exactly where the critic update put it, and no grads
    assert same(params(twin.critic), params(model.critic))
    assert all(p.requires_grad for p in twin.critic.parameters())


def test_defaults_follow_the_papers(ring, digits):
    """k = 5 for the Wasserstein losses, 1 otherwise; λ = 10 on images, 0.1 on 2-D points; points
    train with their own budget (steps, batch, EMA) unless the user says otherwise."""
    assert create("gan", ring, loss="wgan-gp").critic_steps == 5
    assert create("gan", ring, loss="wgan").critic_steps == 5
    assert create("gan", ring, loss="non-saturating").critic_steps == 1
    assert create("gan", ring, loss="wgan-gp", critic_steps=2).critic_steps == 2
    assert create("gan", ring, loss="wgan-gp").gp_weight == 0.1
    assert create("gan", digits, loss="wgan-gp").gp_weight == 10.0
    assert create("gan", ring, loss="wgan-gp", gp_weight=3.0).gp_weight == 3.0
    points, images = create("gan", ring), create("gan", digits)
    assert points.default_train["steps"] == 20000 and points.default_train["ema"] == 0.999
    assert "steps" not in images.default_train and "steps" not in GAN.default_train


def test_interpolation_is_per_example():
    real, fake = torch.zeros(5, 1, 4, 4), torch.ones(5, 1, 4, 4)
    x_hat, eps = interpolate(real, fake, gen(0))
    assert eps.shape == (5, 1, 1, 1)
    assert torch.allclose(x_hat, (1 - eps).expand_as(x_hat))
    assert len(torch.unique(eps)) == 5
    _, eps2 = interpolate(torch.zeros(7, 3), torch.ones(7, 3), gen(0))
    assert eps2.shape == (7, 1)


def test_gradient_penalty_zero_for_unit_linear_critic():
    u = torch.tensor([3.0, 4.0, 0.0]) / 5.0

    def critic(x):
        return x @ u

    g = gen(0)
    gp = gradient_penalty(critic, torch.randn(32, 3, generator=g), torch.randn(32, 3, generator=g), g)
    assert gp.item() == pytest.approx(0.0, abs=1e-10)
    gp2 = gradient_penalty(
        lambda x: 2 * critic(x), torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g), g
    )
    assert gp2.item() == pytest.approx(1.0, abs=1e-6)  # (‖2u‖ − 1)² = 1


def test_wgan_clipping(ring):
    model = create("gan", ring, seed=0, loss="wgan", clip=0.02)
    ctx = make_ctx(model, 0, lr=0.1)  # big steps: weights would leave [-c, c] unclipped
    for step in range(3):
        ctx.step = step
        model.training_step(ring.batch(torch.arange(64)), ctx)
        assert all(p.abs().max() <= 0.02 for p in model.critic.parameters())


def test_save_load_and_seeded_samples(ring):
    model = create("gan", ring, seed=0)
    model.prepare(ring)
    model.training_step(ring.batch(torch.arange(64)), make_ctx(model, 0))
    loaded = create("gan", ring, seed=1)
    loaded.load_weights(model.state_dict())
    s = model.sample(10, generator=gen(4))
    assert torch.equal(s, loaded.sample(10, generator=gen(4)))
    assert torch.equal(s, model.sample(10, generator=gen(4)))
    assert not torch.equal(s, model.sample(10, generator=gen(5)))
    z = model.sample_latent(6, generator=gen(2))
    assert torch.equal(model.decode(z), loaded.decode(z))


class Fixed(nn.Module):
    """A 'generator' that returns fixed samples whatever z (the first len(z) of them)."""

    def __init__(self, x: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("x", x)
        self.dummy = nn.Parameter(torch.zeros(()))  # something for the generator's optimiser

    def forward(self, z):
        return self.x[: len(z)] + 0 * self.dummy


def train_critic(real: torch.Tensor, fake: torch.Tensor, loss: str, steps: int = 600) -> GAN:
    """The critic alone (the generator never updates: k is huge), full batch, against fixed fakes."""
    info = LINE if real.shape[1] == 1 else PLANE
    model = create("gan", info, seed=0, loss=loss, hidden=(16, 16), latent_dim=1, critic_steps=10**9)
    model.generator = Fixed(fake)
    ctx = make_ctx(model, 0, lr=1e-2)
    for step in range(steps):
        ctx.step = step
        model.training_step({"x": real}, ctx)
    return model


@pytest.mark.parametrize("loss", ["non-saturating", "minimax"])
def test_optimal_discriminator(loss):
    g = gen(0)
    n = 4096
    real, fake = (
        torch.randn(n, 1, generator=g),
        torch.randn(n, 1, generator=g) + 1.0,
    )  # p = N(0,1), q = N(1,1)
    model = train_critic(real, fake, loss)
    x = torch.tensor([[-1.0], [0.0], [0.5], [1.0], [2.0]])
    with torch.no_grad():
        d = torch.sigmoid(model.score(x))
    optimal = torch.sigmoid(0.5 - x[:, 0])  # p / (p + q) = 1 / (1 + exp(x − ½))
    assert torch.allclose(d, optimal, atol=0.05), (d, optimal)


def test_critic_value_at_p_equal_q():
    g = gen(1)
    n = 4096
    real, fake = torch.randn(n, 1, generator=g), torch.randn(n, 1, generator=g)
    model = train_critic(real, fake, "non-saturating", steps=300)
    with torch.no_grad():
        value = model.critic_terms(real)["d_loss"].item()  # −[E log D(x) + E log(1 − D(G(z)))]
    assert value == pytest.approx(2 * math.log(2), abs=0.02)


def test_optimal_discriminator_2d():
    """p = N(0, I), q = N((1, 1), I) in the plane: D*(x) = σ(log p − log q) = σ(1 − x₁ − x₂)."""
    g = gen(2)
    n = 4096
    real, fake = torch.randn(n, 2, generator=g), torch.randn(n, 2, generator=g) + 1.0
    model = train_critic(real, fake, "non-saturating")
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [1.0, -0.5], [-0.5, 0.2], [1.5, 0.3]])
    with torch.no_grad():
        d = torch.sigmoid(model.score(x))
    optimal = torch.sigmoid(1.0 - x.sum(1))
    assert torch.allclose(d, optimal, atol=0.05), (d, optimal)


def test_saturating_generator_gradient_vanishes_when_the_critic_is_confident():
    """With D trained to reject G's samples (p = N(0, 1), G's samples near 5), the minimax loss
    log(1 − D(G(z))) has gradient −D·∇ℓ at each fake, the non-saturating −log D(G(z)) has
    −(1 − D)·∇ℓ: their ratio is exactly D / (1 − D) = e^ℓ, ≈ 0 where D is confident, so the
    saturating generator learns nothing there while the non-saturating one gets a full gradient."""
    g = gen(3)
    real, fake = torch.randn(2048, 1, generator=g), torch.randn(2048, 1, generator=g) * 0.5 + 5.0
    model = train_critic(real, fake, "non-saturating", steps=400)
    x = fake[:256].clone().requires_grad_(True)
    grads = {}
    for loss in ("minimax", "non-saturating"):
        (grads[loss],) = torch.autograd.grad(generator_loss(loss, model.score(x)), x)
    with torch.no_grad():
        logit = model.score(x)
    assert torch.sigmoid(logit).mean() < 0.01  # D(G(z)) ≈ 0 on average: confident
    assert torch.allclose(
        grads["minimax"][:, 0], grads["non-saturating"][:, 0] * logit.exp(), rtol=1e-4, atol=1e-12
    )
    ratio = grads["minimax"].norm() / grads["non-saturating"].norm()
    assert ratio < 0.05 and grads["non-saturating"].norm() > 1e-3


# --- fields of any size, resume, divergence ---------------------------------------------------
@pytest.fixture(scope="module")
def patches():
    return genzoo.datasets.load("textures", patch=16, n=8)


def test_fcn_generator_draws_fields_of_any_size(patches):
    model = create("gan", patches, seed=0, arch="fcn", channels=(8, 8), loss="wgan-gp")
    assert model.latent_shape() == (16, 4, 4) and model.latent_shape(32) == (16, 8, 8)
    model.prepare(patches)
    model.training_step(patches.batch(torch.arange(8)), make_ctx(model, 0))
    small, big = model.sample(2, generator=gen(0)), model.sample(2, generator=gen(0), size=64)
    assert small.shape == (2, 1, 16, 16) and big.shape == (2, 1, 64, 64)
    assert big.min() >= 0 and big.max() <= 1
    assert model.sample(1, size=(8, 24)).shape == (1, 1, 8, 24)
    # fully convolutional: away from the border (the receptive field), a field's centre depends only
    # on the noise there, so cropping the noise crops the output
    z = model.sample_latent(1, generator=gen(1))
    z_big = torch.randn(1, 16, 12, 12, generator=gen(2))
    z_big[:, :, 4:8, 4:8] = z
    with torch.no_grad():
        centre = model.decode(z_big)[:, :, 16:32, 16:32]
        alone = model.decode(z)
    assert torch.allclose(centre[:, :, 6:10, 6:10], alone[:, :, 6:10, 6:10], atol=1e-5)
    # the critic is fully convolutional too: it scores fields of any size
    assert model.score(big).shape == (2,)
    with pytest.raises(genzoo.GenzooError, match="multiple of 4"):
        model.sample(1, size=30)
    with pytest.raises(genzoo.GenzooError, match="only arch=fcn"):
        create("gan", patches, arch="conv", channels=(8,)).sample(1, size=32)
    with pytest.raises(genzoo.GenzooError, match="divisible by 16"):
        create(
            "gan", genzoo.datasets.load("digits").subset(torch.arange(4)), arch="fcn", channels=(4, 4, 4, 4)
        )


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("loss", ["non-saturating", "wgan-gp"])
def test_resume_restores_both_networks_and_both_optimisers(ring, tmp_path, loss):
    """20 steps straight = 10 steps, stop, resume to 20 (k = 2: the generator updates on odd
    steps); equality needs the critic's and the generator's Adam moments restored."""
    kw = dict(batch_size=32, seed=0, progress=False, lr=1e-3)
    straight = genzoo.train(
        create("gan", ring, seed=0, loss=loss, critic_steps=2, hidden=(16,)),
        ring,
        out=tmp_path / "a",
        steps=20,
        **kw,
    )
    genzoo.train(
        create("gan", ring, seed=0, loss=loss, critic_steps=2, hidden=(16,)),
        ring,
        out=tmp_path / "b",
        steps=10,
        **kw,
    )
    resumed = genzoo.train(
        create("gan", ring, seed=0, loss=loss, critic_steps=2, hidden=(16,)),
        ring,
        out=tmp_path / "b",
        steps=20,
        resume=True,
        **kw,
    )
    a, b = _weights(straight.model), _weights(resumed.model)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)
    assert len(state["optimizers"]) == 2


def test_a_diverging_critic_is_one_line_naming_it(ring, tmp_path, capsys):
    from genzoo.cli import main

    out = tmp_path / "nan"
    argv = [
        "train",
        "gan",
        "--data",
        "ring8",
        "--set",
        "data.n=300",
        "--set",
        "loss=wgan-gp",
        "--set",
        "hidden=16",
        "--steps",
        "50",
        "--lr",
        "1e30",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "the critic's loss (d_loss) became nan at step" in err


def test_cli_samples_fields_larger_than_the_training_patches(tmp_path, capsys):
    import numpy as np

    from genzoo.cli import main

    out = tmp_path / "fcn"
    argv = [
        "train",
        "gan",
        "--data",
        "textures",
        "--set",
        "data.patch=16",
        "--set",
        "data.n=8",
        "--set",
        "arch=fcn",
        "--set",
        "channels=8,8",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    assert main(["sample", str(out), "-n", "2", "--size", "64", "--out", str(tmp_path / "big.npy")]) == 0
    assert np.load(tmp_path / "big.npy").shape == (2, 1, 64, 64)
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "2", "--size", "30", "--out", str(tmp_path / "bad.npy")]) == 2
    assert "multiple of 4" in capsys.readouterr().err and not (tmp_path / "bad.npy").exists()
    ring = tmp_path / "ring"
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
                str(ring),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["sample", str(ring), "-n", "2", "--size", "64", "--out", str(tmp_path / "r.npy")]) == 2
    assert "only arch=fcn generates other sizes" in capsys.readouterr().err


# --- the small-data remedies: augmentation, R1, spectral normalisation, two time scales, batch norm ---
def test_translation_and_cutout_against_a_loop():
    from genzoo.nn.augment import cutout, translation

    x = torch.rand(6, 2, 8, 8, generator=gen(0))
    g = gen(1)
    out = translation(x, ratio=0.25, generator=g)
    g = gen(1)
    dy = torch.randint(0, 5, (6, 1, 1), generator=g) - 2
    dx = torch.randint(0, 5, (6, 1, 1), generator=g) - 2
    for b in range(6):
        want = torch.zeros(2, 8, 8)
        for i in range(8):
            for j in range(8):
                si, sj = i - int(dy[b]), j - int(dx[b])
                if 0 <= si < 8 and 0 <= sj < 8:
                    want[:, i, j] = x[b, :, si, sj]
        assert torch.equal(out[b], want)
    cut = cutout(x, ratio=0.5, generator=gen(2))
    zeroed = (cut == 0).all(1)  # (B, H, W): pixels erased in every channel
    for b in range(6):
        rows, cols = torch.nonzero(zeroed[b], as_tuple=True)
        assert 4 <= len(rows) <= 16 and len(rows) == (rows.max() - rows.min() + 1) * (
            cols.max() - cols.min() + 1
        )  # one square, clipped
        assert torch.equal(cut[b][:, ~zeroed[b]], x[b][:, ~zeroed[b]])


def test_augmentation_reaches_the_generator_and_differs_for_real_and_fake(digits):
    from genzoo.nn.augment import diff_augment

    x = torch.rand(4, 1, 8, 8, requires_grad=True)
    diff_augment(x, "color,translation,cutout", gen(0)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    model = create("gan", digits, seed=0, arch="conv", channels=(8, 16), augment="translation,cutout")
    model.prepare(digits)
    terms = model.training_step(digits.batch(torch.arange(16)), make_ctx(model, 0))
    assert torch.isfinite(terms["g_loss"])
    with pytest.raises(genzoo.errors.GenzooError, match="augmentation needs images"):
        create("gan", genzoo.datasets.load("ring8", n=50), augment="translation")
    with pytest.raises(genzoo.errors.GenzooError, match="augmentation needs model.arch=conv or fcn"):
        create("gan", digits, augment="translation")  # the mlp critic sees vectors (was a traceback)


def test_r1_is_the_squared_gradient_norm_on_real_data():
    """A linear critic D(x) = wᵀx + b has ∇ₓD = w everywhere: R1 = ‖w‖², and its gradient in w is 2w."""
    from genzoo.models.gan import r1_penalty

    lin = nn.Linear(5, 1)
    x = torch.randn(7, 5, requires_grad=True)
    r1 = r1_penalty(lin(x).squeeze(1), x)
    assert float(r1.detach()) == pytest.approx(float(lin.weight.detach().pow(2).sum()), rel=1e-6)
    (gw,) = torch.autograd.grad(r1, lin.weight)
    torch.testing.assert_close(gw, 2 * lin.weight.detach())


def test_r1_spectral_norm_ttur_and_batch_norm_options(digits):
    model = create(
        "gan",
        digits,
        seed=0,
        arch="conv",
        channels=(8, 16),
        r1=10.0,
        spectral_norm=True,
        critic_lr_scale=4.0,
        batch_norm=True,
    )
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.generator.modules())
    model.prepare(digits)
    opts = model.configure_optimizers(lambda p: torch.optim.Adam(p, lr=1e-3))
    assert opts[0].param_groups[0]["lr"] == pytest.approx(4e-3) and opts[1].param_groups[0][
        "lr"
    ] == pytest.approx(1e-3)
    ctx = StepContext(opts, step=0, total=10)
    for step in range(3):
        ctx.step = step
        terms = model.training_step(digits.batch(torch.arange(16)), ctx)
    assert float(terms["r1"]) > 0
    for m in model.critic.modules():  # every layer's largest singular value is 1 after the power iterations
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight.detach().flatten(1)
            assert float(torch.linalg.matrix_norm(w, ord=2)) == pytest.approx(1.0, abs=0.15)
