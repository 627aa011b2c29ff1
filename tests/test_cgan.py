"""The conditional GAN with its IcGAN encoder: which networks each update touches, that the label
reaches generator and critic, that `sample(label=k)` really conditions (ring8 modes) and that
unlabelled sampling follows the training label frequencies, save → load, the inverting encoder's
reconstructions against a random-code baseline (moons), edits that change the class, bad input,
and `genzoo edit` / `genzoo sample --label` end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import genzoo
import genzoo.models.gan.cgan  # noqa: F401  (registers "cgan")
from genzoo.cli import main
from genzoo.data.base import Dataset
from genzoo.errors import GenzooError
from genzoo.models import create
from genzoo.models.base import StepContext
from genzoo.models.gan import gradient_penalty
from genzoo.models.gan.cgan import ConditionalGAN

pytestmark = pytest.mark.usefixtures("one_thread")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def make_ctx(model: ConditionalGAN, step: int, lr: float = 1e-3) -> StepContext:
    return StepContext(model.configure_optimizers(lambda p: torch.optim.Adam(p, lr=lr)), step=step, total=10)


@pytest.fixture(scope="module")
def ring():
    return genzoo.datasets.load("ring8", n=512)


@pytest.fixture(scope="module")
def digits():
    return genzoo.datasets.load("digits", split="train").subset(torch.arange(64))


@pytest.fixture(scope="module")
def skewed_ring():
    """ring8 with class k kept (k + 1)·16 times: label frequencies (k + 1) / 36."""
    ds = genzoo.datasets.load("ring8", n=2000)
    idx = torch.cat([torch.nonzero(ds.y == k)[: (k + 1) * 16, 0] for k in range(8)])
    return ds.subset(idx)


@pytest.fixture(scope="module")
def conditioned(skewed_ring):
    model = create("cgan", skewed_ring, seed=0, hidden=(64, 64), encoder=False)
    return genzoo.train(model, skewed_ring, steps=1000, lr=1e-3, batch_size=64, seed=0, progress=False).model


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    """A cgan trained on two labelled half moons through the CLI (one arc per class)."""
    out = tmp_path_factory.mktemp("runs") / "cgan-moons"
    argv = [
        "train",
        "cgan",
        "--data",
        "moons",
        "--steps",
        "1000",
        "--lr",
        "1e-3",
        "--out",
        str(out),
        "--quiet",
        "--set",
        "data.n=1000",
        "--set",
        "train.batch_size=64",
        "--set",
        "model.hidden=64,64",
    ]
    assert main(argv) == 0
    return out


# --- building and one step ------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["minimax", "non-saturating", "wgan", "wgan-gp"])
def test_one_step_on_points(ring, loss):
    model = create("cgan", ring, seed=0, loss=loss, hidden=(16,))
    assert model.latent_shape() == (2,) and model.num_classes == 8 and model.encodes
    model.prepare(ring)
    terms = model.training_step(ring.batch(torch.arange(64)), make_ctx(model, 0))
    assert {"loss", "d_loss", "g_loss", "z_loss", "y_loss", "y_acc"} <= terms.keys()
    assert all(torch.isfinite(v) for v in terms.values()) and ("gp" in terms) == (loss == "wgan-gp")
    assert model.sample(5, generator=gen(0), label=3).shape == (5, 2)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_label_reaches_generator_and_critic(digits, arch):
    model = create("cgan", digits, seed=0, arch=arch, channels=(8, 16), hidden=(32,), loss="wgan-gp")
    model.prepare(digits)
    terms = model.training_step(digits.batch(torch.arange(16)), make_ctx(model, 0))
    assert torch.isfinite(terms["gp"]) and torch.isfinite(terms["z_loss"])
    z = model.sample_latent(4, generator=gen(0))
    x0, x1 = model.decode(z, label=0), model.decode(z, label=1)
    assert x0.shape == (4, 1, 8, 8) and 0 <= x0.min() and x0.max() <= 1
    assert not torch.allclose(x0, x1)  # same z, another class: another image
    x = digits.x[:4]
    assert not torch.allclose(
        model.score(x, torch.zeros(4, dtype=torch.long)), model.score(x, torch.ones(4, dtype=torch.long))
    )
    assert (
        model.encode(x).shape == (4, 64)
        and model.classify(x).shape == (4,)
        and model.edit(x, 2).shape == (4, 1, 8, 8)
    )


def test_label_frequencies_come_from_the_data(skewed_ring):
    model = create("cgan", skewed_ring, seed=0)
    assert torch.equal(model.label_freq, torch.full((8,), 1 / 8))  # uniform until prepare
    model.prepare(skewed_ring)
    expected = torch.arange(1, 9, dtype=torch.float32) / 36
    assert torch.allclose(model.label_freq, expected)


# --- which update touches which network -----------------------------------------------------------
class Recorder(StepContext):
    """Snapshots every network after each optimiser step, keyed by the optimiser's index."""

    def __init__(self, model: ConditionalGAN, step: int) -> None:
        super().__init__(
            model.configure_optimizers(lambda p: torch.optim.Adam(p, lr=1e-2)), step=step, total=10
        )
        self.model = model
        self.snapshots: list[tuple[int, dict[str, list[torch.Tensor]]]] = [(-1, self.networks())]

    def networks(self) -> dict[str, list[torch.Tensor]]:
        m = self.model
        return {name: params(getattr(m, name)) for name in ("critic", "generator", "encoder", "classifier")}

    def optimize(self, loss: torch.Tensor, index: int = 0) -> None:
        super().optimize(loss, index)
        self.snapshots.append((index, self.networks()))


