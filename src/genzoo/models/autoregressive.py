"""Autoregressive models: the chain rule p(x) = ∏_i p(x_i | x_1 … x_{i−1}) in raster order, with an
exact likelihood and sampling pixel by pixel.

- `fvsbn`, the fully visible sigmoid belief network (Neal 1992; Frey 1998): binary x and
  p(x_i = 1 | x_{<i}) = σ(b_i + Σ_{j<i} W_ij x_j) — a strictly lower-triangular W, the simplest
  instance of the chain rule and the baseline of the family.
- `pixelcnn` (van den Oord, Kalchbrenner & Kavukcuoglu 2016, arXiv:1601.06759): masked
  convolutions — type A in the first layer (the centre pixel excluded), type B after it (the
  centre included: it holds features of the pixels before it) — in residual blocks
  (1×1 → masked 3×3 → 1×1), then 1×1 layers to the output.
- `gated-pixelcnn` (van den Oord et al. 2016, arXiv:1606.05328): a vertical stack (the rows
  above, any column within reach) and a horizontal stack (the current row, to the left), so that
  there is no blind spot; gated units tanh(W_f ∗ x) ⊙ σ(W_g ∗ x), the vertical stack feeding the
  horizontal one shifted down a row, residual connections in the horizontal stack and skip
  connections to the output; optionally class-conditional (a learned bias per class on every gate).
- `pixelrnn`, the Row LSTM of van den Oord et al. (2016a): after a masked 7×7 convolution (type
  A), LSTM layers run down the image a row at a time; the input-to-state convolution is a masked
  1×3 along the row (type B), the state-to-state a 1×3 over the previous row's hidden states, so
  the dependence on previous rows is carried by the recurrence. Its context is a triangle above
  each pixel. Slower than PixelCNN on a CPU: the rows are sequential in training too.

Outputs (`levels`): binary (binarised) data get a Bernoulli per pixel (one logit); grey levels get
an L-way softmax over the values k/(L − 1) of [low, high] (8-bit images: L = 256; values are
rounded to the nearest level). `log_prob` is the exact log-probability of the discrete image in
nats (`likelihood = "exact"`, `discrete`); bits/dim = −log_prob / (D ln 2).

Sampling draws the pixels one at a time in raster order, all examples of a batch together. Rather
than the whole network on the whole image for every pixel (`window=False`, the reference), each
model caches what the rows above give once they are complete and recomputes only the current row
per pixel: PixelCNN each residual block's input at the previous row (a masked 3×3 reaches one row
up), the gated PixelCNN the vertical stack's features of the previous row (the horizontal stack
alone runs per pixel), the Row LSTM its states. The samples are the same (tested). Completion (`inpaint`, `genzoo condition
--mask`) keeps the given pixels and samples the others in raster order: an exact draw from
p(x_missing | x_given) when every given pixel comes before every missing one (the top half given),
otherwise the fills see only the given pixels above and to the left of them.

Images with one channel (grey or binary) only: colour would need masks across the channels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel, TourEntry, class_labels, expand_mask, require_binary
from genzoo.models.registry import register_model
from genzoo.nn.masked import GatedLayer, MaskedConv2d, MaskedResidualBlock, RowLSTM, pixel_head
from genzoo.progress import Progress

# --- the pixels: levels, log-probabilities, the sampling loop --------------------------------------------


def resolve_levels(name: str, levels: int, info: DataInfo) -> int:
    """The number of values per pixel: `levels` (0 = auto: 2 for binarised data, else 256)."""
    if info.kind not in ("image", "field") or len(info.shape) != 3:
        raise GenzooError(f"model {name!r} models images of shape (1, H, W); {info.name} is {info.kind} data of shape {tuple(info.shape)}")
    if info.shape[0] != 1:
        raise GenzooError(f"model {name!r} models one-channel images; {info.name} has {info.shape[0]} channels")
    low, high = info.value_range
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise GenzooError(f"model {name!r} needs values in a bounded range (images); {info.name} has range {info.value_range}")
    levels = levels or (2 if info.binary else 256)
    if levels == 2 and not info.binary and info.kind == "image":
        raise GenzooError(
            f"model {name!r}: levels=2 (a Bernoulli per pixel) needs binarised images; "
            "add --set data.binarize=dynamic, or use levels=256 for grey levels"
        )
    return levels


def to_index(x: Tensor, levels: int, info: DataInfo) -> Tensor:
    """Values in [low, high] → level indices 0 … L − 1 (nearest level), (B, 1, H, W) int64."""
    low, high = info.value_range
    return ((x - low) / (high - low) * (levels - 1)).round().clamp(0, levels - 1).long()


def from_index(k: Tensor, levels: int, info: DataInfo) -> Tensor:
    low, high = info.value_range
    return low + k.float() / (levels - 1) * (high - low)


def pixel_log_prob(logits: Tensor, k: Tensor) -> Tensor:
    """Σ over pixels of log p(x_i = k_i): logits (B, 1, H, W) Bernoulli or (B, L, H, W) softmax; (B,)."""
    if logits.shape[1] == 1:
        return -F.binary_cross_entropy_with_logits(logits, k.float(), reduction="none").flatten(1).sum(1)
    return -F.cross_entropy(logits, k[:, 0], reduction="none").flatten(1).sum(1)


def draw(logits: Tensor, generator: torch.Generator | None) -> Tensor:
    """One draw per row of `logits` (n, 1) Bernoulli or (n, L) softmax: level indices (n,)."""
    dev = generator.device if generator is not None else logits.device
    if logits.shape[1] == 1:
        u = torch.rand(len(logits), generator=generator, device=dev).to(logits.device)
        return (u < torch.sigmoid(logits[:, 0].float())).long()
    probs = torch.softmax(logits.float(), dim=1)
    return torch.multinomial(probs.to(dev), 1, generator=generator)[:, 0].to(logits.device)


def _is_binary_check(name: str, levels: int, x: Tensor) -> None:
    if levels == 2:
        require_binary(x, f"model {name!r} (a Bernoulli per pixel)")


class RowSampler:
    """What the sampling loop asks a model for: the logits of row i (n, L|1, W) given the image so
    far (`row`), called once per pixel; `done(i)` after row i is complete (a place to cache)."""

    def row(self, v: Tensor, i: int) -> Tensor:
        raise NotImplementedError

    def done(self, v: Tensor, i: int) -> None:
        pass


class WindowSampler(RowSampler):
    """Row i from the network run on rows max(0, i − reach) … i only (None: the whole image)."""

    def __init__(self, net: Callable[[Tensor], Tensor], reach: int | None) -> None:
        self.net, self.reach = net, reach

    def row(self, v: Tensor, i: int) -> Tensor:
        lo = 0 if self.reach is None else max(0, i - self.reach)
        return self.net(v[:, :, lo : i + 1])[:, :, -1]


@torch.no_grad()
def sample_pixels(
    rows: RowSampler, k: Tensor, known: Tensor | None, levels: int, generator: torch.Generator | None, *, progress: bool = False
) -> Tensor:
    """Raster-order sampling: k (n, 1, H, W) level indices, where `known` (n, 1, H, W, bool) is
    True they are kept, elsewhere drawn from the model one pixel at a time. Returns k filled."""
    n, _, h, w = k.shape
    k = k.clone()
    v = k.float() / (levels - 1)  # the networks read values in [0, 1]
    todo = torch.ones_like(k, dtype=torch.bool) if known is None else ~known
    need = todo.any(0)[0]  # (H, W): pixels some example still needs
    bar = Progress(int(need.sum()), enabled=progress, desc="pixels", unit="px", brief=True)
    for i in range(h):
        for j in range(w):
            if not need[i, j]:
                continue
            logits = rows.row(v, i)[:, :, j]  # (n, L|1)
            new = draw(logits, generator)
            fill = todo[:, 0, i, j]
            k[:, 0, i, j] = torch.where(fill, new, k[:, 0, i, j])
            v[:, 0, i, j] = k[:, 0, i, j].float() / (levels - 1)
            bar.update(1)
        rows.done(v, i)
    bar.close()
    return k


# --- the models ------------------------------------------------------------------------------------------


def _check_x(model: GenerativeModel, x: Tensor) -> Tensor:
    if tuple(x.shape[1:]) != tuple(model.info.shape):
        raise GenzooError(f"examples have shape {tuple(x.shape[1:])}, {model.info.name} examples have shape {tuple(model.info.shape)}")
    return x


def _no_condition(name: str, condition: dict[str, Any]) -> None:
    given = sorted(k for k, v in condition.items() if v is not None)
    if given:
        raise GenzooError(f"model {name!r} is unconditional; cannot condition on {', '.join(given)}")


@dataclass
class FVSBNConfig:
    init_std: float = option(0.01, low=0.0, help="initial std of the weights W")


@register_model("fvsbn")
class FVSBN(GenerativeModel):
    """Fully visible sigmoid belief network: p(x) = ∏ σ(b_i + Σ_{j<i} W_ij x_j) over binary pixels."""

    Config = FVSBNConfig
    likelihood = "exact"
    discrete = True
    kinds = ("image", "field")
    default_train = {"lr": 1e-3, "batch_size": 100}
    summary = "fully visible sigmoid belief network (the chain rule with logistic conditionals; exact NLL)"
    # FD 1,419 / 860 / 693 / 661 after 1,000 / 3,000 / 10,000 / 30,000 steps, test NLL 122 / 106 / 101.1 / 101.7:
    # by 10,000 the model, not the budget, limits its samples (BENCHMARKS.md, "PixelCNN paradox")
    tour = (TourEntry("mnist", quick_steps=3000, steps=10000, data_options={"binarize": "dynamic"}),)

    def __init__(self, config: FVSBNConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        resolve_levels(self.name, 2, info)  # one-channel images in a bounded range; binarised
        d = info.dim
        self.weight = nn.Parameter(config.init_std * torch.randn(d, d))
        self.bias = nn.Parameter(torch.zeros(d))
        self.register_buffer("mask", torch.ones(d, d).tril(-1), persistent=False)

    def prepare(self, data: Dataset) -> None:
        """Check the data are binary and start b at the logits of the pixel means."""
        require_binary(data.tensors(), f"model {self.name!r}")
        p = data.tensors().flatten(1).mean(0).clamp(1e-3, 1 - 1e-3)
        with torch.no_grad():
            self.bias.copy_(torch.log(p / (1 - p)))

    def logits(self, x: Tensor) -> Tensor:
        """Logits of p(x_i = 1 | x_{<i}) for all i at once: (B, D)."""
        return F.linear(x.flatten(1), self.weight * self.mask, self.bias)

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return _nll_terms(self, self._log_prob(batch["x"]))

    def _log_prob(self, x: Tensor) -> Tensor:
        return -F.binary_cross_entropy_with_logits(self.logits(x), x.flatten(1), reduction="none").sum(1)

    @torch.no_grad()
    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) per example, in nats: (B,)."""
        x = _check_x(self, x.to(self.device))
        require_binary(x, f"model {self.name!r}")
        return self._log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        _no_condition(self.name, condition)
        x = torch.zeros(n, *self.info.shape, device=self.device)
        return self._fill(x, torch.zeros_like(x, dtype=torch.bool), generator)

    @torch.no_grad()
    def inpaint(self, x: Tensor, mask: Any, *, generator: torch.Generator | None = None) -> Tensor:
        """Keep x where `mask` is 1 and sample the rest in raster order (module docstring)."""
        x = _check_x(self, x.to(self.device).float())
        known = expand_mask(mask, x, self.info).bool()
        require_binary(torch.where(known, x, torch.zeros_like(x)), f"model {self.name!r}")
        return self._fill(torch.where(known, x, torch.zeros_like(x)), known, generator)

    def _fill(self, x: Tensor, known: Tensor, generator: torch.Generator | None) -> Tensor:
        """Pixel i from logit b_i + W_i · x: O(D) per pixel, as W_i is zero from i on."""
        n = len(x)
        flat, kflat = x.reshape(n, -1).clone(), known.reshape(n, -1)
        w = self.weight * self.mask
        dev = generator.device if generator is not None else flat.device
        u = torch.rand(flat.shape, generator=generator, device=dev).to(flat.device)
        for i in range(flat.shape[1]):
            if bool(kflat[:, i].all()):
                continue
            p = torch.sigmoid(self.bias[i] + flat @ w[i])
            flat[:, i] = torch.where(kflat[:, i], flat[:, i], (u[:, i] < p).float())
        return flat.reshape(x.shape)


