"""Negative log-likelihood in nats per example and bits per dimension."""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch

from genzoo.errors import GenzooError
from genzoo.metrics.core import EvalContext, register_metric


@register_metric(
    "nll",
    "negative log-likelihood of held-out data: nats/example and bits/dim (exact, bound or estimate, as the model says)",
    applies=lambda model, data: model.likelihood is not None,
    why_not="it has no tractable or bounded likelihood",
)
def nll(ctx: EvalContext, *, batch_size: int = 250) -> dict[str, Any]:
    """NLL = −(1/N) Σ log p(x_i); bits/dim = NLL / (D ln 2). The standard error is over examples
    (for Monte-Carlo estimates it includes the estimator's own noise)."""
    model = ctx.model
    if ctx.test.info.binary and not model.discrete:
        raise GenzooError(
            "the model's log_prob is a continuous density, the data are binary: its value is no probability "
            "and is not comparable with discrete likelihoods"
        )
    generator = ctx.generator(7)
    values = []
    stochastic = "generator" in inspect.signature(model.log_prob).parameters  # Monte-Carlo estimates and bounds
    for chunk in torch.split(ctx.real, batch_size):
        kwargs = {"generator": generator} if stochastic else {}
        values.append(model.log_prob(chunk.to(model.device), **kwargs).double().cpu())
    logp = torch.cat(values)
    nats = float(-logp.mean())
    se = float(logp.std() / math.sqrt(len(logp))) if len(logp) > 1 else float("nan")
    return {
        "nats": nats,
        "bits_per_dim": nats / (ctx.test.info.dim * math.log(2)),
        "std_err_nats": se if math.isfinite(se) else None,
        "kind": model.likelihood,
        "n": len(logp),
    }
