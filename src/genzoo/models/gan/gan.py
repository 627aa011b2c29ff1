"""The generative adversarial network (Goodfellow et al. 2014, arXiv:1406.2661), with the
Wasserstein critic (Arjovsky, Chintala & Bottou 2017, arXiv:1701.07875) and its gradient penalty
(Gulrajani et al. 2017, arXiv:1704.00028).

A generator G maps z ~ N(0, I) to data space; a critic D scores examples. With the original
losses D outputs a logit ℓ, D(x) = σ(ℓ(x)), and log D = −softplus(−ℓ), log(1 − D) = −softplus(ℓ):

    critic      −[log D(x) + log(1 − D(G(z)))]                      (minimax, non-saturating)
                D(G(z)) − D(x)                                       (wgan: D a raw score)
                D(G(z)) − D(x) + λ (‖∇D(x̂)‖₂ − 1)²,  x̂ = εx + (1 − ε)G(z)   (wgan-gp)
    generator   log(1 − D(G(z))) minimised (minimax: saturates early, when D rejects G easily)
                −log D(G(z))      (non-saturating, the default: same fixed point, strong gradients)
                −D(G(z))          (wgan, wgan-gp)

For a fixed G the optimal critic of the first two is D*(x) = p(x) / (p(x) + p_G(x)), and the
critic's loss there is 2 log 2 − 2 JSD(p ‖ p_G). In the gradient penalty ε ~ U[0, 1] is drawn
once per example (not per pixel), so that x̂ lies on the segment between a real and a fake
example; `wgan` instead clips every critic weight to [−c, c] after each critic update.

Training alternates as in Goodfellow et al. 2014, Algorithm 1: `critic_steps` = k critic updates
per generator update. The trainer gives one batch per step, so every step updates the critic on
that batch and every k-th step (steps k − 1, 2k − 1, … counted from 0) also updates the
generator, on the same fakes the critic just saw (drawn once, as the PyTorch DCGAN example does).
Each update touches only its own network: the critic sees G(z) detached, and during the generator
update the critic's parameters do not require gradients.

Optimisers: [critic, generator], both the trainer's (Adam at its lr); `default_train` sets
Adam's betas to (0.5, 0.9) (Radford et al. 2016; Gulrajani et al. 2017) and lr 2e-4. WGAN
traditionally uses RMSprop (Arjovsky et al. 2017); Adam with a low β₁ works as well here and
keeps one optimiser factory for every family.

Networks: `arch=mlp`, MLPs (the critic with leaky ReLU); `arch=conv` (images, fields), a
DCGAN-style pair without batch norm (which the gradient penalty forbids in the critic): the conv
decoder as generator and the conv encoder (leaky ReLU, one output) as critic. The generator's
output is linear for unbounded data and a (scaled) sigmoid for data in a finite range, e.g.
images in [0, 1]. `arch=fcn` (stationary fields and textures): a fully convolutional generator
from a noise field (Z channels, H/2^d × W/2^d) and a patch critic that averages its per-patch
scores, so that `sample(n, size=...)` draws fields larger than the training patches. A GAN has a
decoder (`decode(z)` = G(z)) but no encoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel, StepContext, TourEntry
from genzoo.models.gan.losses import (
    LOSSES,
    clip_weights,
    critic_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
)
from genzoo.models.registry import register_model
from genzoo.nn.augment import POLICIES, diff_augment
from genzoo.nn.blocks import (
    ACTIVATIONS,
    MLP,
    UPSAMPLE,
    ConvDecoder,
    ConvEncoder,
    FieldGenerator,
    PatchCritic,
    frozen,
    init_output_bias,
)
from genzoo.nn.noise import draw_noise

ARCHS = ("mlp", "conv", "fcn")


@dataclass
class GANConfig:
    loss: str = option("non-saturating", choices=LOSSES, help="critic and generator losses")
    critic_steps: int | None = option(
        None,
        low=1,
        help="k: critic updates per generator update (the generator updates every k-th step); default 5 for "
        "wgan and wgan-gp (Arjovsky et al.; Gulrajani et al.), 1 otherwise",
    )
    latent_dim: int | None = option(
        None,
        low=1,
        help="size of z; default 2 for points, 64 for images; fcn: channels of the noise field (default 16)",
    )
    arch: str = option(
        "mlp",
        choices=ARCHS,
        help="MLPs on flattened inputs; a DCGAN-style conv pair (images); or fcn, a fully convolutional "
        "generator and patch critic for stationary fields and textures, sampled at any size",
    )
    hidden: tuple[int, ...] = option(
        (256, 256, 256), low=1, help="MLP hidden widths of the generator and of the critic"
    )
    channels: tuple[int, ...] = option(
        (64, 128), low=1, help="conv channels, one stride-2 stage each (critic; the generator mirrors them)"
    )
    activation: str = option(
        "relu", choices=tuple(ACTIVATIONS), help="generator activation (the critic uses leaky ReLU 0.2)"
    )
    upsample: str = option("transposed", choices=UPSAMPLE, help="conv generator upsampling")
    clip: float = option(
        0.01, low=0.0, help="wgan: clip every critic weight to [-clip, clip] after each critic update"
    )
    gp_weight: float | None = option(
        None,
        low=0.0,
        help="wgan-gp: weight λ of the gradient penalty; default 10 for images and fields, 0.1 for 2-D "
        "points (the value of Gulrajani et al.'s toy experiments)",
    )
    augment: str = option(
        "none",
        choices=POLICIES,
        help="conv: differentiable augmentation of what the critic sees, real and fake alike (Zhao et al. "
        "2020)",
    )
    r1: float = option(
        0.0, low=0.0, help="γ of the R1 penalty γ/2·E‖∇D(x)‖² on real data (Mescheder et al. 2018); 0 = none"
    )
    spectral_norm: bool = option(
        False, help="spectral normalisation of every critic layer (Miyato et al. 2018)"
    )
    critic_lr_scale: float = option(
        1.0,
        low=0.0,
        help="the critic's learning rate over the generator's (two time-scale rule, Heusel et al. 2017)",
    )
    batch_norm: bool = option(
        False, help="conv: batch normalisation in the generator's hidden stages (DCGAN)"
    )


def _latent_dim(config: GANConfig, info: DataInfo) -> int:
    if config.latent_dim is not None:
        return config.latent_dim
    if config.arch == "fcn":
        return 16
    return 2 if info.kind == "points" else 64


def _networks(config: GANConfig, info: DataInfo, latent: int) -> tuple[nn.Module, nn.Module]:
    """Generator z → (B, D) or (B, C, H, W) before the output map, and critic x → (B, 1)."""
    if config.arch == "mlp":
        generator = MLP(latent, config.hidden, info.dim, act=config.activation)
        critic = MLP(info.dim, tuple(reversed(config.hidden)), 1, act="leaky_relu")
        return generator, critic
    if len(info.shape) != 3 and not (config.arch == "fcn" and len(info.shape) == 4):
        raise GenzooError(
            f"model.arch: {config.arch} needs images or fields of shape (C, H, W) (fcn also 3-D blocks "
            f"(C, D, H, W)), {info.name} has shape {info.shape}"
        )
    if not config.channels:
        raise GenzooError(f"model.channels: {config.arch} needs at least one stage")
    if config.arch == "fcn":
        factor = 2 ** len(config.channels)
        if any(side % factor for side in info.shape[1:]):
            raise GenzooError(
                f"model.arch: fcn with {len(config.channels)} stages needs sides divisible by {factor}; "
                f"{info.name} is {'×'.join(map(str, info.shape[1:]))}"
            )
        dims = len(info.shape) - 1  # 2, or 3 for blocks: Conv3d
        generator = FieldGenerator(
            latent, config.channels, info.shape[0], act=config.activation, upsample=config.upsample, dims=dims
        )
        return generator, PatchCritic(info.shape[0], config.channels, dims=dims)
    generator = ConvDecoder(
        info.shape,
        config.channels,
        latent,
        act=config.activation,
        upsample=config.upsample,
        batch_norm=config.batch_norm,
    )
    critic = ConvEncoder(info.shape, config.channels, 1, act="leaky_relu")
    return generator, critic


def spectral_normed(module: nn.Module) -> nn.Module:
    """Every convolution and linear layer of `module` with its weight divided by its largest singular
    value, estimated by one power iteration per forward pass (Miyato et al. 2018)."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Conv2d, nn.Conv3d, nn.Linear)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            spectral_normed(child)
    return module