@dataclass
class PixelCNNConfig:
    channels: int = option(64, low=2, help="feature maps h of the masked convolutions")
    blocks: int = option(6, low=0, help="residual blocks (1×1 → masked 3×3 → 1×1) after the first 7×7 layer")
    first_kernel: int = option(7, low=3, help="side of the first (type A) masked convolution; odd")
    head: int = option(64, low=1, help="width of the 1×1 output layers")
    levels: int = option(0, low=0, high=256, help="values per pixel: 0 = auto (2 for binarised data, else 256)")


@register_model("pixelcnn")
class PixelCNN(GenerativeModel):
    """PixelCNN: masked convolutions (A then B), residual blocks, exact NLL, pixel-by-pixel sampling."""

    Config = PixelCNNConfig
    channels_last = True  # NHWC convolutions measured faster (see checkpoint.use_channels_last)
    likelihood = "exact"
    discrete = True
    kinds = ("image", "field")
    default_train = {"lr": 1e-3, "batch_size": 64}
    summary = "PixelCNN (masked convolutions A/B; exact NLL, raster-order sampling)"
    # FD 1,365 after 400 steps, 771 after 1,600 (about 3 minutes of the full tour; BENCHMARKS.md, "PixelCNN paradox")
    tour = (TourEntry("mnist", quick_steps=100, steps=1600, data_options={"binarize": "dynamic"}),)

    def __init__(self, config: PixelCNNConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        if config.first_kernel % 2 == 0:
            raise GenzooError(f"model.first_kernel must be odd, got {config.first_kernel}")
        self.levels = resolve_levels(self.name, config.levels, info)
        h = config.channels
        self.net = nn.Sequential(
            MaskedConv2d(1, h, config.first_kernel, "A"),
            *[MaskedResidualBlock(h) for _ in range(config.blocks)],
            pixel_head(h, config.head, 1 if self.levels == 2 else self.levels),
        )

    def forward(self, v: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, L|1, H, W) of every pixel given the pixels before it; v in [0, 1]."""
        return self.net(v)

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return _nll_terms(self, _index_log_prob(self, batch["x"]))

    @torch.no_grad()
    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) per example, in nats, of the image's levels: (B,)."""
        return _index_log_prob(self, _checked(self, x))

    def row_sampler(self, y: Tensor | None = None, window: bool = True) -> RowSampler:
        return _PixelCNNRowSampler(self) if window else WindowSampler(self, None)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, window: bool = True, **condition: Any) -> Tensor:
        """n images drawn pixel by pixel (`window=False`: the whole image through the network for
        every pixel, the reference the window must match)."""
        _no_condition(self.name, condition)
        return _sample(self, n, None, window, generator)

    @torch.no_grad()
    def inpaint(self, x: Tensor, mask: Any, *, generator: torch.Generator | None = None) -> Tensor:
        """Keep x where `mask` is 1 and sample the rest in raster order (module docstring)."""
        return _inpaint(self, x, mask, None, generator)


