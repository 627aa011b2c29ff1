"""InfoGAN: the codes' distributions (continuous codes uniform on [−1, 1], by range and a KS test;
categories uniform), the information loss against hand-computed values, where its gradient goes,
which networks each phase updates, the categorical code taking over ring8's modes after a short
training, save → load and seeded samples, chosen and bad code values, and `genzoo sample --code`."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

import genzoo
import genzoo.models.gan.infogan  # noqa: F401  (registers "infogan")
from genzoo.cli import main
from genzoo.errors import GenzooError
from genzoo.models import create
from genzoo.models.base import StepContext
from genzoo.models.gan.infogan import InfoGAN, info_terms

pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = {"hidden": (32, 32), "q_hidden": (16,)}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def ring():
    return genzoo.datasets.load("ring8", split="train", n=256)


@pytest.fixture(scope="module")
def digits():
    return genzoo.datasets.load("digits", split="train", binarize="static").subset(torch.arange(256))


def make_ctx(model: InfoGAN, step: int, lr: float = 1e-3) -> StepContext:
    return StepContext(model.configure_optimizers(lambda p: torch.optim.Adam(p, lr=lr)), step=step, total=10)


def params(*modules: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for m in modules for p in m.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_input_layout_and_code_distributions(ring):
    model = create("infogan", ring, seed=0, categories=5, continuous=3, latent_dim=4, **SMALL)
    assert model.latent_shape() == (4 + 5 + 3,)
    v = model.sample_latent(20_000, generator=gen(0))
    z, onehot, cont = v[:, :4], v[:, 4:9], v[:, 9:]
    assert torch.equal(onehot.sum(1), torch.ones(len(v))) and set(onehot.unique().tolist()) == {0.0, 1.0}
    counts = onehot.sum(0).numpy()
    assert stats.chisquare(counts).pvalue > 1e-3  # categories uniform on {0, …, 4}
    assert cont.min() >= -1 and cont.max() <= 1
    for j in range(3):  # each continuous code ~ U[−1, 1]: a KS test passes, and a normal one would fail it
        assert stats.kstest(cont[:, j].numpy(), "uniform", args=(-1, 2)).pvalue > 1e-3
    assert (
        stats.kstest(torch.randn(20_000, generator=gen(1)).numpy(), "uniform", args=(-1, 2)).statistic > 0.1
    )
    assert stats.kstest(z[:, 0].numpy(), "norm").pvalue > 1e-3


def test_info_terms_by_hand():
    cfg = InfoGAN.Config(categories=3, continuous=2, lambda_cat=0.7, lambda_cont=0.3)
    q = torch.tensor(
        [[1.0, 2.0, 0.5, 0.1, -0.2, -1.0, 0.5], [0.0, -1.0, 3.0, 0.9, 0.4, 0.2, -7.0]]
    )  # logits, μ, log σ
    cat, cont = torch.tensor([1, 2]), torch.tensor([[0.5, -0.5], [1.0, 0.0]])
    t = info_terms(q, cat, cont, cfg)
    ce = -np.mean(
        [
            2.0 - math.log(math.exp(1) + math.exp(2) + math.exp(0.5)),
            3.0 - math.log(1 + math.exp(-1) + math.exp(3)),
        ]
    )
    nll = 0.0
    for i in range(2):
        for j in range(2):
            mu, log_sigma = q[i, 3 + j].item(), max(q[i, 5 + j].item(), -5.0)  # log σ floored at −5
            nll -= stats.norm.logpdf(cont[i, j].item(), mu, math.exp(log_sigma))
    nll /= 2
    assert t["cat"].item() == pytest.approx(ce, rel=1e-5)
    assert t["cont"].item() == pytest.approx(nll, rel=1e-5)
    assert t["info"].item() == pytest.approx(0.7 * ce + 0.3 * nll, rel=1e-5)
    mse = info_terms(q[:, :5], cat, cont, InfoGAN.Config(categories=3, continuous=2, cont_loss="mse"))
    assert mse["cont"].item() == pytest.approx(((cont - q[:, 3:5]) ** 2).sum(1).mean().item(), rel=1e-6)


def test_information_gradient_reaches_generator_and_q(ring):
    model = create("infogan", ring, seed=0, categories=8, **SMALL)
    torch.manual_seed(0)
    model.generator_terms(64, ring.x)["g_info"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.q_head.parameters())
    assert all(p.grad is None for p in model.d_head.parameters())  # the score head plays no part in it
    model.zero_grad(set_to_none=True)
    terms = model.critic_terms(ring.x[:64])  # the critic's phase: Q learns from detached fakes
    terms["info"].backward()
    assert all(p.grad is None for p in model.generator.parameters())
    assert all(p.grad.abs().sum() > 0 for p in model.q_head.parameters())


@pytest.mark.parametrize("loss", ["non-saturating", "wgan-gp"])
def test_each_phase_updates_only_its_networks(ring, loss):
    model = create("infogan", ring, seed=0, loss=loss, critic_steps=2, categories=8, **SMALL)
    batch = ring.batch(torch.arange(64))
    twin = copy.deepcopy(model)
    g0, c0 = params(model.generator), params(model.body, model.d_head, model.q_head)

    torch.manual_seed(3)
    terms = model.training_step(batch, make_ctx(model, step=0))  # critic and Q only (k = 2)
    assert "g_loss" not in terms and ("gp" in terms) == (loss == "wgan-gp")
    assert same(params(model.generator), g0)
    assert not same(params(model.body), c0[: len(params(model.body))]) and not same(
        params(model.q_head), c0[-len(params(model.q_head)) :]
    )

    torch.manual_seed(3)
    terms = twin.training_step(batch, make_ctx(twin, step=1))  # critic, then generator
    assert {"g_loss", "g_info"} <= terms.keys()
    assert not same(params(twin.generator), g0)
    assert same(params(twin.body, twin.d_head, twin.q_head), params(model.body, model.d_head, model.q_head))
    assert all(p.requires_grad for p in twin.critic_parameters())


def test_information_weight_drives_q_and_g(ring):
    """With λ = 0 the head Q gets no update and G's update changes: the information term is what trains Q."""
    on = create("infogan", ring, seed=0, categories=8, continuous=0, **SMALL)
    off = create("infogan", ring, seed=0, categories=8, continuous=0, lambda_cat=0.0, **SMALL)
    batch = ring.batch(torch.arange(64))
    q0 = params(on.q_head)
    for m in (on, off):
        torch.manual_seed(1)
        m.training_step(batch, make_ctx(m, step=0))
    assert same(params(off.q_head), q0) and not same(params(on.q_head), q0)
    assert not same(params(on.generator), params(off.generator))


