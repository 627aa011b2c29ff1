"""Reconstruction error of latent models, and anomaly scores."""

from __future__ import annotations

from typing import Any

import torch

from genzoo.metrics.core import EvalContext, register_metric
from genzoo.models.base import Classifies


@register_metric(
    "recon",
    "reconstruction error of held-out data, ‖decode(encode(x)) − x‖²: per example and per dimension",
    applies=lambda model, data: model.encodes,
    why_not="it has no encoder",
)
def reconstruction_error(ctx: EvalContext, *, batch_size: int = 500) -> dict[str, Any]:
    model = ctx.model
    errs = []
    for chunk in torch.split(ctx.real, batch_size):
        chunk = chunk.to(model.device)
        rec = model.reconstruct(chunk).to(chunk.dtype)
        errs.append(((rec - chunk) ** 2).flatten(1).sum(1).double().cpu())
    err = torch.cat(errs)
    return {
        "mse_per_example": float(err.mean()),
        "mse_per_dim": float(err.mean() / ctx.test.info.dim),
        "n": len(err),
    }


def _has_score(model, data) -> bool:
    return model.likelihood is not None or model.encodes


def auroc(negatives: torch.Tensor, positives: torch.Tensor) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative) + ½ P(tie)
    (the Mann–Whitney U statistic over all pairs)."""
    neg, pos = negatives.double().flatten(), positives.double().flatten()
    allv = torch.cat([neg, pos])
    order = torch.argsort(allv, stable=True)
    ranks = torch.empty_like(allv)
    ranks[order] = torch.arange(1, len(allv) + 1, dtype=torch.float64)
    # average the ranks of tied values
    uniq, inverse = torch.unique(allv, return_inverse=True)
    sums = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, ranks)
    counts = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, torch.ones_like(ranks))
    ranks = (sums / counts)[inverse]
    u = ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(neg) * len(pos)))


@register_metric(
    "anomaly",
    "anomaly score (negative log-likelihood or reconstruction error) of held-out data, and the ROC AUC "
    "separating it from the same examples with their pixels shuffled",
    applies=_has_score,
    why_not="it has neither a likelihood nor an encoder",
)
def anomaly(ctx: EvalContext, *, batch_size: int = 250) -> dict[str, Any]:
    """The model's `anomaly_score` on held-out data against the same data with every example's
    dimensions permuted at random (same marginal values, structure destroyed): AUC 1 means every
    shuffled example scores as more anomalous than every real one, 0.5 means no separation."""
    model, x = ctx.model, ctx.real
    g = ctx.generator(11)
    shuffled = torch.stack(
        [row.flatten()[torch.randperm(row.numel(), generator=g)].reshape(row.shape) for row in x]
    )
    real = torch.cat(
        [model.anomaly_score(c.to(model.device)).double().cpu() for c in torch.split(x, batch_size)]
    )
    fake = torch.cat(
        [model.anomaly_score(c.to(model.device)).double().cpu() for c in torch.split(shuffled, batch_size)]
    )
    return {
        "mean_score": float(real.mean()),
        "mean_score_shuffled": float(fake.mean()),
        "auroc_vs_shuffled": auroc(real, fake),
        "n": len(real),
    }


@register_metric(
    "classify",
    (
        "accuracy of the model's own classifier (an RBM on [x, one-hot y]: the label of lowest free energy) "
        "on held-out labelled data"
    ),
    applies=lambda model, data: (
        isinstance(model, Classifies) and getattr(model, "num_labels", 0) > 0 and data.y is not None
    ),
    why_not="it is no classifier, or the data have no labels",
)
def classification_accuracy(ctx: EvalContext, *, batch_size: int = 500) -> dict[str, Any]:
    model, test = ctx.model, ctx.test
    if test.y is None:
        from genzoo.errors import GenzooError

        raise GenzooError(f"classify: {test.info.name} has no labels")
    x = test.tensors()
    predicted = torch.cat(
        [model.classify(chunk.to(model.device)).cpu() for chunk in torch.split(x, batch_size)]
    )
    correct = (predicted == test.y).double()
    return {
        "accuracy": float(correct.mean()),
        "std_err": float(correct.std() / len(correct) ** 0.5),
        "n": len(correct),
    }
