"""PixelCNN (van den Oord et al. 2016): masked convolutions and residual blocks; see the package's
docstring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo
from genzoo.errors import GenzooError
from genzoo.models.autoregressive.pixels import (
    RowSampler,
    WindowSampler,
    checked,
    index_log_prob,
    inpaint_model,
    nll_terms,
    no_condition,
    resolve_levels,
    sample_model,
)
from genzoo.models.base import GenerativeModel, TourEntry
from genzoo.models.registry import register_model
from genzoo.nn.masked import MaskedConv2d, MaskedResidualBlock, pixel_head


@dataclass
class PixelCNNConfig:
    channels: int = option(64, low=2, help="feature maps h of the masked convolutions")
    blocks: int = option(6, low=0, help="residual blocks (1×1 → masked 3×3 → 1×1) after the first 7×7 layer")
    first_kernel: int = option(7, low=3, help="side of the first (type A) masked convolution; odd")
    head: int = option(64, low=1, help="width of the 1×1 output layers")
    levels: int = option(
        0, low=0, high=256, help="values per pixel: 0 = auto (2 for binarised data, else 256)"
    )


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
    # FD 1,365 after 400 steps, 771 after 1,600 (about 3 minutes of the full tour; BENCHMARKS.md,
    # "PixelCNN paradox")
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
        return nll_terms(self, index_log_prob(self, batch["x"]))

    @torch.no_grad()
    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) per example, in nats, of the image's levels: (B,)."""
        return index_log_prob(self, checked(self, x))

    def row_sampler(self, y: Tensor | None = None, window: bool = True) -> RowSampler:
        return _PixelCNNRowSampler(self) if window else WindowSampler(self, None)

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, window: bool = True, **condition: Any
    ) -> Tensor:
        """n images drawn pixel by pixel (`window=False`: the whole image through the network for
        every pixel, the reference the window must match)."""
        no_condition(self.name, condition)
        return sample_model(self, n, None, window, generator)

    @torch.no_grad()
    def inpaint(self, x: Tensor, mask: Any, *, generator: torch.Generator | None = None) -> Tensor:
        """Keep x where `mask` is 1 and sample the rest in raster order (module docstring)."""
        return inpaint_model(self, x, mask, None, generator)


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
