"""The adversarial autoencoder: which networks each of the three phases touches, the mixture
prior's means, variances and weights (exact small case and brute force), the codes of held-out
data matching the prior after training (kernel MMD against prior draws) while the reconstruction
error falls, the shared model contract (train → save → load → identical outputs, seeded samples)
and the one-line errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import genzoo
import genzoo.models.aae  # noqa: F401  (registers "aae")
from genzoo.errors import GenzooError
from genzoo.models import create
from genzoo.models.aae import mixture_means
from genzoo.models.base import StepContext

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = {"hidden": (32,), "disc_hidden": (16,)}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def ring():
    return genzoo.datasets.load("ring8", split="train", n=256)


@pytest.fixture(scope="module")
def digits():
    return genzoo.datasets.load("digits", split="train", binarize="static").subset(torch.arange(256))


def params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def mmd2(a: torch.Tensor, b: torch.Tensor, bandwidth: float = 1.0) -> float:
    """Unbiased squared MMD with a Gaussian kernel of the given bandwidth."""

    def k(x, y):
        return torch.exp(-torch.cdist(x, y).pow(2) / (2 * bandwidth**2))

    kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    n, m = len(a), len(b)
    return float(
        (kaa.sum() - kaa.trace()) / (n * (n - 1)) + (kbb.sum() - kbb.trace()) / (m * (m - 1)) - 2 * kab.mean()
    )


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_builds_on_images(digits, arch):
    model = create("aae", digits, seed=0, arch=arch, channels=(8, 16), **SMALL)
    assert model.latent_shape() == (8,) and model.output == "sigmoid"
    model.prepare(digits)
    x = digits.x[:5]
    assert model.encode(x).shape == (5, 8)
    assert model.reconstruct(x).shape == x.shape
    s = model.sample(4, generator=gen(0))
    assert s.shape == (4, 1, 8, 8) and s.min() >= 0 and s.max() <= 1


def test_points_default_code_and_linear_output(ring):
    model = create("aae", ring, seed=0, **SMALL)
    assert model.latent_shape() == (2,) and model.output == "linear"
    model.prepare(ring)
    assert torch.allclose(model.decoder[-1].bias, ring.x.mean(0))  # output starts at the data mean


class Recording(StepContext):
    """A StepContext that snapshots the model's three networks after every optimiser step."""

    def __init__(self, model, lr=1e-2):
        super().__init__(model.configure_optimizers(lambda p: torch.optim.Adam(p, lr=lr)))
        self.model, self.snaps = model, []

    def optimize(self, loss, index=0):
        super().optimize(loss, index)
        m = self.model
        self.snaps.append((index, params(m.encoder), params(m.decoder), params(m.discriminator)))


@pytest.mark.parametrize("prior", ["gaussian", "mixture"])
def test_each_phase_touches_only_its_networks(ring, prior):
    model = create("aae", ring, seed=0, prior=prior, **SMALL)
    model.prepare(ring)
    e0, d0, q0 = params(model.encoder), params(model.decoder), params(model.discriminator)
    ctx = Recording(model)
    terms = model.training_step(ring.batch(torch.arange(64)), ctx)
    assert {"loss", "recon", "mse", "d_loss", "g_loss"} <= terms.keys()
    assert [s[0] for s in ctx.snaps] == [0, 1, 2]  # reconstruction, discriminator, regularisation
    (_, e1, d1, q1), (_, e2, d2, q2), (_, e3, d3, q3) = ctx.snaps
    assert not same(e1, e0) and not same(d1, d0) and same(q1, q0)  # reconstruction: encoder + decoder
    assert same(e2, e1) and same(d2, d1) and not same(q2, q1)  # discriminator only
    assert not same(e3, e2) and same(d3, d2) and same(q3, q2)  # encoder only
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_mixture_means_exact_small_case():
    means = mixture_means(4, 2.0, 3)
    expected = torch.tensor([[2.0, 0, 0], [0, 2.0, 0], [-2.0, 0, 0], [0, -2.0, 0]])
    assert torch.allclose(means, expected, atol=1e-6)


