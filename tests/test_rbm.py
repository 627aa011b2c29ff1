"""RBM and DBN against brute-force references: the free energy and the conditionals by enumerating
the joint of a tiny RBM, the CD gradient (with the exact model expectation) against autograd of the
exact log-likelihood, AIS against the exact log Z, log p summing to 1 over every binary example,
scikit-learn's BernoulliRBM on the same weights, and the DBN's greedy layer-wise schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import genzoo
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models import StepContext, create
from genzoo.models.rbm import RBM, ais_schedule, cd_gradient, exact_log_partition, layer_at, load_sklearn

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest and steadiest

TINY = DataInfo("tiny", "image", (1, 3, 3), (0.0, 1.0), binarize="static")
LABELLED = DataInfo("bars", "image", (1, 3, 3), (0.0, 1.0), num_classes=6, binarize="static")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def states(n: int) -> torch.Tensor:
    """All 2^n binary vectors (2^n, n), float64."""
    return torch.tensor([[(i >> j) & 1 for j in range(n)] for i in range(2**n)], dtype=torch.float64)


def random_rbm(n_visible: int, n_hidden: int, *, scale: float = 1.0, seed: int = 0, **params) -> RBM:
    """A float64 RBM on binary 1 × 1 × n_visible images with random W, b, c of scale `scale`."""
    info = DataInfo(f"v{n_visible}", "image", (1, 1, n_visible), (0.0, 1.0), binarize="static")
    model = create("rbm", info, seed=seed, hidden=n_hidden, **params).double()
    g = gen(seed + 1)
    with torch.no_grad():
        for p in (model.rbm.W, model.rbm.b, model.rbm.c):
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64))
        model.base_bias.copy_(model.rbm.b[: model.info.dim].detach())
    return model


def energy(model: RBM, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """E(v, h) = −bᵀv − cᵀh − vᵀWh for every pair: (Nv, Nh)."""
    layer = model.rbm
    return -(v @ layer.b)[:, None] - (h @ layer.c)[None, :] - v @ layer.W @ h.T


def bars(n: int, *, noise: float = 0.0, seed: int = 0, labelled: bool = False) -> Dataset:
    """3×3 binary images, each one of 6 bars (3 rows, 3 columns), the class its bar, with
    `noise` of the pixels flipped."""
    g = gen(seed)
    y = torch.randint(0, 6, (n,), generator=g)
    img = torch.zeros(n, 3, 3)
    for k in range(3):
        img[y == k, k, :] = 1.0
        img[y == k + 3, :, k] = 1.0
    img = torch.where(torch.rand(img.shape, generator=g) < noise, 1 - img, img).unsqueeze(1)
    return Dataset(img, LABELLED, y) if labelled else Dataset(img, TINY)


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message.count("\n") == 0, message
    return message


# --- energies and conditionals by enumeration --------------------------------------------------
def test_free_energy_is_minus_log_sum_over_hidden_states():
    model = random_rbm(5, 4)
    v, h = states(5), states(4)
    brute = -torch.logsumexp(-energy(model, v, h), 1)
    assert torch.allclose(model.free_energy(v), brute, atol=1e-10)


def test_conditionals_match_the_joint():
    model = random_rbm(5, 4)
    v, h = states(5), states(4)
    p = torch.softmax(-energy(model, v, h).flatten(), 0).reshape(len(v), len(h))  # p(v, h)
    p_h_given_v = (p @ h) / p.sum(1, keepdim=True)  # E[h | v] = p(h_j = 1 | v)
    p_v_given_h = (p.T @ v) / p.sum(0)[:, None]
    layer = model.rbm
    assert torch.allclose(layer.hidden_probs(v), p_h_given_v, atol=1e-10)
    assert torch.allclose(layer.visible_probs(layer.visible_logits(h)), p_v_given_h, atol=1e-10)


# --- the gradient --------------------------------------------------------------------------------
def test_cd_gradient_is_its_closed_form():
    model = random_rbm(5, 4)
    g = gen(3)
    v_data = (torch.rand(7, 5, generator=g) < 0.5).double()
    v_neg = (torch.rand(9, 5, generator=g) < 0.5).double()
    d_w, d_b, d_c = cd_gradient(model.rbm, v_data, v_neg)
    W, b, c = (p.detach() for p in (model.rbm.W, model.rbm.b, model.rbm.c))

    def stats(v):
        ph = torch.sigmoid(c + v @ W)
        return sum(torch.outer(v[i], ph[i]) for i in range(len(v))) / len(v), v.mean(0), ph.mean(0)

    pos, neg = stats(v_data), stats(v_neg)
    for got, want in zip((d_w, d_b, d_c), (p - n for p, n in zip(pos, neg))):
        assert torch.allclose(got, want, atol=1e-12)


def test_cd_gradient_with_the_exact_model_term_is_the_log_likelihood_gradient():
    """Sign and form: with the negative phase replaced by the model expectation (every visible
    state weighted by p(v)), cd_gradient is ∂/∂θ of the mean exact log-likelihood (autograd)."""
    model = random_rbm(6, 4, scale=0.7)
    v_data = (torch.rand(11, 6, generator=gen(4)) < 0.4).double()
    layer = model.rbm
    mean_log_p = (-layer.free_energy(v_data)).mean() - exact_log_partition(layer)
    grads = torch.autograd.grad(mean_log_p, (layer.W, layer.b, layer.c))
    all_v = states(6)
    with torch.no_grad():
        p_v = torch.softmax(-layer.free_energy(all_v), 0)
    for got, want in zip(cd_gradient(layer, v_data, all_v, weights=p_v), grads):
        assert torch.allclose(got, want, atol=1e-10)


# --- log Z ---------------------------------------------------------------------------------------
def test_ais_schedule():
    beta = ais_schedule(14500)
    assert beta[0] == 0 and beta[-1] == 1 and bool((beta.diff() > 0).all())
    assert beta[500].item() == pytest.approx(0.5) and beta[4500].item() == pytest.approx(0.9)
    assert ais_schedule(2).tolist()[0] == 0 and ais_schedule(2).tolist()[-1] == 1


def test_exact_log_z_over_visible_equals_over_hidden():
    """Z is symmetric in the layers: an RBM and its transpose (W → Wᵀ, b ↔ c) have the same Z,
    enumerated once over the hidden states, once over the visible ones."""
    model = random_rbm(12, 8, scale=0.5)
    twin = random_rbm(8, 12)
    with torch.no_grad():
        twin.rbm.W.copy_(model.rbm.W.T)
        twin.rbm.b.copy_(model.rbm.c)
        twin.rbm.c.copy_(model.rbm.b)
    brute = torch.logsumexp(-model.free_energy(states(12)), 0)
    assert model.log_partition_exact().item() == pytest.approx(brute.item(), abs=1e-9)  # over h
    assert twin.log_partition_exact().item() == pytest.approx(brute.item(), abs=1e-9)  # over v


def test_ais_agrees_with_the_exact_log_z():
    model = random_rbm(12, 8, scale=0.5)
    exact = model.log_partition_exact().item()
    est = model.log_partition_ais(1000, 100, generator=gen(0))
    assert est["log_z_low"] <= exact <= est["log_z_high"], (est, exact)
    assert abs(est["log_z"] - exact) < 0.1
    assert est["runs"] == 100 and est["betas"] == 1000


def test_exact_log_z_of_a_classifier_by_brute_force():
    """Sum over pixels x, one-hot labels e_y and hidden states h, for both enumeration paths."""
    info = DataInfo("c", "image", (1, 1, 3), (0.0, 1.0), num_classes=2, binarize="static")
    for hidden in (4, 2):  # enumerate over the 3 pixels (and labels), then over the 2 hidden units
        model = create("rbm", info, seed=0, hidden=hidden, classifier=True, init_std=1.0).double()
        with torch.no_grad():
            model.rbm.b.normal_(generator=gen(1))
            model.rbm.c.normal_(generator=gen(2))
        x = states(3).repeat_interleave(2, 0)
        v = torch.cat([x, torch.eye(2, dtype=torch.float64).repeat(8, 1)], 1)  # (16, 5)
        brute = torch.logsumexp(-energy(model, v, states(hidden)).flatten(), 0)
        assert model.log_partition_exact().item() == pytest.approx(brute.item(), abs=1e-9)
        est = model.log_partition_ais(500, 50, generator=gen(0))
        assert abs(est["log_z"] - brute.item()) < 0.1


def test_log_prob_sums_to_one():
    model = create("rbm", TINY, seed=0, hidden=4, init_std=0.8).double()
    all_x = states(9).reshape(-1, 1, 3, 3)
    assert float(torch.logsumexp(model.log_prob(all_x, log_z="exact"), 0)) == pytest.approx(0.0, abs=1e-9)
    model = create("rbm", LABELLED, seed=0, hidden=4, classifier=True, init_std=0.8).double()
    assert float(torch.logsumexp(model.log_prob(all_x, log_z="exact"), 0)) == pytest.approx(0.0, abs=1e-9)
    ais = model.log_prob(all_x, generator=gen(0))  # AIS: the same up to its error
    assert float(torch.logsumexp(ais, 0)) == pytest.approx(0.0, abs=0.1)


def test_log_z_estimate_is_cached_per_weights():
    model = create("rbm", TINY, seed=0, hidden=4, init_std=0.5, ais_betas=200, ais_runs=20)
    x = states(9)[:5].float().reshape(-1, 1, 3, 3)
    first = model.log_prob(x, generator=gen(0))
    assert torch.equal(model.log_prob(x, generator=gen(1)), first)  # the same Ẑ for every chunk
    with torch.no_grad():
        model.rbm.W.mul_(2.0)
    assert not torch.equal(model.log_prob(x, generator=gen(0)), first)  # new weights, new Ẑ


# --- training ------------------------------------------------------------------------------------
def _mean_exact_log_likelihood(model: RBM, x: torch.Tensor) -> float:
    return float(model.log_prob(x, log_z="exact").mean())


@pytest.mark.parametrize("params", [{}, {"persistent": True, "chains": 50, "k": 3}])
def test_training_raises_the_exact_log_likelihood(params):
    data = bars(300, noise=0.05)
    start = create("rbm", data, seed=0, hidden=8, **params)
    start.prepare(data)  # biases at the pixel logits: the independent-pixel model
    before = _mean_exact_log_likelihood(start, data.x)
    model = create("rbm", data, seed=0, hidden=8, **params)
    run = genzoo.train(model, data, steps=1000, batch_size=30, lr=0.1, progress=False)
    after = _mean_exact_log_likelihood(run.model, data.x)
    assert after > before + 1.5, (before, after)  # measured: −5.8 → −3.9 (the data's entropy: about 3.6)
    assert {"loss", "recon", "free_energy_gap"} <= run.log[-1].keys()
    if params:
        assert model.chains.shape == (50, 9) and "chains" in model.state_dict()


def test_classifier_learns_the_labels():
    data = bars(300, noise=0.03, labelled=True)
    model = create("rbm", data, seed=0, hidden=16, classifier=True)
    assert model.conditional
    genzoo.train(model, data, steps=400, batch_size=30, lr=0.1, progress=False)
    test = bars(200, noise=0.03, seed=1, labelled=True)
    log_p = model.class_log_probs(test.x)
    assert torch.allclose(torch.logsumexp(log_p, 1), torch.zeros(len(test)), atol=1e-5)
    predicted = model.classify(test.x)
    assert torch.equal(predicted, log_p.argmax(1))
    assert (predicted == test.y).float().mean() >= 0.9
    x = model.sample(50, generator=gen(0), label=4, steps=50)  # bar 4: the middle column
    column, rest = x[:, 0, :, 1].mean(), x[:, 0, :, [0, 2]].mean()
    assert x.shape == (50, 1, 3, 3) and column - rest > 0.2, (column, rest)  # seeds 0–5: 0.34 to 0.8
    assert model.transform(test.x).shape == (200, 16)


# --- errors ------------------------------------------------------------------------------------
def test_errors_are_one_line():
    model = create("rbm", TINY, seed=0, hidden=4)
    with pytest.raises(GenzooError) as err:
        model.log_partition_ais(1, 10)
    assert "at least 2 intermediate distributions" in one_line(err)
    grey = Dataset(torch.rand(10, 1, 3, 3), DataInfo("grey", "image", (1, 3, 3), (0.0, 1.0)))
    for name, params in (("rbm", {"hidden": 4}), ("dbn", {"hidden": (4,)})):
        with pytest.raises(GenzooError) as err:
            genzoo.train(create(name, grey, seed=0, **params), grey, steps=1, progress=False)
        assert "binary" in one_line(err)
    with pytest.raises(GenzooError) as err:
        model.log_prob(torch.full((2, 1, 3, 3), 0.5))
    assert "binary" in one_line(err)
    with pytest.raises(GenzooError) as err:
        model.inpaint(torch.ones(2, 1, 3, 3), torch.ones(4, 4))
    assert "mask has shape" in one_line(err)
    with pytest.raises(GenzooError) as err:
        create("rbm", TINY, classifier=True)
    one_line(err)
    with pytest.raises(GenzooError) as err:
        model.classify(torch.ones(2, 1, 3, 3))
    one_line(err)
    with pytest.raises(GenzooError) as err:
        model.sample(2, label=1)
    one_line(err)
    with pytest.raises(GenzooError) as err:
        random_rbm(21, 22).log_partition_exact()
    one_line(err)


# --- save → load, sampling, completion -----------------------------------------------------------
def test_save_load_and_seeded_sampling(tmp_path):
    data = bars(100)
    model = create("rbm", data, seed=0, hidden=8, persistent=True, chains=20)
    genzoo.train(model, data, steps=20, batch_size=20, lr=0.1, progress=False)
    save_file(model.state_dict(), tmp_path / "w.safetensors")
    loaded = create("rbm", data, seed=1, hidden=8, persistent=True, chains=20)
    loaded.load_weights(load_file(tmp_path / "w.safetensors"))
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    a = model.sample(8, generator=gen(3), steps=30)
    assert torch.equal(a, loaded.sample(8, generator=gen(3), steps=30))
    assert not torch.equal(a, model.sample(8, generator=gen(4), steps=30))
    assert a.shape == (8, 1, 3, 3) and bool(((a == 0) | (a == 1)).all())
    assert torch.equal(model.log_prob(data.x, log_z="exact"), loaded.log_prob(data.x, log_z="exact"))


def test_persistent_chains_resume_exactly(tmp_path):
    """PCD's chains are part of the saved state: 15 steps, then resumed to 30, equals 30 straight."""
    data = bars(100)
    options = {"batch_size": 20, "lr": 0.1, "progress": False, "sample_grid": False}
    straight = genzoo.train(
        create("rbm", data, seed=0, hidden=8, persistent=True, chains=20), data, steps=30, **options
    )
    genzoo.train(
        create("rbm", data, seed=0, hidden=8, persistent=True, chains=20),
        data,
        out=tmp_path,
        steps=15,
        **options,
    )
    resumed = genzoo.train(
        create("rbm", data, seed=0, hidden=8, persistent=True, chains=20),
        data,
        out=tmp_path,
        steps=30,
        resume=True,
        **options,
    )
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_completion_keeps_the_known_pixels():
    data = bars(200, noise=0.02)
    model = create("rbm", data, seed=0, hidden=8)
    genzoo.train(model, data, steps=300, batch_size=20, lr=0.1, progress=False)
    x = bars(16, seed=2).x
    mask = torch.ones(3, 3)
    mask[2] = 0  # the bottom row is unknown
    filled = model.inpaint(x, mask, generator=gen(0), steps=20)
    assert filled.shape == x.shape
    assert torch.equal(filled[:, :, :2], x[:, :, :2])
    assert bool(((filled == 0) | (filled == 1)).all())
    assert torch.equal(model.expand_mask(mask, x)[0, 0], mask)