def _index_log_prob(model: Any, x: Tensor, y: Tensor | None = None) -> Tensor:
    """log p(x) (B,) of a model whose forward(v, y) gives per-pixel logits from values v in [0, 1]."""
    k = to_index(x, model.levels, model.info)
    return pixel_log_prob(model(k.float() / (model.levels - 1), y), k)


def _checked(model: Any, x: Tensor) -> Tensor:
    """x on the model's device, of its shape, binary where the output is a Bernoulli; else a one-line error."""
    x = _check_x(model, x.to(model.device))
    _is_binary_check(model.name, model.levels, x)
    return x


class _PixelCNNRowSampler(RowSampler):
    """Row i of a PixelCNN from each residual block's input at row i − 1, cached once that row is
    complete: a masked 3×3 reaches one row up, so each block needs only [row i − 1, row i], and
    the first layer reads the rows of the image it reaches. One row of computation per pixel."""

    def __init__(self, model: PixelCNN) -> None:
        self.model = model
        self.above: list[Tensor] | None = None  # each block's input at the previous row

    def _row(self, v: Tensor, i: int) -> tuple[Tensor, list[Tensor]]:
        net, c = self.model.net, self.model.config.first_kernel // 2
        x = net[0](v[:, :, max(0, i - c) : i + 1])[:, :, -1:]  # (n, h, 1, W)
        inputs = []
        for b, block in enumerate(net[1:-1]):
            inputs.append(x)
            x = block(x if self.above is None else torch.cat([self.above[b], x], 2))[:, :, -1:]
        return net[-1](x)[:, :, 0], inputs

    def row(self, v: Tensor, i: int) -> Tensor:
        return self._row(v, i)[0]

    def done(self, v: Tensor, i: int) -> None:
        self.above = self._row(v, i)[1]