@pytest.mark.parametrize("loss", ["non-saturating", "wgan-gp"])
def test_each_update_touches_only_its_networks(ring, loss):
    model = create("cgan", ring, seed=0, loss=loss, hidden=(16, 16), critic_steps=2)
    model.prepare(ring)
    owners = {0: {"critic"}, 1: {"generator"}, 2: {"encoder", "classifier"}}
    for step, expected_order in ((0, [0, 2]), (1, [0, 1, 2])):  # k = 2: the generator updates at step 1 only
        ctx = Recorder(model, step)
        terms = model.training_step(ring.batch(torch.arange(64)), ctx)
        assert [i for i, _ in ctx.snapshots[1:]] == expected_order and ("g_loss" in terms) == (step == 1)
        for (_, before), (index, after) in zip(ctx.snapshots, ctx.snapshots[1:]):
            changed = {name for name in before if not same(before[name], after[name])}
            assert changed == owners[index], (index, changed)
        assert all(p.requires_grad for p in model.parameters())


def test_optimisers_partition_the_parameters(ring):
    model = create("cgan", ring, seed=0)
    groups = [{id(p) for g in o.param_groups for p in g["params"]} for o in make_ctx(model, 0).optimizers]
    assert sum(len(g) for g in groups) == len(set().union(*groups)) == len(list(model.parameters()))
    assert groups[2] == {id(p) for p in [*model.encoder.parameters(), *model.classifier.parameters()]}
    plain = create("cgan", ring, seed=0, encoder=False)
    assert len(make_ctx(plain, 0).optimizers) == 2 and not plain.encodes and not hasattr(plain, "encoder")


def test_gradient_penalty_is_taken_with_the_real_label(ring):
    model = create("cgan", ring, seed=0, loss="wgan-gp", hidden=(16,))
    batch = ring.batch(torch.arange(32))
    x, y = batch["x"], batch["y"]
    torch.manual_seed(7)
    gp = model.critic_terms(x, y)["gp"]
    torch.manual_seed(7)
    fake = model.decode(torch.randn(32, 2), y).detach()  # the same fakes: the first draw of the step
    assert torch.equal(gp, gradient_penalty(lambda v: model.score(v, y), x, fake))
    torch.manual_seed(7)
    fake = model.decode(torch.randn(32, 2), y).detach()
    assert not torch.equal(gp, gradient_penalty(lambda v: model.score(v, (y + 1) % 8), x, fake))


def test_wgan_clipping(ring):
    model = create("cgan", ring, seed=0, loss="wgan", clip=0.02, hidden=(16,))
    ctx = make_ctx(model, 0, lr=0.1)
    for step in range(3):
        ctx.step = step
        model.training_step(ring.batch(torch.arange(64)), ctx)
        assert all(p.abs().max() <= 0.02 for p in model.critic.parameters())


# --- conditioning ---------------------------------------------------------------------------------
def test_sample_with_a_label_lands_on_that_mode(conditioned, skewed_ring):
    modes = skewed_ring.extras["modes"]
    g = gen(0)
    hits = []
    for k in range(8):
        s = conditioned.sample(200, generator=g, label=k)
        hits.append((torch.cdist(s, modes).argmin(1) == k).float().mean().item())
    assert min(hits) > 0.5 and sum(hits) / 8 > 0.8, hits  # chance is 1/8
    per_example = conditioned.sample(8, generator=g, label=torch.arange(8))  # one label per example
    assert torch.equal(torch.cdist(per_example, modes).argmin(1), torch.arange(8))