def test_feature_shapes():
    model = create("rbm", TINY, seed=0, hidden=5)
    x = states(9)[:4].float().reshape(-1, 1, 3, 3)
    assert model.transform(x).shape == (4, 5) and model.filters().shape == (5, 1, 3, 3)
    assert model.pseudo_likelihood(x, generator=gen(0)).shape == (4,)


# --- scikit-learn --------------------------------------------------------------------------------
def test_free_energy_and_pseudo_likelihood_match_scikit_learn():
    from sklearn.neural_network import BernoulliRBM

    digits = genzoo.datasets.load("digits", split="train", binarize="static").subset(torch.arange(200))
    x = digits.x.flatten(1).double()
    fitted = BernoulliRBM(n_components=16, learning_rate=0.05, n_iter=3, random_state=0).fit(x.numpy())
    model = create("rbm", digits, seed=0, hidden=16).double()
    load_sklearn(model, fitted)
    assert np.allclose(model.free_energy(x).detach().numpy(), fitted._free_energy(x.numpy()), atol=1e-9)
    index = np.random.RandomState(0).randint(0, 64, len(x))  # score_samples' flips with random_state=0
    ours = model.pseudo_likelihood_at(digits.x, torch.from_numpy(index))
    assert np.allclose(ours.numpy(), fitted.score_samples(x.numpy()), atol=1e-8)


