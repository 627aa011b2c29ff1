"""The variational autoencoder (Kingma & Welling 2014, arXiv:1312.6114), with the IWAE
likelihood estimate (Burda, Grosse & Salakhutdinov 2016, arXiv:1509.00519).

Encoder q(z|x) = N(μ(x), diag σ²(x)) (the network outputs μ and log σ²), prior p(z) = N(0, I),
decoder p(x|z) Bernoulli (the network outputs logits) or Gaussian (the network outputs the mean;
one learned log σ per data dimension, clamped below at log `min_sigma` so that the likelihood
cannot diverge on near-constant pixels). Training maximises

    ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))  ≤  log p(x)

with one z per example, the KL in closed form, and the encoder gradient from the
reparameterisation z = μ + σ·ε (default) or, for comparison, the score-function (REINFORCE)
estimator. With `beta` ≠ 1 the KL is weighted by β (β-VAE, Higgins et al. 2017).

Sampling. The ELBO pulls each q(z|x) towards N(0, I) but does not make their mixture, the
aggregate posterior q(z) = E_x q(z|x), equal to the prior: prior draws land in regions no training
code occupies ("holes"), and decode to blends of digits. By default (`code_distribution=auto`)
`sample` on images and fields decodes draws from a density fitted to the posterior means μ(x) of a
fixed subset of the training set — ex-post density estimation (Ghosh et al. 2020, "From
variational to deterministic autoencoders", ICLR; the two-stage VAE of Dai & Wipf 2019 fits a
second VAE there), the same `genzoo.models.codes.CodeDistribution` the autoencoders sample
from, chosen by held-out likelihood among a Gaussian, mixtures and kernel densities. On mnist after
the tour's 30,000 steps its samples score FD about 110 against 515 from the prior (LeNet features,
floor 51; BENCHMARKS.md, "VAE"). On points `auto` keeps the prior: there the codes carry which
mode and the decoder's noise the spread within it, so decoded means of fitted codes sit on the
modes' centres (the quick tour's ring8 vae: recall 0.006 against 0.95 from the prior) —
`gaussian`, `gmm` and `kde` fit one there too.
It is refitted like the autoencoders' (at `prepare`, before every checkpoint, chosen when training
ends) and never feeds back into training. `log_prob` and `elbo` still score the model with its
prior N(0, I); `code_distribution=prior` samples that model itself, and `sample_latent` (the
start of latent-space inversion, which assumes the prior) always draws from N(0, I).
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
from genzoo.models.base import GenerativeModel, TourEntry
from genzoo.models.codes import KINDS, CodeDistribution, fit_subset
from genzoo.models.registry import register_model
from genzoo.nn.blocks import ACTIVATIONS, MLP, UPSAMPLE, ConvDecoder, ConvEncoder, init_output_bias
from genzoo.nn.noise import draw_noise

LOG_2PI = math.log(2 * math.pi)
ESTIMATORS = ("reparam", "score-function")
SAMPLERS = ("prior", *KINDS)  # code_distribution: the prior N(0, I), or a density fitted to μ(x)
_CHUNK_ELEMENTS = 2**24  # log_prob decodes at most about this many output values at once


@dataclass
class VAEConfig:
    arch: str = option(
        "mlp",
        choices=("mlp", "conv"),
        help="MLP on flattened inputs, or the conv encoder/decoder (images, fields)",
    )
    latent_dim: int = option(20, low=1, help="size of z")
    hidden: tuple[int, ...] = option(
        (400,), low=1, help="MLP hidden widths of the encoder; the decoder mirrors them"
    )
    channels: tuple[int, ...] = option((32, 64), low=1, help="conv channels, one stride-2 stage each")
    activation: str = option("relu", choices=tuple(ACTIVATIONS))
    upsample: str = option("transposed", choices=UPSAMPLE, help="conv decoder upsampling")
    likelihood: str = option(
        "auto",
        choices=("auto", "bernoulli", "gaussian"),
        help="decoder p(x|z); auto = bernoulli for images in [0, 1], gaussian otherwise",
    )
    min_sigma: float = option(1e-3, low=1e-6, help="floor of the Gaussian decoder's learned σ")
    init_sigma: float = option(
        0.1,
        low=1e-6,
        high=10.0,
        help="Gaussian decoder: initial σ as a fraction of the data's std per dimension",
    )
    beta: float = option(1.0, low=0.0, help="weight of the KL term (β-VAE when ≠ 1)")
    gradient_estimator: str = option("reparam", choices=ESTIMATORS, help="encoder gradient estimator")
    iwae_k: int = option(
        1000, low=1, help="importance samples K for log_prob (5000 is the published convention)"
    )
    code_distribution: str = option(
        "auto",
        choices=SAMPLERS,
        help=(
            "what `sample` decodes: prior = z ~ N(0, I), the model's own prior "
            "(the distribution log_prob scores); "
            "else draws from a density fitted to the posterior means μ(x) of training data "
            "(as the autoencoders sample; "
            "auto = the one of gaussian, gmm and kde with the highest held-out likelihood "
            "on images and fields, the prior on points)"
        ),
    )
    gmm_components: int = option(
        40, low=1, help="code_distribution gmm: its components; auto: the largest mixture it tries"
    )
    fit_examples: int = option(
        4000,
        low=2,
        help=(
            "training examples (a fixed seed-0 subset) whose posterior means "
            "the code distribution is fitted to"
        ),
    )


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²), summed over the last axis."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def normal_log_density(x: Tensor, mean: Tensor, log_sigma: Tensor) -> Tensor:
    """log N(x; mean, σ²) elementwise, with its full normaliser: −½((x−m)/σ)² − log σ − ½ log 2π."""
    return -0.5 * ((x - mean) * torch.exp(-log_sigma)).pow(2) - log_sigma - 0.5 * LOG_2PI


def _randn(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """N(0, 1) noise on the device of `like` (`genzoo.nn.noise.draw_noise`)."""
    return draw_noise(torch.randn, shape, generator, like)


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """U(0, 1) noise, drawn like `_randn`."""
    return draw_noise(torch.rand, shape, generator, like)


def _decoder_likelihood(config: VAEConfig, info: DataInfo) -> str:
    """Resolve `likelihood=auto`: Bernoulli for images in [0, 1], Gaussian for everything else."""
    in_unit = tuple(info.value_range) == (0.0, 1.0)
    if config.likelihood == "auto":
        return "bernoulli" if info.kind == "image" and in_unit else "gaussian"
    if config.likelihood == "bernoulli" and not (0.0 <= info.value_range[0] and info.value_range[1] <= 1.0):
        raise GenzooError(
            f"model.likelihood: bernoulli needs data in [0, 1], {info.name} has range {info.value_range}"
        )
    return config.likelihood


def _networks(config: VAEConfig, info: DataInfo) -> tuple[nn.Module, nn.Module]:
    """Encoder x → (μ, log σ²) as one (B, 2L) output, and decoder z → likelihood parameters."""
    latent, act = config.latent_dim, config.activation
    if config.arch == "mlp":
        encoder = MLP(info.dim, config.hidden, 2 * latent, act=act)
        decoder = MLP(latent, tuple(reversed(config.hidden)), info.dim, act=act)
        return encoder, decoder
    if len(info.shape) != 3:
        raise GenzooError(
            f"model.arch: conv needs images or fields of shape (C, H, W), {info.name} has shape {info.shape}"
        )
    if not config.channels:
        raise GenzooError("model.channels: conv needs at least one stage")
    encoder = ConvEncoder(info.shape, config.channels, 2 * latent, act=act)
    decoder = ConvDecoder(info.shape, config.channels, latent, act=act, upsample=config.upsample)
    return encoder, decoder


@register_model("vae")
class VAE(GenerativeModel):
    """Variational autoencoder: maximises the ELBO; `log_prob` is the IWAE estimate."""

    Config = VAEConfig
    likelihood = "estimate"
    latent = True
    encodes = True
    default_train = {"lr": 1e-3, "batch_size": 128}
    tour = (
        TourEntry("mnist", quick_steps=5000, steps=30000, data_options={"binarize": "dynamic"}),
        TourEntry("ring8", quick_steps=5000, steps=20000, params={"latent_dim": 2, "hidden": (128, 128)}),
    )
    summary = "variational autoencoder (ELBO, reparameterisation or REINFORCE; IWAE log-likelihood)"

    def __init__(self, config: VAEConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.decoder_likelihood = _decoder_likelihood(config, info)  # "bernoulli" | "gaussian"
        self.discrete = self.decoder_likelihood == "bernoulli"  # log_prob is a probability mass
        self.binary_likelihood = self.discrete  # ... of binary images (grey ones are scored binarised)
        self.encoder, self.decoder = _networks(config, info)
        if self.decoder_likelihood == "gaussian":
            self.log_sigma = nn.Parameter(torch.zeros(info.dim))  # (D,) log σ of p(x|z) per dimension
        self.code_distribution: CodeDistribution | None = None
        if config.code_distribution != "prior" and not (
            config.code_distribution == "auto" and info.kind == "points"
        ):
            self.code_distribution = CodeDistribution(
                config.latent_dim, config.code_distribution, config.gmm_components, config.fit_examples
            )

    # --- the distributions ----------------------------------------------------------------
    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """μ and log σ² of q(z|x), each (B, L)."""
        if self.config.arch == "conv":
            x = x.reshape(len(x), *self.info.shape)  # (B, C, H, W)
        else:
            x = x.reshape(len(x), -1)  # (B, D)
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def _output(self, z: Tensor) -> Tensor:
        """Decoder output (logits or Gaussian mean) for z of shape (..., L), flattened to (..., D)."""
        out = self.decoder(z.reshape(-1, z.shape[-1]))
        return out.reshape(*z.shape[:-1], self.info.dim)

    def _log_sigma(self) -> Tensor:
        return self.log_sigma.clamp(min=math.log(self.config.min_sigma))  # (D,)

    def _mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out) if self.decoder_likelihood == "bernoulli" else out

    def _log_px(self, x: Tensor, out: Tensor) -> Tensor:
        """log p(x|z) summed over the D dimensions, in nats; x (B, D) broadcasts against out (..., B, D)."""
        if self.decoder_likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)
        return normal_log_density(x, out, self._log_sigma()).sum(-1)

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) per example (B,), for x (B, *shape) and z (B, L)."""
        return self._log_px(x.flatten(1), self._output(z))

    def _sample_posterior(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """z = μ + σ·ε with ε ~ N(0, I), and μ, log σ² — each (B, L)."""
        mu, logvar = self.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * _randn(mu.shape, generator, mu)
        return z, mu, logvar

    # --- training -------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Start the decoder at the data: its output bias at the data mean (as logits for a
        Bernoulli decoder; per channel for conv, per dimension for the MLP) and, for a Gaussian
        decoder, σ at `init_sigma` × the data's standard deviation per dimension. (Starting σ at
        the full std makes "all is noise" — posterior collapse, KL = 0 — the easy optimum on
        low-dimensional data such as ring8: measured 0 % high-quality samples after 3,000 steps,
        against 43 % from 0.1 × std.)"""
        x = data.x
        conv = self.config.arch == "conv"
        mean = x.mean((0, 2, 3)) if conv else x.flatten(1).mean(0)  # (C,) or (D,)
        last = self.decoder.body[-1] if conv else self.decoder[-1]
        init_output_bias(last, mean, logit=self.decoder_likelihood == "bernoulli")
        if self.decoder_likelihood == "gaussian" and len(x) > 1:
            std = (self.config.init_sigma * x.flatten(1).std(0)).clamp_min(self.config.min_sigma)  # (D,)
            with torch.no_grad():
                self.log_sigma.copy_(std.log())
        self.refresh(data, final=False)

    @torch.no_grad()
    def refresh(self, data: Dataset, *, final: bool = True) -> None:
        """Refit the code distribution (where there is one) to the posterior means μ(x) of a fixed
        subset of `data` (`fit_examples` examples chosen with seed 0): choosing its kind again where
        `final`, else refitting the kind last chosen (a Gaussian before the first choice)."""
        if self.code_distribution is None:
            return
        x = fit_subset(data.tensors(), self.config.fit_examples)
        if len(x) < 2:
            raise GenzooError(f"vae: fitting the code distribution needs at least 2 examples, got {len(x)}")
        weight = next(self.encoder.parameters())
        with torch.autocast(weight.device.type, enabled=False):
            mu = torch.cat([self.posterior(c.to(weight))[0] for c in torch.split(x, 1000)])
        self.code_distribution.fit(mu, select=final)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        """Runs saved before the code distribution existed sample from the prior, as they did."""
        if self.code_distribution is not None and not any(
            k.startswith(prefix + "code_distribution.") for k in state_dict
        ):
            self.code_distribution = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Negative ELBO averaged over the batch: recon + β·KL, recon = −log p(x|z) at one
        z ~ q(z|x), in nats per example; "elbo" = −(recon + KL) whatever β."""
        return self._loss(batch["x"], self.config.gradient_estimator)

    def _loss(self, x: Tensor, estimator: str, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        score_function = estimator == "score-function"
        z, mu, logvar = self._sample_posterior(x, generator)
        if score_function:
            z = z.detach()  # no path from φ through z: the encoder learns from the surrogate
        x_flat = x.flatten(1)  # (B, D)
        log_px = self._log_px(x_flat, self._output(z))  # (B,)
        kl = gaussian_kl(mu, logvar)  # (B,)
        loss = (self.config.beta * kl - log_px).mean()
        if score_function:
            loss = loss + self._reinforce(x_flat, log_px, z, mu, logvar)
        recon, kl_mean = -log_px.detach().mean(), kl.detach().mean()
        return {"loss": loss, "recon": recon, "kl": kl_mean, "elbo": -(recon + kl_mean)}

    def _reinforce(self, x: Tensor, log_px: Tensor, z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
        """A surrogate worth 0 whose gradient in the encoder's φ is the score-function estimate

            ∇_φ E_q[log p(x|z)] = E_q[(log p(x|z) − b(x)) ∇_φ log q(z|x)]   (Williams 1992),

        with the baseline b(x) = log p(x | z=μ(x)), one extra decoder pass: it does not depend on
        the draw z, so it leaves the estimate unbiased (E_q[∇_φ log q] = 0), and it removes far
        more variance than a batch-mean baseline, which is also slightly biased (it contains f_i)."""
        with torch.no_grad():
            baseline = self._log_px(x, self._output(mu))  # (B,)
        log_q = normal_log_density(z, mu, 0.5 * logvar).sum(-1)  # (B,)
        surrogate = -((log_px.detach() - baseline) * log_q).mean()
        return surrogate - surrogate.detach()

    # --- the user's API --------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, mean: bool = True, **condition: Any
    ) -> Tensor:
        """z from `generator`, decoded: the mean of p(x|z) (Bernoulli probabilities or the Gaussian
        mean) by default, a draw from p(x|z) with `mean=False`. (n, *shape). z is drawn from the
        density fitted to the posterior means (the default, code_distribution=auto, on images and fields), or
        from the prior N(0, I) with code_distribution=prior or before anything was fitted."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model 'vae' is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        weight = next(self.decoder.parameters())
        dist = self.code_distribution
        if dist is not None and bool(dist.fitted):
            z = dist.sample(n, generator=generator).to(weight)
        else:
            z = _randn((n, self.config.latent_dim), generator, weight)
        x = self._mean(self._output(z))  # (n, D)
        if not mean:
            if self.decoder_likelihood == "bernoulli":
                x = (_rand(x.shape, generator, x) < x).to(x.dtype)
            else:
                x = x + self._log_sigma().exp() * _randn(x.shape, generator, x)
        return x.reshape(n, *self.info.shape)

    @torch.no_grad()
    def log_prob(
        self, x: Tensor, *, k: int | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """IWAE estimate of log p(x) per example, in nats (Burda et al. 2016):

            log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x),   z_k ~ q(z|x),  K = `k` or config.iwae_k.

        A stochastic lower bound: its expectation is ≤ log p(x), grows with K (K = 1 is the ELBO)
        and tends to log p(x) as K → ∞ — hence `likelihood = "estimate"`. The samples are
        processed in chunks so that memory stays bounded for any K. With a Bernoulli decoder
        x must be binary (it is not binarised here: see genzoo.datasets.binarize)."""
        k = self.config.iwae_k if k is None else k
        if k < 1:
            raise GenzooError(f"log_prob: k must be >= 1, got {k}")
        x = x.to(self.device)
        if self.decoder_likelihood == "bernoulli" and not bool(((x == 0) | (x == 1)).all()):
            raise GenzooError(
                "log_prob: a Bernoulli decoder gives probabilities of binary images, and x has grey values; "
                "trained on "
                "grey images it models their stochastic binarisations: score genzoo.datasets.binarize(x), as "
                "`genzoo evaluate` does "
                "(or train with model.likelihood=gaussian for a density of grey values)"
            )
        mu, logvar = self.posterior(x)  # (B, L)
        x_flat = x.flatten(1)  # (B, D)
        chunk = max(1, _CHUNK_ELEMENTS // (len(x) * self.info.dim))
        sizes = [min(chunk, k - start) for start in range(0, k, chunk)]
        log_w = torch.cat([self._log_weights(x_flat, mu, logvar, s, generator) for s in sizes])  # (K, B)
        return torch.logsumexp(log_w, dim=0) - math.log(k)

    def _log_weights(
        self, x: Tensor, mu: Tensor, logvar: Tensor, n: int, generator: torch.Generator | None
    ) -> Tensor:
        """log p(x|z) + log p(z) − log q(z|x) for n draws z ~ q(z|x) per example: (n, B)."""
        eps = _randn((n, *mu.shape), generator, mu)  # (n, B, L)
        z = mu + torch.exp(0.5 * logvar) * eps
        log_q = (-0.5 * eps.pow(2) - 0.5 * logvar - 0.5 * LOG_2PI).sum(-1)  # (n, B)
        log_pz = (-0.5 * z.pow(2) - 0.5 * LOG_2PI).sum(-1)  # (n, B)
        return self._log_px(x, self._output(z)) + log_pz - log_q

    @torch.no_grad()
    def elbo(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """ELBO per example, log p(x|z) − KL(q(z|x) ‖ p(z)) with one z ~ q(z|x): (B,)."""
        x = x.to(self.device)
        z, mu, logvar = self._sample_posterior(x, generator)
        return self.log_likelihood(x, z) - gaussian_kl(mu, logvar)

    def anomaly_score(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """The negative ELBO per example, an upper bound on −log p(x) that costs one decoder pass
        where the IWAE −log_prob costs K; higher = more anomalous."""
        return -self.elbo(x, generator=generator)

    def encode(self, x: Tensor) -> Tensor:
        """The posterior mean μ(x): (B, L)."""
        return self.posterior(x.to(self.device))[0]

    def decode(self, z: Tensor) -> Tensor:
        """The mean of p(x|z): (B, *shape)."""
        return self._mean(self._output(z.to(self.device))).reshape(len(z), *self.info.shape)

    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)


def encoder_gradients(
    model: VAE,
    batch: dict[str, Tensor],
    *,
    estimator: str,
    n_draws: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The gradient of the loss in the encoder's P parameters for `n_draws` fresh draws of z
    on the same batch, one row each: (n_draws, P)."""
    params = list(model.encoder.parameters())
    rows = []
    for _ in range(n_draws):
        grads = torch.autograd.grad(model._loss(batch["x"], estimator, generator)["loss"], params)
        rows.append(torch.cat([g.flatten() for g in grads]))
    return torch.stack(rows)


def gradient_variance(
    model: VAE, batch: dict[str, Tensor], *, n_draws: int = 200, generator: torch.Generator | None = None
) -> dict[str, float]:
    """Variance of the encoder gradient over draws of z on one batch, for each estimator, summed
    over the encoder's parameters, with the norm of its mean and the ratio score-function / reparam.
    The reparameterisation gradient is typically orders of magnitude less variable (Kingma &
    Welling 2014 §2.4; Mohamed et al. 2020, JMLR 21:132)."""
    if n_draws < 2:
        raise GenzooError(f"gradient_variance: n_draws must be >= 2, got {n_draws}")
    out: dict[str, float] = {}
    for estimator in ESTIMATORS:
        g = encoder_gradients(
            model, batch, estimator=estimator, n_draws=n_draws, generator=generator
        )  # (n, P)
        out[estimator] = g.var(dim=0).sum().item()
        out[f"{estimator} mean norm"] = g.mean(dim=0).norm().item()
    out["ratio"] = out["score-function"] / out["reparam"]
    return out