def test_mixture_prior_draws_brute_force(ring):
    k, r, sigma, d = 5, 3.0, 0.4, 3
    model = create(
        "aae",
        ring,
        seed=0,
        prior="mixture",
        prior_modes=k,
        prior_radius=r,
        prior_std=sigma,
        code_dim=d,
        **SMALL,
    )
    z = model.sample_latent(50_000, generator=gen(0)).double()
    assert z.shape == (50_000, d)
    centres = torch.tensor(
        [[r * math.cos(2 * math.pi * j / k), r * math.sin(2 * math.pi * j / k), 0.0] for j in range(k)],
        dtype=torch.float64,
    )
    nearest = torch.cdist(z, centres).argmin(1)  # means ≥ 3.5 apart, σ = 0.4: assignment errors ~ 1e-5
    for j in range(k):
        zj = z[nearest == j]
        assert len(zj) / len(z) == pytest.approx(1 / k, abs=0.01)
        assert torch.allclose(zj.mean(0), centres[j], atol=0.02), (j, zj.mean(0))
        assert torch.allclose(zj.var(0), torch.full((d,), sigma**2, dtype=torch.float64), rtol=0.05), (
            j,
            zj.var(0),
        )
    # the mixture's overall second moment in the circle's plane: E[z₁²] = E[z₂²] = r²/2 + σ²
    assert z[:, :2].pow(2).mean(0).tolist() == pytest.approx([r**2 / 2 + sigma**2] * 2, rel=0.02)


def test_gaussian_prior_draws(ring):
    model = create("aae", ring, seed=0, code_dim=3, **SMALL)
    z = model.sample_latent(40_000, generator=gen(1)).double()
    assert torch.allclose(z.mean(0), torch.zeros(3, dtype=torch.float64), atol=0.02)
    assert torch.allclose(torch.cov(z.T), torch.eye(3, dtype=torch.float64), atol=0.03)


def test_training_matches_codes_to_the_prior():
    train = genzoo.datasets.load("digits", split="train")
    test = genzoo.datasets.load("digits", split="test")
    model = create("aae", train, seed=0, hidden=(64,), disc_hidden=(32, 32), prior="mixture", code_dim=2)
    model.prepare(train)
    prior = model.sample_latent(len(test), generator=gen(0))

    def stats():
        with torch.no_grad():
            codes = model.encode(test.x)
            err = (model.reconstruct(test.x) - test.x).pow(2).flatten(1).sum(1).mean()
        return mmd2(codes, prior), float(err)

    mmd_0, err_0 = stats()
    genzoo.train(model, train, steps=200, batch_size=64, progress=False)
    mmd_1, err_1 = stats()
    assert mmd_1 < 0.15 * mmd_0, (mmd_0, mmd_1)  # measured: 1.08 → 0.04 after 300 steps
    assert err_1 < 0.8 * err_0, (err_0, err_1)  # measured: 4.7 → 3.1
    # and two independent prior samples are about as close as the codes now are to the prior
    assert mmd_1 < mmd2(model.sample_latent(len(test), generator=gen(1)), prior) + 0.1


@pytest.mark.parametrize("kind", ["image", "points"])
def test_model_contract(kind, ring, digits, tmp_path):
    """tests/test_models_common.py's contract, for this family."""
    ds = digits if kind == "image" else ring
    model = create("aae", ds, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = genzoo.train(model, ds, out=tmp_path, steps=3, batch_size=32, progress=False)
    assert any(not torch.equal(before[k], v) for k, v in run.model.state_dict().items())
    loaded = genzoo.load(tmp_path)
    x = ds.tensors()[:6]
    a = (run.model.sample(6, generator=gen(5)), run.model.encode(x))
    b = (loaded.sample(6, generator=gen(5)), loaded.encode(x))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    s1, s2, s3 = (loaded.sample(4, generator=gen(s)) for s in (9, 9, 10))
    assert torch.equal(s1, s2) and not torch.equal(s1, s3) and s1.shape == (4, *ds.info.shape)


def test_mixture_means_saved_with_the_weights(ring):
    model = create("aae", ring, seed=0, prior="mixture", prior_modes=6, **SMALL)
    assert "prior_means" in model.state_dict()
    twin = create("aae", ring, seed=1, prior="mixture", prior_modes=6, **SMALL)
    twin.load_weights(model.state_dict())
    z = model.sample_latent(7, generator=gen(3))
    assert torch.equal(z, twin.sample_latent(7, generator=gen(3)))
    assert torch.equal(model.decode(z), twin.decode(z))


def test_errors(ring):
    with pytest.raises(GenzooError, match="code_dim >= 2"):
        create("aae", ring, prior="mixture", code_dim=1)
    with pytest.raises(GenzooError, match="conv needs images"):
        create("aae", ring, arch="conv")
    with pytest.raises(GenzooError, match="prior_std"):
        create("aae", ring, prior="mixture", prior_std=0)
    with pytest.raises(GenzooError, match="unconditional; cannot condition on label"):
        create("aae", ring, **SMALL).sample(3, label=1)
