"""CycleGAN and pix2pix: the translation datasets' pairing, the cycle loss (exactly zero for
identity generators), which networks each update touches, the conditional discriminator's input,
the U-Net's shapes, pix2pix beating the blocky input on held-out pairs, one-domain errors,
save → load, seeded samples from the stored pool, and `genzoo translate` end to end."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import genzoo
import genzoo.models.gan.translation  # noqa: F401  (registers "cyclegan" and "pix2pix")
from genzoo.cli import main
from genzoo.data.base import DataInfo, Dataset
from genzoo.models import MODELS, create
from genzoo.models.base import StepContext
from genzoo.nn.image2image import PatchDiscriminator, ResnetGenerator
from genzoo.nn.image2image import TranslationUNet as UNet

pytestmark = pytest.mark.usefixtures("one_thread")
TINY_CG = {"width": 4, "down": 1, "blocks": 1, "disc_channels": (4, 8), "pool": 16}
TINY_P2P = {"channels": (4, 8), "disc_channels": (4, 8), "pool": 16}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def blocks_mean(x: torch.Tensor, f: int) -> torch.Tensor:
    """Reference low-resolution input: the mean of each f×f block, repeated over the block (float64)."""
    n, c, h, w = x.shape
    m = x.double().reshape(n, c, h // f, f, w // f, f).mean((3, 5))
    return m.repeat_interleave(f, 2).repeat_interleave(f, 3)


@pytest.fixture(scope="module")
def sr():
    return genzoo.datasets.load("mnist-sr", split="train")


@pytest.fixture(scope="module")
def sr_test():
    return genzoo.datasets.load("mnist-sr", split="test")


@pytest.fixture(scope="module")
def b2g():
    return genzoo.datasets.load("brick2gravel", split="train", n=64, patch=16)


def ctx_for(model, lr: float = 1e-2) -> StepContext:
    return StepContext(model.configure_optimizers(lambda p: torch.optim.Adam(p, lr=lr)), step=0, total=1)


def params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


# ---------------------------------------------------------------- data


def test_mnist_sr_pairs_are_the_pooled_targets(sr):
    mnist = genzoo.datasets.load("mnist", split="train")
    assert torch.equal(sr.x, mnist.x) and torch.equal(sr.y, mnist.y)
    assert sr.info.pairing == "paired" and sr.info.pair_shape == (1, 28, 28)
    assert torch.allclose(sr.pair.double(), blocks_mean(sr.x, 4), atol=1e-6, rtol=0)
    assert not torch.equal(sr.pair, sr.x)
    assert torch.equal(sr.tensors(), sr.x) and torch.equal(sr.inputs(), sr.pair)
    seven = genzoo.datasets.load("mnist-sr", split="test", factor=7)
    assert torch.allclose(seven.pair.double(), blocks_mean(seven.x, 7), atol=1e-6, rtol=0)


def test_pairs_stay_aligned_through_options_subset_and_batch(sr):
    ds = genzoo.datasets.load("mnist-sr", split="test", exclude=(3,), range=(-1.0, 1.0))
    assert ds.y is not None and not bool((ds.y == 3).any())
    assert torch.allclose(ds.pair.double(), blocks_mean(ds.x, 4), atol=1e-5, rtol=0)  # rescaling is affine
    assert float(ds.pair.min()) >= -1 and float(ds.x.min()) == -1
    binary = genzoo.datasets.load("mnist-sr", split="test", binarize="static")
    raw = genzoo.datasets.load("mnist-sr", split="test")
    assert torch.equal(binary.pair, (raw.pair > 0.5).float())
    idx = torch.tensor([5, 0, 17])
    sub = sr.subset(idx)
    assert torch.equal(sub.pair, sr.pair[idx]) and torch.equal(sub.x, sr.x[idx])
    batch = sr.batch(idx)
    assert batch.keys() == {"x", "y", "pair"} and torch.equal(batch["pair"], sr.pair[idx])
    assert DataInfo.from_dict(sr.info.to_dict()) == sr.info
    with pytest.raises(genzoo.GenzooError):
        Dataset(sr.x[:4], sr.info, pair=sr.pair[:3])
    with pytest.raises(genzoo.GenzooError):
        Dataset(sr.x[:4], sr.info)  # paired info without a pair tensor


def test_brick2gravel_domains():
    for split in ("train", "test"):
        ds = genzoo.datasets.load("brick2gravel", split=split, n=40)
        tex = genzoo.datasets.load("textures", split=split, n=40)
        brick, gravel = tex.x[tex.y == 0], tex.x[tex.y == 2]
        assert ds.info.pairing == "unpaired" and ds.y is None and len(ds) == 40
        assert torch.equal(ds.x, brick)  # domain A: the brick patches
        # domain B: the same gravel patches, in another order, so that index i of A and B are unrelated
        match = (ds.pair.flatten(1)[:, None] == gravel.flatten(1)[None]).all(-1)  # (40, 40)
        assert torch.equal(match.sum(1), torch.ones(40, dtype=torch.long))
        assert not torch.equal(ds.pair, gravel)
        assert torch.equal(ds.tensors(), ds.pair) and torch.equal(ds.inputs(), ds.x)

        # the domains differ: gravel is far busier than flat brick faces (mean |horizontal gradient|)
        def busy(x):
            return (x[..., 1:] - x[..., :-1]).abs().mean().item()

        assert busy(ds.pair) > 2 * busy(ds.x)


# ---------------------------------------------------------------- CycleGAN


def test_cycle_loss_is_zero_for_identity_generators(b2g):
    model = create("cyclegan", b2g, seed=0, **TINY_CG)
    a, b = b2g.x[:8], b2g.pair[:8]
    assert model.cycle_loss(a, b).item() > 0
    model.G, model.F = nn.Identity(), nn.Identity()
    assert model.cycle_loss(a, b).item() == 0.0
    model.F = ResnetGenerator(1, 1, 4, 1, 1, "instance", (0.0, 1.0))
    assert model.cycle_loss(a, b).item() > 0
    terms, _, _ = model.generator_terms(a, b)
    cycle = (model.F(a) - a).abs().mean() + (model.F(b) - b).abs().mean()  # G = identity
    assert torch.allclose(terms["cycle"], cycle)


def test_each_cyclegan_update_touches_only_its_networks(b2g):
    model = create("cyclegan", b2g, seed=0, **TINY_CG)
    model.prepare(b2g)
    a, b = b2g.x[:8], b2g.pair[:8]
    nets = {k: getattr(model, k) for k in ("G", "F", "D_A", "D_B")}
    before = {k: params(v) for k, v in nets.items()}

    twin = copy.deepcopy(model)
    terms, fake_a, fake_b = model.generator_step(a, b, ctx_for(model))
    assert not fake_a.requires_grad and {"loss", "g_adv", "cycle"} <= terms.keys()
    assert not same(params(model.G), before["G"]) and not same(params(model.F), before["F"])
    assert same(params(model.D_A), before["D_A"]) and same(params(model.D_B), before["D_B"])
    assert all(p.grad is None and p.requires_grad for p in [*model.D_A.parameters(), *model.D_B.parameters()])

    with torch.no_grad():
        fa, fb = twin.F(b), twin.G(a)
    twin.discriminator_step(a, b, fa, fb, ctx_for(twin))
    assert same(params(twin.G), before["G"]) and same(params(twin.F), before["F"])
    assert all(p.grad is None for p in [*twin.G.parameters(), *twin.F.parameters()])
    assert not same(params(twin.D_A), before["D_A"]) and not same(params(twin.D_B), before["D_B"])


@pytest.mark.parametrize("loss", ["lsgan", "non-saturating"])
def test_cyclegan_full_step(b2g, loss):
    model = create("cyclegan", b2g, seed=0, loss=loss, identity_weight=0.5, **TINY_CG)
    model.prepare(b2g)
    terms = model.training_step(b2g.batch(torch.arange(8)), ctx_for(model, 1e-3))
    assert {"loss", "g_adv", "cycle", "identity", "d_a", "d_b", "d_loss"} <= terms.keys()
    assert all(torch.isfinite(v) for v in terms.values())
    out = model.translate(b2g.x[:3])
    assert out.shape == (3, 1, 16, 16) and float(out.min()) >= 0 and float(out.max()) <= 1
    assert model.translate(b2g.pair[:2], "b2a").shape == (2, 1, 16, 16)
    with pytest.raises(genzoo.GenzooError, match="direction"):
        model.translate(b2g.x[:2], "sideways")
    with pytest.raises(genzoo.GenzooError, match="shape"):
        model.translate(torch.zeros(2, 3, 16, 16))


def test_one_domain_errors(b2g):
    digits = genzoo.datasets.load("digits", split="test")
    with pytest.raises(
        genzoo.GenzooError,
        match=r"model 'cyclegan' needs two image domains \(e.g. --data brick2gravel\); digits has one",
    ):
        create("cyclegan", digits)
    with pytest.raises(genzoo.GenzooError, match="pix2pix.*paired.*brick2gravel is unpaired"):
        create("pix2pix", b2g)
    with pytest.raises(genzoo.GenzooError, match="pix2pix.*paired.*digits"):
        create("pix2pix", digits)
    ring = genzoo.datasets.load("ring8", n=50)
    for name in ("cyclegan", "pix2pix"):  # they translate images, and `genzoo list` says so
        assert MODELS.get(name).kinds == ("image",)
        with pytest.raises(genzoo.GenzooError, match=f"model '{name}' models image data"):
            create(name, ring)


# ---------------------------------------------------------------- pix2pix


@pytest.mark.parametrize(
    ("c_in", "c_out", "h", "w"), [(1, 1, 28, 28), (3, 1, 32, 32), (1, 2, 13, 21), (2, 3, 8, 8), (1, 1, 1, 5)]
)
def test_generator_shapes_at_any_size(c_in, c_out, h, w):
    x = torch.rand(2, c_in, h, w, generator=gen(0))
    unet = UNet(c_in, c_out, (4, 8, 16), "instance", (0.0, 1.0))
    with torch.no_grad():
        y = unet(x)
    assert y.shape == (2, c_out, h, w) and float(y.min()) >= 0 and float(y.max()) <= 1
    with torch.no_grad():
        assert ResnetGenerator(c_in, c_out, 4, 2, 1, "instance", (-1.0, 1.0))(x).shape == (2, c_out, h, w)
        patches = PatchDiscriminator(c_in + c_out, (4, 8), "instance")(torch.cat([x, y], 1))
    assert patches.shape == (2, 1, -(-h // 4), -(-w // 4))


def test_unet_skip_connections_carry_the_input():
    """Zero the bottleneck stage's output: the image still depends on the input through the skips."""
    unet = UNet(1, 1, (4, 8), "none", (0.0, 1.0))
    with torch.no_grad():
        for p in unet.down.parameters():
            p.zero_()
    x1, x2 = torch.rand(1, 1, 8, 8, generator=gen(1)), torch.rand(1, 1, 8, 8, generator=gen(2))
    assert not torch.allclose(unet(x1), unet(x2))


