"""Restricted Boltzmann machines and deep belief networks: energy-based models of binary data.

RBM (Smolensky 1986; Hinton 2002). Visible units v ∈ {0,1}^V, hidden units h ∈ {0,1}^H:

    E(v, h) = −bᵀv − cᵀh − vᵀWh,            p(v, h) = exp(−E(v, h)) / Z,
    F(v) = −log Σ_h exp(−E(v, h)) = −bᵀv − Σ_j softplus(c_j + (Wᵀv)_j),   p(v) = exp(−F(v)) / Z,
    p(h_j = 1 | v) = σ(c_j + (Wᵀv)_j),      p(v_i = 1 | h) = σ(b_i + (Wh)_i).

Training ascends the log-likelihood, whose gradient is a data term minus a model term,

    ∂ log p(v)/∂W = ⟨v p(h|v)ᵀ⟩_data − ⟨v p(h|v)ᵀ⟩_model,   ∂/∂b = ⟨v⟩_data − ⟨v⟩_model,
    ∂/∂c = ⟨p(h|v)⟩_data − ⟨p(h|v)⟩_model,

the model term taken at the end of k block-Gibbs steps v → h → v started at the data
(contrastive divergence CD-k, Hinton 2002, Neural Computation 14:1771) or at `chains` fantasy
particles carried over from step to step (persistent CD, Tieleman 2008, ICML). The parameters'
gradients are set to minus that estimate (plus the weight cost λW on W) and an SGD optimiser with
momentum takes the step. As in Hinton's practical guide (2010, UTML TR 2010-003): W ~ N(0, 0.01²),
visible biases at log p_i/(1 − p_i) of the training pixel means, hidden probabilities (not
states) in the statistics, binary states in the chains.

log Z by annealed importance sampling (Salakhutdinov & Murray 2008, "On the quantitative analysis
of deep belief networks", ICML): from the base-rate RBM p_A (visible biases b_A from the data, no
couplings, log Z_A = Σ_i softplus(b_A,i) + H log 2) through

    p*_β(v) = exp(((1−β) b_A + β b)ᵀ v) · ∏_j (1 + exp(β (c_j + (Wᵀv)_j))),   0 = β_0 < … < β_K = 1,

with one block-Gibbs step leaving each p_β invariant (h ~ Bern(σ(β(c + Wᵀv))), v ~ Bern(σ((1−β) b_A
+ β(b + Wh)))). Each run's log weight is Σ_k log p*_{β_k}(v_k) − log p*_{β_{k−1}}(v_k), and
Ẑ = Z_A · mean(w): unbiased for Z, so log Ẑ tends to underestimate log Z and log p(x) to be
overestimated a little.

Classifier RBM (Hinton, Osindero & Teh 2006; Larochelle & Bengio 2008, ICML): the visible layer is
[x, e_y], the K label units one softmax group (exactly one unit on), so that

    p(y | x) = softmax_y(−F(x, e_y)),      log p(x) = log Σ_y exp(−F(x, e_y)) − log Z.

DBN (Hinton, Osindero & Teh 2006, Neural Computation 18:1527): a stack of RBMs trained greedily,
each on the hidden states of the frozen one below; samples come from Gibbs sampling in the top
RBM followed by one top-down pass through the directed lower layers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import (
    GenerativeModel,
    StepContext,
    TourEntry,
    class_labels,
    expand_mask,
    require_binary,
)
from genzoo.models.registry import register_model

MAX_ENUMERATION = 20  # exact log Z enumerates at most 2^20 states of the smaller layer
_ENUM_CHUNK = 2**14  # states per chunk of the enumeration
# β(t) piecewise linear in t ∈ [0, 1] through these knots: the spacing of Salakhutdinov & Murray's
# schedule (500 steps over [0, 0.5], 4,000 over [0.5, 0.9], 10,000 over [0.9, 1]) for any number of steps
_AIS_KNOTS = ((0.0, 500 / 14500, 4500 / 14500, 1.0), (0.0, 0.5, 0.9, 1.0))


# --- randomness ----------------------------------------------------------------------------------
def _rand(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """U(0, 1) on the device of `like` (its dtype, at least float32): from the global RNG, or from
    `generator` on its own device and then moved, so that a CPU generator gives a CUDA model the
    same draws as a CPU one."""
    dtype = torch.promote_types(like.dtype, torch.float32)
    if generator is None:
        return torch.rand(shape, device=like.device, dtype=dtype)
    return torch.rand(shape, generator=generator, device=generator.device, dtype=dtype).to(like.device)


def _bernoulli(p: Tensor, generator: torch.Generator | None) -> Tensor:
    """Binary states with P(1) = p, in p's dtype."""
    return (_rand(tuple(p.shape), generator, p) < p).to(p.dtype)


def _states(start: int, stop: int, n: int) -> Tensor:
    """The binary vectors number start..stop−1 of all 2^n, in counting order: (stop − start, n) float64."""
    index = torch.arange(start, stop).unsqueeze(1)
    return ((index >> torch.arange(n - 1, -1, -1)) & 1).double()


def ais_schedule(steps: int) -> Tensor:
    """β_0 = 0 < β_1 < … < β_K = 1 for K = `steps` (K + 1,) float64: evenly spaced in the index and
    mapped piecewise linearly so that the steps fall over [0, 0.5], [0.5, 0.9] and [0.9, 1] in the
    proportions 500 : 4,000 : 10,000 of Salakhutdinov & Murray (2008)."""
    t = np.linspace(0.0, 1.0, steps + 1)
    return torch.from_numpy(np.interp(t, *_AIS_KNOTS))