# --- DBN -------------------------------------------------------------------------------------------
def test_layer_at_splits_the_run_equally():
    assert [layer_at(s, 10, 2) for s in range(12)] == [0] * 5 + [1] * 7
    assert [layer_at(s, 7, 3) for s in range(7)] == [0, 0, 0, 1, 1, 2, 2]  # [l·T/L, (l+1)·T/L)
    assert layer_at(0, 0, 3) == 2


def _layer_params(model, index: int) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.layers[index].named_parameters()}


def test_dbn_trains_one_layer_at_a_time():
    data = bars(100)
    model = create("dbn", data, seed=0, hidden=(6, 4))
    model.prepare(data)
    opts = model.configure_optimizers(lambda params: torch.optim.Adam(params, lr=0.1))
    assert isinstance(opts[0], torch.optim.SGD) and opts[0].param_groups[0]["lr"] == 0.1
    total = 20
    for index, steps in ((0, range(0, 10)), (1, range(10, 20))):
        before = [_layer_params(model, j) for j in range(2)]
        for step in steps:
            terms = model.training_step({"x": data.x[:25]}, StepContext(opts, step=step, total=total))
            assert terms["layer"] == index + 1 and f"layer{index + 1}_recon" in terms
        for j in range(2):
            after = _layer_params(model, j)
            changed = [not torch.equal(before[j][n], after[n]) for n in after]
            assert all(changed) if j == index else not any(changed), (index, j)
    x = model.sample(5, generator=gen(0), steps=10)
    assert x.shape == (5, 1, 3, 3) and bool(((x == 0) | (x == 1)).all())
    assert torch.equal(x, model.sample(5, generator=gen(0), steps=10))
    assert model.transform(data.x[:7]).shape == (7, 4) and model.filters().shape == (6, 1, 3, 3)