def test_discriminator_sees_input_and_output_concatenated(sr):
    data = sr.subset(torch.arange(8))
    model = create("pix2pix", data, seed=0, **TINY_P2P)
    model.prepare(data)
    seen: list[torch.Tensor] = []
    model.discriminator.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    batch = data.batch(torch.arange(8))
    with torch.no_grad():
        fake = model.generator(batch["pair"])  # the weights the step will see before its updates
    model.training_step(batch, ctx_for(model, 1e-3))
    assert len(seen) == 3  # real and fake for D's update, fake again for G's
    assert all(t.shape == (8, 2, 28, 28) for t in seen)
    assert torch.equal(seen[0], torch.cat([batch["pair"], batch["x"]], 1))
    assert torch.equal(seen[1], torch.cat([batch["pair"], fake], 1))
    assert torch.equal(seen[2], seen[1])  # G's update: the same fake, now scored by the updated D


def test_pix2pix_beats_the_blocky_input_on_held_out_pairs(sr, sr_test):
    train, test = sr.subset(torch.arange(512)), sr_test.subset(torch.arange(200))
    model = create("pix2pix", train, seed=0, channels=(8, 16, 32), disc_channels=(16, 32))
    genzoo.train(model, train, steps=150, lr=2e-3, batch_size=32, progress=False, seed=0)
    with torch.no_grad():
        err = (model.translate(test.inputs()) - test.tensors()).abs().mean().item()
    baseline = (test.inputs() - test.tensors()).abs().mean().item()  # the nearest-upsampled input itself
    assert err < 0.8 * baseline, (err, baseline)


