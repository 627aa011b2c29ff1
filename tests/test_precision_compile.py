"""The compiled and autocast training paths give the losses of the plain one (within tolerance)."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.errors import GenzooError


def _losses(name: str, data, steps: int = 4, **options) -> tuple[list[float], dict[str, torch.Tensor]]:
    model = genzoo.models.create(name, data, seed=0, **({"hidden": (32,)} if name in ("vae", "gan") else {}))
    with torch.random.fork_rng(devices=[]):
        run = genzoo.train(
            model,
            data,
            steps=steps,
            batch_size=32,
            seed=0,
            device="cpu",
            log_every=1,
            progress=False,
            sample_grid=False,
            **options,
        )
    return [r["loss"] for r in run.log], run.model.state_dict()


@pytest.fixture(scope="module")
def digits():
    return genzoo.datasets.load("digits", split="train")


@pytest.mark.parametrize("name", ["ae", "gan"])
def test_compiled_step_gives_the_plain_losses(digits, name) -> None:
    from torch._dynamo.utils import counters

    plain, w0 = _losses(name, digits)
    before = counters["frames"]["ok"]
    compiled, w1 = _losses(name, digits, compile="aot_eager")
    assert counters["frames"]["ok"] > before  # dynamo did capture the networks' forward passes
    assert compiled == pytest.approx(plain, rel=1e-5, abs=1e-6)
    assert w0.keys() == w1.keys()  # the state dict keeps its names (no _orig_mod prefix)
    assert all(torch.allclose(w0[k], w1[k], atol=1e-5) for k in w0)


def test_cpu_bf16_autocast_is_close_to_fp32_and_not_identical(digits) -> None:
    plain, _ = _losses("ae", digits)
    half, _ = _losses("ae", digits, precision="bf16")
    assert half == pytest.approx(plain, rel=3e-2)
    assert half != plain  # bf16 matrix products did run


def test_fp16_on_the_cpu_is_refused(digits) -> None:
    with pytest.raises(GenzooError, match="fp16: float16 autocast needs CUDA"):
        _losses("ae", digits, precision="fp16")


def test_channels_last_gives_the_plain_losses_and_is_kept_on_load(digits, tmp_path) -> None:
    """A conv GAN (auto turns channels-last on for 2-D convolutions) against channels_last=off: the
    same losses; every training forward ran with NHWC weights; the run loaded from disk has the
    layout it trained in and draws the trained model's samples bit for bit."""
    from genzoo.training import checkpoint as ckpt

    seen = []

    def nhwc(conv) -> bool:
        return (
            conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
        )

    def run(out, **options):
        model = genzoo.models.create("gan", digits, seed=0, arch="conv")
        conv = next(m for m in model.critic.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
        handle = conv.register_forward_pre_hook(lambda module, args: seen.append(nhwc(module)))
        with torch.random.fork_rng(devices=[]):
            result = genzoo.train(
                model,
                digits,
                out=out,
                steps=4,
                batch_size=32,
                seed=0,
                device="cpu",
                log_every=1,
                progress=False,
                sample_grid=False,
                **options,
            )
        handle.remove()
        return [r["loss"] for r in result.log], result.model, conv

    plain, m0, conv0 = run(tmp_path / "nchw", channels_last="off")
    assert not any(seen) and not nhwc(conv0)
    seen.clear()
    fast, m1, conv1 = run(tmp_path / "nhwc")
    assert seen and all(seen) and nhwc(conv1)
    assert fast == pytest.approx(plain, rel=1e-4, abs=1e-5)
    w0, w1 = m0.state_dict(), m1.state_dict()
    assert all(torch.allclose(w0[k], w1[k], atol=1e-5) for k in w0)

    def first_conv(m):
        return next(c for c in m.critic.modules() if isinstance(c, torch.nn.Conv2d) and c.in_channels > 1)

    for name, trained in (("nchw", m0), ("nhwc", m1)):
        loaded = ckpt.load(tmp_path / name)
        assert nhwc(first_conv(loaded)) == (name == "nhwc")
        draw = lambda m: m.sample(8, generator=torch.Generator().manual_seed(3))  # noqa: E731
        assert torch.equal(draw(trained), draw(loaded))


def test_auto_layout_follows_the_family(digits) -> None:
    """auto: NHWC only for the families whose convolutions measured faster so (the conv GAN here),
    not for a conv autoencoder; "on" forces it."""
    from genzoo.training.checkpoint import use_channels_last

    gan = genzoo.models.create("gan", digits, seed=0, arch="conv")
    ae = genzoo.models.create("ae", digits, seed=0, arch="conv")
    mlp = genzoo.models.create("gan", digits, seed=0, arch="mlp")
    assert (
        use_channels_last("auto", gan)
        and not use_channels_last("auto", ae)
        and not use_channels_last("auto", mlp)
    )
    assert use_channels_last("on", ae) and not use_channels_last("off", gan)


def test_fused_adam_is_used_and_gives_the_plain_update(digits) -> None:
    from genzoo.training.trainer import TrainConfig, Trainer

    model = genzoo.models.create("ae", digits, seed=0, hidden=(32,))
    trainer = Trainer(
        model,
        digits,
        genzoo.config.build(TrainConfig, {"device": "cpu", "progress": False}, section="train"),
        None,
    )
    trainer._setup(False)
    cpu_fused = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)
    assert all(bool(o.defaults.get("fused")) == cpu_fused for o in trainer.optimizers)
    fused, w0 = _losses("ae", digits, steps=6)
    plain, w1 = _losses("ae", digits, steps=6, fused=False)
    assert fused == pytest.approx(plain, rel=1e-5, abs=1e-6)
    assert all(torch.allclose(w0[k], w1[k], atol=1e-5) for k in w0)