def code_mode_agreement(model: InfoGAN, modes: torch.Tensor, per_code: int = 300) -> tuple[float, float, int]:
    """Mutual information (nats) between the chosen category and the nearest ring mode of G's
    samples, Q's accuracy at reading the category back, and how many modes the codes' majorities cover."""
    k = model.config.categories
    table = torch.zeros(k, len(modes))
    acc = 0.0
    for c in range(k):
        x = model.sample(per_code, generator=gen(c), code=c)
        table[c] = torch.bincount(torch.cdist(x, modes).argmin(1), minlength=len(modes)).float()
        acc += (model.infer_codes(x)[0] == c).float().mean().item() / k
    p = table / table.sum()
    mi = (p * (p / (p.sum(1, keepdim=True) * p.sum(0, keepdim=True))).clamp_min(1e-30).log()).sum().item()
    return mi, acc, len(set(table.argmax(1).tolist()))


def test_categorical_code_takes_over_the_modes():
    ring = genzoo.datasets.load("ring8", split="train", n=2000)
    modes = ring.extras["modes"]
    model = create("infogan", ring, seed=0, categories=8, continuous=1, hidden=(64, 64), q_hidden=(32,))
    mi_0, acc_0, _ = code_mode_agreement(model, modes)
    genzoo.train(model, ring, steps=1500, lr=1e-3, progress=False)
    mi, acc, used = code_mode_agreement(model, modes)
    assert acc > 0.9 and acc_0 < 0.4, (acc_0, acc)  # chance is 1/8
    assert mi > 0.8 * math.log(8) and mi_0 < 0.3 * math.log(8), (
        mi_0,
        mi,
    )  # log 8 when each code owns one mode; measured 0.26 → 2.08
    assert used >= 6


def test_chosen_codes_keep_the_noise(ring):
    model = create("infogan", ring, seed=0, categories=4, continuous=2, latent_dim=3, **SMALL)
    free = model.sample_inputs(5, generator=gen(7))
    fixed = model.sample_inputs(5, generator=gen(7), code=2, continuous=[0.25, -3.0])
    assert torch.equal(free[:, :3], fixed[:, :3])  # the same z whatever codes are chosen
    assert torch.equal(fixed[:, 3:7], torch.tensor([0.0, 0.0, 1.0, 0.0]).expand(5, 4))
    assert torch.equal(fixed[:, 7:], torch.tensor([0.25, -3.0]).expand(5, 2))
    per_sample = model.sample_inputs(3, generator=gen(7), code=[0, 3, 1])
    assert per_sample[:, 3:7].argmax(1).tolist() == [0, 3, 1]
    assert torch.equal(
        model.sample(5, generator=gen(7), code=2, continuous=[0.25, -3.0]), model.decode(fixed)
    )