# ---------------------------------------------------------------- both: save → load, samples, CLI


@pytest.mark.parametrize(("name", "params"), [("cyclegan", TINY_CG), ("pix2pix", TINY_P2P)])
def test_save_load_and_seeded_samples_from_the_pool(name, params, sr, b2g, tmp_path):
    data = b2g if name == "cyclegan" else sr.subset(torch.arange(64))
    model = create(name, data, seed=0, **params)
    run = genzoo.train(model, data, out=tmp_path, steps=2, batch_size=8, progress=False)
    loaded = genzoo.load(tmp_path)
    assert torch.equal(loaded.pool, run.model.pool)
    inputs = data.inputs().flatten(1)
    assert all(bool((inputs == row).all(1).any()) for row in loaded.pool.flatten(1))  # training inputs
    s = run.model.sample(10, generator=gen(3))
    assert torch.equal(s, loaded.sample(10, generator=gen(3)))
    assert not torch.equal(s, loaded.sample(10, generator=gen(4)))
    # a sample is the translation of one stored input, ten distinct ones while n ≤ pool
    translated = loaded.translate(loaded.pool)  # another batch size: equal up to rounding
    dist = torch.cdist(s.flatten(1).double(), translated.flatten(1).double())  # (10, pool)
    nearest = dist.min(1)
    assert float(nearest.values.max()) < 1e-4 and len(set(nearest.indices.tolist())) == 10
    assert loaded.sample(40, generator=gen(3)).shape == (
        40,
        *data.info.shape,
    )  # beyond the pool: with replacement
    x = data.inputs()[:5]
    assert torch.equal(run.model.translate(x), loaded.translate(x))
    with pytest.raises(genzoo.GenzooError, match="cannot condition"):
        loaded.sample(2, label=1)