def test_sample_without_a_label_follows_the_label_frequencies(conditioned, skewed_ring):
    modes = skewed_ring.extras["modes"]
    s = conditioned.sample(4000, generator=gen(1))
    freq = torch.bincount(torch.cdist(s, modes).argmin(1), minlength=8).float() / 4000
    expected = torch.arange(1, 9, dtype=torch.float32) / 36  # 0.028 … 0.222
    assert (freq - expected).abs().max() < 0.05, freq
    z = conditioned.sample_latent(5, generator=gen(2))
    assert torch.equal(conditioned.decode(z), conditioned.decode(z, label=7))  # the most frequent class


# --- save → load ----------------------------------------------------------------------------------
def test_save_load_and_seeded_samples(tmp_path):
    data = genzoo.datasets.load("digits", split="train", binarize="static").subset(torch.arange(256))
    model = create("cgan", data, seed=0, hidden=(32,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = genzoo.train(model, data, out=tmp_path, steps=3, batch_size=32, progress=False)
    assert any(not torch.equal(before[k], v) for k, v in run.model.state_dict().items())
    loaded = genzoo.load(tmp_path)
    assert torch.equal(loaded.label_freq, run.model.label_freq)
    x = data.x[:6]
    for kwargs in ({}, {"label": 4}, {"label": torch.arange(6)}):
        s = run.model.sample(6, generator=gen(5), **kwargs)
        assert torch.equal(s, loaded.sample(6, generator=gen(5), **kwargs))
        assert torch.equal(s, loaded.sample(6, generator=gen(5), **kwargs)) and not torch.equal(
            s, loaded.sample(6, generator=gen(6), **kwargs)
        )
    assert torch.equal(run.model.encode(x), loaded.encode(x)) and torch.equal(
        run.model.edit(x, 1), loaded.edit(x, 1)
    )
    assert torch.equal(run.model.reconstruct(x), loaded.reconstruct(x))


# --- the inverting encoder ------------------------------------------------------------------------
def test_reconstructions_beat_random_codes_on_held_out_data(moons_run):
    model = genzoo.load(moons_run)
    test = genzoo.datasets.load("moons", split="test", n=1000)
    x, y = test.x, test.y
    with torch.no_grad():
        rec = ((model.reconstruct(x) - x) ** 2).sum(1).mean()
        baseline = (
            ((model.decode(model.sample_latent(len(x), generator=gen(0)), y) - x) ** 2).sum(1).mean()
        )  # right class, random z
        assert (model.classify(x) == y).float().mean() > 0.95
    assert rec < 0.25 * baseline, (rec, baseline)  # measured: about 0.03 against 1.1


def test_edit_changes_the_class(moons_run):
    model = genzoo.load(moons_run)
    train = genzoo.datasets.load("moons", split="train", n=1000)
    x = genzoo.datasets.load("moons", split="test", n=1000).x
    with torch.no_grad():
        for label in (0, 1):
            edited = model.edit(x, label)
            near = torch.stack([torch.cdist(edited, train.x[train.y == k]).min(1).values for k in (0, 1)], 1)
            assert (near.argmin(1) == label).float().mean() > 0.9  # lands on the arc of the asked class
            assert (model.classify(edited) == label).float().mean() > 0.9


# --- bad input ------------------------------------------------------------------------------------
def test_refuses_unlabelled_data_and_bad_labels(ring):
    unlabelled = genzoo.datasets.load("ring8", n=64, labels=False)
    with pytest.raises(GenzooError, match="model 'cgan' needs labelled data; ring8 has none"):
        create("cgan", unlabelled)
    model = create("cgan", ring, seed=0, hidden=(8,))
    with pytest.raises(GenzooError, match="needs labelled data"):
        model.prepare(Dataset(ring.x, ring.info))  # labelled info, but no labels
    with pytest.raises(GenzooError, match="needs labelled data"):
        model.training_step({"x": ring.x[:8]}, make_ctx(model, 0))
    for bad in (8, -1, torch.tensor([0, 9, 1]), 2.0, torch.tensor([0.0, 1.0, 2.0])):
        with pytest.raises(GenzooError) as err:
            model.sample(3, label=bad)
        assert "\n" not in str(err.value) and "label" in str(err.value)
    with pytest.raises(GenzooError, match="2 labels for 3 examples"):
        model.sample(3, label=torch.tensor([0, 1]))
    with pytest.raises(GenzooError, match="label must be in"):
        model.edit(ring.x[:3], 8)
    with pytest.raises(GenzooError, match="conditions on label only"):
        model.sample(3, code=1)
    plain = create("cgan", ring, seed=0, hidden=(8,), encoder=False)
    for call in (
        lambda: plain.edit(ring.x[:3], 1),
        lambda: plain.encode(ring.x[:3]),
        lambda: plain.classify(ring.x[:3]),
    ):
        with pytest.raises(GenzooError, match="encoder=false"):
            call()


# --- the command line -----------------------------------------------------------------------------
def test_cli_edit_and_sample_with_a_label(moons_run, tmp_path, capsys):
    x = genzoo.datasets.load("moons", split="test", n=100).x[:12].numpy()
    np.save(tmp_path / "x.npy", x)
    assert (
        main(
            [
                "edit",
                str(moons_run),
                "--input",
                str(tmp_path / "x.npy"),
                "--label",
                "1",
                "--out",
                str(tmp_path / "e.npz"),
            ]
        )
        == 0
    )
    saved = np.load(tmp_path / "e.npz", allow_pickle=False)
    model = genzoo.load(moons_run)
    with torch.no_grad():
        np.testing.assert_array_equal(saved["x"], model.edit(torch.from_numpy(x), 1).numpy())
    np.testing.assert_array_equal(saved["y"], np.ones(12))
    assert (
        main(
            [
                "edit",
                str(moons_run),
                "--input",
                str(tmp_path / "x.npy"),
                "--label",
                "0",
                "--out",
                str(tmp_path / "e.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "e.png").stat().st_size > 0
    assert (
        main(
            [
                "sample",
                str(moons_run),
                "-n",
                "7",
                "--label",
                "1",
                "--seed",
                "3",
                "--out",
                str(tmp_path / "s.npy"),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(
        np.load(tmp_path / "s.npy"), model.sample(7, generator=gen(3), label=1).numpy()
    )
    capsys.readouterr()

    assert (
        main(
            [
                "edit",
                str(moons_run),
                "--input",
                str(tmp_path / "x.npy"),
                "--label",
                "2",
                "--out",
                str(tmp_path / "bad.npz"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and "--label must be in [0, 1], got 2" in err
        and not (tmp_path / "bad.npz").exists()
    )

    gan = tmp_path / "gan"
    assert (
        main(
            [
                "train",
                "gan",
                "--data",
                "moons",
                "--steps",
                "2",
                "--out",
                str(gan),
                "--quiet",
                "--set",
                "data.n=100",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "edit",
                str(gan),
                "--input",
                str(tmp_path / "x.npy"),
                "--label",
                "1",
                "--out",
                str(tmp_path / "g.npz"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model 'gan' cannot edit examples" in err

    plain = tmp_path / "plain"
    argv = [
        "train",
        "cgan",
        "--data",
        "moons",
        "--steps",
        "2",
        "--out",
        str(plain),
        "--quiet",
        "--set",
        "data.n=100",
        "--set",
        "model.encoder=false",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "edit",
                str(plain),
                "--input",
                str(tmp_path / "x.npy"),
                "--label",
                "1",
                "--out",
                str(tmp_path / "p.npz"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "encoder=false" in err


def test_report_shows_edits_to_every_class():
    import base64
    import io
    import re

    from PIL import Image

    from genzoo.viz.report import TRANSLATE_EXAMPLES, render_report

    data = genzoo.datasets.load("digits", split="test").subset(torch.arange(16))
    model = create("cgan", data, seed=0, hidden=(16,), latent_dim=4)
    model.prepare(data)
    page = render_report(model, {"model": {"name": "cgan"}}, [], None, data=data)
    assert "<h2>Edits</h2>" in page and "could not draw the edits" not in page
    section = page[page.index("<h2>Edits</h2>") :]
    grid = Image.open(
        io.BytesIO(base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', section).group(1)))
    )
    tile = (grid.width - 2) / TRANSLATE_EXAMPLES
    assert grid.height - 2 == (1 + data.info.num_classes) * tile  # the examples, then one row per class
    plain = create("cgan", data, seed=0, hidden=(16,), latent_dim=4, encoder=False)
    assert "<h2>Edits</h2>" not in render_report(plain, {"model": {"name": "cgan"}}, [], None, data=data)
