"""PixelRNN's Row LSTM (van den Oord et al. 2016); see the package's docstring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo
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
from genzoo.nn.masked import MaskedConv2d, RowLSTM, pixel_head

# --- PixelRNN (Row LSTM) ---------------------------------------------------------------------------------


@dataclass
class PixelRNNConfig:
    hidden: int = option(32, low=1, help="feature maps and LSTM state size h")
    layers: int = option(2, low=1, help="Row LSTM layers")
    head: int = option(64, low=1, help="width of the 1×1 output layers")
    levels: int = option(
        0, low=0, high=256, help="values per pixel: 0 = auto (2 for binarised data, else 256)"
    )


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

    def row_logits(
        self, v: Tensor, i: int, states: list[tuple[Tensor, Tensor] | None]
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Logits of row i (B, L|1, W) and every layer's (h, c) at row i, given their states at row i − 1."""
        x = self.first(v[:, :, max(0, i - 3) : i + 4])[:, :, min(i, 3)]  # row i of the first layer: (B, h, W)
        new = []
        for layer, state in zip(self.lstm, states):
            x, s = layer.step(layer.input_gates(x[:, :, None])[:, :, 0], x, state)
            new.append(s)
        return self.head(x[:, :, None])[:, :, 0], new

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return nll_terms(self, index_log_prob(self, batch["x"]))

    @torch.no_grad()
    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) per example, in nats, of the image's levels: (B,)."""
        return index_log_prob(self, checked(self, x))

    def row_sampler(self, y: Tensor | None = None, window: bool = True) -> RowSampler:
        return _RowLSTMSampler(self) if window else WindowSampler(self, None)

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, window: bool = True, **condition: Any
    ) -> Tensor:
        """n images drawn pixel by pixel (`window=False`: the whole network for every pixel)."""
        no_condition(self.name, condition)
        return sample_model(self, n, None, window, generator)

    @torch.no_grad()
    def inpaint(self, x: Tensor, mask: Any, *, generator: torch.Generator | None = None) -> Tensor:
        return inpaint_model(self, x, mask, None, generator)