def test_cli_translate(sr, b2g, tmp_path, capsys):
    cg = tmp_path / "cg"
    genzoo.train(
        create("cyclegan", b2g, seed=0, **TINY_CG), b2g, out=cg, steps=1, batch_size=8, progress=False
    )
    model = genzoo.load(cg)
    np.save(tmp_path / "a.npy", b2g.x[:6].numpy())
    np.savez(tmp_path / "b.npz", x=b2g.pair[:5].numpy().reshape(5, -1))  # flat rows are reshaped
    assert (
        main(["translate", str(cg), "--input", str(tmp_path / "a.npy"), "--out", str(tmp_path / "ab.npz")])
        == 0
    )
    with np.load(tmp_path / "ab.npz") as f:
        np.testing.assert_array_equal(f["x"], model.translate(b2g.x[:6]).numpy())
    assert (
        main(
            [
                "translate",
                str(cg),
                "--input",
                str(tmp_path / "b.npz"),
                "--direction",
                "b2a",
                "--out",
                str(tmp_path / "ba.npy"),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(np.load(tmp_path / "ba.npy"), model.translate(b2g.pair[:5], "b2a").numpy())
    assert (
        main(["translate", str(cg), "--input", str(tmp_path / "a.npy"), "--out", str(tmp_path / "ab.png")])
        == 0
    )
    assert (tmp_path / "ab.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    p2p = tmp_path / "p2p"
    data = sr.subset(torch.arange(32))
    genzoo.train(
        create("pix2pix", data, seed=0, **TINY_P2P), data, out=p2p, steps=1, batch_size=8, progress=False
    )
    np.save(tmp_path / "lo.npy", data.pair[:4].numpy())
    assert (
        main(["translate", str(p2p), "--input", str(tmp_path / "lo.npy"), "--out", str(tmp_path / "hi.npy")])
        == 0
    )
    np.testing.assert_array_equal(
        np.load(tmp_path / "hi.npy"), genzoo.load(p2p).translate(data.pair[:4]).numpy()
    )
    capsys.readouterr()

    other = tmp_path / "other"
    ring = genzoo.datasets.load("ring8", n=64)
    genzoo.train(create("noisy-mean", ring, seed=0), ring, out=other, steps=1, progress=False)
    cases = [
        (
            [
                str(p2p),
                "--input",
                str(tmp_path / "lo.npy"),
                "--direction",
                "b2a",
                "--out",
                str(tmp_path / "x.npy"),
            ],
            "one way",
        ),
        ([str(cg), "--input", str(tmp_path / "lo.npy"), "--out", str(tmp_path / "x.npy")], "shape"),
        (
            [str(cg), "--input", str(tmp_path / "a.npy"), "--out", str(tmp_path / "x.txt")],
            "unsupported file type",
        ),
        (
            [str(other), "--input", str(tmp_path / "a.npy"), "--out", str(tmp_path / "x.npy")],
            "does not translate",
        ),
    ]
    for args, message in cases:
        assert main(["translate", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan"])
def test_report_shows_inputs_translations_and_targets(name, sr_test, b2g):
    import base64
    import io
    import re

    from PIL import Image

    from genzoo.viz.report import TRANSLATE_EXAMPLES, render_report

    data = sr_test.subset(torch.arange(16)) if name == "pix2pix" else b2g
    model = create(name, data, seed=0, **({} if name == "pix2pix" else TINY_CG))
    model.prepare(data)
    page = render_report(model, {"model": {"name": name}}, [], None, data=data)
    assert "<h2>Translations</h2>" in page and "could not draw the translations" not in page
    section = page[page.index("<h2>Translations</h2>") :]
    png = re.search(r'src="data:image/png;base64,([^"]+)"', section).group(1)
    grid = Image.open(io.BytesIO(base64.b64decode(png)))
    tile = (grid.width - 2) / TRANSLATE_EXAMPLES  # 3 rows of 8 square tiles (upscaled when small)
    assert tile >= data.info.shape[-1] and grid.height - 2 == 3 * tile