def start_at_data_mean(generator: nn.Module, arch: str, data: Dataset, *, bounded: bool) -> None:
    """Start a generator's output at the data mean (per channel for conv/fcn, per dimension for
    an MLP) by setting its last layer's bias, through the inverse of the output map where that is
    a sigmoid into the data's range. Shared by the GAN family (gan, cgan, infogan)."""
    x = data.x
    conv = arch in ("conv", "fcn")
    mean = x.mean((0, *range(2, x.dim()))) if conv else x.flatten(1).mean(0)  # (C,) or (D,)
    last = {"conv": lambda: generator.body[-1], "fcn": lambda: generator.out}.get(
        arch, lambda: generator[-1]
    )()
    if bounded:
        low, high = data.info.value_range
        mean = (mean - low) / (high - low)
    init_output_bias(last, mean.to(last.bias), logit=bounded)


# 2-D points: wider nets, a larger batch and an EMA of the weights (Yazıcı et al. 2019,
# arXiv:1806.04498), which settles the generator's oscillation around the modes. Measured on ring8
# (BENCHMARKS.md): 8/8 modes, ≥ 90 % of samples within 3σ for non-saturating and wgan-gp.
MNIST_PARAMS = {"arch": "conv", "channels": (32, 64), "batch_norm": True, "spectral_norm": True}
POINTS_TRAIN = {"steps": 20000, "lr": 5e-4, "betas": (0.5, 0.9), "batch_size": 256, "ema": 0.999}
FACIES3D_PARAMS = {"arch": "fcn", "channels": (16, 32), "loss": "wgan-gp", "upsample": "nearest"}
FACIES3D_STEPS = 3000


