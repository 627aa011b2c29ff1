"""Autoencoders: plain (`ae`), denoising (`dae`), sparse (`sparse-ae`) and contractive
(`contractive-ae`).

An autoencoder learns an encoder f: x ↦ c ∈ R^d and a decoder g: c ↦ x̂ by minimising the
reconstruction error of x̂ = g(f(x)): the squared error Σ_i (x̂_i − x_i)² for a linear output, or
the binary cross-entropy −Σ_i [x_i log x̂_i + (1 − x_i) log(1 − x̂_i)] for a sigmoid output
(computed from the logits), summed over the D dimensions and averaged over the batch. The
variants add a corruption of the input or a penalty on the code:

    dae             reconstruct x from a corrupted x̃ ~ q(x̃|x)                  (Vincent et al. 2008, 2010)
    sparse-ae       + λ Σ_j |c_j|, or + λ Σ_j KL(ρ ‖ ρ̂_j)                         (Ng 2011, CS294A notes)
    contractive-ae  + λ ‖∂f/∂x‖²_F                                                (Rifai et al. 2011, ICML)

An autoencoder is **not a generative model by itself**: it maps data to codes and back, but
says nothing about which codes are likely, and a decoder fed a code from outside the region the
training codes occupy produces garbage. To sample, genzoo fits a density to the codes of training
data and decodes its draws (`genzoo.models.codes.CodeDistribution`; "ex-post density
estimation", Ghosh et al. 2020). By default (`code_distribution=auto`) that density is the one of
a full-covariance Gaussian, Gaussian mixtures of 2–40 components and kernel densities with the
highest likelihood of held-out codes: on mnist a 20-component mixture, whose samples score FD
108 against a single Gaussian's 457 on the same codes (LeNet features, floor 50; BENCHMARKS.md,
"Autoencoders"). The VAE instead trains the encoder so that the codes follow a prior it can sample.

The code distribution is fitted to the codes of a fixed subset of the training set
(`fit_examples` examples, chosen with seed 0): in `prepare` (a Gaussian on the untrained codes, so
that sampling works at step 0), in `refresh`, which the trainer calls before every checkpoint
(refitting the kind last chosen) and at the end of training — a stop by `train.time_limit` or
Ctrl-C included — where the choice is made again, with the EMA weights in place where EMA is
used. The fit never feeds back into training, so resumed runs stay exact. Call
`Autoencoder.fit_codes` to refit on other data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel, TourEntry
from genzoo.models.codes import CODES_HELP, KINDS, CodeDistribution, fit_subset
from genzoo.models.registry import register_model
from genzoo.nn.blocks import ACTIVATIONS, MLP, UPSAMPLE, ConvDecoder, ConvEncoder, init_output_bias

ARCHS = ("linear", "mlp", "conv", "sigmoid")
AUTO_CODE_DIM = (
    16  # code_dim=none: min(16, D); 16 samples better than 32 from a density on the codes (BENCHMARKS.md)
)
KL_EPS = 1e-6  # ρ̂ is clamped to [ε, 1 − ε] inside the KL sparsity penalty
MNIST = {"binarize": "none"}  # the tour trains every variant on grey (not binarised) digits
# `ae` with arch=linear trains full-batch (the batch is clamped to the training set: 4096 is all of
# digits' 1,438 examples) with Adam at lr 1e-2. For gradient descent the decoder's component along the
# (d+1)-th principal axis shrinks roughly like exp(−η(λ_d − λ_{d+1})t), so a small η is slow; on
# minibatches Adam's step η·m/√v stays of size η however small the mean gradient gets, so a constant η
# leaves a jitter that a larger batch does not remove. Largest principal angle to PCA on digits after
# the default 1,000 steps (code_dim 2, 5, 10; seeds 0–4): ≤ 65° at lr 1e-3, batch 128 (the family's
# defaults); ≤ 2.3° at lr 1e-2, batch 128; ≤ 0.001° here. Per step it costs 2–3× batch 128 on digits
# (about 1 s more per 1,000 steps on 2 cores), ~20× on mnist (its 4,000 training digits are one batch
# too; 0.02° at code_dim 5 after 1,000 steps).
LINEAR_TRAIN = {"lr": 1e-2, "batch_size": 4096}


# --- configs: one per registered name, so that --set accepts only the options that apply --------
@dataclass
class AEConfig:
    """Options of `ae` (and of every variant)."""

    arch: str = option(
        "mlp",
        choices=ARCHS,
        help="linear: one linear map each way on centred data (spans the PCA subspace); "
        "mlp; conv (images, fields); "
        "sigmoid: one sigmoid layer h = σ(Wx + b) as the code (the classic shallow autoencoder)",
    )
    code_dim: int | None = option(None, low=1, help=f"size d of the code; none = min({AUTO_CODE_DIM}, D)")
    hidden: tuple[int, ...] = option(
        (256,), low=1, help="mlp: hidden widths of the encoder; the decoder mirrors them"
    )
    channels: tuple[int, ...] = option(
        (32, 64), low=1, help="conv: channels, one stride-2 stage each (28 → 14 → 7)"
    )
    activation: str = option(
        "relu", choices=tuple(ACTIVATIONS), help="mlp, conv: activation of the hidden layers"
    )
    upsample: str = option("transposed", choices=UPSAMPLE, help="conv: decoder upsampling")
    output: str = option(
        "auto",
        choices=("auto", "linear", "sigmoid"),
        help="auto = sigmoid + binary cross-entropy for images in [0, 1], linear + squared error otherwise",
    )
    scale: bool = option(
        False,
        help="linear: divide the centred data by √M (M training examples), so that X̃ᵀX̃ is the covariance",
    )
    code_distribution: str = option("auto", choices=KINDS, help=CODES_HELP)
    gmm_components: int = option(40, low=1, help="gmm: its components; auto: the largest mixture it tries")
    fit_examples: int = option(
        4000,
        low=2,
        help="training examples (a fixed seed-0 subset) whose codes the code distribution is fitted to",
    )


@dataclass
class DAEConfig(AEConfig):
    """Options of `dae`."""

    noise: str = option(
        "gaussian",
        choices=("gaussian", "dropout"),
        help="corruption: additive Gaussian noise, or erasures (zeros)",
    )
    sigma: float = option(0.3, low=0.0, help="gaussian: standard deviation of the noise")
    drop_rate: float = option(
        0.3, low=0.0, high=1.0, help="dropout: probability of erasing each input dimension, in [0, 1)"
    )

    def __post_init__(self) -> None:
        if self.drop_rate >= 1.0:
            raise GenzooError(f"model.drop_rate: expected a probability in [0, 1), got {self.drop_rate!r}")


@dataclass
class SparseAEConfig(AEConfig):
    """Options of `sparse-ae`."""

    penalty: str = option(
        "kl", choices=("l1", "kl"), help="l1: λ Σ|c_j|; kl: λ Σ KL(ρ ‖ ρ̂_j) on a sigmoid code"
    )
    weight: float = option(1.0, low=0.0, help="λ, the weight of the sparsity penalty")
    rho: float = option(
        0.05, low=0.0, high=1.0, help="kl: target mean activation ρ of each code unit, in (0, 1)"
    )

    def __post_init__(self) -> None:
        if not 0.0 < self.rho < 1.0:
            raise GenzooError(f"model.rho: expected a target activation in (0, 1), got {self.rho!r}")


@dataclass
class ContractiveAEConfig(AEConfig):
    """Options of `contractive-ae`."""

    arch: str = option(
        "sigmoid",
        choices=ARCHS,
        help="sigmoid (default): h = σ(Wx + b), penalty in closed form; "
        "mlp: in closed form with one hidden layer; linear, deeper mlp, conv: by autograd",
    )
    weight: float = option(0.1, low=0.0, help="λ, the weight of the contraction penalty ‖∂f/∂x‖²_F")


# --- penalties and corruption, as plain functions ---------------------------------------------------
def l1_sparsity(code: Tensor) -> Tensor:
    """Σ_j |c_j| per example, averaged over the batch."""
    return code.abs().sum(1).mean()


def kl_sparsity(code: Tensor, rho: float) -> Tensor:
    """Σ_j KL(ρ ‖ ρ̂_j) = Σ_j [ρ log(ρ/ρ̂_j) + (1 − ρ) log((1 − ρ)/(1 − ρ̂_j))], with ρ̂_j the batch mean
    of code unit j (activations in (0, 1)); zero exactly when every ρ̂_j = ρ."""
    rho_hat = code.mean(0).clamp(KL_EPS, 1.0 - KL_EPS)  # (d,)
    return (rho * torch.log(rho / rho_hat) + (1.0 - rho) * torch.log((1.0 - rho) / (1.0 - rho_hat))).sum()


def sigmoid_jacobian_norm2(h: Tensor, weight: Tensor) -> Tensor:
    """‖∂h/∂x‖²_F per example (B,) for h = σ(Wx + b) in closed form (Rifai et al. 2011):
    ∂h_j/∂x_i = h_j(1 − h_j) W_ji, so ‖J‖²_F = Σ_j (h_j(1 − h_j))² Σ_i W_ji². h (B, d), W (d, D)."""
    return ((h * (1.0 - h)).pow(2) * weight.pow(2).sum(1)).sum(1)


def mlp_jacobian_norm2(x: Tensor, first: nn.Linear, act: nn.Module, last: nn.Linear) -> Tensor:
    """‖∂f/∂x‖²_F per example (B,) for one hidden layer, f(x) = W₂ φ(W₁x + b₁) + b₂, in closed form:
    J = W₂ diag(s) W₁ with s = φ'(W₁x + b₁), so ‖J‖²_F = Σ_kl s_k s_l (W₂ᵀW₂)_kl (W₁W₁ᵀ)_kl = sᵀGs,
    G = (W₂ᵀW₂) ⊙ (W₁W₁ᵀ) (H × H) once per batch: B·H² products per batch where the Jacobian by
    reverse mode costs d·B·H·D. φ elementwise; φ'(a) by forward mode, differentiable. x (B, D)."""
    a = first(x)  # (B, H)
    s = torch.func.jvp(act, (a,), (torch.ones_like(a),))[1]  # φ'(a), (B, H)
    w1, w2 = first.weight, last.weight  # (H, D), (d, H)
    g = (w2.T @ w2) * (w1 @ w1.T)  # (H, H)
    return ((s @ g) * s).sum(1)