def _nll_terms(model: GenerativeModel, logp: Tensor) -> dict[str, Tensor]:
    nll = -logp.mean()
    return {"loss": nll, "bits_per_dim": nll.detach() / (model.info.dim * math.log(2))}


def _sample(model: Any, n: int, y: Tensor | None, window: bool, generator: torch.Generator | None) -> Tensor:
    k = torch.zeros(n, *model.info.shape, dtype=torch.long, device=model.device)
    k = sample_pixels(model.row_sampler(y, window), k, None, model.levels, generator, progress=n * model.info.dim > 20_000)
    return from_index(k, model.levels, model.info)


def _inpaint(model: Any, x: Tensor, mask: Any, y: Tensor | None, generator: torch.Generator | None) -> Tensor:
    x = _check_x(model, x.to(model.device).float())
    known = expand_mask(mask, x, model.info).bool()
    given = torch.where(known, x, torch.full_like(x, model.info.value_range[0]))
    _is_binary_check(model.name, model.levels, given)
    k = sample_pixels(model.row_sampler(y), to_index(given, model.levels, model.info), known, model.levels, generator)
    return from_index(k, model.levels, model.info)


# --- gated PixelCNN --------------------------------------------------------------------------------------


class _GatedRowSampler(RowSampler):
    """Row i of a gated PixelCNN from the vertical stack's features of row i − 1, computed once per
    row (on the rows that reach it), and the horizontal stack on row i alone for each pixel."""

    def __init__(self, model: GatedPixelCNN, y: Tensor | None) -> None:
        self.model, self.y = model, y
        self.above: list[Tensor] | None = None

    def _vertical(self, v: Tensor, i: int) -> list[Tensor]:
        n, _, _, w = v.shape
        if i == 0:  # nothing above the first row: the zero padding of the full network
            return [v.new_zeros(n, 2 * self.model.config.channels, 1, w) for _ in self.model.layers]
        vs, out = v[:, :, max(0, i - self.model.reach) : i], []
        for layer in self.model.layers:
            vf, vs = layer.vertical(vs, self.y)
            out.append(vf[:, :, -1:])
        return out

    def row(self, v: Tensor, i: int) -> Tensor:
        if self.above is None:
            self.above = self._vertical(v, i)
        h, skip = v[:, :, i : i + 1], 0
        for layer, above in zip(self.model.layers, self.above):
            h, s = layer.horizontal(h, above, self.y)
            skip = skip + s
        return self.model.head(skip)[:, :, 0]

    def done(self, v: Tensor, i: int) -> None:
        self.above = None


