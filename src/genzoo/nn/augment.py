"""Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training", NeurIPS): the same random transformations applied to real and generated images
before the critic sees them — in the critic's and the generator's updates alike — so that the
critic cannot memorise a small training set, while gradients still flow to the generator through
the transformation. The three operations of the paper's policy, for images (B, C, H, W):

    color        brightness + U(−½, ½); saturation × U(0, 2) around the channel mean (C > 1);
                 contrast × U(½, 3/2) around the image mean
    translation  a shift by up to `ratio`·size pixels each way, zeros shifted in (ratio ⅛)
    cutout       a square of ½ the size set to zero, at a uniform position (partly outside allowed)

Every draw is per example, from `generator` where given.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

POLICIES = ("none", "translation", "translation,cutout", "color,translation,cutout")


def _rand(shape: tuple[int, ...], x: Tensor, generator: torch.Generator | None) -> Tensor:
    dev = generator.device if generator is not None else x.device
    return torch.rand(shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)


def _randint(high: int, shape: tuple[int, ...], x: Tensor, generator: torch.Generator | None) -> Tensor:
    dev = generator.device if generator is not None else x.device
    return torch.randint(0, high, shape, generator=generator, device=dev).to(x.device)


def color(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    b = len(x)
    x = x + (_rand((b, 1, 1, 1), x, generator) - 0.5)
    if x.shape[1] > 1:
        mean = x.mean(1, keepdim=True)
        x = (x - mean) * (_rand((b, 1, 1, 1), x, generator) * 2) + mean
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (_rand((b, 1, 1, 1), x, generator) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> Tensor:
    """Each image shifted by (dy, dx), |dy| ≤ round(ratio·H), |dx| ≤ round(ratio·W); zeros come in."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = _randint(2 * sh + 1, (b, 1, 1), x, generator) - sh
    dx = _randint(2 * sw + 1, (b, 1, 1), x, generator) - sw
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    src_r = (rows - dy + 1).clamp(0, h + 1)  # index into the image padded by one zero pixel
    src_c = (cols - dx + 1).clamp(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)  # (B, H+2, W+2, C)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded[batch, src_r, src_c].permute(0, 3, 1, 2)  # (B, C, H, W), laid out channels-last


def cutout(x: Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Each image with one square of round(ratio·H) × round(ratio·W) pixels set to zero."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _randint(h + (1 - ch % 2), (b, 1, 1), x, generator)
    cx = _randint(w + (1 - cw % 2), (b, 1, 1), x, generator)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (
        (rows >= cy - ch // 2)
        & (rows < cy - ch // 2 + ch)
        & (cols >= cx - cw // 2)
        & (cols < cx - cw // 2 + cw)
    )
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(x: Tensor, policy: str, generator: torch.Generator | None = None) -> Tensor:
    """`x` (B, C, H, W) through the comma-separated operations of `policy`, in the paper's order."""
    if policy == "none":
        return x
    ops = policy.split(",")
    if "color" in ops:
        x = color(x, generator)
    if "translation" in ops:
        x = translation(x, generator=generator)
    if "cutout" in ops:
        x = cutout(x, generator=generator)
    return x
