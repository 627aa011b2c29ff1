"""The fully visible sigmoid belief network (FVSBN); see the package's docstring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.models.autoregressive.pixels import (
    check_shape,
    nll_terms,
    no_condition,
    resolve_levels,
)
from genzoo.models.base import GenerativeModel, TourEntry, expand_mask, require_binary
from genzoo.models.registry import register_model


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
    # FD 1,419 / 860 / 693 / 661 after 1,000 / 3,000 / 10,000 / 30,000 steps,
    # test NLL 122 / 106 / 101.1 / 101.7: by 10,000 the model, not the budget, limits its samples
    # (BENCHMARKS.md, "PixelCNN paradox")
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
        return nll_terms(self, self._log_prob(batch["x"]))

    def _log_prob(self, x: Tensor) -> Tensor:
        return -F.binary_cross_entropy_with_logits(self.logits(x), x.flatten(1), reduction="none").sum(1)

    @torch.no_grad()
    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) per example, in nats: (B,)."""
        x = check_shape(self, x.to(self.device))
        require_binary(x, f"model {self.name!r}")
        return self._log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        no_condition(self.name, condition)
        x = torch.zeros(n, *self.info.shape, device=self.device)
        return self._fill(x, torch.zeros_like(x, dtype=torch.bool), generator)

    @torch.no_grad()
    def inpaint(self, x: Tensor, mask: Any, *, generator: torch.Generator | None = None) -> Tensor:
        """Keep x where `mask` is 1 and sample the rest in raster order (module docstring)."""
        x = check_shape(self, x.to(self.device).float())
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
