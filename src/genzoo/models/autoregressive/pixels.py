"""What the autoregressive pixel models share: pixel levels and their log-probabilities, the
raster-order sampling loop and its row samplers, completion, and the checks of their input."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.data.base import DataInfo
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel, expand_mask, require_binary
from genzoo.progress import Progress

# --- the pixels: levels, log-probabilities, the sampling loop --------------------------------------------


def resolve_levels(name: str, levels: int, info: DataInfo) -> int:
    """The number of values per pixel: `levels` (0 = auto: 2 for binarised data, else 256)."""
    if info.kind not in ("image", "field") or len(info.shape) != 3:
        raise GenzooError(
            f"model {name!r} models images of shape (1, H, W); "
            f"{info.name} is {info.kind} data of shape {tuple(info.shape)}"
        )
    if info.shape[0] != 1:
        raise GenzooError(
            f"model {name!r} models one-channel images; {info.name} has {info.shape[0]} channels"
        )
    low, high = info.value_range
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise GenzooError(
            f"model {name!r} needs values in a bounded range (images); "
            f"{info.name} has range {info.value_range}"
        )
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


def check_binary(name: str, levels: int, x: Tensor) -> None:
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
    rows: RowSampler,
    k: Tensor,
    known: Tensor | None,
    levels: int,
    generator: torch.Generator | None,
    *,
    progress: bool = False,
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


def check_shape(model: GenerativeModel, x: Tensor) -> Tensor:
    if tuple(x.shape[1:]) != tuple(model.info.shape):
        raise GenzooError(
            f"examples have shape {tuple(x.shape[1:])}, "
            f"{model.info.name} examples have shape {tuple(model.info.shape)}"
        )
    return x


def no_condition(name: str, condition: dict[str, Any]) -> None:
    given = sorted(k for k, v in condition.items() if v is not None)
    if given:
        raise GenzooError(f"model {name!r} is unconditional; cannot condition on {', '.join(given)}")


def index_log_prob(model: Any, x: Tensor, y: Tensor | None = None) -> Tensor:
    """log p(x) (B,) of a model whose forward(v, y) gives per-pixel logits from values v in [0, 1]."""
    k = to_index(x, model.levels, model.info)
    return pixel_log_prob(model(k.float() / (model.levels - 1), y), k)


def checked(model: Any, x: Tensor) -> Tensor:
    """x on the model's device, of its shape, binary where the output is a Bernoulli; else a one-line
    error."""
    x = check_shape(model, x.to(model.device))
    check_binary(model.name, model.levels, x)
    return x


def nll_terms(model: GenerativeModel, logp: Tensor) -> dict[str, Tensor]:
    nll = -logp.mean()
    return {"loss": nll, "bits_per_dim": nll.detach() / (model.info.dim * math.log(2))}


def sample_model(
    model: Any, n: int, y: Tensor | None, window: bool, generator: torch.Generator | None
) -> Tensor:
    k = torch.zeros(n, *model.info.shape, dtype=torch.long, device=model.device)
    k = sample_pixels(
        model.row_sampler(y, window), k, None, model.levels, generator, progress=n * model.info.dim > 20_000
    )
    return from_index(k, model.levels, model.info)


def inpaint_model(
    model: Any, x: Tensor, mask: Any, y: Tensor | None, generator: torch.Generator | None
) -> Tensor:
    x = check_shape(model, x.to(model.device).float())
    known = expand_mask(mask, x, model.info).bool()
    given = torch.where(known, x, torch.full_like(x, model.info.value_range[0]))
    check_binary(model.name, model.levels, given)
    k = sample_pixels(
        model.row_sampler(y), to_index(given, model.levels, model.info), known, model.levels, generator
    )
    return from_index(k, model.levels, model.info)
