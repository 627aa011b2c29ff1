"""The stacked autoencoder, trained greedily layer by layer and then fine-tuned end to end
(Hinton & Salakhutdinov 2006, Science 313:504; Bengio, Lamblin, Popovici & Larochelle 2007, NIPS).

The stack x = h_0 → h_1 → … → h_L has code sizes `layers` (each smaller than the one below).
Stage k (k = 1..L) is a shallow autoencoder on the codes of the frozen stages below it:

    h_k = f(W_k h_{k−1} + b_k),   ĥ_{k−1} = g_k(W'_k h_k + b'_k),

trained alone (only W_k, b_k, W'_k, b'_k are in its optimiser; h_{k−1} is computed under
no_grad, so nothing below it moves) on the reconstruction of its own input. Stage 1 reconstructs
x with the output's loss (sigmoid + binary cross-entropy, or linear + squared error); stages ≥ 2
reconstruct the previous codes h_{k−1} with squared error, g_k = f so that ĥ lies where h does.
Then fine-tuning trains the whole encoder stack → decoder stack end to end on the reconstruction
of x. f is `activation` for the hidden codes; the top code h_L is linear (as the code units of
Hinton & Salakhutdinov), which also suits the Gaussian fitted to it for sampling.

Losses are per example, summed over dimensions and averaged over the batch, plus
`weight_decay` · Σ‖W‖² over the weight matrices being trained (not the biases) and
`sparsity` · Σ|h| over the codes being trained (the top code of the stage; every code when
fine-tuning).

Schedule, from the trainer's step index s and total T alone (so that resume is exact): the first
G = round((1 − finetune_fraction)·T) steps are greedy, stage k taking steps
[⌊(k−1)G/L⌋, ⌊kG/L⌋); steps G..T−1 fine-tune. A run resumed to a different T follows the split
of the T now given, like the trainer's other schedules.

Sampling decodes draws from a `CodeDistribution` fitted to the top codes of a fixed
subset of the training set (`fit_examples` examples chosen with seed 0): in `prepare` (a
Gaussian), in `refresh` before every checkpoint (refitting the kind last chosen) and at the end of
training, where the density is chosen by held-out likelihood (see `genzoo.models.codes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
from genzoo.models.codes import CODES_HELP, KINDS, CodeDistribution, fit_subset
from genzoo.models.registry import register_model
from genzoo.nn.blocks import activation, init_output_bias

STAGE_ACTIVATIONS = ("sigmoid", "relu", "tanh")
AUTO_LAYERS = (256, 64, 16)


@dataclass
class StackedAEConfig:
    layers: tuple[int, ...] | None = option(
        None,
        low=1,
        help="code sizes of the stack, each smaller than the layer below, e.g. 256,64,16; "
        "none = 256,64,16 for inputs of more than 256 dimensions, else D/2, D/4, D/8",
    )
    activation: str = option(
        "sigmoid", choices=STAGE_ACTIVATIONS, help="activation of the hidden codes (the top code is linear)"
    )
    output: str = option(
        "auto",
        choices=("auto", "linear", "sigmoid"),
        help="auto = sigmoid + BCE for images in [0, 1], linear + MSE otherwise",
    )
    weight_decay: float = option(0.0, low=0.0, help="L2 penalty on the weight matrices being trained")
    sparsity: float = option(0.0, low=0.0, help="L1 penalty on the codes being trained")
    finetune_fraction: float = option(
        0.4,
        low=0.0,
        high=1.0,
        help="share of the steps for end-to-end fine-tuning; the rest is split equally among the stages",
    )
    code_distribution: str = option("auto", choices=KINDS, help=CODES_HELP)
    gmm_components: int = option(40, low=1, help="gmm: its components; auto: the largest mixture it tries")
    fit_examples: int = option(
        4000, low=2, help="training examples whose codes the code distribution is fitted to"
    )


def resolve_layers(layers: tuple[int, ...] | None, dim: int) -> tuple[int, ...]:
    """The code sizes of the stack for inputs of `dim` dimensions; `None` picks them from `dim`."""
    if layers is None:
        layers = (
            AUTO_LAYERS
            if dim > AUTO_LAYERS[0]
            else tuple(w for w in (dim // 2, dim // 4, dim // 8) if w >= 1)
        )
        layers = tuple(dict.fromkeys(layers))  # drop repeats (dim = 3 gives 1, 0, 0 → 1)
        if not layers:
            raise GenzooError(
                f"model.layers: a stacked autoencoder needs inputs of at least 2 dimensions, got {dim}"
            )
        return layers
    layers = tuple(int(w) for w in layers)
    if not layers:
        raise GenzooError("model.layers: give at least one code size, e.g. 256,64,16")
    widths = (dim, *layers)
    if any(b < 1 or b >= a for a, b in zip(widths[:-1], widths[1:])):
        chain = " → ".join(map(str, widths))
        raise GenzooError(
            f"model.layers: each code size must be at least 1 and smaller than the layer below; got {chain} "
            f"(input dimension {dim})"
        )
    return layers


def stage_bounds(total: int, n_stages: int, finetune_fraction: float) -> list[int]:
    """First step of stages 1..L and of fine-tuning, then `total`: L + 2 non-decreasing numbers.
    Greedy steps G = round((1 − f)·T); stage k starts at ⌊(k−1)G/L⌋; fine-tuning starts at G."""
    greedy = round((1.0 - finetune_fraction) * total)
    return [k * greedy // n_stages for k in range(n_stages + 1)] + [total]


def stage_at(step: int, total: int, n_stages: int, finetune_fraction: float) -> int:
    """The stage of 0-based `step` in a run of `total` steps: 1..L, or L + 1 for fine-tuning
    (also for any step past the greedy part, e.g. beyond `total`)."""
    bounds = stage_bounds(total, n_stages, finetune_fraction)
    return next((k for k in range(1, n_stages + 1) if step < bounds[k]), n_stages + 1)


class Stage(nn.Module):
    """One shallow autoencoder of the stack: code h = f(W x + b), reconstruction g(W' h + b')."""

    def __init__(self, n_in: int, n_code: int, code_act: nn.Module, out_act: nn.Module) -> None:
        super().__init__()
        self.encoder = nn.Linear(n_in, n_code)
        self.decoder = nn.Linear(n_code, n_in)
        self.code_act, self.out_act = code_act, out_act

    def encode(self, h: Tensor) -> Tensor:
        return self.code_act(self.encoder(h))

    def decode(self, c: Tensor) -> Tensor:
        return self.out_act(self.decoder(c))

    def weight_norm2(self) -> Tensor:
        """Σ‖W‖² over both weight matrices."""
        return self.encoder.weight.pow(2).sum() + self.decoder.weight.pow(2).sum()


@register_model("stacked-ae")
class StackedAE(GenerativeModel):
    """Stacked autoencoder: greedy layer-wise pre-training, then end-to-end fine-tuning."""

    Config = StackedAEConfig
    latent = True
    encodes = True
    likelihood = None
    default_train = {"lr": 1e-3, "batch_size": 128}
    # ReLU stages and 60 % of the steps fine-tuning end to end: FD 127.5 / 118.5 on seeds 0 / 1 at the
    # full budget, against 181.5 / 184.7 with the classic sigmoid stages and 40 % (BENCHMARKS.md,
    # "Autoencoders")
    tour = (
        TourEntry(
            "mnist",
            quick_steps=6000,
            steps=20000,
            params={"layers": (256, 64, 16), "activation": "relu", "finetune_fraction": 0.6},
        ),
    )
    summary = "stacked autoencoder (greedy layer-wise training, then end-to-end fine-tuning)"

    def __init__(self, config: StackedAEConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.layers = resolve_layers(config.layers, info.dim)
        self.output = output_kind(config.output, info)  # "sigmoid" | "linear"
        widths = (info.dim, *self.layers)
        top = len(self.layers)
        self.stages = nn.ModuleList(
            Stage(
                widths[k - 1],
                widths[k],
                nn.Identity() if k == top else activation(config.activation),  # the top code is linear
                nn.Identity()
                if k == 1
                else activation(config.activation),  # stage 1 outputs logits / the mean
            )
            for k in range(1, top + 1)
        )
        self.codes = CodeDistribution(
            self.layers[-1], config.code_distribution, config.gmm_components, config.fit_examples
        )

    # --- the networks ---------------------------------------------------------------------
    def _codes(self, x: Tensor, depth: int) -> Tensor:
        """h_depth for x (B, D); depth 0 is x itself."""
        for stage in self.stages[:depth]:
            x = stage.encode(x)
        return x

    def _output(self, c: Tensor) -> Tensor:
        """The whole decoder stack from top codes (B, d) to the output before its activation (B, D)."""
        for stage in reversed(self.stages[1:]):
            c = stage.decode(c)
        return self.stages[0].decoder(c)

    def _mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out) if self.output == "sigmoid" else out

    def _recon_x(self, out: Tensor, x: Tensor) -> Tensor:
        """BCE (sigmoid output, from logits) or squared error, summed over D, averaged over the batch."""
        if self.output == "sigmoid":
            return F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1).mean()
        return (out - x).pow(2).sum(1).mean()

    # --- training -------------------------------------------------------------------------
    def stage_at(self, step: int, total: int) -> int:
        """1..L for the greedy stages, L + 1 for fine-tuning; see `stage_bounds`."""
        return stage_at(step, total, len(self.stages), self.config.finetune_fraction)

    def configure_optimizers(
        self, make: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
    ) -> list[torch.optim.Optimizer]:
        """One optimiser per stage (its own encoder and decoder layer), then one for fine-tuning (all)."""
        return [make(stage.parameters()) for stage in self.stages] + [make(self.stages.parameters())]

    def prepare(self, data: Dataset) -> None:
        """Start stage 1's output at the data mean (as logits for a sigmoid output); fit the codes."""
        init_output_bias(self.stages[0].decoder, data.x.flatten(1).mean(0), logit=self.output == "sigmoid")
        self.refresh(data, final=False)

    @torch.no_grad()
    def refresh(self, data: Dataset, *, final: bool = True) -> None:
        """Refit the code distribution to the top codes of a fixed subset of `data` (seed 0):
        choosing its kind again where `final`, else refitting the kind last chosen."""
        x = fit_subset(data.tensors().flatten(1), self.config.fit_examples)  # (n, D)
        if len(x) < 2:
            raise GenzooError("stacked-ae: fitting the code distribution needs at least 2 examples")
        weight = self.stages[0].encoder.weight
        with torch.autocast(weight.device.type, enabled=False):
            self.codes.fit(self._codes(x.to(weight), len(self.stages)), select=final)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n top codes from the distribution fitted to the training codes."""
        return self.codes.sample(n, generator=generator)

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Any]:
        """One step of the stage that `ctx.step` belongs to."""
        top = len(self.stages)
        k = self.stage_at(ctx.step, ctx.total)
        x = batch["x"].flatten(1)  # (B, D)
        if k <= top:
            loss, recon = self._stage_loss(x, k)
            name = f"stage{k}_recon"
        else:
            loss, recon = self._finetune_loss(x)
            name = "finetune_recon"
        ctx.optimize(loss, k - 1)
        return {"loss": loss.detach(), "stage": float(k), name: recon.detach()}

    def _stage_loss(self, x: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """Stage k alone: reconstruct its input h_{k−1} (x for k = 1) from h_k; (loss, recon)."""
        with torch.no_grad():
            h = self._codes(x, k - 1)  # frozen stages below
        stage = self.stages[k - 1]
        code = stage.encode(h)
        if k == 1:
            recon = self._recon_x(stage.decoder(code), x)
        else:
            recon = (stage.decode(code) - h).pow(2).sum(1).mean()
        loss = recon + self.config.weight_decay * stage.weight_norm2()
        if self.config.sparsity:
            loss = loss + self.config.sparsity * code.abs().sum(1).mean()
        return loss, recon

    def _finetune_loss(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The whole stack end to end on the reconstruction of x; (loss, recon)."""
        h, l1 = x, x.new_zeros(())
        for stage in self.stages:
            h = stage.encode(h)
            l1 = l1 + h.abs().sum(1).mean()
        recon = self._recon_x(self._output(h), x)
        loss = recon + self.config.weight_decay * sum(stage.weight_norm2() for stage in self.stages)
        if self.config.sparsity:
            loss = loss + self.config.sparsity * l1
        return loss, recon

    # --- the user's API --------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        """Top codes drawn from the fitted code distribution (from `generator`), decoded: (n, *shape)."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model 'stacked-ae' is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        return self.decode(self.codes.sample(n, generator=generator))

    def encode(self, x: Tensor) -> Tensor:
        """The top code h_L: (B, layers[-1])."""
        return self._codes(x.to(self.device).flatten(1), len(self.stages))

    def decode(self, z: Tensor) -> Tensor:
        """The reconstruction through the whole decoder stack: (B, *shape)."""
        weight = self.stages[0].decoder.weight
        out = self._output(z.to(device=weight.device, dtype=weight.dtype))
        return self._mean(out).reshape(len(z), *self.info.shape)

    def latent_shape(self) -> tuple[int, ...]:
        return (self.layers[-1],)