def jacobian_norm2(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """‖∂f/∂x‖²_F per example (B,), exact: each example's Jacobian (d × D) by reverse mode, one
    vector-Jacobian product per code unit (`torch.func.jacrev`), vectorised over the batch with
    `vmap`. Differentiable in f's parameters; f must treat the examples of a batch independently."""

    def one(xi: Tensor) -> Tensor:
        return f(xi.unsqueeze(0)).squeeze(0)  # (d,)

    jac = torch.func.vmap(torch.func.jacrev(one))(x)  # (B, d, *x.shape[1:])
    return jac.flatten(1).pow(2).sum(1)


def _uniform(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """U(0, 1) like x, from the global RNG or from `generator` on its own device."""
    dev = generator.device if generator is not None else x.device
    return torch.rand(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)


def _normal(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """N(0, 1) like x, drawn as `_uniform`."""
    dev = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)


# --- building --------------------------------------------------------------------------------------
def output_kind(output: str, info: DataInfo, *, arch: str = "") -> str:
    """Resolve `output=auto`: sigmoid (+ BCE) for images in [0, 1], linear (+ MSE) for everything
    else — always linear for arch=linear, which has no output nonlinearity. Shared with stacked-ae."""
    if arch == "linear":
        if output == "sigmoid":
            raise GenzooError(
                "model.output: arch=linear has no output nonlinearity (it is the PCA model); "
                "use output=linear or auto"
            )
        return "linear"
    if output == "auto":
        return "sigmoid" if info.kind == "image" and tuple(info.value_range) == (0.0, 1.0) else "linear"
    if output == "sigmoid" and not (0.0 <= info.value_range[0] and info.value_range[1] <= 1.0):
        raise GenzooError(
            f"model.output: sigmoid needs data in [0, 1], {info.name} has range {info.value_range}"
        )
    return output


def _code_dim(config: AEConfig, info: DataInfo, *, overcomplete: bool) -> int:
    """code_dim, or min(16, D) when not given; an unregularised code may not exceed D."""
    if config.code_dim is None:
        return min(AUTO_CODE_DIM, info.dim)
    if config.code_dim > info.dim and not overcomplete:
        raise GenzooError(
            f"model.code_dim: a plain autoencoder's code must not be larger than its input "
            f"({info.dim} dimensions for {info.name}), got {config.code_dim}; "
            f"an overcomplete code needs a regulariser: dae, sparse-ae or contractive-ae"
        )
    return config.code_dim


def _networks(
    config: AEConfig, info: DataInfo, code_dim: int, *, sigmoid_code: bool
) -> tuple[nn.Module, nn.Module]:
    """Encoder x → code (B, d) and decoder code → output before its nonlinearity (B, D) or (B, C, H, W)."""
    dim, act = info.dim, config.activation
    if config.arch == "sigmoid":
        return nn.Sequential(nn.Linear(dim, code_dim), nn.Sigmoid()), nn.Linear(code_dim, dim)
    if config.arch == "linear":
        encoder, decoder = nn.Linear(dim, code_dim, bias=False), nn.Linear(code_dim, dim, bias=False)
    elif config.arch == "mlp":
        encoder = MLP(dim, config.hidden, code_dim, act=act)
        decoder = MLP(code_dim, tuple(reversed(config.hidden)), dim, act=act)
    else:
        if len(info.shape) != 3:
            raise GenzooError(
                f"model.arch: conv needs images or fields of shape (C, H, W), "
                f"{info.name} has shape {info.shape}"
            )
        if not config.channels:
            raise GenzooError("model.channels: conv needs at least one stage")
        # the classic MNIST layout: 28×28×1 → 14×14×32 → 7×7×64 → d → 7×7×64 → 14×14×64 → 28×28×32 → 28×28×1
        encoder = ConvEncoder(info.shape, config.channels, code_dim, act=act)
        decoder = ConvDecoder(
            info.shape, config.channels, code_dim, act=act, upsample=config.upsample, final_conv=True
        )
    if sigmoid_code:
        encoder = nn.Sequential(encoder, nn.Sigmoid())
    return encoder, decoder


# --- the models ------------------------------------------------------------------------------------
@register_model("ae")
class Autoencoder(GenerativeModel):
    """Autoencoder x → c = f(x) → x̂ = g(c), trained on the reconstruction error; samples by
    decoding codes drawn from a distribution fitted to the training codes.

    With `arch=linear` (f(x) = V(x − μ)/s, g(c) = sWc + μ, no biases, μ the training mean, s = 1 or
    √M) and squared error, this is PCA's model. Baldi & Hornik (1989, Neural Networks 2:53) proved
    that, when the covariance's d-th and (d+1)-th eigenvalues differ, every local minimum of the
    error is global (the other critical points are saddles) and at the optimum WV is the
    orthogonal projection onto the d leading principal components: the decoder's columns **span
    the principal subspace**, but they are not the principal axes themselves (any invertible mix
    W A, A⁻¹V is as good), nor orthonormal. Its training defaults (`LINEAR_TRAIN`: full batch, Adam
    at 1e-2) reach that subspace within the trainer's default 1,000 steps. The variants subclass this
    one and change only its `corrupt` or `penalty` hook."""

    Config = AEConfig
    latent = True
    encodes = True
    likelihood = None
    overcomplete: ClassVar[bool] = False  # may have code_dim > D (regularised variants)
    default_train = {"lr": 1e-3, "batch_size": 128}
    linear_train: ClassVar[dict[str, Any] | None] = (
        LINEAR_TRAIN  # arch=linear's defaults (None: default_train)
    )
    tour = (TourEntry("mnist", quick_steps=8000, steps=24000, data_options=MNIST),)
    summary = "autoencoder (linear = PCA subspace, MLP or conv; samples from a density fitted to its codes)"

    def __init__(self, config: AEConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.code_dim = _code_dim(config, info, overcomplete=self.overcomplete)
        self.output = output_kind(config.output, info, arch=config.arch)  # "sigmoid" | "linear"
        self.encoder, self.decoder = _networks(config, info, self.code_dim, sigmoid_code=self.sigmoid_code)
        if config.arch == "linear":
            self.register_buffer("center", torch.zeros(info.dim))  # (D,) training mean μ, set in prepare
            self.register_buffer("scale", torch.ones(()))  # s = √M with scale=true, else 1
            if self.linear_train is not None:  # the budget that reaches PCA's subspace (see LINEAR_TRAIN)
                self.default_train = self.linear_train
        self.code_distribution = CodeDistribution(
            self.code_dim, config.code_distribution, config.gmm_components, config.fit_examples
        )

    @property
    def sigmoid_code(self) -> bool:
        """Whether a sigmoid squashes the code into (0, 1) (arch=sigmoid always has one)."""
        return False

    # --- the networks ---------------------------------------------------------------------
    def _net_input(self, x: Tensor) -> Tensor:
        """x (B, *shape) as the encoder takes it: (B, C, H, W) for conv, else (B, D), centred and scaled
        for linear."""
        if self.config.arch == "conv":
            return x.reshape(len(x), *self.info.shape)
        x = x.reshape(len(x), -1)
        if self.config.arch == "linear":
            x = (x - self.center) / self.scale
        return x

    def _code(self, x: Tensor) -> Tensor:
        """f(x): (B, d)."""
        return self.encoder(self._net_input(x))

    def _output(self, code: Tensor) -> Tensor:
        """The decoder's output in data units before its nonlinearity (logits for a sigmoid output):
        (B, D)."""
        out = self.decoder(code).reshape(len(code), -1)
        if self.config.arch == "linear":
            out = out * self.scale + self.center
        return out

    def _output_layer(self) -> nn.Module:
        if self.config.arch == "conv":
            return self.decoder.body[-1]
        return self.decoder[-1] if isinstance(self.decoder, nn.Sequential) else self.decoder

    # --- the variants' hooks ---------------------------------------------------------------
    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """The encoder's training input: x itself (a denoising autoencoder corrupts it)."""
        return x

    def penalty(self, x: Tensor, code: Tensor) -> Tensor | None:
        """The unweighted regulariser on the code c = f(x) (None: no regulariser)."""
        return None

    # --- training -------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Centre (and scale) the data for arch=linear, else start the output bias at the data mean
        (as logits for a sigmoid output; per channel for conv); fit the code distribution to the
        untrained codes (a Gaussian; see `refresh`)."""
        x = data.tensors().flatten(1)  # (N, D), as evaluation sees the data
        mean = data.x.flatten(1).mean(0)  # (D,): also the mean of dynamically binarised batches
        with torch.no_grad():
            if self.config.arch == "linear":
                self.center.copy_(mean)
                self.scale.fill_(math.sqrt(len(x)) if self.config.scale else 1.0)
            else:
                if self.config.arch == "conv":
                    mean = data.x.mean((0, 2, 3))  # (C,): per channel
                init_output_bias(self._output_layer(), mean, logit=self.output == "sigmoid")
        self.refresh(data, final=False)

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """recon + λ·penalty, recon = the output's loss (BCE from logits, or squared error) of
        g(f(corrupt(x))) against the clean x, summed over dimensions, averaged over the batch.
        Logged beside it: "mse" (always) and "bce" (sigmoid output) per example, and the
        unweighted "penalty"."""
        x = batch["x"]  # (B, *shape)
        x_in = self.corrupt(x)
        code = self._code(x_in)  # (B, d)
        out = self._output(code)  # (B, D)
        target = x.flatten(1)  # (B, D)
        if self.output == "sigmoid":
            recon = F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(1).mean()
            terms = {
                "bce": recon.detach(),
                "mse": (torch.sigmoid(out.detach()) - target).pow(2).sum(1).mean(),
            }
        else:
            recon = (out - target).pow(2).sum(1).mean()
            terms = {"mse": recon.detach()}
        loss = recon
        penalty = self.penalty(x_in, code)
        if penalty is not None:
            loss = loss + self.config.weight * penalty
            terms["penalty"] = penalty.detach()
        return {"loss": loss, "recon": recon.detach(), **terms}

    def refresh(self, data: Dataset, *, final: bool = True) -> None:
        """Refit the code distribution to the codes of a fixed subset of `data` (`fit_examples`
        examples chosen with seed 0, not the global RNG): choosing its kind again where `final`,
        else refitting the kind last chosen (a Gaussian before the first choice)."""
        self.fit_codes(fit_subset(data.tensors(), self.config.fit_examples), select=final)

    @torch.no_grad()
    def fit_codes(self, data: Dataset | Tensor, *, select: bool = True) -> None:
        """Fit the code distribution to the codes of `data` (a Dataset, or examples (N, *shape));
        `select=False` keeps the kind (and K or h) chosen last (see CodeDistribution.fit)."""
        x = data.tensors() if isinstance(data, Dataset) else data
        if len(x) < 2:
            raise GenzooError(
                f"{self.name}: fitting the code distribution needs at least 2 examples, got {len(x)}"
            )
        weight = next(self.encoder.parameters())
        with torch.autocast(self.device.type, enabled=False):
            codes = torch.cat([self._code(c.to(weight)) for c in torch.split(x, 1000)])
        self.code_distribution.fit(codes, select=select)

    # --- the user's API --------------------------------------------------------------------
    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n codes (n, d) from the distribution fitted to the training codes."""
        return self.code_distribution.sample(n, generator=generator)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        """Codes drawn from the fitted code distribution (from `generator`), decoded: (n, *shape)."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model {self.name!r} is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        return self.decode(self.sample_latent(n, generator=generator))

    def encode(self, x: Tensor) -> Tensor:
        """The code f(x): (B, d)."""
        return self._code(x.to(self.device))

    def decode(self, z: Tensor) -> Tensor:
        """g(z) in the data's space (the sigmoid applied for a sigmoid output): (B, *shape)."""
        weight = next(self.decoder.parameters())
        out = self._output(z.to(weight))
        out = torch.sigmoid(out) if self.output == "sigmoid" else out
        return out.reshape(len(z), *self.info.shape)

    def latent_shape(self) -> tuple[int, ...]:
        return (self.code_dim,)

    @property
    def decoder_basis(self) -> Callable[[], Tensor]:
        """arch=linear only: a function returning the decoder's columns W (D, d), whose span the
        report compares with PCA's. Other archs have no such attribute (hasattr is False)."""
        if self.config.arch != "linear":
            raise AttributeError(f"{self.name} with arch={self.config.arch} has no linear decoder basis")
        return lambda: self.decoder.weight  # (D, d)


@register_model("dae")
class DenoisingAutoencoder(Autoencoder):
    """Denoising autoencoder (Vincent et al. 2008, ICML; 2010, JMLR 11:3371): minimises the
    reconstruction error of the clean x from a corrupted x̃ ~ q(x̃|x), so that g∘f learns to map
    points off the data manifold back onto it (for small Gaussian noise, g(f(x̃)) − x̃ estimates
    σ² ∇ log p(x̃); Alain & Bengio 2014). May be overcomplete (code_dim > D)."""

    Config = DAEConfig
    denoising = True
    overcomplete = True
    tour = (TourEntry("mnist", quick_steps=8000, steps=24000, data_options=MNIST),)
    linear_train = None  # the noise or penalty moves its optimum off PCA's: the shared defaults
    summary = "denoising autoencoder (Gaussian noise or dropout erasures on the input)"

    def corrupt(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """x̃ = x + σε, ε ~ N(0, I) (noise=gaussian), or x̃ = m ⊙ x, m_i ~ Bernoulli(1 − p)
        (noise=dropout): each dimension erased to 0 with probability p, the others left as they
        are — the masking noise of Vincent et al., not dropout regularisation's 1/(1 − p) rescaling.
        Drawn from the global RNG (saved in checkpoints) or from `generator`."""
        if self.config.noise == "gaussian":
            return x + self.config.sigma * _normal(x, generator)
        return x * (_uniform(x, generator) >= self.config.drop_rate).to(x.dtype)

    @torch.no_grad()
    def denoise(self, x: Tensor) -> Tensor:
        """g(f(x)) for noisy examples x (B, *shape): the clean examples the model reconstructs."""
        return self.reconstruct(x)


@register_model("sparse-ae")
class SparseAutoencoder(Autoencoder):
    """Sparse autoencoder: reconstruction + λ × a sparsity penalty on the code — L1, λ Σ_j |c_j|
    (on the code as it is), or KL, λ Σ_j KL(ρ ‖ ρ̂_j) with ρ̂_j the batch-mean activation of unit j
    (Ng 2011). The KL version needs activations in (0, 1), so with penalty=kl the code is passed
    through a sigmoid (arch=sigmoid already has one). May be overcomplete (code_dim > D)."""

    Config = SparseAEConfig
    overcomplete = True
    tour = (TourEntry("mnist", quick_steps=10000, steps=30000, data_options=MNIST),)
    linear_train = None  # the noise or penalty moves its optimum off PCA's: the shared defaults
    summary = "sparse autoencoder (L1 on the code, or KL to a target mean activation ρ)"

    @property
    def sigmoid_code(self) -> bool:
        return self.config.penalty == "kl"

    def penalty(self, x: Tensor, code: Tensor) -> Tensor:
        if self.config.penalty == "l1":
            return l1_sparsity(code)
        return kl_sparsity(code, self.config.rho)


@register_model("contractive-ae")
class ContractiveAutoencoder(Autoencoder):
    """Contractive autoencoder (Rifai, Vincent, Muller, Glorot & Bengio 2011, ICML): reconstruction
    + λ ‖J_f(x)‖²_F, the squared Frobenius norm of the encoder's Jacobian, averaged over the batch,
    which makes the code insensitive to directions off the data manifold. Exact in every case: in
    closed form for the default arch=sigmoid (h = σ(Wx + b): Σ_j (h_j(1 − h_j))² Σ_i W_ji²) and for
    an mlp with one hidden layer (`mlp_jacobian_norm2`), by autograd (each example's full
    Jacobian, d vector-Jacobian products) for the other archs — not a stochastic estimate. May be
    overcomplete (code_dim > D)."""

    Config = ContractiveAEConfig
    overcomplete = True
    # the tour's entry is an mlp (one hidden layer of 256, penalty in closed form): FD 89.0 / 107.3 on seeds
    # 0 / 1 at 24,000 steps, where the classic sigmoid layer's own reconstructions already score 380
    # (BENCHMARKS.md)
    tour = (TourEntry("mnist", quick_steps=4000, steps=24000, data_options=MNIST, params={"arch": "mlp"}),)
    linear_train = None  # the noise or penalty moves its optimum off PCA's: the shared defaults
    summary = "contractive autoencoder (penalty on the encoder's Jacobian, closed form or autograd)"

    def penalty(self, x: Tensor, code: Tensor) -> Tensor:
        return self.contraction(x, code=code).mean()

    @property
    def closed_form(self) -> bool:
        """Whether the penalty has a closed form: arch=sigmoid, or mlp with one hidden layer."""
        return self.config.arch == "sigmoid" or (self.config.arch == "mlp" and len(self.config.hidden) == 1)

    def contraction(self, x: Tensor, *, code: Tensor | None = None, method: str = "auto") -> Tensor:
        """‖∂f/∂x‖²_F per example (B,): method "closed-form" (arch=sigmoid, or mlp with one hidden
        layer), "autograd", or "auto" (the closed form where it applies). `code` = f(x), when
        already computed."""
        if method == "auto":
            method = "closed-form" if self.closed_form else "autograd"
        if method == "autograd":
            return jacobian_norm2(self._code, x)
        if method != "closed-form" or not self.closed_form:
            raise GenzooError(
                f"contraction: method must be auto, autograd or closed-form "
                f"(arch=sigmoid, or mlp with one hidden layer), got {method!r}"
            )
        if self.config.arch == "mlp":
            first, act, last = self.encoder
            return mlp_jacobian_norm2(self._net_input(x), first, act, last)
        h = self._code(x) if code is None else code  # (B, d)
        return sigmoid_jacobian_norm2(h, self.encoder[0].weight)