# --- one RBM -------------------------------------------------------------------------------------
class RBMLayer(nn.Module):
    """An RBM's parameters and conditionals: W (V, H), visible biases b (V,), hidden biases c (H,).
    The last `labels` visible units, if any, form one softmax group (a one-hot label)."""

    def __init__(self, n_visible: int, n_hidden: int, *, init_std: float, labels: int = 0) -> None:
        super().__init__()
        self.W = nn.Parameter(init_std * torch.randn(n_visible, n_hidden))
        self.b = nn.Parameter(torch.zeros(n_visible))
        self.c = nn.Parameter(torch.zeros(n_hidden))
        self.labels = labels

    def hidden_input(self, v: Tensor) -> Tensor:
        """c + Wᵀv for v (B, V): (B, H)."""
        return self.c + v @ self.W

    def hidden_probs(self, v: Tensor) -> Tensor:
        """p(h = 1 | v) = σ(c + Wᵀv): (B, H)."""
        return torch.sigmoid(self.hidden_input(v))

    def visible_logits(self, h: Tensor) -> Tensor:
        """b + Wh for h (B, H): (B, V)."""
        return self.b + h @ self.W.T

    def visible_probs(self, logits: Tensor) -> Tensor:
        """The mean of p(v | h) from its logits (B, V): σ per unit, softmax over the label group."""
        if not self.labels:
            return torch.sigmoid(logits)
        k = self.labels
        return torch.cat([torch.sigmoid(logits[:, :-k]), torch.softmax(logits[:, -k:], 1)], 1)

    def draw_visible(self, logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Binary v (B, V) from p(v | h) given by its logits: Bernoulli units, one label unit on
        (drawn by the Gumbel-max trick)."""
        if not self.labels:
            return _bernoulli(torch.sigmoid(logits), generator)
        k = self.labels
        pixels = _bernoulli(torch.sigmoid(logits[:, :-k]), generator)
        u = _rand((len(logits), k), generator, logits).clamp_min(torch.finfo(torch.float32).tiny)
        y = (logits[:, -k:] - torch.log(-torch.log(u))).argmax(1)
        return torch.cat([pixels, F.one_hot(y, k).to(pixels)], 1)

    def gibbs_step(self, v: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One block-Gibbs step v → h ~ p(h|v) → v' ~ p(v|h): (B, V)."""
        h = _bernoulli(self.hidden_probs(v), generator)
        return self.draw_visible(self.visible_logits(h), generator)

    def free_energy(self, v: Tensor) -> Tensor:
        """F(v) = −bᵀv − Σ_j softplus(c_j + (Wᵀv)_j) for v (B, V): (B,)."""
        return -(v @ self.b) - F.softplus(self.hidden_input(v)).sum(1)


def cd_gradient(
    layer: RBMLayer,
    v_data: Tensor,
    v_neg: Tensor,
    weights: Tensor | None = None,
    *,
    hidden: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The estimate of ∂ mean log p(v_data) / ∂(W, b, c): the statistics of the data v_data (B, V)
    minus those of the negative samples v_neg (N, V), each weighted by `weights` (N,), summing to
    1 (default 1/N). CD-k and PCD pass the chains' samples; all 2^V states weighted by p(v) give the
    exact gradient. `hidden`: p(h|v_data) and p(h|v_neg) where the caller has them already.
    Returns (V, H), (V,), (H,)."""
    with torch.no_grad():
        ph_data, ph_neg = (
            hidden if hidden is not None else (layer.hidden_probs(v_data), layer.hidden_probs(v_neg))
        )
        w = (
            v_neg.new_full((len(v_neg), 1), 1.0 / len(v_neg))
            if weights is None
            else weights[:, None].to(v_neg)
        )
        d_w = v_data.T @ ph_data / len(v_data) - (w * v_neg).T @ ph_neg
        d_b = v_data.mean(0) - (w * v_neg).sum(0)
        d_c = ph_data.mean(0) - (w * ph_neg).sum(0)
    return d_w, d_b, d_c


def _cd_step(
    layer: RBMLayer, v0: Tensor, k: int, chains: Tensor | None, ctx: StepContext, weight_decay: float
) -> tuple[Tensor, Tensor, Tensor]:
    """One CD-k (chains None) or PCD-k update of `layer` on the data v0 (B, V). Returns the negative
    samples (CD-k: k Gibbs steps from the data; PCD: k steps from `chains`), the one-step
    reconstruction error Σ_i (v_i − E[v_i | h])², h ~ p(h|v0), averaged over the batch, and the
    free-energy gap mean F(v0) − mean F(v_neg).

    Each hidden pre-activation c + Wᵀv is computed once and serves the hidden draw, the free
    energy and the gradient's statistics: 2k + 3 matrix products for CD-k, 2k + 5 for PCD-k
    (reconstruction included), instead of 2k + 6 and 2k + 8 when each of them is computed anew."""
    pre0 = layer.hidden_input(v0)
    ph0 = torch.sigmoid(pre0)
    logits = layer.visible_logits(_bernoulli(ph0, None))
    recon = (v0 - layer.visible_probs(logits)).pow(2).sum(1).mean()
    if chains is None:
        v, steps = layer.draw_visible(logits), k - 1  # the first step of the chain is the reconstruction's
    else:
        v, steps = chains, k
    for _ in range(steps):
        v = layer.gibbs_step(v)
    pre_neg = layer.hidden_input(v)
    gap = _free_energy(layer, v0, pre0).mean() - _free_energy(layer, v, pre_neg).mean()
    _descend(layer, v0, v, ctx, weight_decay, hidden=(ph0, torch.sigmoid(pre_neg)))
    return v, recon, gap


def _free_energy(layer: RBMLayer, v: Tensor, pre: Tensor) -> Tensor:
    """RBMLayer.free_energy(v) from the hidden pre-activation `pre` = c + Wᵀv already computed."""
    return -(v @ layer.b) - F.softplus(pre).sum(1)


def _descend(
    layer: RBMLayer,
    v_data: Tensor,
    v_neg: Tensor,
    ctx: StepContext,
    weight_decay: float,
    hidden: tuple[Tensor, Tensor] | None = None,
) -> None:
    """Set the layer's gradients to −(the CD estimate) + λW on W, clip them like
    `StepContext.optimize` does, and step the first optimiser; every other parameter's
    gradient is None, so that the optimiser leaves it alone."""
    d_w, d_b, d_c = cd_gradient(layer, v_data, v_neg, hidden=hidden)
    opt = ctx.optimizers[0]
    opt.zero_grad(set_to_none=True)
    layer.W.grad = weight_decay * layer.W.detach() - d_w
    layer.b.grad = -d_b
    layer.c.grad = -d_c
    ctx.reduce_gradients(opt)
    if ctx.grad_clip:
        torch.nn.utils.clip_grad_norm_(list(layer.parameters()), ctx.grad_clip)
    opt.step()


def _sgd(
    model: nn.Module, make: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer], momentum: float
) -> list[torch.optim.Optimizer]:
    """SGD with momentum at the trainer's learning rate (read from the optimiser `make` builds)."""
    lr = make(model.parameters()).param_groups[0]["lr"]
    return [torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)]


def _check_binary_data(data: Dataset, name: str) -> None:
    """One-line error unless the data are binary as the model sees them (dynamic binarisation draws
    binary batches; `tensors()` then thresholds the stored grey values)."""
    require_binary(data.tensors(), f"model {name!r}")


def _pixel_logits(data: Dataset) -> Tensor:
    """log p_i/(1 − p_i) of the training pixel means p_i (clamped to [0.001, 0.999]): (D,)."""
    return torch.logit(data.x.flatten(1).mean(0).clamp(1e-3, 1 - 1e-3))


def _check_steps(steps: int) -> int:
    if int(steps) < 1:
        raise GenzooError(f"steps must be at least 1 Gibbs step, got {steps}")
    return int(steps)


# --- log Z -----------------------------------------------------------------------------------------
def exact_log_partition(layer: RBMLayer) -> Tensor:
    """log Z by enumerating the smaller layer, in float64 and differentiable in the weights:
    over the visible states [x, e_y], logsumexp(−F(v)); over the hidden states h,
    logsumexp(cᵀh + Σ_i softplus(b_i + (Wh)_i) [+ logsumexp_y(b_y + (Wh)_y)]). 0-dim tensor."""
    k = layer.labels
    n_pixels, n_hidden = layer.W.shape[0] - k, layer.W.shape[1]
    if min(n_pixels, n_hidden) > MAX_ENUMERATION:
        raise GenzooError(
            f"exact log Z enumerates the smaller layer, at most {MAX_ENUMERATION} units; this RBM has "
            f"{n_pixels} visible and {n_hidden} hidden units (use the AIS estimate)"
        )
    W, b, c = layer.W.double(), layer.b.double(), layer.c.double()
    dev = W.device
    terms = []
    if n_pixels <= n_hidden:
        for start in range(0, 2**n_pixels, _ENUM_CHUNK):
            x = _states(start, min(start + _ENUM_CHUNK, 2**n_pixels), n_pixels).to(dev)  # (S, D)
            if k:  # every x with every label: (S·K, D + K)
                x = torch.cat(
                    [x.repeat_interleave(k, 0), torch.eye(k, dtype=x.dtype, device=dev).repeat(len(x), 1)], 1
                )
            terms.append(x @ b + F.softplus(c + x @ W).sum(1))
    else:
        for start in range(0, 2**n_hidden, _ENUM_CHUNK):
            h = _states(start, min(start + _ENUM_CHUNK, 2**n_hidden), n_hidden).to(dev)  # (S, H)
            a = b + h @ W.T  # (S, V)
            t = h @ c + F.softplus(a[:, :n_pixels]).sum(1)
            terms.append(t + torch.logsumexp(a[:, n_pixels:], 1) if k else t)
    return torch.logsumexp(torch.cat(terms), 0)


@torch.no_grad()
def ais_log_partition(
    layer: RBMLayer, base_bias: Tensor, *, betas: int, runs: int, generator: torch.Generator | None = None
) -> dict[str, Any]:
    """AIS estimate of log Z from the base-rate RBM with visible biases `base_bias` (V,) (see the
    module docstring), over `betas` steps of `ais_schedule`, `runs` independent runs.

    Returns {"log_z", "log_z_low", "log_z_high", "log_z_base", "runs", "betas"}: low and high are
    log(mean(w) ∓ 3·std(w)/√runs) + log Z_A (low is −inf when the interval reaches 0), the spread
    Salakhutdinov & Murray report. The chains run in the weights' dtype, the log weights in float64."""
    if betas < 2:
        raise GenzooError(f"AIS needs at least 2 intermediate distributions, got {betas}")
    if runs < 2:
        raise GenzooError(f"AIS needs at least 2 runs to measure its spread, got {runs}")
    k = layer.labels
    n_pixels, n_hidden = layer.W.shape[0] - k, layer.W.shape[1]
    beta = ais_schedule(betas).tolist()
    base = base_bias.to(layer.W)
    bias_gap = (layer.b - base).double()  # (V,)
    v = layer.draw_visible(base.expand(runs, -1), generator)  # exact draws from p_A
    log_w = torch.zeros(runs, dtype=torch.float64, device=v.device)
    for i in range(1, betas + 1):
        a = layer.hidden_input(v)  # (R, H)
        a64 = a.double()
        log_w += (beta[i] - beta[i - 1]) * (v.double() @ bias_gap)
        log_w += (F.softplus(beta[i] * a64) - F.softplus(beta[i - 1] * a64)).sum(1)
        if i < betas:  # a transition leaving p_{β_i} invariant
            h = _bernoulli(torch.sigmoid(beta[i] * a), generator)
            v = layer.draw_visible(beta[i] * layer.visible_logits(h) + (1.0 - beta[i]) * base, generator)
    base64 = base.double()
    log_z_base = float(F.softplus(base64[:n_pixels]).sum() + n_hidden * math.log(2.0))
    if k:
        log_z_base += float(torch.logsumexp(base64[n_pixels:], 0))
    top = float(log_w.max())
    w = torch.exp(log_w - top)
    mean, spread = float(w.mean()), 3.0 * float(w.std()) / math.sqrt(runs)
    offset = log_z_base + top
    return {
        "log_z": offset + math.log(mean),
        "log_z_low": offset + math.log(mean - spread) if mean > spread else -math.inf,
        "log_z_high": offset + math.log(mean + spread),
        "log_z_base": log_z_base,
        "runs": runs,
        "betas": betas,
    }


# --- the RBM model -------------------------------------------------------------------------------
@dataclass
class GibbsOptions:
    """What sample() (and an RBM's inpaint()) take beyond n, generator= and label=."""

    steps: int | None = option(
        None, low=1, help="block-Gibbs steps (default the config's gibbs_steps)", missing="Gibbs chain to set"
    )


@dataclass
class RBMConfig:
    hidden: int = option(500, low=1, help="number of hidden units H")
    k: int = option(1, low=1, help="Gibbs steps of the negative phase (CD-k, or PCD's steps per update)")
    persistent: bool = option(
        True,
        help=(
            "persistent CD (Tieleman 2008): the negative chains carry over between updates; "
            "false: CD-k from the data"
        ),
    )
    chains: int = option(100, low=1, help="persistent=true: number of fantasy particles")
    momentum: float = option(0.5, low=0.0, high=0.99, help="SGD momentum")
    weight_decay: float = option(1e-4, low=0.0, help="L2 weight cost λ on W (not the biases)")
    init_std: float = option(0.01, low=0.0, help="standard deviation of the initial weights W")
    classifier: bool = option(
        False, help="visible = [x, one-hot y] (needs labels): classify, sample by class"
    )
    gibbs_steps: int = option(1000, low=1, help="block-Gibbs steps of sample() and inpaint()")
    ais_betas: int = option(10000, low=2, help="AIS: number of intermediate distributions β_1..β_K")
    ais_runs: int = option(100, low=2, help="AIS: number of independent runs")


@register_model("rbm")
class RBM(GenerativeModel):
    """Bernoulli–Bernoulli RBM trained by CD-k or persistent CD; `log_prob` uses the AIS estimate
    of log Z (an estimate: see the module docstring); completion by clamped Gibbs sampling."""

    accumulates = False  # CD updates, not ctx.optimize (train.accumulate refused)

    Config = RBMConfig
    SampleOptions = GibbsOptions
    InpaintOptions = GibbsOptions
    likelihood = "estimate"
    discrete = True
    kinds = ("image", "field")  # binary ones: prepare() checks the values
    # PCD at lr 0.01: 95.7 nats (AIS) on binarised mnist after 150 s, where CD-1 at lr 0.05 gave
    # 155.9 and blob-like samples (benchmarks/bench_explicit.py)
    default_train = {"lr": 0.01, "batch_size": 100}
    # the tour decays the learning rate to 0 (cosine): at a constant rate the model that 6,000 PCD steps leave
    # puts 57 % of its samples on sevens (92 % after 10,000 Gibbs steps: the model, not the sampler); decayed,
    # every class gets 7-16 %, FD 333 against 3,222 (benchmarks/bench_rbm_sampling.py). Not the family's
    # default: on 3×3 bars (1,000 steps at lr 0.1) the decay undertrains (exact log-likelihood −5.1 against
    # −3.8)
    tour = (
        TourEntry(
            "mnist",
            quick_steps=2500,
            steps=6000,
            data_options={"binarize": "dynamic"},
            train={"schedule": "cosine"},
        ),
    )
    summary = (
        "restricted Boltzmann machine (Bernoulli units; CD-k or persistent CD; AIS log-likelihood; "
        "Gibbs completion)"
    )

    def __init__(self, config: RBMConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        k = info.num_classes if config.classifier else 0
        if config.classifier and k < 2:
            raise GenzooError(
                f"model.classifier: needs labelled data with at least 2 classes; "
                f"{info.name} has {info.num_classes}"
            )
        self.num_labels = k
        self.conditional = config.classifier  # sample(label=...) clamps the label units
        n_visible = info.dim + k
        self.rbm = RBMLayer(n_visible, config.hidden, init_std=config.init_std, labels=k)
        # b_A of AIS's base-rate model: the pixel logits set in prepare(); 0 for the labels (uniform)
        self.register_buffer("base_bias", torch.zeros(n_visible))
        if k:
            self.register_buffer("label_freq", torch.full((k,), 1.0 / k))  # p(y) of the training labels
        if config.persistent:
            self.register_buffer(
                "chains", torch.zeros(config.chains, n_visible), persistent=True
            )  # PCD's particles
        self._log_z_cache: tuple[tuple[str, int, int], float] | None = None

    # --- visible vectors --------------------------------------------------------------------------
    def _flat(self, x: Tensor) -> Tensor:
        """x (B, *shape) or (B, D) as (B, D) in the weights' dtype and device, or a one-line error."""
        x = x.to(self.rbm.W)
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.info.dim:
            raise GenzooError(
                f"examples have shape {tuple(x.shape[1:])}, "
                f"{self.info.name} examples have shape {self.info.shape}"
            )
        return x.reshape(len(x), self.info.dim)

    def _joint(self, x: Tensor, y: Tensor | None) -> Tensor:
        """The visible vector (B, V): x flattened, then e_y for a classifier."""
        v = self._flat(x)
        if not self.num_labels:
            return v
        if y is None:
            raise GenzooError(
                "model 'rbm' with classifier=true trains on labelled data; this batch has no labels y"
            )
        return torch.cat([v, F.one_hot(y.to(v.device), self.num_labels).to(v)], 1)

    def _label_scores(self, v: Tensor) -> Tensor:
        """−F(x, e_y) for each label: (B, K), for x (B, D)."""
        d = self.info.dim
        W = self.rbm.W
        a = self.rbm.c + v @ W[:d]  # (B, H)
        return (v @ self.rbm.b[:d])[:, None] + self.rbm.b[d:] + F.softplus(a[:, None, :] + W[d:]).sum(-1)

    def _require_classifier(self, what: str) -> None:
        if not self.num_labels:
            raise GenzooError(f"model 'rbm' was built with classifier=false: it has no label units to {what}")

    # --- energies and features --------------------------------------------------------------------
    def free_energy(self, v: Tensor) -> Tensor:
        """F(v) of visible vectors v (B, V) (for a classifier [x, e_y]; x may keep its image shape): (B,)."""
        return self.rbm.free_energy(v.to(self.rbm.W).flatten(1))

    def marginal_free_energy(self, x: Tensor) -> Tensor:
        """F(x) = −log Σ_h exp(−E(x, h)), and for a classifier also summed over the labels,
        −log Σ_y exp(−F(x, e_y)): (B,) for x (B, *shape)."""
        v = self._flat(x)
        return -torch.logsumexp(self._label_scores(v), 1) if self.num_labels else self.rbm.free_energy(v)

    @torch.no_grad()
    def transform(self, x: Tensor) -> Tensor:
        """Features p(h = 1 | x): (B, H); for a classifier Σ_y p(y|x) p(h = 1 | x, y)."""
        v = self._flat(x)
        if not self.num_labels:
            return self.rbm.hidden_probs(v)
        d = self.info.dim
        per_label = torch.sigmoid((self.rbm.c + v @ self.rbm.W[:d])[:, None, :] + self.rbm.W[d:])  # (B, K, H)
        return (torch.softmax(self._label_scores(v), 1)[:, :, None] * per_label).sum(1)

    def filters(self) -> Tensor:
        """The weights into each hidden unit as an example: (H, *shape)."""
        return self.rbm.W[: self.info.dim].detach().T.reshape(self.config.hidden, *self.info.shape)

    # --- training ---------------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Check the data are binary; set the visible biases (and b_A) to the logits of the pixel
        means, the label biases to log p(y); start PCD's chains at draws from the pixel means."""
        _check_binary_data(data, "rbm")
        logits = _pixel_logits(data).to(self.rbm.W)  # (D,)
        label_bias = logits.new_zeros(self.num_labels)
        if self.num_labels:
            if data.y is None:
                raise GenzooError(
                    f"model 'rbm' with classifier=true needs labelled data; {data.info.name} has no labels"
                )
            counts = torch.bincount(data.y, minlength=self.num_labels).double()
            self.label_freq.copy_(counts / counts.sum())
            label_bias = self.label_freq.clamp_min(1e-3).log().to(logits)
        with torch.no_grad():
            self.rbm.b.copy_(torch.cat([logits, label_bias]))
            self.base_bias.copy_(torch.cat([logits, torch.zeros_like(label_bias)]))
            if self.config.persistent:
                self.chains.copy_(self.rbm.draw_visible(self.rbm.b.expand(len(self.chains), -1)))

    def configure_optimizers(
        self, make: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
    ) -> list[torch.optim.Optimizer]:
        """SGD with momentum `momentum` at the trainer's lr; train.optimizer, betas and
        weight_decay are not used (model.weight_decay is the weight cost)."""
        return _sgd(self, make, self.config.momentum)

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """One CD-k (or PCD) update. Logs the one-step reconstruction error "recon" (also as
        "loss", per example) and "free_energy_gap" = mean F(data) − mean F(negative samples)."""
        with torch.no_grad(), torch.autocast(self.rbm.W.device.type, enabled=False):
            v0 = self._joint(batch["x"], batch.get("y"))
            chains = self.chains if self.config.persistent else None
            v_neg, recon, gap = _cd_step(self.rbm, v0, self.config.k, chains, ctx, self.config.weight_decay)
            if chains is not None:
                self.chains.copy_(v_neg)
        return {"loss": recon, "recon": recon, "free_energy_gap": gap}

    # --- sampling and completion ------------------------------------------------------------------
    def _gibbs(
        self, v: Tensor, known: Tensor, value: Tensor, steps: int, generator: torch.Generator | None
    ) -> Tensor:
        """`steps` block-Gibbs steps from v (B, V) with the units where `known` is 1 clamped to `value`."""
        keep = known.bool()
        v = torch.where(keep, value, v)
        for _ in range(steps):
            v = torch.where(keep, value, self.rbm.gibbs_step(v, generator))
        return v

    def _clamp_labels(self, known: Tensor, value: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """(known, value) of the pixels (n, D) extended by the label units (n, D + K): clamped to
        e_y, or free where y is None."""
        k = self.num_labels
        if y is None:
            return F.pad(known, (0, k)), F.pad(value, (0, k))
        return F.pad(known, (0, k), value=1.0), torch.cat(
            [value, F.one_hot(y.to(value.device), k).to(value)], 1
        )

    def _labels(self, n: int, label: Any, generator: torch.Generator | None) -> Tensor:
        """Labels (n,) for `label` (an int, or one per example), or drawn from p(y) where None."""
        return class_labels(label, n, self.label_freq, self.info, generator)

    def _condition(self, label: Any, condition: dict[str, Any]) -> None:
        if any(v is not None for v in condition.values()):
            raise GenzooError(f"model 'rbm' cannot condition on {', '.join(sorted(condition))}")
        if label is not None and not self.num_labels:
            raise GenzooError(
                "model 'rbm' was built with classifier=false: it has no label units to condition on"
            )

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        label: Any = None,
        **condition: Any,
    ) -> Tensor:
        """n binary samples (n, *shape): `steps` (default gibbs_steps) block-Gibbs steps from
        independent units at the visible biases, v ~ Bern(σ(b)). A classifier clamps the label
        units to `label` (an int, or one per sample); None draws labels from the training class
        frequencies."""
        self._condition(label, condition)
        steps = _check_steps(self.config.gibbs_steps if steps is None else steps)
        w = self.rbm.W
        known, value = w.new_zeros(n, self.info.dim), w.new_zeros(n, self.info.dim)
        if self.num_labels:
            known, value = self._clamp_labels(known, value, self._labels(n, label, generator))
        v = self.rbm.draw_visible(self.rbm.b.expand(n, -1), generator)
        v = self._gibbs(v, known, value, steps, generator)
        return v[:, : self.info.dim].reshape(n, *self.info.shape)

    def expand_mask(self, mask: Any, x: Tensor) -> Tensor:
        """The completion mask as 0/1 floats (n, *shape) on the model's device, or a one-line error."""
        return expand_mask(mask, x.to(self.rbm.W.device), self.info)

    @torch.no_grad()
    def inpaint(
        self,
        x: Tensor,
        mask: Any,
        *,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        label: Any = None,
    ) -> Tensor:
        """Complete x (n, *shape): the known units (mask 1) stay clamped to x, which must be binary
        there; the others are Gibbs-sampled for `steps` (default gibbs_steps) steps from
        Bern(σ(b)). A classifier clamps its label units to `label` if given, else samples them
        too. Returns binary (n, *shape)."""
        self._condition(label, {})
        steps = _check_steps(self.config.gibbs_steps if steps is None else steps)
        m = self.expand_mask(mask, x)
        x = torch.where(m.bool(), x.to(m), 0.0)  # the units to fill may hold anything
        require_binary(x, "model 'rbm'")
        n = len(x)
        known, value = m.reshape(n, -1).to(self.rbm.W), self._flat(x)
        if self.num_labels:
            known, value = self._clamp_labels(
                known, value, None if label is None else self._labels(n, label, generator)
            )
        v = self.rbm.draw_visible(self.rbm.b.expand(n, -1), generator)
        v = self._gibbs(v, known, value, steps, generator)
        return v[:, : self.info.dim].reshape(n, *self.info.shape)

    # --- classification ---------------------------------------------------------------------------
    @torch.no_grad()
    def class_log_probs(self, x: Tensor) -> Tensor:
        """log p(y | x) = log softmax_y(−F(x, e_y)): (B, K)."""
        self._require_classifier("classify with")
        return torch.log_softmax(self._label_scores(self._flat(x)), 1)

    @torch.no_grad()
    def classify(self, x: Tensor) -> Tensor:
        """The label of lowest free energy F(x, e_y): (B,) int64."""
        self._require_classifier("classify with")
        return self._label_scores(self._flat(x)).argmax(1)

    # --- likelihood -------------------------------------------------------------------------------
    def log_partition_exact(self) -> Tensor:
        """log Z by enumeration (at most 20 units in the smaller layer), float64, differentiable."""
        return exact_log_partition(self.rbm)

    def log_partition_ais(
        self, betas: int | None = None, runs: int | None = None, *, generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        """The AIS estimate of log Z with its spread (see `ais_log_partition`); `betas` and
        `runs` default to ais_betas and ais_runs."""
        betas = self.config.ais_betas if betas is None else betas
        runs = self.config.ais_runs if runs is None else runs
        return ais_log_partition(self.rbm, self.base_bias, betas=betas, runs=runs, generator=generator)

    def _fingerprint(self) -> str:
        """A hash of everything log Z depends on: W, b, c and b_A."""
        digest = hashlib.sha1()
        for t in (self.rbm.W, self.rbm.b, self.rbm.c, self.base_bias):
            digest.update(t.detach().double().cpu().numpy().tobytes())
        return digest.hexdigest()

    def _cached_log_z(self, generator: torch.Generator | None) -> float:
        """The AIS log Ẑ, estimated once per weights and AIS settings (with the generator of the
        first call) and reused: the nll metric calls log_prob on many chunks of the test set."""
        key = (self._fingerprint(), self.config.ais_betas, self.config.ais_runs)
        if self._log_z_cache is None or self._log_z_cache[0] != key:
            self._log_z_cache = (key, self.log_partition_ais(generator=generator)["log_z"])
        return self._log_z_cache[1]

    @torch.no_grad()
    def log_prob(self, x: Tensor, *, generator: torch.Generator | None = None, log_z: str = "ais") -> Tensor:
        """log p(x) = −F(x) − log Z per example (B,), in nats, for binary x (B, *shape); a
        classifier sums over the labels. log Z is the AIS estimate (log_z="ais"; estimated once per
        weights and AIS settings, with the generator of that first call, and reused by later calls,
        since the nll metric calls log_prob on many chunks) or the exact enumeration
        (log_z="exact", tiny RBMs only)."""
        if log_z not in ("ais", "exact"):
            raise GenzooError(f"log_z must be 'ais' or 'exact', got {log_z!r}")
        x = x.to(self.rbm.W)
        require_binary(x, "model 'rbm'")
        lz = self._cached_log_z(generator) if log_z == "ais" else float(self.log_partition_exact())
        return -self.marginal_free_energy(x) - lz

    @torch.no_grad()
    def pseudo_likelihood(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """The stochastic pseudo-likelihood of scikit-learn's BernoulliRBM.score_samples: one pixel
        per example, chosen uniformly from `generator`, flipped; see `pseudo_likelihood_at`."""
        dev = generator.device if generator is not None else torch.device("cpu")
        index = torch.randint(0, self.info.dim, (len(x),), generator=generator, device=dev)
        return self.pseudo_likelihood_at(x, index)

    @torch.no_grad()
    def pseudo_likelihood_at(self, x: Tensor, index: Tensor) -> Tensor:
        """D · log σ(F(x̃) − F(x)) per example (B,), x̃ = x with pixel index[i] of example i flipped:
        D times the log-probability of that pixel given all the others."""
        v = self._flat(x)
        rows, cols = torch.arange(len(v), device=v.device), index.to(v.device).long()
        flipped = v.clone()
        flipped[rows, cols] = 1.0 - flipped[rows, cols]
        return self.info.dim * F.logsigmoid(self.marginal_free_energy(flipped) - self.marginal_free_energy(v))


def load_sklearn(model: RBM, fitted: Any) -> None:
    """Copy a fitted scikit-learn BernoulliRBM into `model` (a plain rbm of the same sizes):
    components_ (H, V) → Wᵀ, intercept_hidden_ → c, intercept_visible_ → b."""
    if model.num_labels:
        raise GenzooError(
            "load_sklearn: a BernoulliRBM has no label units; build the rbm with classifier=false"
        )
    weights = torch.as_tensor(fitted.components_).T
    if tuple(weights.shape) != tuple(model.rbm.W.shape):
        raise GenzooError(
            f"load_sklearn: the BernoulliRBM has weights {tuple(weights.shape)} (V, H), "
            f"the rbm {tuple(model.rbm.W.shape)}"
        )
    with torch.no_grad():
        model.rbm.W.copy_(weights)
        model.rbm.c.copy_(torch.as_tensor(fitted.intercept_hidden_))
        model.rbm.b.copy_(torch.as_tensor(fitted.intercept_visible_))


# --- the DBN -------------------------------------------------------------------------------------
@dataclass
class DBNConfig:
    hidden: tuple[int, ...] = option(
        (500, 500), low=1, help="hidden layer sizes, bottom to top; each layer is an RBM on the one below"
    )
    k: int = option(
        1,
        low=1,
        help="Gibbs steps of each layer's CD-k (the top layer's PCD steps per update when persistent)",
    )
    persistent: bool = option(
        False,
        help=(
            "train the top layer by persistent CD (Tieleman 2008), the lower ones by CD-k; "
            "false: CD-k everywhere"
        ),
    )
    chains: int = option(100, low=1, help="persistent=true: number of the top layer's fantasy particles")
    momentum: float = option(0.5, low=0.0, high=0.99, help="SGD momentum")
    weight_decay: float = option(1e-4, low=0.0, help="L2 weight cost λ on each W (not the biases)")
    init_std: float = option(0.01, low=0.0, help="standard deviation of the initial weights")
    gibbs_steps: int = option(1000, low=1, help="block-Gibbs steps in the top RBM when sampling")


def layer_at(step: int, total: int, n_layers: int) -> int:
    """The layer (0-based) that 0-based `step` of a `total`-step run trains: layer l takes the steps
    [l·T/L, (l+1)·T/L); steps past the end (or an unknown total, T = 0) train the top layer."""
    return min(step * n_layers // total, n_layers - 1) if total > 0 else n_layers - 1


@register_model("dbn")
class DBN(GenerativeModel):
    """Deep belief network: RBMs trained greedily with CD-k (the top one by persistent CD with
    persistent=true), layer l during the l-th of L equal parts of the run on the sampled binary
    states h ~ p(h | v) of the frozen layers below it.
    No tractable likelihood (`likelihood` is None): the lower layers form a directed model whose
    marginal sums over every configuration of the layers above."""

    accumulates = False  # CD updates, not ctx.optimize (train.accumulate refused)

    Config = DBNConfig
    SampleOptions = GibbsOptions
    likelihood = None
    kinds = ("image", "field")  # binary ones: prepare() checks the values
    default_train = {"lr": 0.05, "batch_size": 100}
    # the tour trains the top layer by PCD with the rate decayed to 0 (cosine), as the rbm's entry: FD 304-414
    # on seeds 0-2 against 2,741 at the defaults (CD-1 everywhere, constant rate: 52 % sixes, 35 % eights);
    # either change alone is worse (PCD: 94 % fives, FD 5,217; the decay: 77 % eights, 2,047)
    # (bench_rbm_sampling.py)
    tour = (
        TourEntry(
            "mnist",
            quick_steps=2000,
            steps=6000,
            data_options={"binarize": "dynamic"},
            params={"persistent": True},
            train={"schedule": "cosine"},
        ),
    )
    summary = "deep belief network (RBMs stacked and trained greedily with CD-k; top-RBM Gibbs sampling)"

    def __init__(self, config: DBNConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        if not config.hidden:
            raise GenzooError("model.hidden: a DBN needs at least one hidden layer, e.g. 500,500")
        widths = (info.dim, *config.hidden)
        self.layers = nn.ModuleList(
            RBMLayer(a, b, init_std=config.init_std) for a, b in zip(widths[:-1], widths[1:])
        )
        if (
            config.persistent
        ):  # the top layer's PCD particles (states of the layer below it), set when it starts
            self.register_buffer("chains", torch.zeros(config.chains, widths[-2]), persistent=True)
            self.register_buffer("chains_ready", torch.zeros((), dtype=torch.bool), persistent=True)

    def layer_at(self, step: int, total: int) -> int:
        """The layer trained at `step` of `total` (see `layer_at`)."""
        return layer_at(step, total, len(self.layers))

    def prepare(self, data: Dataset) -> None:
        """Check the data are binary; set the bottom layer's visible biases to the pixel logits."""
        _check_binary_data(data, "dbn")
        with torch.no_grad():
            self.layers[0].b.copy_(_pixel_logits(data))

    def configure_optimizers(
        self, make: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
    ) -> list[torch.optim.Optimizer]:
        """One SGD with momentum over all layers at the trainer's lr; a frozen layer has no gradient
        (None), so neither the step nor the momentum moves it."""
        return _sgd(self, make, self.config.momentum)

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor | float]:
        """One CD-k update of the layer `ctx.step` belongs to (PCD-k for the top layer when
        persistent: its chains start at the first top-layer batch's states, cycled to `chains`
        rows); logs "layer" (1-based), its reconstruction error ("loss" and "layer{l}_recon")
        and "free_energy_gap"."""
        index = self.layer_at(ctx.step, ctx.total)
        layer = self.layers[index]
        with torch.no_grad(), torch.autocast(layer.W.device.type, enabled=False):
            v = batch["x"].flatten(1).to(layer.W)
            for below in self.layers[:index]:
                v = _bernoulli(below.hidden_probs(v), None)
            chains = None
            if self.config.persistent and index == len(self.layers) - 1:
                if not self.chains_ready:
                    self.chains.copy_(v[torch.arange(len(self.chains), device=v.device) % len(v)])
                    self.chains_ready.fill_(True)
                chains = self.chains
            v_neg, recon, gap = _cd_step(layer, v, self.config.k, chains, ctx, self.config.weight_decay)
            if chains is not None:
                self.chains.copy_(v_neg)
        return {
            "loss": recon,
            "layer": float(index + 1),
            f"layer{index + 1}_recon": recon,
            "free_energy_gap": gap,
        }

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, steps: int | None = None, **condition: Any
    ) -> Tensor:
        """n binary samples (n, *shape): `steps` (default gibbs_steps) block-Gibbs steps in the top
        RBM, then one top-down pass drawing binary states from p(v | h) through each lower layer,
        down to the data (states, not probabilities, like the rbm). The top chain starts from an
        up-pass (sampled states) of independent pixels v ~ Bern(σ(b_0)): started at Bern(σ(b_top))
        instead, far from the states the top RBM was trained on, a 3,000-step mnist DBN's chains
        stayed there for 1,000 steps and drew blank images."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model 'dbn' is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        steps = _check_steps(self.config.gibbs_steps if steps is None else steps)
        bottom, top = self.layers[0], self.layers[-1]
        v = bottom.draw_visible(bottom.b.expand(n, -1), generator)
        for layer in self.layers[:-1]:
            v = _bernoulli(layer.hidden_probs(v), generator)
        for _ in range(steps):
            v = top.gibbs_step(v, generator)
        for layer in reversed(self.layers[:-1]):
            v = layer.draw_visible(layer.visible_logits(v), generator)
        return v.reshape(n, *self.info.shape)

    @torch.no_grad()
    def transform(self, x: Tensor) -> Tensor:
        """Top-layer features by an up-pass of probabilities p(h = 1 | ·): (B, hidden[-1])."""
        v = x.to(self.layers[0].W).flatten(1)
        for layer in self.layers:
            v = layer.hidden_probs(v)
        return v

    def filters(self) -> Tensor:
        """The bottom layer's weights into each of its hidden units as an example: (hidden[0], *shape)."""
        return self.layers[0].W.detach().T.reshape(self.config.hidden[0], *self.info.shape)