@dataclass
class GANSampleOptions:
    """What `GAN.sample` takes beyond n and generator=."""

    size: int | None = option(
        None,
        low=1,
        missing="other size to draw",
        help="arch=fcn: side of the generated fields, e.g. 256 after training on 64×64 patches",
    )


@register_model("gan")
class GAN(GenerativeModel):
    """Generative adversarial network: minimax, non-saturating, WGAN or WGAN-GP."""

    accumulates = False  # several updates in a step (train.accumulate refused)

    Config = GANConfig
    SampleOptions = GANSampleOptions
    channels_last = True  # NHWC convolutions measured faster (see checkpoint.use_channels_last)
    latent = True  # decode(z) = G(z); there is no encoder
    phases = ("critic", "generator")
    default_train = {"lr": 2e-4, "betas": (0.5, 0.9), "batch_size": 128}
    terms = {
        "d_loss": "the critic's loss",
        "loss": "the critic's loss",
        "gp": "the gradient penalty",
        "r1": "the R1 penalty",
        "g_loss": "the generator's loss",
    }
    # ring8 with the points budget (batch 256, EMA 0.999, lr 5e-4): the full tour runs the default
    # 20,000 steps (8/8 modes, ≥ 95 % high quality for every loss but wgan; BENCHMARKS.md), the
    # quick one 8,000
    # mnist (grey): a DCGAN pair narrowed to 32-64 channels (2.2× the steps per second of 64-128, which
    # reached a worse FD in the same time), batch norm in the generator (FD 829 against 1,526 without at
    # equal time), spectral norm in the critic and an EMA of the weights; BENCHMARKS.md, "GANs"
    tour = (
        TourEntry("ring8", quick_steps=8000, steps=20000, params={"loss": "non-saturating"}),
        TourEntry(
            "mnist",
            quick_steps=3000,
            steps=20000,
            data_options={"binarize": "none"},
            params=MNIST_PARAMS,
            train={"batch_size": 64, "ema": 0.999},
        ),
        # 3-D blocks of facies (16×32×32): the fully convolutional pair in Conv3d (full tour only)
        TourEntry(
            "facies3d",
            quick_steps=200,
            steps=FACIES3D_STEPS,
            params=FACIES3D_PARAMS,
            train={"batch_size": 8},
            quick=False,
        ),
    )
    summary = (
        "generative adversarial network (minimax, non-saturating, WGAN with clipping or gradient penalty)"
    )

    def __init__(self, config: GANConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.latent_dim = _latent_dim(config, info)
        wasserstein = config.loss in ("wgan", "wgan-gp")
        self.critic_steps = config.critic_steps or (5 if wasserstein else 1)
        points = info.kind == "points"
        self.gp_weight = config.gp_weight if config.gp_weight is not None else (0.1 if points else 10.0)
        if points:  # the budget that covers all 8 modes of ring8 with ≥ 90 % high-quality samples
            self.default_train = POINTS_TRAIN
        self.generator, self.critic = _networks(config, info, self.latent_dim)
        if config.spectral_norm:
            spectral_normed(self.critic)
        if config.augment != "none" and len(info.shape) != 3:
            raise GenzooError(
                f"model.augment: augmentation needs images (C, H, W); {info.name} has shape {info.shape}"
            )
        if config.augment != "none" and config.arch == "mlp":  # its critic sees flattened vectors
            raise GenzooError(
                "model.augment: augmentation needs model.arch=conv or fcn (the mlp critic sees vectors)"
            )
        low, high = info.value_range
        self.bounded = (
            math.isfinite(low) and math.isfinite(high) and high > low
        )  # sigmoid output into [low, high]

    # --- the networks -----------------------------------------------------------------------
    def _shaped(self, x: Tensor) -> Tensor:
        if self.config.arch == "fcn":
            return x if x.dim() == len(self.info.shape) + 1 else x.reshape(len(x), *self.info.shape)
        return x.reshape(len(x), *self.info.shape) if self.config.arch == "conv" else x.reshape(len(x), -1)

    def score(self, x: Tensor) -> Tensor:
        """The critic's output per example: a logit (minimax, non-saturating) or a score (wgan): (B,)."""
        return self.critic(self._shaped(x)).reshape(len(x))

    def _critic_view(self, x: Tensor) -> Tensor:
        """The critic's score of `x` as training shows it: through the augmentation where one is set."""
        if self.config.augment != "none":
            x = diff_augment(self._shaped(x), self.config.augment)
        return self.score(x)

    def decode(self, z: Tensor) -> Tensor:
        """G(z): (B, *shape), differentiable in the generator."""
        out = self.generator(z.to(self.device))
        if self.bounded:
            low, high = self.info.value_range
            out = low + (high - low) * torch.sigmoid(out)
        if self.config.arch == "fcn":
            return out  # (B, C, h·2^d, w·2^d) (or a block): the noise field's size sets the output's
        return out.reshape(len(z), *self.info.shape)

    def latent_shape(self, size: int | tuple[int, ...] | None = None) -> tuple[int, ...]:
        """(latent_dim,), or for fcn the noise field (Z, H/2^d, W/2^d) — (Z, D/2^d, H/2^d, W/2^d) for
        blocks — of an output of `size` (default the training size; an int for every side)."""
        if self.config.arch != "fcn":
            if size is not None:
                raise GenzooError(
                    f"size: only arch=fcn generates other sizes; this gan is arch={self.config.arch}"
                )
            return (self.latent_dim,)
        dims = len(self.info.shape) - 1
        sides = tuple(
            self.info.shape[1:]
            if size is None
            else ((size,) * dims if isinstance(size, int) else tuple(size))
        )
        f = self.generator.factor
        if len(sides) != dims or any(s < f or s % f for s in sides):
            raise GenzooError(
                f"size must be a positive multiple of {f} on each of the {dims} sides for this generator; "
                f"got {'×'.join(map(str, sides))}"
            )
        return (self.latent_dim, *(s // f for s in sides))

    # --- training ---------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        start_at_data_mean(self.generator, self.config.arch, data, bounded=self.bounded)

    def configure_optimizers(self, make: Any) -> list[torch.optim.Optimizer]:
        """[critic, generator]; the critic's rate scaled by `critic_lr_scale`."""
        critic = make(self.critic.parameters())
        for group in critic.param_groups:
            group["lr"] *= self.config.critic_lr_scale
        return [critic, make(self.generator.parameters())]

    def _noise(self, n: int, like: Tensor) -> Tensor:
        return draw_noise(torch.randn, (n, *self.latent_shape()), None, like)

    def critic_terms(self, x: Tensor, fake: Tensor | None = None) -> dict[str, Tensor]:
        """The critic's loss on real x and fakes G(z) — fresh ones unless given — seen detached:
        no gradient reaches G."""
        loss = self.config.loss
        if fake is None:
            with torch.no_grad():
                fake = self.decode(self._noise(len(x), x))
        fake = fake.detach()
        if self.config.augment != "none":
            x, fake = (diff_augment(self._shaped(t), self.config.augment) for t in (x, fake))
        if self.config.r1 > 0:
            x = x.detach().requires_grad_(True)
        real_score, fake_score = self.score(x), self.score(fake)
        d_loss = critic_loss(loss, real_score, fake_score)
        terms = {"d_loss": d_loss}
        if loss == "wgan-gp":
            gp = gradient_penalty(self.score, x, fake)
            terms["gp"] = gp
            d_loss = d_loss + self.gp_weight * gp
        if self.config.r1 > 0:
            r1 = r1_penalty(real_score, x)
            terms["r1"] = r1
            d_loss = d_loss + 0.5 * self.config.r1 * r1
        terms["loss"] = d_loss
        return terms

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """A critic update on the batch, then every `critic_steps`-th step a generator update.

        On a step that updates both, one batch of fakes serves both updates, as in the PyTorch
        DCGAN example: G(z) is drawn once with its graph, the critic learns from it detached,
        then the generator's loss is taken through the updated critic on the same G(z) — one
        generator forward pass per step instead of two. A `ctx.phase` of "critic" or "generator"
        takes that update alone."""
        x = batch["x"]
        if ctx.phase is None:
            generator_step = (ctx.step + 1) % self.critic_steps == 0
        else:  # one part alone (the lab's half steps)
            generator_step = ctx.phase == "generator"
        fake = self.decode(self._noise(len(x), x)) if generator_step else None
        out = {}
        if ctx.phase != "generator":
            terms = self.critic_terms(x, fake)
            ctx.optimize(terms["loss"], 0)
            if self.config.loss == "wgan":
                clip_weights(self.critic, self.config.clip)
            out = {k: v.detach() for k, v in terms.items()}
        if generator_step:
            with frozen(self.critic):  # the generator's loss puts no gradient on the critic
                g_loss = generator_loss(self.config.loss, self._critic_view(fake))
                ctx.optimize(g_loss, 1)
            out["g_loss"] = g_loss.detach()
        return out

    # --- the user's API ---------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        size: int | tuple[int, int] | None = None,
        **condition: Any,
    ) -> Tensor:
        """G(z) for z ~ N(0, I) drawn from `generator`: (n, *shape); arch=fcn draws fields of any
        `size` (a multiple of 2^stages per side), e.g. 256 after training on 64×64 patches."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model 'gan' is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        weight = next(self.generator.parameters())
        return self.decode(draw_noise(torch.randn, (n, *self.latent_shape(size)), generator, weight))

    @torch.no_grad()
    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n codes from the prior N(0, I): (n, *latent_shape())."""
        return draw_noise(
            torch.randn, (n, *self.latent_shape()), generator, next(self.generator.parameters())
        )
