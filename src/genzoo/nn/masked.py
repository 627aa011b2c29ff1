"""Masked convolutions (van den Oord et al. 2016, "Pixel Recurrent Neural Networks"): the blocks of
the PixelCNN family and of the VQ-VAE's prior, which see only the pixels before the centre in
raster order."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedConv2d(nn.Conv2d):
    """A k×k convolution that sees only the pixels before the centre in raster order (type "A")
    or those and the centre (type "B"); padding keeps the size."""

    def __init__(self, c_in: int, c_out: int, kernel: int, kind: str) -> None:
        super().__init__(c_in, c_out, kernel, padding=kernel // 2)
        mask = torch.ones(kernel, kernel)
        c = kernel // 2
        mask[c, c + (kind == "B") :] = 0
        mask[c + 1 :] = 0
        self.register_buffer("mask", mask[None, None], persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class MaskedResidualBlock(nn.Module):
    """ReLU → 1×1 (h → h/2) → ReLU → masked 3×3 B → ReLU → 1×1 (h/2 → h), plus the input."""

    def __init__(self, h: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(), nn.Conv2d(h, h // 2, 1), nn.ReLU(), MaskedConv2d(h // 2, h // 2, 3, "B"), nn.ReLU(), nn.Conv2d(h // 2, h, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def pixel_head(c_in: int, hidden: int, out: int) -> nn.Sequential:
    """ReLU → 1×1 (c_in → hidden) → ReLU → 1×1 (hidden → out): per-pixel logits from features."""
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, out, 1))
