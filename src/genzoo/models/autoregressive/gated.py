"""The gated PixelCNN (van den Oord et al. 2016): vertical and horizontal stacks, optionally
class-conditional; see the package's docstring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
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
from genzoo.models.base import GenerativeModel, TourEntry, class_labels
from genzoo.models.registry import register_model
from genzoo.nn.masked import GatedLayer, pixel_head

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
    levels: int = option(
        0, low=0, high=256, help="values per pixel: 0 = auto (2 for binarised data, else 256)"
    )
    conditional: bool = option(
        False, help="class-conditional on the data's labels (a learned bias per class on every gate)"
    )


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
    tour = (
        TourEntry(
            "mnist",
            quick_steps=50,
            steps=250,
            data_options={"binarize": "dynamic"},
            params={"conditional": True},
            quick=False,
        ),
    )

    def __init__(self, config: GatedPixelCNNConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        if config.first_kernel % 2 == 0 or config.kernel % 2 == 0:
            raise GenzooError(
                f"model.first_kernel and model.kernel must be odd, "
                f"got {config.first_kernel} and {config.kernel}"
            )
        self.levels = resolve_levels(self.name, config.levels, info)
        self.conditional = bool(config.conditional)
        if self.conditional and not info.num_classes:
            raise GenzooError(f"model.conditional: {info.name} has no labels to condition on")
        classes = info.num_classes if self.conditional else 0
        p = config.channels
        self.layers = nn.ModuleList(
            GatedLayer(
                1 if i == 0 else p,
                p,
                config.first_kernel if i == 0 else config.kernel,
                i == 0,
                classes,
                config.skip,
            )
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
        return nll_terms(self, index_log_prob(self, batch["x"], self._y(batch.get("y"))))

    def _labels(self, n: int, label: Any, generator: torch.Generator | None) -> Tensor | None:
        if not self.conditional:
            if label is not None:
                raise GenzooError(
                    "label: this gated-pixelcnn is unconditional (train it with --set model.conditional=true)"
                )
            return None
        return class_labels(label, n, self.label_freq, self.info, generator).to(self.device)

    @torch.no_grad()
    def log_prob(self, x: Tensor, *, label: Any = None) -> Tensor:
        """Exact log p(x) (conditional: log p(x | y) for `label`, by default the marginal
        log Σ_y p(y) p(x | y) over the training class frequencies), in nats: (B,)."""
        x = checked(self, x)
        if not self.conditional or label is not None:
            return index_log_prob(self, x, self._labels(len(x), label, None))
        per_class = torch.stack(
            [
                index_log_prob(self, x, torch.full((len(x),), c, device=self.device))
                for c in range(self.info.num_classes)
            ],
            1,
        )
        return torch.logsumexp(per_class + self.label_freq.log(), dim=1)

    def row_sampler(self, y: Tensor | None = None, window: bool = True) -> RowSampler:
        return _GatedRowSampler(self, y) if window else WindowSampler(lambda v: self(v, y), None)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        label: Any = None,
        window: bool = True,
        **condition: Any,
    ) -> Tensor:
        no_condition(self.name, condition)
        return sample_model(self, n, self._labels(n, label, generator), window, generator)

    @torch.no_grad()
    def inpaint(
        self, x: Tensor, mask: Any, *, generator: torch.Generator | None = None, label: Any = None
    ) -> Tensor:
        return inpaint_model(self, x, mask, self._labels(len(x), label, generator), generator)
