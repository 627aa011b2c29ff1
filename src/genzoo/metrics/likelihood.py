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
    "negative log-likelihood of held-out data: nats/example and bits/dim (exact, bound or estimate, as the "
    "model says)",
    applies=lambda model, data: model.likelihood is not None,
    why_not="it has no tractable or bounded likelihood",
)
def nll(ctx: EvalContext, *, batch_size: int = 250) -> dict[str, Any]:
    """NLL = −(1/N) Σ log p(x_i); bits/dim = NLL / (D ln 2). The standard error is over examples
    (for Monte-Carlo estimates it includes the estimator's own noise).

    log p is computed over chunks of `batch_size` examples. Under torchrun the chunks are split
    over the ranks and gathered (`distributed.map_split`): a deterministic log_prob gives exactly
    the single-process figures. A stochastic one (a `generator` parameter: IWAE, AIS, a diffusion
    bound) threads one generator through the chunks in one process, which cannot be split; there,
    chunk i ≥ 1 draws from its own generator instead (recorded as "draws": "per chunk"), so the
    figures do not depend on the number of ranks but differ from one process's by Monte-Carlo
    noise."""
    from genzoo import distributed

    model = ctx.model
    if ctx.test.info.binary and not model.discrete:
        raise GenzooError(
            "the model's log_prob is a continuous density, the data are binary: its value is no probability "
            "and is not comparable with discrete likelihoods"
        )
    generator = ctx.generator(7)
    real, extra = ctx.real, {}
    if model.binary_likelihood and not ctx.test.info.binary:
        # a Bernoulli likelihood trained on grey images models their stochastic binarisations
        # (its cross-entropy is their expected log-likelihood): score one fixed such draw
        from genzoo.data.base import BINARIZE_SEED, binarize

        if ctx.test.info.kind != "image" or tuple(ctx.test.info.value_range) != (0.0, 1.0):
            raise GenzooError(
                f"the model's likelihood is over binary values; {ctx.test.info.name} is not images in [0, 1]"
            )
        real = binarize(real, BINARIZE_SEED)
        extra["scored_on"] = (
            f"one stochastic binarisation of the held-out images (seed {BINARIZE_SEED}), the data a "
            f"Bernoulli likelihood models"
        )
    chunks = torch.split(real, batch_size)
    stochastic = (
        "generator" in inspect.signature(model.log_prob).parameters
    )  # Monte-Carlo estimates and bounds

    def log_prob(chunk: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return model.log_prob(chunk.to(model.device), **kwargs).double().cpu()

    if not stochastic:
        values = distributed.map_split(log_prob, chunks)
    elif not distributed.active():
        values = [log_prob(chunk, generator=generator) for chunk in chunks]  # one generator, threaded
    else:
        # Chunk 0 on every rank with the generator one process starts with: its values equal one
        # process's, and what a model fixes on its first call (the RBM's AIS log Z, cached per
        # weights) is fixed alike on every rank. Chunk i ≥ 1 then draws from its own generator.
        values = [log_prob(chunks[0], generator=generator)]
        rest = list(range(1, len(chunks)))
        values += distributed.map_split(
            lambda i: log_prob(chunks[i], generator=ctx.generator(7 + 1000 * i)), rest
        )
        extra["draws"] = "per chunk"
    logp = torch.cat(values)
    nats = float(-logp.mean())
    se = float(logp.std() / math.sqrt(len(logp))) if len(logp) > 1 else float("nan")
    return {
        "nats": nats,
        "bits_per_dim": nats / (ctx.test.info.dim * math.log(2)),
        "std_err_nats": se if math.isfinite(se) else None,
        "kind": model.likelihood,
        "n": len(logp),
        **extra,
    }
