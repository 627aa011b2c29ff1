"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel 2016, arXiv:1606.03657): a GAN
whose generator input carries latent codes c that the network is pushed to make meaningful, by
maximising a variational lower bound on the mutual information I(c; G(z, c)).

The generator's input is the vector [z, c_cat, c_cont] of `latent_dim + categories + continuous`
numbers: noise z ~ N(0, I), a categorical code c_cat ~ Cat(K, 1/K) as a one-hot vector
(K = `categories`, 0 for none) and continuous codes c_cont,j ~ Uniform[−1, 1] (`continuous` of
them; uniform as in the paper, not normal). A head Q on the critic's body predicts the codes
from an example: logits of c_cat and, for each c_cont,j, the mean μ_j (and log σ_j) of a
Gaussian. With H(c) constant,

    L_I(G, Q) = E_{c, z}[log Q(c | G(z, c))] + H(c)  ≤  I(c; G(z, c))          (the paper's Lemma 5.1)

and the game is min_{G,Q} max_D V(D, G) − λ L_I(G, Q). genzoo minimises the information loss

    info = λ_cat · CE(c_cat, Q_cat(x)) + λ_cont · Σ_j ℓ_j,   x = G(z, c)
    ℓ_j = log σ_j + (c_j − μ_j)² / 2σ_j² + ½ log 2π      (cont_loss=gaussian: the factored Gaussian
                                                          of the paper, log σ_j floored at −5)
    ℓ_j = (c_j − μ_j)²                                   (cont_loss=mse: σ fixed, the constant dropped)

averaged over the batch (−info is L_I up to the constants H(c) and the weights).

Each step has two phases, each touching only its own networks (GAN losses from
`genzoo.models.gan`: minimax, non-saturating or wgan-gp):

    critic     critic_loss(D(x), D(G(z, c))) [+ λ_gp · GP] + info(Q(G(z, c)), c)
               with G(z, c) detached: updates the critic's body, its score head D and the head Q
               (Q is trained with the critic's optimiser, as it shares the critic's layers)
    generator  generator_loss(D(G(z, c))) + info(Q(G(z, c)), c)
               every `critic_steps`-th step, on fresh inputs: updates G only (the critic's
               body and both heads are frozen), so the information term is minimised by Q in
               the first phase and by G in the second.

Networks: `arch=mlp` (the critic body an MLP with leaky ReLU) or `arch=conv` (the conv decoder as
generator; the conv encoder with a fully connected feature layer of width `features` as critic
body); Q = an MLP head (`q_hidden`) on the body's features, D = a linear head. The output map is
as in the GAN (a scaled sigmoid for bounded data). `decode(v)` takes the whole input vector
[z, one-hot c_cat, c_cont]; `sample(n, code=k, continuous=[v₁, …])` fixes codes (the rest drawn
from their distributions) and `infer_codes(x)` returns Q's predicted category and continuous codes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel, StepContext, TourEntry
from genzoo.models.gan.gan import start_at_data_mean
from genzoo.models.gan.losses import critic_loss, generator_loss, gradient_penalty
from genzoo.models.registry import register_model
from genzoo.nn.blocks import ACTIVATIONS, MLP, UPSAMPLE, ConvDecoder, ConvEncoder, frozen
from genzoo.nn.noise import draw_noise

LOSSES = ("minimax", "non-saturating", "wgan-gp")
CONT_LOSSES = ("gaussian", "mse")
MIN_LOG_SIGMA = -5.0  # floor of Q's log σ_j: the Gaussian NLL cannot run off to −∞
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class InfoGANConfig:
    loss: str = option(
        "non-saturating", choices=LOSSES, help="critic and generator losses (genzoo.models.gan)"
    )
    critic_steps: int = option(1, low=1, help="k: critic updates per generator update")
    latent_dim: int | None = option(
        None, low=0, help="size of the noise z; default 2 for points, 62 otherwise (the paper's MNIST)"
    )
    categories: int = option(
        10, low=0, help="K of the categorical code c_cat (one-hot); 0 = no categorical code"
    )
    continuous: int = option(2, low=0, help="number of continuous codes, each ~ Uniform[-1, 1]")
    lambda_cat: float = option(1.0, low=0.0, help="weight of the categorical code's cross-entropy")
    lambda_cont: float = option(
        0.1, low=0.0, help="weight of the continuous codes' loss (smaller than λ_cat, as the paper advises)"
    )
    cont_loss: str = option(
        "gaussian",
        choices=CONT_LOSSES,
        help="gaussian: NLL with Q's learned μ, σ; mse: squared error of Q's μ",
    )
    arch: str = option(
        "mlp",
        choices=("mlp", "conv"),
        help="MLPs on flattened inputs, or a DCGAN-style conv pair (images, fields)",
    )
    hidden: tuple[int, ...] = option(
        (128, 128), low=1, help="mlp: hidden widths of the generator; the critic body mirrors them"
    )
    channels: tuple[int, ...] = option(
        (64, 128), low=1, help="conv: channels, one stride-2 stage each (critic; the generator mirrors them)"
    )
    features: int = option(128, low=1, help="conv: width of the critic body's fully connected feature layer")
    q_hidden: tuple[int, ...] = option(
        (128,), low=1, help="hidden widths of the head Q on the critic's features (leaky ReLU)"
    )
    activation: str = option(
        "relu", choices=tuple(ACTIVATIONS), help="generator activation (the critic and Q use leaky ReLU 0.2)"
    )
    upsample: str = option("transposed", choices=UPSAMPLE, help="conv generator upsampling")
    gp_weight: float = option(10.0, low=0.0, help="wgan-gp: weight of the gradient penalty")

    def __post_init__(self) -> None:
        if self.categories == 1:
            raise GenzooError(
                "model.categories: a categorical code needs at least 2 categories (0 disables it), got 1"
            )
        if self.categories == 0 and self.continuous == 0:
            raise GenzooError(
                "model.categories, model.continuous: InfoGAN needs at least one code (without codes use the "
                "model 'gan')"
            )


def info_terms(
    q_out: Tensor, category: Tensor | None, continuous: Tensor | None, config: InfoGANConfig
) -> dict[str, Tensor]:
    """The information loss of Q's outputs (B, Q) for the codes that made the examples: category
    (B,) indices or None, continuous (B, C) or None. Returns "info" = λ_cat·cat + λ_cont·cont and
    its unweighted parts "cat" (cross-entropy) and "cont" (Σ_j ℓ_j), all batch means."""
    k, c = config.categories, config.continuous
    out: dict[str, Tensor] = {}
    info = q_out.new_zeros(())
    if k:
        out["cat"] = F.cross_entropy(q_out[:, :k], category)
        info = info + config.lambda_cat * out["cat"]
    if c:
        mu = q_out[:, k : k + c]
        if config.cont_loss == "gaussian":
            log_sigma = q_out[:, k + c : k + 2 * c].clamp(min=MIN_LOG_SIGMA)
            nll = log_sigma + (continuous - mu).pow(2) / (2 * torch.exp(2 * log_sigma)) + HALF_LOG_2PI
        else:
            nll = (continuous - mu).pow(2)
        out["cont"] = nll.sum(1).mean()
        info = info + config.lambda_cont * out["cont"]
    out["info"] = info
    return out


def _latent_dim(config: InfoGANConfig, info: DataInfo) -> int:
    if config.latent_dim is not None:
        return config.latent_dim
    return 2 if info.kind == "points" else 62


def _networks(
    config: InfoGANConfig, info: DataInfo, in_dim: int, q_out: int
) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    """Generator [z, c] → (B, D) or (B, C, H, W) before the output map; critic body x → features;
    score head features → (B, 1); Q head features → (B, q_out)."""
    if config.arch == "mlp":
        widths = tuple(reversed(config.hidden))
        if not widths:
            raise GenzooError("model.hidden: infogan's critic body needs at least one hidden layer")
        generator = MLP(in_dim, config.hidden, info.dim, act=config.activation)
        body = nn.Sequential(MLP(info.dim, widths[:-1], widths[-1], act="leaky_relu"), nn.LeakyReLU(0.2))
        feat = widths[-1]
    else:
        if len(info.shape) != 3:
            raise GenzooError(
                f"model.arch: conv needs images or fields of shape (C, H, W), {info.name} has shape "
                f"{info.shape}"
            )
        if not config.channels:
            raise GenzooError("model.channels: conv needs at least one stage")
        generator = ConvDecoder(
            info.shape, config.channels, in_dim, act=config.activation, upsample=config.upsample
        )
        body = nn.Sequential(
            ConvEncoder(info.shape, config.channels, config.features, act="leaky_relu"), nn.LeakyReLU(0.2)
        )
        feat = config.features
    return generator, body, nn.Linear(feat, 1), MLP(feat, config.q_hidden, q_out, act="leaky_relu")


@dataclass
class InfoGANSampleOptions:
    """What `InfoGAN.sample` takes beyond n and generator=: the codes of every sample."""

    code: int | None = option(
        None, low=0, help="the categorical code of every sample", missing="latent codes to choose"
    )
    continuous: tuple[float, ...] | None = option(
        None,
        missing="latent codes to choose",
        help="the continuous codes of every sample, e.g. --continuous=0.5,-1",
    )


@register_model("infogan")
class InfoGAN(GenerativeModel):
    """InfoGAN: a GAN whose categorical and continuous input codes are made recoverable from its
    samples by a head Q on the critic (a lower bound on the mutual information)."""

    accumulates = False  # several updates in a step (train.accumulate refused)

    Config = InfoGANConfig
    SampleOptions = InfoGANSampleOptions
    latent = True  # decode(v) = G(v), v = [z, one-hot c_cat, c_cont]; there is no encoder
    phases = ("critic", "generator")
    default_train = {"lr": 2e-4, "betas": (0.5, 0.9), "batch_size": 128}
    terms = {
        "loss": "the critic's loss",
        "d_loss": "the critic's loss",
        "gp": "the gradient penalty",
        "info": "the information loss",
        "g_loss": "the generator's loss",
        "g_info": "the generator's information loss",
        "g_total": "the generator's loss",
    }
    # mnist gave nothing in a quick budget (one CPU thread): 1,500 MLP steps (18 s), or 1,500 at lr
    # 1e-3 with 256-wide layers (35 s), or 600 conv steps (50 s) all left Q at chance (CE = log 10,
    # accuracy 0.09-0.13). On ring8 with K = 8 and lr 1e-3, 3,000 steps (18 s) give one mode per
    # category: Q accuracy 1.0, I(code; mode) = log 8 nats, every sample within 0.2 of its mode
    tour = (TourEntry("ring8", quick_steps=3000, steps=10000, params={"categories": 8}, train={"lr": 1e-3}),)
    summary = (
        "InfoGAN (a GAN with categorical and uniform continuous codes recovered by a head Q on the critic)"
    )

    def __init__(self, config: InfoGANConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.latent_dim = _latent_dim(config, info)
        self.input_dim = self.latent_dim + config.categories + config.continuous
        q_out = config.categories + config.continuous * (2 if config.cont_loss == "gaussian" else 1)
        self.generator, self.body, self.d_head, self.q_head = _networks(config, info, self.input_dim, q_out)
        low, high = info.value_range
        self.bounded = math.isfinite(low) and math.isfinite(high) and high > low

    # --- the networks -----------------------------------------------------------------------
    def _shaped(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), *self.info.shape) if self.config.arch == "conv" else x.reshape(len(x), -1)

    def critic_parameters(self) -> list[nn.Parameter]:
        """The critic's body, its score head D and the head Q: what the critic's optimiser updates."""
        return [*self.body.parameters(), *self.d_head.parameters(), *self.q_head.parameters()]

    def score(self, x: Tensor) -> Tensor:
        """The critic's output per example: a logit (minimax, non-saturating) or a score (wgan-gp): (B,)."""
        return self.d_head(self.body(self._shaped(x))).reshape(len(x))

    def critic_outputs(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The score (B,) and Q's raw outputs (B, Q) from one pass through the critic's body."""
        h = self.body(self._shaped(x))
        return self.d_head(h).reshape(len(x)), self.q_head(h)

    def decode(self, v: Tensor) -> Tensor:
        """G(v) for whole inputs v = [z, one-hot c_cat, c_cont] (B, input_dim): (B, *shape)."""
        if v.dim() != 2 or v.shape[1] != self.input_dim:
            raise GenzooError(
                f"infogan.decode: expected inputs of shape (B, {self.input_dim}) = [z, one-hot code, "
                f"continuous codes], got {tuple(v.shape)}"
            )
        out = self.generator(v.to(self.device))
        if self.bounded:
            low, high = self.info.value_range
            out = low + (high - low) * torch.sigmoid(out)
        return out.reshape(len(v), *self.info.shape)

    def latent_shape(self) -> tuple[int, ...]:
        return (self.input_dim,)

    # --- the codes --------------------------------------------------------------------------
    def _draw_codes(
        self, n: int, generator: torch.Generator | None, like: Tensor
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """z ~ N(0, I) (n, latent_dim), c_cat ~ uniform on {0..K−1} (n,) or None, c_cont ~ U[−1, 1]
        (n, C) or None, drawn in that order from `generator` (or the global RNG)."""
        z = draw_noise(torch.randn, (n, self.latent_dim), generator, like)
        cat = cont = None
        if self.config.categories:
            dev = generator.device if generator is not None else like.device
            cat = torch.randint(self.config.categories, (n,), generator=generator, device=dev).to(like.device)
        if self.config.continuous:
            cont = 2 * draw_noise(torch.rand, (n, self.config.continuous), generator, like) - 1
        return z, cat, cont

    def _assemble(self, z: Tensor, cat: Tensor | None, cont: Tensor | None) -> Tensor:
        parts = [z]
        if cat is not None:
            parts.append(F.one_hot(cat, self.config.categories).to(z.dtype))
        if cont is not None:
            parts.append(cont.to(z.dtype))
        return torch.cat(parts, 1)

    def _check_code(self, code: Any, n: int) -> Tensor:
        k = self.config.categories
        if k == 0:
            raise GenzooError("code: this infogan has no categorical code (categories=0)")
        try:
            values = torch.as_tensor(code) if not isinstance(code, bool) else None
        except (TypeError, ValueError, RuntimeError):
            values = None
        if (
            values is None
            or values.is_floating_point()
            or values.is_complex()
            or values.dtype == torch.bool
            or values.dim() > 1
        ):
            raise GenzooError(f"code must be a category index (an int) or one per sample, got {code!r}")
        if values.dim() == 1 and len(values) != n:
            raise GenzooError(f"code: expected one category per sample ({n}), got {len(values)}")
        if values.numel() and (values.min() < 0 or values.max() >= k):
            raise GenzooError(f"code must be a category in [0, {k - 1}], got {code!r}")
        return values.long().expand(n)

    def _check_continuous(self, continuous: Any, n: int) -> Tensor:
        c = self.config.continuous
        if c == 0:
            raise GenzooError("continuous: this infogan has no continuous codes (continuous=0)")
        try:
            values = torch.as_tensor(continuous, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise GenzooError(f"continuous: expected {c} numbers, got {continuous!r}") from None
        if (
            values.dim() == 0
            or values.dim() > 2
            or values.shape[-1] != c
            or (values.dim() == 2 and len(values) != n)
        ):
            got = values.shape[-1] if values.dim() == 1 else tuple(values.shape)
            raise GenzooError(
                f"continuous: expected {c} values (one per continuous code), or an ({n}, {c}) array, got "
                f"{got}"
            )
        if not torch.isfinite(values).all():
            raise GenzooError(f"continuous: values must be finite, got {continuous!r}")
        return values.expand(n, c)

    @torch.no_grad()
    def sample_inputs(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        code: int | Sequence[int] | Tensor | None = None,
        continuous: Sequence[float] | Tensor | None = None,
    ) -> Tensor:
        """n generator inputs [z, one-hot c_cat, c_cont] (n, input_dim). Every part is drawn (from
        `generator`) and then `code` (a category, or one per sample) and `continuous` (C values, or
        (n, C)) replace theirs, so the same seed gives the same z whatever codes are chosen.
        Continuous values outside [−1, 1] are allowed (extrapolation, as in the paper's Figure 2)."""
        weight = next(self.generator.parameters())
        z, cat, cont = self._draw_codes(n, generator, weight)
        if code is not None:
            cat = self._check_code(code, n).to(weight.device)
        if continuous is not None:
            cont = self._check_continuous(continuous, n).to(weight)
        return self._assemble(z, cat, cont)

    @torch.no_grad()
    def infer_codes(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Q's reading of examples x (B, *shape): the most likely category (B,) and the means of
        the continuous codes (B, C); None for a code the model does not have."""
        weight = next(self.body.parameters())
        _, q = self.critic_outputs(x.to(weight))
        k, c = self.config.categories, self.config.continuous
        return (q[:, :k].argmax(1) if k else None), (q[:, k : k + c] if c else None)

    # --- training ---------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Start G's output at the data mean (per channel for conv), as in the GAN."""
        start_at_data_mean(self.generator, self.config.arch, data, bounded=self.bounded)

    def configure_optimizers(self, make: Any) -> list[torch.optim.Optimizer]:
        """[critic body + D + Q, generator]."""
        return [make(self.critic_parameters()), make(self.generator.parameters())]

    def critic_terms(self, x: Tensor) -> dict[str, Tensor]:
        """The critic's loss on real x and fresh fakes G(z, c) (detached), plus Q's information loss on
        those fakes."""
        loss = self.config.loss
        z, cat, cont = self._draw_codes(len(x), None, x)
        with torch.no_grad():
            fake = self.decode(self._assemble(z, cat, cont))
        real_score = self.score(x)
        fake_score, q = self.critic_outputs(fake)
        d_loss = critic_loss(loss, real_score, fake_score)
        info = info_terms(q, cat, cont, self.config)
        terms = {"d_loss": d_loss, **info}
        total = d_loss + info["info"]
        if loss == "wgan-gp":
            gp = gradient_penalty(self.score, x, fake)
            terms["gp"] = gp
            total = total + self.config.gp_weight * gp
        if cat is not None:
            terms["q_acc"] = (q[:, : self.config.categories].argmax(1) == cat).float().mean()
        terms["loss"] = total
        return terms

    def generator_terms(self, n: int, like: Tensor) -> dict[str, Tensor]:
        """The generator's adversarial loss and information loss on n fresh samples ("g_total" is
        minimised)."""
        z, cat, cont = self._draw_codes(n, None, like)
        fake_score, q = self.critic_outputs(self.decode(self._assemble(z, cat, cont)))
        g_loss = generator_loss(self.config.loss, fake_score)
        info = info_terms(q, cat, cont, self.config)
        return {"g_loss": g_loss, "g_info": info["info"], "g_total": g_loss + info["info"]}

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """A critic (+ Q) update on the batch, then every `critic_steps`-th step a generator update; a
        `ctx.phase` of "critic" or "generator" takes that update alone."""
        x = batch["x"]
        out = {}
        if ctx.phase != "generator":
            terms = self.critic_terms(x)
            ctx.optimize(terms["loss"], 0)
            out = {k: v.detach() for k, v in terms.items()}
        if ctx.phase == "generator" or (ctx.phase is None and (ctx.step + 1) % self.config.critic_steps == 0):
            with frozen(self.body, self.d_head, self.q_head):  # no gradient on the critic or Q
                g_terms = self.generator_terms(len(x), x)
                ctx.optimize(g_terms["g_total"], 1)
            out.update({k: v.detach() for k, v in g_terms.items()})
        return out

    # --- the user's API ---------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        code: int | Sequence[int] | Tensor | None = None,
        continuous: Sequence[float] | Tensor | None = None,
        **condition: Any,
    ) -> Tensor:
        """G(z, c) for z ~ N(0, I) and codes from their distributions, or the given `code`
        (a category) and `continuous` values: (n, *shape). See `sample_inputs`."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model 'infogan' is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        return self.decode(self.sample_inputs(n, generator=generator, code=code, continuous=continuous))

    @torch.no_grad()
    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n whole generator inputs [z, one-hot c_cat, c_cont] from their distributions: (n, input_dim)."""
        return self.sample_inputs(n, generator=generator)