@dataclass
class GatedPixelCNNConfig:
    channels: int = option(32, low=1, help="feature maps p of each stack")
    layers: int = option(8, low=1, help="gated layers (the first with the 7×7-reach kernel, type A)")
    first_kernel: int = option(7, low=3, help="kernel side of the first layer; odd")
    kernel: int = option(3, low=3, help="kernel side of the later layers; odd")
    skip: int = option(64, low=1, help="width of the skip connections and the output layers")
    levels: int = option(0, low=0, high=256, help="values per pixel: 0 = auto (2 for binarised data, else 256)")
    conditional: bool = option(False, help="class-conditional on the data's labels (a learned bias per class on every gate)")


@register_model("gated-pixelcnn")
class GatedPixelCNN(GenerativeModel):
    """Gated PixelCNN: vertical and horizontal stacks (no blind spot), gated units, residual and
    skip connections, optional class conditioning."""

    Config = GatedPixelCNNConfig
    likelihood = "exact"
    discrete = True
    kinds = ("image", "field")
    default_train = {"lr": 1e-3, "batch_size": 64}
    summary = "gated PixelCNN (vertical + horizontal stacks, tanh ⊙ σ gates, optional classes; exact NLL)"
    # pixel-by-pixel sampling of the evaluation's samples is what costs: full tour only
    tour = (TourEntry("mnist", quick_steps=50, steps=250, data_options={"binarize": "dynamic"}, params={"conditional": True}, quick=False),)

    def __init__(self, config: GatedPixelCNNConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        if config.first_kernel % 2 == 0 or config.kernel % 2 == 0:
            raise GenzooError(f"model.first_kernel and model.kernel must be odd, got {config.first_kernel} and {config.kernel}")
        self.levels = resolve_levels(self.name, config.levels, info)
        self.conditional = bool(config.conditional)
        if self.conditional and not info.num_classes:
            raise GenzooError(f"model.conditional: {info.name} has no labels to condition on")
        classes = info.num_classes if self.conditional else 0
        p = config.channels
        self.layers = nn.ModuleList(
            GatedLayer(1 if i == 0 else p, p, config.first_kernel if i == 0 else config.kernel, i == 0, classes, config.skip)
            for i in range(config.layers)
        )
        self.head = pixel_head(config.skip, config.skip, 1 if self.levels == 2 else self.levels)
        if self.conditional:
            self.register_buffer("label_freq", torch.full((info.num_classes,), 1.0 / info.num_classes))

    @property
    def reach(self) -> int:
        c = self.config
        return c.first_kernel // 2 + (c.layers - 1) * (c.kernel // 2) + 1

    def prepare(self, data: Dataset) -> None:
        if self.conditional:
            if data.y is None:
                raise GenzooError(f"model.conditional: {data.info.name} has no labels to condition on")
            counts = torch.bincount(data.y.long(), minlength=self.info.num_classes).double()
            self.label_freq.copy_((counts / counts.sum()).float())

    def forward(self, v: Tensor, y: Tensor | None = None) -> Tensor:
        vs, hs, skip = v, v, 0
        for layer in self.layers:
            vs, hs, s = layer(vs, hs, y)
            skip = skip + s
        return self.head(skip)

    def _y(self, batch_y: Tensor | None) -> Tensor | None:
        if not self.conditional:
            return None
        if batch_y is None:
            raise GenzooError("model.conditional: the training batches carry no labels")
        return batch_y.long().to(self.device)

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return _nll_terms(self, _index_log_prob(self, batch["x"], self._y(batch.get("y"))))

    def _labels(self, n: int, label: Any, generator: torch.Generator | None) -> Tensor | None:
        if not self.conditional:
            if label is not None:
                raise GenzooError("label: this gated-pixelcnn is unconditional (train it with --set model.conditional=true)")
            return None
        return class_labels(label, n, self.label_freq, self.info, generator).to(self.device)

    @torch.no_grad()
    def log_prob(self, x: Tensor, *, label: Any = None) -> Tensor:
        """Exact log p(x) (conditional: log p(x | y) for `label`, by default the marginal
        log Σ_y p(y) p(x | y) over the training class frequencies), in nats: (B,)."""
        x = _checked(self, x)
        if not self.conditional or label is not None:
            return _index_log_prob(self, x, self._labels(len(x), label, None))
        per_class = torch.stack([_index_log_prob(self, x, torch.full((len(x),), c, device=self.device)) for c in range(self.info.num_classes)], 1)
        return torch.logsumexp(per_class + self.label_freq.log(), dim=1)

    def row_sampler(self, y: Tensor | None = None, window: bool = True) -> RowSampler:
        return _GatedRowSampler(self, y) if window else WindowSampler(lambda v: self(v, y), None)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, label: Any = None, window: bool = True, **condition: Any) -> Tensor:
        _no_condition(self.name, condition)
        return _sample(self, n, self._labels(n, label, generator), window, generator)

    @torch.no_grad()
    def inpaint(self, x: Tensor, mask: Any, *, generator: torch.Generator | None = None, label: Any = None) -> Tensor:
        return _inpaint(self, x, mask, self._labels(len(x), label, generator), generator)


