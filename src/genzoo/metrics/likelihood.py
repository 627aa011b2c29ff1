"""Negative log-likelihood in nats per example and bits per dimension."""

from __future__ import annotations

import math
from typing import Any

import torch

from genzoo.data.base import Dataset
from genzoo.metrics.core import register_metric
from genzoo.models.base import GenerativeModel


def _has_likelihood(model: GenerativeModel) -> bool:
    return model.likelihood is not None


@register_metric(
    "nll",
    "negative log-likelihood of held-out data (nats/example and bits/dim; exact, bound or estimate as the model says)",
    applies=_has_likelihood,
    why_not="it has no tractable or bounded likelihood",
)
def nll(model: GenerativeModel, data: Dataset, *, n: int, generator: torch.Generator, train: Dataset | None = None, batch_size: int = 250) -> dict[str, Any]:
    """NLL = −(1/N) Σ log p(x_i); bits/dim = NLL / (D ln 2). The standard error is over examples
    (and, for Monte-Carlo estimates, includes the estimator's own noise)."""
    x = data.tensors()
    values = []
    device = model.device
    for chunk in torch.split(x, batch_size):
        kwargs = {"generator": generator} if model.likelihood == "estimate" else {}
        values.append(model.log_prob(chunk.to(device), **kwargs).double().cpu())
    logp = torch.cat(values)
    nats = float(-logp.mean())
    se = float(logp.std() / math.sqrt(len(logp))) if len(logp) > 1 else float("nan")
    return {
        "nats": nats,
        "bits_per_dim": nats / (data.info.dim * math.log(2)),
        "std_err_nats": se,
        "kind": model.likelihood,
        "n": len(logp),
    }
