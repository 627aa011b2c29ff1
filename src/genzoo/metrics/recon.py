"""Reconstruction error of latent models."""

from __future__ import annotations

from typing import Any

import torch

from genzoo.data.base import Dataset
from genzoo.metrics.core import register_metric
from genzoo.models.base import GenerativeModel


@register_metric(
    "recon",
    "reconstruction error decode(encode(x)) of held-out data: mean squared error per example and per dimension",
    applies=lambda m: m.latent,
    why_not="it has no encoder",
)
def reconstruction_error(model: GenerativeModel, data: Dataset, *, n: int, generator: torch.Generator, train: Dataset | None = None, batch_size: int = 500) -> dict[str, Any]:
    x = data.tensors()
    errs = []
    for chunk in torch.split(x, batch_size):
        chunk = chunk.to(model.device)
        rec = model.reconstruct(chunk)
        errs.append(((rec - chunk) ** 2).flatten(1).sum(1).double().cpu())
    err = torch.cat(errs)
    return {"mse_per_example": float(err.mean()), "mse_per_dim": float(err.mean() / data.info.dim), "n": len(err)}