# --- PixelRNN (Row LSTM) ---------------------------------------------------------------------------------


@dataclass
class PixelRNNConfig:
    hidden: int = option(32, low=1, help="feature maps and LSTM state size h")
    layers: int = option(2, low=1, help="Row LSTM layers")
    head: int = option(64, low=1, help="width of the 1×1 output layers")
    levels: int = option(0, low=0, high=256, help="values per pixel: 0 = auto (2 for binarised data, else 256)")


class _RowLSTMSampler(RowSampler):
    """Row i from the 7×7 input layer on rows i − 3 … i and each LSTM layer's cached state of row
    i − 1: one row of computation per pixel."""

    def __init__(self, model: PixelRNN) -> None:
        self.model = model
        self.states: list[tuple[Tensor, Tensor] | None] = [None] * len(model.lstm)
        self.pending: list[tuple[Tensor, Tensor] | None] = []

    def row(self, v: Tensor, i: int) -> Tensor:
        logits, self.pending = self.model.row_logits(v, i, self.states)
        return logits

    def done(self, v: Tensor, i: int) -> None:
        self.row(v, i)  # the states of the finished row, all its pixels known
        self.states = self.pending


@register_model("pixelrnn")
class PixelRNN(GenerativeModel):
    """PixelRNN with Row LSTM layers after a masked 7×7 convolution; exact NLL."""

    Config = PixelRNNConfig
    likelihood = "exact"
    discrete = True
    kinds = ("image", "field")
    default_train = {"lr": 1e-3, "batch_size": 64}
    summary = "PixelRNN (Row LSTM over rows after a masked 7×7 conv; exact NLL, slow on a CPU)"
    tour = (TourEntry("mnist", quick_steps=50, steps=250, data_options={"binarize": "dynamic"}, quick=False),)

    def __init__(self, config: PixelRNNConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.levels = resolve_levels(self.name, config.levels, info)
        h = config.hidden
        self.first = MaskedConv2d(1, h, 7, "A")
        self.lstm = nn.ModuleList(RowLSTM(h) for _ in range(config.layers))
        self.head = pixel_head(h, config.head, 1 if self.levels == 2 else self.levels)

    def forward(self, v: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, L|1, H, W) of every pixel given the pixels before it; v in [0, 1]."""
        x = self.first(v)  # (B, h, H, W)
        for layer in self.lstm:
            x = layer(x)
        return self.head(x)

    def row_logits(self, v: Tensor, i: int, states: list[tuple[Tensor, Tensor] | None]) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Logits of row i (B, L|1, W) and every layer's (h, c) at row i, given their states at row i − 1."""
        x = self.first(v[:, :, max(0, i - 3) : i + 4])[:, :, min(i, 3)]  # row i of the first layer: (B, h, W)
        new = []
        for layer, state in zip(self.lstm, states):
            x, s = layer.step(layer.input_gates(x[:, :, None])[:, :, 0], x, state)
            new.append(s)
        return self.head(x[:, :, None])[:, :, 0], new

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return _nll_terms(self, _index_log_prob(self, batch["x"]))

    @torch.no_grad()
    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) per example, in nats, of the image's levels: (B,)."""
        return _index_log_prob(self, _checked(self, x))

    def row_sampler(self, y: Tensor | None = None, window: bool = True) -> RowSampler:
        return _RowLSTMSampler(self) if window else WindowSampler(self, None)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, window: bool = True, **condition: Any) -> Tensor:
        """n images drawn pixel by pixel (`window=False`: the whole network for every pixel)."""
        _no_condition(self.name, condition)
        return _sample(self, n, None, window, generator)

    @torch.no_grad()
    def inpaint(self, x: Tensor, mask: Any, *, generator: torch.Generator | None = None) -> Tensor:
        return _inpaint(self, x, mask, None, generator)
