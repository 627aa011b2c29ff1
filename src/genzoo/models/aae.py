"""The adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow & Frey 2015, arXiv:1511.05644).

A deterministic encoder f: x ↦ z = f(x) (the paper's q(z|x) in its deterministic form) and a
decoder g: z ↦ x̂ are trained on the reconstruction error, while a GAN played in code space
makes the aggregated posterior q(z) = E_x[δ(z − f(x))] match a chosen prior p(z): a
discriminator D on codes tells prior draws z' ~ p(z) from codes f(x), and the encoder is the
game's generator. With D(z) = σ(ℓ(z)) for a logit ℓ, each training step runs three phases in this
order (the paper's reconstruction phase, then its regularisation phase), each with its own Adam
optimiser and touching only its own networks:

    reconstruction  min_{f,g}  E_x ℓ(x, g(f(x)))                          [encoder + decoder]
    discriminator   min_D     −[log D(z') + log(1 − D(f(x)))],  z' ~ p(z)  [D; f(x) detached]
    regularisation  min_f     −log D(f(x))   (non-saturating)              [encoder; D frozen]

ℓ is the squared error Σ_i (x̂_i − x_i)² for a linear output, or the Bernoulli cross-entropy
−Σ_i [x_i log x̂_i + (1 − x_i) log(1 − x̂_i)] for a sigmoid output (images in [0, 1], chosen as in
`genzoo.models.autoencoders.output_kind`), summed over dimensions, averaged over the batch.
Because every phase has its own Adam (which normalises step sizes), the relative scale of the
reconstruction and adversarial losses does not need a weight.

Priors (`prior`): `gaussian`, p(z) = N(0, I); `mixture`, the paper's Figure 2 (b): K equal
Gaussians whose means lie on a circle of radius r in the first two code dimensions,

    p(z) = (1/K) Σ_k N(z; μ_k, σ² I),  μ_k = (r cos 2πk/K, r sin 2πk/K, 0, …, 0),

with K = `prior_modes`, r = `prior_radius`, σ = `prior_std` (so the other code dimensions are
N(0, σ²) under every component). Once trained, the decoder is a generator: `sample` decodes prior
draws, and unlike a plain autoencoder no distribution has to be fitted to the codes afterwards.
The mode means are a buffer, saved with the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.autoencoders import output_kind
from genzoo.models.base import GenerativeModel, StepContext, TourEntry
from genzoo.models.gan.losses import critic_loss, generator_loss
from genzoo.models.registry import register_model
from genzoo.nn.blocks import ACTIVATIONS, MLP, UPSAMPLE, ConvDecoder, ConvEncoder, frozen, init_output_bias

PRIORS = ("gaussian", "mixture")


@dataclass
class AAEConfig:
    arch: str = option(
        "mlp",
        choices=("mlp", "conv"),
        help="MLP encoder/decoder on flattened inputs, or the conv pair (images, fields)",
    )
    code_dim: int | None = option(None, low=1, help="size of the code z; default 2 for points, 8 otherwise")
    hidden: tuple[int, ...] = option(
        (256, 256), low=1, help="mlp: hidden widths of the encoder; the decoder mirrors them"
    )
    channels: tuple[int, ...] = option((32, 64), low=1, help="conv: channels, one stride-2 stage each")
    activation: str = option("relu", choices=tuple(ACTIVATIONS), help="encoder and decoder activation")
    upsample: str = option("transposed", choices=UPSAMPLE, help="conv: decoder upsampling")
    output: str = option(
        "auto",
        choices=("auto", "linear", "sigmoid"),
        help="auto = sigmoid + binary cross-entropy for images in [0, 1], linear + squared error otherwise",
    )
    disc_hidden: tuple[int, ...] = option(
        (128, 128), low=1, help="hidden widths of the code discriminator (leaky ReLU 0.2)"
    )
    prior: str = option(
        "gaussian",
        choices=PRIORS,
        help="p(z): N(0, I), or K Gaussians on a circle in the first two code dimensions",
    )
    prior_modes: int = option(10, low=1, help="mixture: number K of components")
    prior_radius: float = option(4.0, low=0.0, help="mixture: radius r of the circle of component means")
    prior_std: float = option(
        0.5, low=0.0, help="mixture: standard deviation σ of every component, in every dimension"
    )

    def __post_init__(self) -> None:
        if self.prior == "mixture" and self.prior_std <= 0:
            raise GenzooError(f"model.prior_std: expected a standard deviation > 0, got {self.prior_std!r}")


def mixture_means(modes: int, radius: float, dim: int) -> Tensor:
    """The K component means (K, d): μ_k = (r cos 2πk/K, r sin 2πk/K, 0, …, 0)."""
    angle = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    means = torch.zeros(modes, dim, dtype=torch.float64)
    means[:, 0], means[:, 1] = radius * torch.cos(angle), radius * torch.sin(angle)
    return means.float()


def _code_dim(config: AAEConfig, info: DataInfo) -> int:
    dim = config.code_dim if config.code_dim is not None else (2 if info.kind == "points" else 8)
    if config.prior == "mixture" and dim < 2:
        raise GenzooError(
            f"model.code_dim: the mixture prior lies on a circle in the first two code dimensions; "
            f"needs code_dim >= 2, got {dim}"
        )
    return dim


def _networks(config: AAEConfig, info: DataInfo, code_dim: int) -> tuple[nn.Module, nn.Module]:
    """Encoder x → z (B, d) and decoder z → output before its nonlinearity (B, D) or (B, C, H, W)."""
    act = config.activation
    if config.arch == "mlp":
        return MLP(info.dim, config.hidden, code_dim, act=act), MLP(
            code_dim, tuple(reversed(config.hidden)), info.dim, act=act
        )
    if len(info.shape) != 3:
        raise GenzooError(
            f"model.arch: conv needs images or fields of shape (C, H, W), {info.name} has shape {info.shape}"
        )
    if not config.channels:
        raise GenzooError("model.channels: conv needs at least one stage")
    encoder = ConvEncoder(info.shape, config.channels, code_dim, act=act)
    decoder = ConvDecoder(
        info.shape, config.channels, code_dim, act=act, upsample=config.upsample, final_conv=True
    )
    return encoder, decoder


@register_model("aae")
class AdversarialAutoencoder(GenerativeModel):
    """Adversarial autoencoder: reconstruction, plus a code discriminator that makes the codes
    f(x) follow the prior; samples by decoding prior draws."""

    accumulates = False  # several updates in a step (train.accumulate refused)

    Config = AAEConfig
    latent = True
    encodes = True
    default_train = {"lr": 1e-3, "betas": (0.5, 0.9), "batch_size": 128}
    terms = {
        "loss": "the reconstruction loss",
        "recon": "the reconstruction loss",
        "d_loss": "the code discriminator's loss",
        "g_loss": "the encoder's adversarial loss",
    }
    tour = (
        TourEntry("mnist", quick_steps=5000, steps=15000, data_options={"binarize": "none"}),
    )  # quick: 1,500 steps gave FD 738, 5,000 give 230
    summary = (
        "adversarial autoencoder (a code discriminator matches the codes to a Gaussian or ring-mixture prior)"
    )

    def __init__(self, config: AAEConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.code_dim = _code_dim(config, info)
        self.output = output_kind(config.output, info)  # "sigmoid" | "linear"
        self.encoder, self.decoder = _networks(config, info, self.code_dim)
        self.discriminator = MLP(self.code_dim, config.disc_hidden, 1, act="leaky_relu")
        if config.prior == "mixture":
            self.register_buffer(
                "prior_means", mixture_means(config.prior_modes, config.prior_radius, self.code_dim)
            )  # (K, d)

    # --- the networks -----------------------------------------------------------------------
    def _net_input(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), *self.info.shape) if self.config.arch == "conv" else x.reshape(len(x), -1)

    def _output(self, z: Tensor) -> Tensor:
        """The decoder's output before its nonlinearity (logits for a sigmoid output): (B, D)."""
        return self.decoder(z).reshape(len(z), -1)

    def _output_layer(self) -> nn.Module:
        return self.decoder.body[-1] if self.config.arch == "conv" else self.decoder[-1]

    def disc_score(self, z: Tensor) -> Tensor:
        """The code discriminator's logit ℓ(z) per code, D(z) = σ(ℓ(z)) the probability of a prior
        draw: (B,)."""
        return self.discriminator(z).reshape(len(z))

    # --- training ---------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Start the decoder's output at the data mean (as logits for a sigmoid output; per channel
        for conv)."""
        mean = data.x.mean((0, 2, 3)) if self.config.arch == "conv" else data.x.flatten(1).mean(0)
        layer = self._output_layer()
        init_output_bias(layer, mean.to(layer.bias), logit=self.output == "sigmoid")

    def configure_optimizers(self, make: Any) -> list[torch.optim.Optimizer]:
        """[encoder + decoder (reconstruction), discriminator, encoder (regularisation)]."""
        autoencoder = [*self.encoder.parameters(), *self.decoder.parameters()]
        return [make(autoencoder), make(self.discriminator.parameters()), make(self.encoder.parameters())]

    def reconstruction_terms(self, x: Tensor) -> dict[str, Tensor]:
        """The reconstruction loss ("recon", differentiable in encoder and decoder) and the
        per-example squared error ("mse", detached)."""
        out = self._output(self.encoder(self._net_input(x)))  # (B, D)
        target = x.flatten(1)
        if self.output == "sigmoid":
            recon = F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(1).mean()
            mse = (torch.sigmoid(out.detach()) - target).pow(2).sum(1).mean()
        else:
            recon = (out - target).pow(2).sum(1).mean()
            mse = recon.detach()
        return {"recon": recon, "mse": mse}

    def discriminator_loss(self, x: Tensor) -> Tensor:
        """−[log D(z') + log(1 − D(f(x)))] with z' ~ p(z) from the global RNG and f(x) detached."""
        with torch.no_grad():
            fake = self.encoder(self._net_input(x))
        real = self._prior(len(x), None, fake)
        return critic_loss("non-saturating", self.disc_score(real), self.disc_score(fake))

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """Reconstruction, discriminator and regularisation updates, in that order, on the batch."""
        x = batch["x"]
        terms = self.reconstruction_terms(x)
        ctx.optimize(terms["recon"], 0)
        d_loss = self.discriminator_loss(x)
        ctx.optimize(d_loss, 1)
        with frozen(self.discriminator):  # the encoder's adversarial loss puts no gradient on D
            g_loss = generator_loss("non-saturating", self.disc_score(self.encoder(self._net_input(x))))
            ctx.optimize(g_loss, 2)
        recon = terms["recon"].detach()
        return {
            "loss": recon,
            "recon": recon,
            "mse": terms["mse"],
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
        }

    # --- the prior --------------------------------------------------------------------------
    def _prior(self, n: int, generator: torch.Generator | None, like: Tensor) -> Tensor:
        """n draws (n, d) from p(z), from the global RNG or from `generator` (on its own device),
        returned on the device and dtype of `like`."""
        dev = generator.device if generator is not None else like.device
        dtype = torch.promote_types(like.dtype, torch.float32)
        if self.config.prior == "gaussian":
            return torch.randn(n, self.code_dim, generator=generator, device=dev, dtype=dtype).to(like.device)
        k = torch.randint(self.config.prior_modes, (n,), generator=generator, device=dev)
        eps = torch.randn(n, self.code_dim, generator=generator, device=dev, dtype=dtype)
        means = self.prior_means.to(device=like.device, dtype=dtype)
        return means[k.to(like.device)] + self.config.prior_std * eps.to(like.device)

    # --- the user's API ---------------------------------------------------------------------
    @torch.no_grad()
    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n codes from the prior p(z): (n, code_dim)."""
        return self._prior(n, generator, next(self.decoder.parameters()))

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        """g(z) for z ~ p(z) drawn from `generator`: (n, *shape)."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model 'aae' is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        return self.decode(self.sample_latent(n, generator=generator))

    def encode(self, x: Tensor) -> Tensor:
        """The code f(x): (B, code_dim)."""
        weight = next(self.encoder.parameters())
        return self.encoder(self._net_input(x.to(weight)))

    def decode(self, z: Tensor) -> Tensor:
        """g(z) in the data's space (the sigmoid applied for a sigmoid output): (B, *shape)."""
        weight = next(self.decoder.parameters())
        out = self._output(z.to(weight))
        out = torch.sigmoid(out) if self.output == "sigmoid" else out
        return out.reshape(len(z), *self.info.shape)

    def latent_shape(self) -> tuple[int, ...]:
        return (self.code_dim,)