def test_dbn_persistent_top_layer_is_the_rbms_pcd():
    """persistent=true: the lower layer trains by CD as before and leaves the chains alone; the top
    layer's updates are exactly the rbm's persistent CD (tested above against the exact gradient)
    from chains that start at the first top-layer batch's states."""
    data = bars(100)
    dbn = create("dbn", data, seed=0, hidden=(6, 4), persistent=True, chains=8)
    dbn.prepare(data)
    dbn_opt = dbn.configure_optimizers(lambda params: torch.optim.SGD(params, lr=0.1))
    total, batch = 12, data.x[:5]
    for step in range(6):
        dbn.training_step({"x": batch}, StepContext(dbn_opt, step=step, total=total))
    assert not bool(dbn.chains_ready) and not dbn.chains.any()
    info = DataInfo("h6", "image", (1, 1, 6), (0.0, 1.0), binarize="static")
    rbm = create("rbm", info, seed=0, hidden=4, persistent=True, chains=8)
    rbm.rbm.load_state_dict(dbn.layers[1].state_dict())
    rbm_opt = rbm.configure_optimizers(lambda params: torch.optim.SGD(params, lr=0.1))
    for step in range(6, total):
        torch.manual_seed(step)
        h = (
            dbn.layers[0].hidden_probs(batch.flatten(1)) > torch.rand(5, 6)
        ).float()  # the up-pass draw the dbn makes
        if step == 6:
            rbm.chains.copy_(h[torch.arange(8) % 5])
        torch.manual_seed(step)
        dbn.training_step({"x": batch}, StepContext(dbn_opt, step=step, total=total))
        torch.manual_seed(step)
        torch.rand(5, 6)  # the rbm's stream starts after the dbn's up-pass draw
        rbm.training_step({"x": h.reshape(5, 1, 1, 6)}, StepContext(rbm_opt, step=step, total=total))
        assert bool(dbn.chains_ready)
        torch.testing.assert_close(dbn.chains, rbm.chains, rtol=0, atol=0)
        for name, p in dbn.layers[1].named_parameters():
            torch.testing.assert_close(p, getattr(rbm.rbm, name), rtol=1e-6, atol=1e-7)