@pytest.mark.parametrize("kind", ["image", "points"])
def test_model_contract(kind, ring, digits, tmp_path):
    """tests/test_models_common.py's contract for this family, plus Q's outputs after loading."""
    ds = digits if kind == "image" else ring
    model = create("infogan", ds, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = genzoo.train(model, ds, out=tmp_path, steps=3, batch_size=32, progress=False)
    assert any(not torch.equal(before[k], v) for k, v in run.model.state_dict().items())
    loaded = genzoo.load(tmp_path)
    assert torch.equal(run.model.sample(6, generator=gen(5)), loaded.sample(6, generator=gen(5)))
    a, b = run.model.infer_codes(ds.x[:6]), loaded.infer_codes(ds.x[:6])
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    s1, s2, s3 = (loaded.sample(4, generator=gen(s)) for s in (9, 9, 10))
    assert torch.equal(s1, s2) and not torch.equal(s1, s3) and s1.shape == (4, *ds.info.shape)
    if kind == "image":
        assert s1.min() >= 0 and s1.max() <= 1


def test_conv_arch(digits):
    model = create(
        "infogan", digits, seed=0, arch="conv", channels=(8, 16), features=32, q_hidden=(16,), loss="wgan-gp"
    )
    assert model.latent_shape() == (62 + 10 + 2,)
    model.prepare(digits)
    terms = model.training_step(digits.batch(torch.arange(16)), make_ctx(model, 0))
    assert torch.isfinite(terms["gp"]) and torch.isfinite(terms["info"])
    category, cont = model.infer_codes(digits.x[:3])
    assert category.shape == (3,) and cont.shape == (3, 2)


def test_bad_values(ring):
    model = create("infogan", ring, seed=0, categories=10, continuous=2, **SMALL)
    for code, match in [
        (10, r"in \[0, 9\], got 10"),
        (-1, r"in \[0, 9\]"),
        (1.5, "category index"),
        (True, "category index"),
        ("x", "category index"),
        ([1, 2], "one category per sample"),
    ]:
        with pytest.raises(GenzooError, match=match):
            model.sample(3, code=code)
    for cont, match in [
        ([0.1], "expected 2 values"),
        ([0.1, 0.2, 0.3], "expected 2 values"),
        ([0.0, float("nan")], "finite"),
        ("ab", "expected 2"),
    ]:
        with pytest.raises(GenzooError, match=match):
            model.sample(3, continuous=cont)
    with pytest.raises(GenzooError, match="'infogan' is unconditional; cannot condition on label"):
        model.sample(3, label=1)
    no_cat = create("infogan", ring, seed=0, categories=0, **SMALL)
    assert no_cat.infer_codes(ring.x[:2])[0] is None
    with pytest.raises(GenzooError, match="no categorical code"):
        no_cat.sample(2, code=0)
    with pytest.raises(GenzooError, match="no continuous codes"):
        create("infogan", ring, seed=0, continuous=0, **SMALL).sample(2, continuous=[0.0])
    with pytest.raises(GenzooError, match="at least 2 categories"):
        create("infogan", ring, categories=1)
    with pytest.raises(GenzooError, match="at least one code"):
        create("infogan", ring, categories=0, continuous=0)


def test_cli_sample_with_codes(ring, tmp_path, capsys):
    run = tmp_path / "ig"
    assert (
        main(
            [
                "train",
                "infogan",
                "--data",
                "ring8",
                "--steps",
                "5",
                "--out",
                str(run),
                "--quiet",
                "--set",
                "categories=8",
            ]
        )
        == 0
    )
    out = tmp_path / "s.npy"
    code = main(
        [
            "sample",
            str(run),
            "-n",
            "7",
            "--seed",
            "3",
            "--code",
            "5",
            "--continuous=0.5,-1",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    model = genzoo.load(run)
    expected = model.sample(7, generator=gen(3), code=5, continuous=[0.5, -1.0])
    np.testing.assert_array_equal(np.load(out), expected.numpy())
    capsys.readouterr()
    for argv, match in [
        (["--code", "8"], r"code must be a category in \[0, 7\], got 8"),
        (["--continuous=1,2,3"], "expected 2 values"),
        (["--continuous=a,b"], "--continuous expects comma-separated numbers"),
    ]:
        assert main(["sample", str(run), "--out", str(tmp_path / "t.npy"), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match.replace("\\", "") in err.replace("\\", ""), err
    gan_run = tmp_path / "gan"
    assert main(["train", "gan", "--data", "ring8", "--steps", "1", "--out", str(gan_run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["sample", str(gan_run), "--code", "1", "--out", str(tmp_path / "g.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--code: model 'gan' has no latent codes" in err
    assert not (tmp_path / "g.npy").exists() and not (tmp_path / "t.npy").exists()
