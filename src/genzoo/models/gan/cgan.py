"""The conditional GAN (Mirza & Osindero 2014, arXiv:1411.1784) with the inverting encoder of the
invertible conditional GAN, IcGAN (Perarnau, van de Weijer, Raducanu & Álvarez 2016, arXiv:1611.06355).

Generator and critic both see the class label y ∈ {0, …, K − 1} as a one-hot vector e_y; the
losses are those of `gan` (minimax, non-saturating, wgan, wgan-gp), with every term conditioned
on the label of the real example it is paired with:

    critic      −[log D(x, y) + log(1 − D(G(z, y), y))]                      (minimax, non-saturating)
                D(G(z, y), y) − D(x, y)  [+ λ (‖∇ₓD(x̂, y)‖₂ − 1)²,  x̂ = εx + (1 − ε)G(z, y)]   (wgan[-gp])
    generator   log(1 − D(G(z, y), y)) minimised,  −log D(G(z, y), y),  or  −D(G(z, y), y)

The fakes of a batch are drawn with the batch's own labels, so that the critic compares real and
fake examples of the same class mix, and the gradient penalty is taken at x̂ with that (real)
label. At the optimum p_G(x | y) = p(x | y) for every class with training examples.

Conditioning: `arch=mlp` concatenates e_y to z (generator input [z, e_y]) and to the flattened
x (critic input [x, e_y]); `arch=conv` gives the conv generator the input [z, e_y] and the conv
critic K extra constant input channels, channel k filled with [y = k] (the concatenation of
Mirza & Osindero 2014 carried to images; a projection discriminator, Miyato & Koyama 2018, would
be the alternative — it is not used here).

Inverting encoder (IcGAN): two more networks map data back to the generator's inputs,

    E_z : x ↦ z    trained on the generator's own samples:  min  E ‖E_z(G(z, y)) − z‖²   (G fixed)
    E_y : x ↦ y    a classifier trained on the real labelled batches:  min  −log softmax(E_y(x))_y

with a third optimiser, once per step after the critic and generator updates (the fakes are
drawn without gradient, so only E_z and E_y change). Then `encode(x)` = E_z(x), `classify(x)` =
argmax E_y(x), `reconstruct(x)` = G(E_z(x), E_y(x)), and `edit(x, label)` = G(E_z(x), label)
keeps an example's style — whatever z holds: slant, thickness — and changes its class.
`encoder=false` drops both networks (a plain cGAN that cannot encode).

`sample(n, label=None|k|tensor)` draws z ~ N(0, I) and, without a label, y from the training
label frequencies (a buffer set in `prepare`, saved with the weights). `decode(z)` without a
label uses the most frequent training class. Optimisers: [critic, generator] (+ [encoder]), with
the trainer's Adam and `gan`'s defaults, betas (0.5, 0.9).
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
from genzoo.models.base import GenerativeModel, StepContext, TourEntry, class_labels
from genzoo.models.gan.gan import GAN, start_at_data_mean
from genzoo.models.gan.losses import LOSSES, clip_weights, critic_loss, generator_loss, gradient_penalty
from genzoo.models.registry import register_model
from genzoo.nn.blocks import ACTIVATIONS, MLP, UPSAMPLE, ConvDecoder, ConvEncoder, frozen
from genzoo.nn.noise import draw_noise


@dataclass
class CGANConfig:
    loss: str = option("non-saturating", choices=LOSSES, help="critic and generator losses (as in gan)")
    critic_steps: int = option(
        1, low=1, help="k: critic updates per generator update (the generator updates every k-th step)"
    )
    latent_dim: int | None = option(None, low=1, help="size of z; default 2 for points, 64 otherwise")
    arch: str = option(
        "mlp",
        choices=("mlp", "conv"),
        help=(
            "mlp: the one-hot label concatenated to z and to x; "
            "conv: DCGAN-style pair, the label as K constant critic input channels"
        ),
    )
    hidden: tuple[int, ...] = option(
        (128, 128), low=1, help="MLP hidden widths of the generator, critic and encoders"
    )
    channels: tuple[int, ...] = option(
        (64, 128),
        low=1,
        help="conv channels, one stride-2 stage each (critic, encoders; the generator mirrors them)",
    )
    activation: str = option(
        "relu",
        choices=tuple(ACTIVATIONS),
        help="generator and encoder activation (the critic uses leaky ReLU 0.2)",
    )
    upsample: str = option("transposed", choices=UPSAMPLE, help="conv generator upsampling")
    clip: float = option(
        0.01, low=0.0, help="wgan: clip every critic weight to [-clip, clip] after each critic update"
    )
    gp_weight: float = option(10.0, low=0.0, help="wgan-gp: weight λ of the gradient penalty")
    encoder: bool = option(
        True,
        help="also train the IcGAN encoder E_z: x → z and the label classifier E_y (encode, classify, edit)",
    )


def _latent_dim(config: CGANConfig, info: DataInfo) -> int:
    if config.latent_dim is not None:
        return config.latent_dim
    return 2 if info.kind == "points" else 64


@register_model("cgan")
class ConditionalGAN(GenerativeModel):
    """Conditional GAN G(z, y), D(x, y) with an IcGAN encoder (x → z) and label classifier (x → y)."""

    accumulates = False  # several updates in a step (train.accumulate refused)

    Config = CGANConfig
    latent = True
    encodes = True  # with encoder=false the instance says False
    conditional = True
    terms = {**GAN.terms, "z_loss": "the encoder's loss", "y_loss": "the classifier's loss"}
    default_train = {"lr": 2e-4, "betas": (0.5, 0.9), "batch_size": 128}
    # digits (8×8 grey, 1,438 training images), MLP 256-256, z of 16, lr 1e-3, batch 64, 3,000 steps (15-28 s
    # on 2 cores). Non-saturating (the entry until 2026-12): legible digits of the asked class but few styles
    # per class, recall 0.045 / 0.134 / 0.089 on seeds 0-2 (FD 60 / 31 / 49, floor 8); + EMA 0.999: recall
    # 0.09-0.22; wgan-gp (one critic step): recall 0.34-0.75; wgan-gp + EMA 0.999: recall 0.70 / 0.88 / 0.69,
    # FD 18 / 15 / 19, precision 0.83-0.88 (`python benchmarks/bench_gan.py --parts cgan`; BENCHMARKS.md)
    tour = (
        TourEntry(
            "digits",
            quick_steps=3000,
            steps=20000,
            params={"hidden": (256, 256), "latent_dim": 16, "loss": "wgan-gp"},
            train={"lr": 1e-3, "batch_size": 64, "ema": 0.999},
        ),
    )
    summary = (
        "conditional GAN G(z, y) with an inverting encoder and classifier (IcGAN): "
        "sample by label, edit a class"
    )

    def __init__(self, config: CGANConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        if info.num_classes < 1:
            raise GenzooError(f"model 'cgan' needs labelled data; {info.name} has none")
        self.num_classes = k = info.num_classes
        self.latent_dim = d = _latent_dim(config, info)
        self.encodes = config.encoder
        if config.arch == "mlp":
            self.generator = MLP(d + k, config.hidden, info.dim, act=config.activation)
            self.critic = MLP(info.dim + k, tuple(reversed(config.hidden)), 1, act="leaky_relu")
        else:
            if len(info.shape) != 3:
                raise GenzooError(
                    f"model.arch: conv needs images or fields of shape (C, H, W), "
                    f"{info.name} has shape {info.shape}"
                )
            if not config.channels:
                raise GenzooError("model.channels: conv needs at least one stage")
            c, h, w = info.shape
            self.generator = ConvDecoder(
                info.shape, config.channels, d + k, act=config.activation, upsample=config.upsample
            )
            self.critic = ConvEncoder((c + k, h, w), config.channels, 1, act="leaky_relu")
        if config.encoder:
            self.encoder = self._encoder_net(d)  # E_z
            self.classifier = self._encoder_net(k)  # E_y (logits)
        # p(y) of the training labels, for sampling without a label; uniform until prepare()
        self.register_buffer("label_freq", torch.full((k,), 1.0 / k))
        low, high = info.value_range
        self.bounded = (
            math.isfinite(low) and math.isfinite(high) and high > low
        )  # sigmoid output into [low, high]

    def _encoder_net(self, out: int) -> nn.Module:
        """x → (B, out): the critic's shape of network, without the label (the generator's activation)."""
        c = self.config
        if c.arch == "mlp":
            return MLP(self.info.dim, tuple(reversed(c.hidden)), out, act=c.activation)
        return ConvEncoder(self.info.shape, c.channels, out, act=c.activation)

    # --- labels -------------------------------------------------------------------------------
    def _labels(self, n: int, label: Any, generator: torch.Generator | None = None) -> Tensor:
        """Labels (n,) int64 on the model's device: `label` (an int, or a tensor of n or one),
        checked to lie in [0, K); None draws them from the training label frequencies."""
        return class_labels(label, n, self.label_freq, self.info, generator).to(self.device)

    def _onehot(self, y: Tensor, like: Tensor) -> Tensor:
        return F.one_hot(y.to(like.device), self.num_classes).to(like.dtype)

    def _shaped(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), *self.info.shape) if self.config.arch == "conv" else x.reshape(len(x), -1)

    def _need_encoder(self, what: str) -> None:
        if not self.config.encoder:
            raise GenzooError(f"model 'cgan' was built with encoder=false: it has no encoder to {what} with")

    # --- the networks -------------------------------------------------------------------------
    def score(self, x: Tensor, y: Tensor) -> Tensor:
        """D(x, y): the critic's logit or score per example (B,)."""
        x = self._shaped(x)
        e = self._onehot(y, x)
        if self.config.arch == "conv":
            e = e[:, :, None, None].expand(-1, -1, *x.shape[2:])  # K constant channels
        return self.critic(torch.cat([x, e], 1)).reshape(len(x))

    def decode(self, z: Tensor, label: Any = None) -> Tensor:
        """G(z, y) (B, *shape), differentiable in the generator; without a label, y is the most
        frequent training class."""
        if label is None:
            label = int(self.label_freq.argmax())
        y = self._labels(len(z), label)
        z = z.to(self.device)
        out = self.generator(torch.cat([z, self._onehot(y, z)], 1))
        if self.bounded:
            low, high = self.info.value_range
            out = low + (high - low) * torch.sigmoid(out)
        return out.reshape(len(z), *self.info.shape)

    def latent_shape(self) -> tuple[int, ...]:
        return (self.latent_dim,)

    # --- training -----------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Record the label frequencies and start G's output at the data mean (per channel for
        conv, per dimension for the MLP), through the inverse sigmoid for bounded data."""
        if data.y is None:
            raise GenzooError(f"model 'cgan' needs labelled data; {data.info.name} has none")
        counts = torch.bincount(data.y, minlength=self.num_classes)
        if len(counts) > self.num_classes or data.y.min() < 0:
            raise GenzooError(f"{data.info.name}: labels outside [0, {self.num_classes - 1}]")
        self.label_freq.copy_((counts / counts.sum()).to(self.label_freq))
        start_at_data_mean(self.generator, self.config.arch, data, bounded=self.bounded)

    def configure_optimizers(self, make: Any) -> list[torch.optim.Optimizer]:
        """[critic, generator] and, with the encoder, [E_z and E_y together]."""
        opts = [make(self.critic.parameters()), make(self.generator.parameters())]
        if self.config.encoder:
            opts.append(make([*self.encoder.parameters(), *self.classifier.parameters()]))
        return opts

    def _noise(self, n: int, like: Tensor) -> Tensor:
        return draw_noise(torch.randn, (n, self.latent_dim), None, like)

    def critic_terms(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """The critic's loss on real (x, y) and fresh fakes (G(z, y), y), G detached."""
        loss = self.config.loss
        with torch.no_grad():
            fake = self.decode(self._noise(len(x), x), y)
        real_score, fake_score = self.score(x, y), self.score(fake, y)
        d_loss = critic_loss(loss, real_score, fake_score)
        terms = {"d_loss": d_loss}
        if loss == "wgan-gp":
            gp = gradient_penalty(lambda v: self.score(v, y), x, fake)  # x̂ with the real label
            terms["gp"] = gp
            d_loss = d_loss + self.config.gp_weight * gp
        terms["loss"] = d_loss
        return terms

    def encoder_terms(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """‖E_z(G(z, y)) − z‖² on fresh fakes (no gradient reaches G) and the classifier's
        cross-entropy on the real labelled batch."""
        z = self._noise(len(x), x)
        with torch.no_grad():
            fake = self.decode(z, y)
        z_loss = (self.encoder(self._shaped(fake)) - z).pow(2).sum(1).mean()
        logits = self.classifier(self._shaped(x))
        y_loss = F.cross_entropy(logits, y)
        acc = (logits.argmax(1) == y).float().mean()
        return {"z_loss": z_loss, "y_loss": y_loss, "y_acc": acc}

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """A critic update; every `critic_steps`-th step a generator update; then an encoder update."""
        x, y = batch["x"], batch.get("y")
        if y is None:
            raise GenzooError(f"model 'cgan' needs labelled data; {self.info.name} has none")
        terms = self.critic_terms(x, y)
        ctx.optimize(terms["loss"], 0)
        if self.config.loss == "wgan":
            clip_weights(self.critic, self.config.clip)
        out = {k: v.detach() for k, v in terms.items()}
        if (ctx.step + 1) % self.config.critic_steps == 0:
            with frozen(self.critic):  # the generator's loss puts no gradient on the critic
                g_loss = generator_loss(
                    self.config.loss, self.score(self.decode(self._noise(len(x), x), y), y)
                )
                ctx.optimize(g_loss, 1)
            out["g_loss"] = g_loss.detach()
        if self.config.encoder:
            e = self.encoder_terms(x, y)
            ctx.optimize(e["z_loss"] + e["y_loss"], 2)
            out.update({k: v.detach() for k, v in e.items()})
        return out

    # --- the user's API -----------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, label: Any = None, **condition: Any
    ) -> Tensor:
        """G(z, y) for z ~ N(0, I) and y = `label` (an int in [0, K) or a tensor of n of them),
        or y drawn from the training label frequencies; all draws from `generator`: (n, *shape)."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(f"model 'cgan' conditions on label only, not on {', '.join(sorted(condition))}")
        y = self._labels(n, label, generator)
        weight = next(self.generator.parameters())
        return self.decode(draw_noise(torch.randn, (n, self.latent_dim), generator, weight), y)

    @torch.no_grad()
    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n codes from the prior N(0, I): (n, latent_dim)."""
        return draw_noise(torch.randn, (n, self.latent_dim), generator, next(self.generator.parameters()))

    def encode(self, x: Tensor) -> Tensor:
        """E_z(x): the latent code whose generation keeps x's style, (B, latent_dim)."""
        self._need_encoder("encode")
        return self.encoder(self._shaped(x.to(self.device)))

    def class_logits(self, x: Tensor) -> Tensor:
        """E_y(x): (B, K) logits of the label classifier."""
        self._need_encoder("classify")
        return self.classifier(self._shaped(x.to(self.device)))

    def classify(self, x: Tensor) -> Tensor:
        """argmax E_y(x): the predicted labels (B,)."""
        return self.class_logits(x).argmax(1)

    def edit(self, x: Tensor, label: Any) -> Tensor:
        """G(E_z(x), label): x's style drawn as class `label` (an int or a tensor of len(x)), (B, *shape)."""
        self._need_encoder("edit")
        y = self._labels(len(x), label)
        return self.decode(self.encode(x), y)

    def reconstruct(self, x: Tensor) -> Tensor:
        """G(E_z(x), E_y(x)), (B, *shape)."""
        return self.decode(self.encode(x), self.classify(x))
