"""VQ-VAE with an autoregressive prior (van den Oord, Vinyals & Kavukcuoglu 2017, arXiv:1711.00937).

An encoder maps x to a grid of vectors z_e (B, D, h, w) (stride-2 convolutions, residual blocks);
each vector is replaced by its nearest entry of a learned codebook e_1 … e_K,

    k(x)_ij = argmin_k ‖z_e(x)_ij − e_k‖²,      z_q = e_{k(x)},

and a decoder maps z_q back to the parameters of p(x | z_q): Bernoulli logits for binary data, a
mean for grey levels (a Gaussian of fixed variance: squared error). The argmin has no gradient;
the straight-through estimator copies the decoder's gradient at z_q to z_e (z_e + sg(z_q − z_e)).
The loss is

    −log p(x | z_q) + ‖sg(z_e) − z_q‖² (codebook) + β ‖z_e − sg(z_q)‖² (commitment, β = 0.25),

where with `codebook=ema` the codebook term is replaced by exponential moving averages of the
vectors assigned to each entry (the paper's appendix; Laplace smoothing of the counts), and codes
unused for a while are restarted at random encoder outputs of the batch.

The prior p(k) over code grids is a PixelCNN (masked convolutions on the one-hot codes, a K-way
softmax per position), trained on the codes of the frozen encoder in the last `prior_fraction` of
the run. Sampling draws a code grid from the prior in raster order and decodes it (the mean of
p(x | z_q)). With a Bernoulli decoder, log p(x) ≥ log p(k(x)) + log p(x | z_q(x)) (the ELBO of a
deterministic posterior: its entropy is 0), reported by `log_prob` as a bound.
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
from genzoo.models.autoregressive.pixels import RowSampler, WindowSampler, sample_pixels
from genzoo.models.base import GenerativeModel, StepContext, TourEntry, require_binary
from genzoo.models.registry import register_model
from genzoo.nn.blocks import ReluResidualBlock
from genzoo.nn.masked import MaskedConv2d, MaskedResidualBlock, pixel_head


@dataclass
class VQVAEConfig:
    codes: int = option(64, low=2, help="codebook size K")
    code_dim: int = option(16, low=1, help="dimension D of each codebook vector")
    channels: int = option(64, low=1, help="feature maps of the encoder and decoder")
    stages: int = option(2, low=1, high=5, help="stride-2 stages: the code grid is (H/2^s) × (W/2^s)")
    beta: float = option(0.25, low=0.0, help="weight of the commitment loss")
    codebook: str = option(
        "ema", choices=("ema", "loss"), help="codebook learned by moving averages (ema) or by its loss term"
    )
    decay: float = option(0.99, low=0.0, high=0.9999, help="codebook=ema: decay of the moving averages")
    prior_fraction: float = option(
        0.4,
        low=0.0,
        high=1.0,
        help="share of the training steps, at the end, that train the prior on frozen codes",
    )
    prior_channels: int = option(64, low=2, help="PixelCNN prior: feature maps")
    prior_blocks: int = option(4, low=0, help="PixelCNN prior: residual blocks")


@register_model("vqvae")
class VQVAE(GenerativeModel):
    """VQ-VAE (straight-through, commitment, EMA or loss codebook) with a PixelCNN prior on the codes."""

    Config = VQVAEConfig
    channels_last = True  # NHWC convolutions measured faster (see checkpoint.use_channels_last)
    kinds = ("image", "field")
    encodes = True
    discrete = True
    likelihood = "bound"  # binarised data (a Bernoulli decoder); none for grey levels
    default_train = {"lr": 1e-3, "batch_size": 64}
    summary = (
        "VQ-VAE (discrete codes, straight-through gradient, EMA codebook) "
        "with a PixelCNN prior on the code grid"
    )
    # the prior gets the last 60 % of the steps (the default 40 %): at 6,000 steps FD 307 against 352;
    # 10,000 steps (about 3.5 minutes on 2 cores) 241; the old 2,000 steps 552
    tour = (
        TourEntry(
            "mnist",
            quick_steps=3000,
            steps=10000,
            data_options={"binarize": "dynamic"},
            params={"prior_fraction": 0.6},
        ),
    )

    def __init__(self, config: VQVAEConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        if len(info.shape) != 3:
            raise GenzooError(
                f"model 'vqvae' needs images or fields (C, H, W); {info.name} has shape {tuple(info.shape)}"
            )
        c, h, w = info.shape
        f = 2**config.stages
        if h % f or w % f:
            raise GenzooError(
                f"model.stages={config.stages}: {info.name} images of {h}×{w} do not halve "
                f"{config.stages} times; use fewer stages"
            )
        self.bernoulli = info.binary
        if not self.bernoulli:
            self.likelihood = None
        ch, d, k = config.channels, config.code_dim, config.codes
        down: list[nn.Module] = []
        for s in range(config.stages):
            down += [nn.Conv2d(c if s == 0 else ch, ch, 4, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(
            *down, ReluResidualBlock(ch), ReluResidualBlock(ch), nn.ReLU(), nn.Conv2d(ch, d, 1)
        )
        up: list[nn.Module] = [nn.Conv2d(d, ch, 3, padding=1), ReluResidualBlock(ch), ReluResidualBlock(ch)]
        for s in range(config.stages):
            last = s == config.stages - 1
            up += [nn.ReLU(), nn.ConvTranspose2d(ch, c if last else ch, 4, stride=2, padding=1)]
        self.decoder = nn.Sequential(*up)
        self.grid = (h // f, w // f)
        self.register_buffer(
            "codebook", torch.randn(k, d) / math.sqrt(d) if config.codebook == "ema" else torch.empty(0)
        )
        if config.codebook == "ema":
            self.register_buffer("ema_count", torch.ones(k))
            self.register_buffer("ema_sum", self.codebook.clone())
            self.register_buffer("unused", torch.zeros(k))  # steps since each code was last chosen
        else:
            self.embedding = nn.Parameter(torch.randn(k, d) / math.sqrt(d))
        self.prior = nn.Sequential(
            MaskedConv2d(k, config.prior_channels, 7, "A"),
            *[MaskedResidualBlock(config.prior_channels) for _ in range(config.prior_blocks)],
            pixel_head(config.prior_channels, config.prior_channels, k),
        )
        self.register_buffer("mean_x", torch.zeros(()))  # grey decoders start at the data mean

    # --- quantisation ----------------------------------------------------------------------------
    def _book(self) -> Tensor:
        return self.codebook if self.config.codebook == "ema" else self.embedding

    def quantise(self, z_e: Tensor) -> tuple[Tensor, Tensor]:
        """Nearest codebook entries of z_e (B, D, h, w): indices (B, h, w) and z_q (B, D, h, w)."""
        book = self._book()
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])  # (B·h·w, D)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.T + book.pow(2).sum(1)  # (B·h·w, K)
        k = dist.argmin(1)
        z_q = book[k].reshape(z_e.shape[0], *z_e.shape[2:], -1).permute(0, 3, 1, 2)
        return k.reshape(z_e.shape[0], *z_e.shape[2:]), z_q

    def codes(self, x: Tensor) -> Tensor:
        """The code grid k(x) of x (B, *shape): (B, h, w) int64."""
        return self.quantise(self.encoder(x.to(self.device)))[0]

    def decode_codes(self, k: Tensor) -> Tensor:
        """The mean of p(x | z_q) for code grids k (B, h, w): (B, *shape)."""
        z_q = self._book()[k].permute(0, 3, 1, 2)
        return self._mean(self.decoder(z_q))

    def _mean(self, out: Tensor) -> Tensor:
        if self.bernoulli:
            return torch.sigmoid(out)
        low, high = self.info.value_range
        x = out + self.mean_x
        return x.clamp(low, high) if math.isfinite(low) and math.isfinite(high) else x

    def _ema_update(self, z_e: Tensor, k: Tensor) -> None:
        """e_k ← Σ assigned z_e / count, both moving averages; codes unchosen for 100 steps restart
        at random encoder outputs of this batch."""
        cfg = self.config
        flat = z_e.detach().permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
        onehot = F.one_hot(k.reshape(-1), cfg.codes).to(flat)
        count = onehot.sum(0)
        self.ema_count.mul_(cfg.decay).add_(count, alpha=1 - cfg.decay)
        self.ema_sum.mul_(cfg.decay).add_(onehot.T @ flat, alpha=1 - cfg.decay)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + 1e-5) / (n + cfg.codes * 1e-5) * n  # Laplace smoothing
        self.codebook.copy_(self.ema_sum / smoothed[:, None])
        self.unused.add_(1).mul_((count == 0).to(self.unused))
        dead = torch.nonzero(self.unused >= 100).flatten()
        if len(dead):
            pick = torch.randint(len(flat), (len(dead),), device=flat.device)
            self.codebook[dead] = flat[pick]
            self.ema_sum[dead] = flat[pick]
            self.ema_count[dead] = 1.0
            self.unused[dead] = 0

    # --- training --------------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        if self.bernoulli:
            require_binary(data.tensors(), "model 'vqvae' (a Bernoulli decoder for binarised data)")
        else:
            self.mean_x.fill_(float(data.x.mean()))

    def _recon(self, out: Tensor, x: Tensor) -> Tensor:
        """−log p(x | z_q) per example: Bernoulli in nats, or the squared error for grey data."""
        if self.bernoulli:
            return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)
        return (out + self.mean_x - x).pow(2).flatten(1).sum(1)

    def _prior_logits(self, k: Tensor) -> Tensor:
        """Logits (B, K, h, w) of each code given the codes before it."""
        return self.prior(F.one_hot(k, self.config.codes).permute(0, 3, 1, 2).float())

    def prior_log_prob(self, k: Tensor) -> Tensor:
        """Exact log p(k) of code grids (B, h, w) under the PixelCNN prior: (B,)."""
        return -F.cross_entropy(self._prior_logits(k), k, reduction="none").flatten(1).sum(1)

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """The VQ-VAE's loss until the last `prior_fraction` of the steps, then the prior's NLL on
        the frozen encoder's codes (both together when the run's length is unknown)."""
        x = batch["x"]
        start = round((1 - self.config.prior_fraction) * ctx.total) if ctx.total else 0
        if ctx.total and ctx.step < start:
            terms = self._vq_terms(x)
            ctx.optimize(terms["loss"])
            return terms
        with torch.no_grad():
            k = self.codes(x)
        prior_nll = -self.prior_log_prob(k).mean()
        if ctx.total:
            ctx.optimize(prior_nll)
            return {"loss": prior_nll, "prior_nll": prior_nll.detach()}
        terms = self._vq_terms(x)
        ctx.optimize(terms["loss"] + prior_nll)
        return {**terms, "prior_nll": prior_nll.detach()}

    def _vq_terms(self, x: Tensor) -> dict[str, Tensor]:
        z_e = self.encoder(x)
        k, z_q = self.quantise(z_e)
        commit = (z_e - z_q.detach()).pow(2).flatten(1).sum(1).mean()
        loss_book = torch.zeros((), device=x.device)
        if self.config.codebook == "ema":
            if self.training:
                with torch.no_grad():
                    self._ema_update(z_e, k)
        else:
            loss_book = (z_e.detach() - z_q).pow(2).flatten(1).sum(1).mean()
        out = self.decoder(z_e + (z_q - z_e).detach())  # straight-through
        recon = self._recon(out, x).mean()
        usage = torch.bincount(k.flatten(), minlength=self.config.codes).float() / k.numel()
        perplexity = torch.exp(-(usage * (usage + 1e-10).log()).sum())
        loss = recon + loss_book + self.config.beta * commit
        return {
            "loss": loss,
            "recon": recon.detach(),
            "commitment": commit.detach(),
            "perplexity": perplexity,
        }

    # --- the user's API ----------------------------------------------------------------------------
    def row_sampler(self) -> RowSampler:
        k = self.config.codes
        return WindowSampler(
            lambda v: self.prior(
                F.one_hot((v[:, 0] * (k - 1)).round().long(), k).permute(0, 3, 1, 2).float()
            ),
            3 + self.config.prior_blocks,
        )

    @torch.no_grad()
    def sample_codes(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n code grids (n, h, w) drawn from the prior in raster order."""
        k = torch.zeros(n, 1, *self.grid, dtype=torch.long, device=self.device)
        return sample_pixels(self.row_sampler(), k, None, self.config.codes, generator)[:, 0]

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        """Codes from the prior, decoded to the mean of p(x | z_q): (n, *shape)."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model 'vqvae' is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        return self.decode_codes(self.sample_codes(n, generator=generator))

    @torch.no_grad()
    def log_prob(self, x: Tensor) -> Tensor:
        """log p(k(x)) + log p(x | z_q(x)) ≤ log p(x) per example, in nats (Bernoulli decoder only)."""
        if not self.bernoulli:
            raise GenzooError(
                "model 'vqvae' has a likelihood bound only for binarised data (a Bernoulli decoder)"
            )
        x = x.to(self.device)
        require_binary(x, "model 'vqvae'")
        k, z_q = self.quantise(self.encoder(x))
        return self.prior_log_prob(k) - self._recon(self.decoder(z_q), x)

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """z_q(x): (B, D, h, w)."""
        return self.quantise(self.encoder(x.to(self.device)))[1]

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """The mean of p(x | z) for z (B, D, h, w): (B, *shape)."""
        return self._mean(self.decoder(z.to(self.device)))
