"""The sample metrics as registered names: each scores the model's samples against half A of the
held-out data and reports, beside it, the same metric on half B against half A — the noise
floor of real data at the same N (see :mod:`genzoo.metrics.core`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genzoo.errors import GenzooError
from genzoo.metrics import samples as S
from genzoo.metrics.core import EvalContext, register_metric


@register_metric("fd", "Fréchet distance between feature Gaussians of samples and held-out data (0 ideal)")
def fd(ctx: EvalContext) -> dict[str, Any]:
    return {"fd": S.frechet_distance(ctx.feats_a, ctx.feats_fake), "floor": S.frechet_distance(ctx.feats_a, ctx.feats_b)}


@register_metric("kid", "kernel inception distance: unbiased MMD² with the cubic polynomial kernel, over subsets (0 ideal)")
def kid(ctx: EvalContext) -> dict[str, Any]:
    model = S.kid(ctx.feats_a, ctx.feats_fake, seed=ctx.seed)
    floor = S.kid(ctx.feats_a, ctx.feats_b, seed=ctx.seed)
    return {**model, "floor": floor["mean"]}


@register_metric("mmd", "unbiased MMD² with a Gaussian kernel, bandwidth by the median heuristic (0 ideal)")
def mmd(ctx: EvalContext) -> dict[str, Any]:
    model = S.mmd(ctx.feats_a, ctx.feats_fake)
    floor = S.mmd(ctx.feats_a, ctx.feats_b, bandwidth=model["bandwidth"])  # the same kernel for both
    return {**model, "floor": floor["mmd2"]}


@register_metric("pr", "precision (fidelity) and recall (diversity) of k-NN manifolds, k = 3 (1 ideal)")
def precision_recall(ctx: EvalContext) -> dict[str, Any]:
    model = S.precision_recall(ctx.feats_a, ctx.feats_fake, k=3)
    floor = S.precision_recall(ctx.feats_a, ctx.feats_b, k=3)
    return {**model, **{f"{k}_floor": v for k, v in floor.items()}, "k": 3}


@register_metric("dc", "density (fidelity) and coverage (diversity) of k-NN balls around real data, k = 5 (1 ideal)")
def density_coverage(ctx: EvalContext) -> dict[str, Any]:
    model = S.density_coverage(ctx.feats_a, ctx.feats_fake, k=5)
    floor = S.density_coverage(ctx.feats_a, ctx.feats_b, k=5)
    return {**model, **{f"{k}_floor": v for k, v in floor.items()}, "k": 5}


@register_metric("1nn", "leave-one-out 1-nearest-neighbour accuracy on real ∪ generated (0.5 ideal, 1 = separable)")
def one_nn(ctx: EvalContext) -> dict[str, Any]:
    model = S.one_nn_accuracy(ctx.feats_a, ctx.feats_fake)
    floor = S.one_nn_accuracy(ctx.feats_a, ctx.feats_b)
    return {**model, "floor": floor["accuracy"]}


@register_metric(
    "memorization",
    "distance of samples to their nearest training example against that of held-out data (pixel space)",
    applies=lambda model, data: True,
)
def memorization(ctx: EvalContext) -> dict[str, Any]:
    if ctx.train is None:
        raise GenzooError("memorisation needs the training data")
    train = ctx.train.tensors().flatten(1).double().numpy()
    fake = _binary_like(ctx.samples, ctx).flatten(1).double().numpy()
    result = S.memorization(fake, train, ctx.real_a.flatten(1).double().numpy())
    closest = result.pop("closest")
    picture = _closest_pairs_png(ctx, closest)
    if picture is not None:
        name = ctx.save_png("memorization.png", picture)
        if name:
            result["closest_pairs_png"] = name
    result["closest"] = closest
    return result


def _binary_like(x: torch.Tensor, ctx: EvalContext) -> torch.Tensor:
    return (x > 0.5).float() if ctx.test.info.binary else x


def _closest_pairs_png(ctx: EvalContext, closest: Any) -> bytes | None:
    """The closest (sample, training example) pairs side by side, for the report."""
    if ctx.test.info.kind == "points" or ctx.train is None:
        return None
    from genzoo.viz import image_grid, png_bytes

    pairs = closest.get("pairs") if isinstance(closest, dict) else closest
    if not pairs:
        return None
    idx_s = [int(p[0]) for p in pairs]
    idx_t = [int(p[1]) for p in pairs]
    top = ctx.samples[idx_s]
    bottom = ctx.train.tensors()[idx_t]
    return png_bytes(image_grid(torch.cat([top, bottom]), ctx.test.info, nrow=len(idx_s)))


def _has_modes(model, data) -> bool:
    return "modes" in data.extras and data.info.kind == "points"


@register_metric(
    "modes",
    "2-D mixtures: modes covered and the share of high-quality samples (within 3σ of a mode)",
    applies=_has_modes,
    why_not="the data have no known modes (ring8 and grid25 do)",
)
def modes(ctx: EvalContext) -> dict[str, Any]:
    centres = np.asarray(ctx.test.extras["modes"], dtype=np.float64)
    sigma = float(ctx.test.extras["sigma"])
    model = S.mode_coverage(ctx.samples.double().numpy(), centres, sigma)
    floor = S.mode_coverage(ctx.real_b.double().numpy(), centres, sigma)
    return {**model, "modes_total": len(centres), "modes_covered_floor": floor["modes_covered"], "high_quality_rate_floor": floor["high_quality_rate"]}
