"""VQ-VAE against references: nearest-codebook assignment by brute force, the straight-through
gradient, the EMA codebook as the mean of its assigned vectors, the staged schedule, the prior's
samples against its exact probabilities, and the bound against the exact marginal likelihood by
enumeration of the codes."""

from __future__ import annotations

import itertools

import pytest
import torch

import genzoo
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models import StepContext, create

pytestmark = pytest.mark.usefixtures("one_thread")


def info(h: int = 8, w: int = 8, binary: bool = True) -> DataInfo:
    return DataInfo("tiny", "image", (1, h, w), (0.0, 1.0), binarize="static" if binary else "none")


SMALL = {"codes": 3, "code_dim": 2, "channels": 8, "stages": 2, "prior_channels": 8, "prior_blocks": 1}


def tiny(i: DataInfo, **extra) -> genzoo.models.GenerativeModel:
    return create("vqvae", i, seed=0, **{**SMALL, **extra})


def test_quantise_picks_the_nearest_codebook_entry():
    model = tiny(info(), codes=7, code_dim=3)
    z = torch.randn(4, 3, 2, 2)
    k, z_q = model.quantise(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 3)
    brute = torch.tensor(
        [min(range(7), key=lambda j: float(((v - model.codebook[j]) ** 2).sum())) for v in flat]
    )
    assert torch.equal(k.flatten(), brute)
    assert torch.equal(z_q.permute(0, 2, 3, 1).reshape(-1, 3), model.codebook[brute])


def test_straight_through_copies_the_decoder_gradient_to_the_encoder():
    model = tiny(info(), codebook="loss")
    z_e = torch.randn(2, 2, 2, 2, requires_grad=True)
    _, z_q = model.quantise(z_e)
    out = model.decoder(z_e + (z_q - z_e).detach())
    (g_e,) = torch.autograd.grad(out.sum(), z_e)
    zq = z_q.detach().requires_grad_(True)
    (g_q,) = torch.autograd.grad(model.decoder(zq).sum(), zq)
    assert torch.allclose(g_e, g_q)


def test_ema_codebook_is_the_mean_of_its_assigned_vectors():
    model = tiny(info(), decay=0.0)
    z = torch.randn(6, 2, 2, 2)
    k, _ = model.quantise(z)
    with torch.no_grad():
        model._ema_update(z, k)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 2)
    for j in k.unique():
        assert torch.allclose(model.codebook[j], flat[k.flatten() == j].mean(0), atol=1e-4)


def bars(n: int = 256) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(n, 1, 8, 8)
    for i, kk in enumerate(torch.randint(0, 16, (n,), generator=g).tolist()):
        if kk < 8:
            x[i, 0, kk] = 1
        else:
            x[i, 0, :, kk - 8] = 1
    return Dataset(x, info())


def test_the_prior_trains_last_on_frozen_codes():
    data = bars()
    model = tiny(data.info)
    opt = model.configure_optimizers(lambda p: torch.optim.Adam(p, lr=1e-2))
    model.prepare(data)

    def snapshot():
        return {k: v.clone() for k, v in model.state_dict().items()}

    batch = {"x": data.x[:32]}
    for step in range(10):  # prior_fraction 0.4: steps 0-5 the VQ-VAE, 6-9 the prior
        before = snapshot()
        model.training_step(batch, StepContext(opt, step=step, total=10))
        after = snapshot()
        changed = {k for k in before if not torch.equal(before[k], after[k])}
        assert changed
        if step < 6:
            assert not any(k.startswith("prior.") for k in changed)
        else:
            assert all(k.startswith("prior.") for k in changed), changed


def test_prior_samples_follow_its_exact_probabilities():
    model = tiny(info(8, 4)).eval()  # a 2 × 1 grid of 3 codes: 9 grids
    with torch.no_grad():
        for p in model.prior.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    grids = torch.tensor(list(itertools.product(range(3), repeat=2))).reshape(9, 2, 1)
    p = model.prior_log_prob(grids).double().exp()
    assert p.sum().item() == pytest.approx(1.0, abs=1e-6)
    k = model.sample_codes(20_000, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(k[:, 0, 0] * 3 + k[:, 1, 0], minlength=9).double() / len(k)
    assert 0.5 * (freq - p).abs().sum() < 0.03


def test_bound_is_below_the_exact_likelihood_which_sums_to_one():
    """One code per 4×4 image (grid 1 × 1, K = 3): p(x) = Σ_k p(k) p(x | e_k) exactly; over all
    2^16 binary images it sums to 1, and the bound log p(k(x)) + log p(x | z_q(x)) ≤ log p(x)."""
    model = tiny(info(4, 4)).eval()
    x = torch.tensor(list(itertools.product((0.0, 1.0), repeat=16))).reshape(-1, 1, 4, 4)
    with torch.no_grad():
        codes = torch.arange(3).reshape(3, 1, 1)
        log_pk = model.prior_log_prob(codes)  # (3,)
        logits = model.decoder(model.codebook[codes].permute(0, 3, 1, 2)).flatten(1)  # (3, 16)
        flat = x.flatten(1)
        log_px_k = (
            flat @ torch.nn.functional.logsigmoid(logits).T
            + (1 - flat) @ torch.nn.functional.logsigmoid(-logits).T
        )
        exact = torch.logsumexp(log_px_k + log_pk, 1)
    assert torch.logsumexp(exact.double(), 0).exp().item() == pytest.approx(1.0, abs=1e-4)
    bound = model.log_prob(x)
    assert (bound <= exact + 1e-5).all()
    assert (bound > exact - 3).float().mean() > 0.5  # and not vacuous


def test_training_reconstructs_and_samples(tmp_path):
    data = bars(512)
    model = create(
        "vqvae", data, seed=0, codes=16, code_dim=4, channels=16, stages=1, prior_channels=16, prior_blocks=1
    )
    run = genzoo.train(model, data, out=tmp_path, steps=300, batch_size=64, lr=3e-3, progress=False)
    m = run.model.eval()
    rec = m.decode(m.encode(data.x[:64]))
    assert ((rec > 0.5).float() == data.x[:64]).float().mean() > 0.97
    s = m.sample(8, generator=torch.Generator().manual_seed(0))
    assert s.shape == (8, 1, 8, 8) and ((s >= 0) & (s <= 1)).all()
    nll = -m.log_prob(data.x[:64]).mean()
    assert torch.isfinite(nll) and nll < 30  # an untrained model is at about 44 nats


def test_bad_input_is_one_line():
    errors = []
    for make in (
        lambda: tiny(info(6, 6)),  # 6 does not halve twice
        lambda: tiny(info(binary=False)).log_prob(torch.zeros(2, 1, 8, 8)),
        lambda: tiny(info()).log_prob(torch.full((2, 1, 8, 8), 0.5)),
        lambda: create("vqvae", DataInfo("p", "points", (2,), (-1.0, 1.0))),
    ):
        with pytest.raises(GenzooError) as err:
            make()
        errors.append(str(err.value))
    assert all("\n" not in e for e in errors)
    assert "stages" in errors[0] and "binar" in errors[1] and "binar" in errors[2]
