"""The sample metrics as registered names: each scores the model's samples against half A of the
held-out data and reports, beside it, the same metric on half B against half A — the noise
floor of real data at the same N (see `genzoo.metrics.core`).

Below a minimum number of examples per set a metric's result carries a "note" (`small_sample`).
The minima, and the measurements behind them (disjoint draws A, B of n real examples of mnist's
128-d classifier features and of ring8's 2-d points; σ = the std of the figure over 60 pairs):

- precision/recall 150, coverage 100, density 1000, 1-NN accuracy 200, memorisation 200: the n
  from which σ ≤ 0.035 on both data sets, so that a gap of 0.1 between two figures is 2σ of
  their difference (√2 · 0.035 ≈ 0.05). σ at n = 100 / 150 / 200 / 500 / 1000: precision and
  recall 0.040 / 0.031 / 0.027 / 0.019 / 0.012; density 0.087 / 0.070 / 0.063 / 0.045 / 0.032;
  coverage 0.026 / 0.023 / 0.022 / 0.011 / 0.010; 1-NN 0.053 / 0.036 / 0.030 / 0.022 / 0.014
  (the larger of the two sets). Memorisation (mnist pixels, 40 pairs): the copy rate's σ 0.052
  at 50, 0.028 at 100; the median ratio's 0.038 at 100, 0.030 at 200 — and below 200 its copy
  threshold, the 5th percentile of the held-out distances, rests on fewer than 10 of them.
  At n ≤ 20 the k-NN balls are so wide that precision and recall are near 1 on ring8 whatever
  the samples (Kynkäänniemi et al. 2019 and Naeem et al. 2020 work with 10k–50k samples).
- KID and MMD 300: from there the floor's σ is below half the value of a visibly imperfect
  model (mnist features × 1.1 + 0.3: precision 0.80 against a floor of 0.89, FD 4.5× its floor),
  which then lies 2σ off the floor. KID's σ at 200 / 250 / 300: 652 / 596 / 404 against the
  model's 1.25e3; MMD²'s 0.0019 / 0.0016 / 0.0009 against 0.0024. KID is unbiased, but its
  variance at small n is large (its std, a half-sampling spread, says how large).
- Fréchet distance max(200, 5·D): FD is biased upwards as a/N with a slope a that depends on the
  model (Chong & Forsyth 2020), and Heusel et al. advise 10,000 samples for 2,048-d features
  (about 5·D; fewer than D gives a singular covariance and is refused). Measured floor / tr Σ:
  mnist 0.041 / 0.019 / 0.008 / 0.0045 at 200 / 500 / 1000 / 2000 (≈ 9/N); on ring8 (D = 2) its
  σ falls from 2.4% of tr Σ at 100 to 0.7% at 200.
- modes K·ln(100K) samples for K modes (53 on ring8, 196 on grid25): fewer, and even a perfect
  sampler leaves some mode empty with probability above 1% (≤ K e^(−n/K), a coupon collector).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from genzoo.errors import GenzooError
from genzoo.metrics import samples as S
from genzoo.metrics.core import EvalContext, register_metric, samples_as_data, small_sample

# minimum examples per set, real and generated (measurements in the module docstring)
FD_MIN = 200  # and at least 5·D
KERNEL_MIN = 300  # KID and MMD
PR_MIN = 150
COVERAGE_MIN = 100
DENSITY_MIN = 1000
ONE_NN_MIN = 200
MEMORIZATION_MIN = 200
_SPREAD = "the std of {} between two draws of real data exceeds 0.035 (measured)"
_KERNEL_WHY = (
    "two draws of real data differ in {} by more than half the value of a visibly imperfect model (measured)"
)


def _has_classifier(model, data) -> bool:
    from genzoo.metrics.features import shipped_classifier

    return shipped_classifier(data.info) is not None


RECOGNISED = 0.9  # the class probability from which a sample counts as recognised


@register_metric(
    "recognisable",
    f"share of samples the shipped classifier assigns to one class with probability ≥ {RECOGNISED} "
    "(held-out data's share is the floor), and the total-variation distance of their class "
    "histogram to the data's",
    applies=_has_classifier,
    why_not="genzoo ships a digit classifier for mnist-like and digits images only",
)
def recognisable(ctx: EvalContext) -> dict[str, Any]:
    """What a person sees: a recognisable digit is one the classifier is sure of; a model that draws only
    some digits shows it in the class histogram (classes = the argmax over every sample, sure or not)."""
    probs = {
        name: ctx.extractor.class_probabilities(x)
        for name, x in (
            ("fake", samples_as_data(ctx.samples, ctx.test)),
            ("a", ctx.real_a),
            ("b", ctx.real_b),
        )
    }
    hist = {name: S.class_histogram(p) for name, p in probs.items()}
    return {
        "share": S.recognisable(probs["fake"], threshold=RECOGNISED),
        "floor": S.recognisable(probs["b"], threshold=RECOGNISED),
        "class_tv": S.total_variation(hist["fake"], hist["a"]),
        "class_tv_floor": S.total_variation(hist["b"], hist["a"]),
        "class_share": [round(float(v), 4) for v in hist["fake"]],
        "class_share_data": [round(float(v), 4) for v in hist["a"]],
        **small_sample(ctx, PR_MIN, "the share's standard error exceeds 0.04"),
    }


@register_metric("fd", "Fréchet distance between feature Gaussians of samples and held-out data (0 ideal)")
def fd(ctx: EvalContext) -> dict[str, Any]:
    dim = ctx.feats_a.shape[1]
    note = small_sample(
        ctx,
        max(FD_MIN, 5 * dim),
        f"the Fréchet distance is dominated by its 1/N bias (Chong & Forsyth 2020; Heusel et al. advise "
        f"10,000 samples for 2,048-d features, about 5·D; here D = {dim}): compare it only at equal N",
    )
    return {
        "fd": S.frechet_distance(ctx.feats_a, ctx.feats_fake),
        "floor": S.frechet_distance(ctx.feats_a, ctx.feats_b),
        **note,
    }


@register_metric(
    "kid", "kernel inception distance: unbiased MMD² with the cubic polynomial kernel, over subsets (0 ideal)"
)
def kid(ctx: EvalContext) -> dict[str, Any]:
    model = S.kid(ctx.feats_a, ctx.feats_fake, seed=ctx.seed)
    floor = S.kid(ctx.feats_a, ctx.feats_b, seed=ctx.seed)
    return {
        **model,
        "floor": floor["mean"],
        **small_sample(ctx, KERNEL_MIN, _KERNEL_WHY.format("KID") + "; see its std"),
    }


@register_metric("mmd", "unbiased MMD² with a Gaussian kernel, bandwidth by the median heuristic (0 ideal)")
def mmd(ctx: EvalContext) -> dict[str, Any]:
    model = S.mmd(ctx.feats_a, ctx.feats_fake)
    floor = S.mmd(ctx.feats_a, ctx.feats_b, bandwidth=model["bandwidth"])  # the same kernel for both
    return {**model, "floor": floor["mmd2"], **small_sample(ctx, KERNEL_MIN, _KERNEL_WHY.format("MMD²"))}


@register_metric("pr", "precision (fidelity) and recall (diversity) of k-NN manifolds, k = 3 (1 ideal)")
def precision_recall(ctx: EvalContext) -> dict[str, Any]:
    model = S.precision_recall(ctx.feats_a, ctx.feats_fake, k=3)
    floor = S.precision_recall(ctx.feats_a, ctx.feats_b, k=3)
    note = small_sample(
        ctx, PR_MIN, _SPREAD.format("k-NN precision and recall") + ", and wide k-NN balls push them towards 1"
    )
    return {**model, **{f"{k}_floor": v for k, v in floor.items()}, "k": 3, **note}


@register_metric(
    "dc", "density (fidelity) and coverage (diversity) of k-NN balls around real data, k = 5 (1 ideal)"
)
def density_coverage(ctx: EvalContext) -> dict[str, Any]:
    model = S.density_coverage(ctx.feats_a, ctx.feats_fake, k=5)
    floor = S.density_coverage(ctx.feats_a, ctx.feats_b, k=5)
    note = small_sample(ctx, COVERAGE_MIN, _SPREAD.format("density and coverage")) or small_sample(
        ctx, DENSITY_MIN, _SPREAD.format("density") + f"; coverage is steady from {COVERAGE_MIN}"
    )
    return {**model, **{f"{k}_floor": v for k, v in floor.items()}, "k": 5, **note}


@register_metric(
    "1nn", "leave-one-out 1-nearest-neighbour accuracy on real ∪ generated (0.5 ideal, 1 = separable)"
)
def one_nn(ctx: EvalContext) -> dict[str, Any]:
    model = S.one_nn_accuracy(ctx.feats_a, ctx.feats_fake)
    floor = S.one_nn_accuracy(ctx.feats_a, ctx.feats_b)
    return {
        **model,
        "floor": floor["accuracy"],
        **small_sample(ctx, ONE_NN_MIN, _SPREAD.format("the 1-NN accuracy")),
    }


@register_metric(
    "memorization",
    "distance of samples to their nearest training example against that of held-out data (pixel space)",
    applies=lambda model, data: True,
)
def memorization(ctx: EvalContext) -> dict[str, Any]:
    if ctx.train is None:
        raise GenzooError("memorisation needs the training data")
    train = ctx.train.tensors().flatten(1).double().numpy()
    fake = samples_as_data(ctx.samples, ctx.test).flatten(1).double().numpy()
    result = S.memorization(fake, train, ctx.real_a.flatten(1).double().numpy())
    result |= small_sample(
        ctx,
        MEMORIZATION_MIN,
        "the copy threshold (the 5th percentile of the held-out distances) rests on fewer "
        "than 10 of them, and " + _SPREAD.format("the median distance ratio"),
    )
    closest = result.pop("closest")
    picture = _closest_pairs_png(ctx, closest)
    if picture is not None:
        name = ctx.save_png("memorization.png", picture)
        if name:
            result["closest_pairs_png"] = name
    result["closest"] = closest
    return result


def _closest_pairs_png(ctx: EvalContext, closest: Any) -> bytes | None:
    """The closest (sample, training example) pairs side by side, for the report."""
    if ctx.test.info.kind == "points" or ctx.train is None:
        return None
    from genzoo.pictures import image_grid, png_bytes

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
    k = len(centres)
    note = small_sample(
        ctx,
        modes_min(k),
        f"even a perfect sampler leaves one of the {k} modes empty with probability above 1%",
    )
    return {
        **model,
        "modes_total": k,
        "modes_covered_floor": floor["modes_covered"],
        "high_quality_rate_floor": floor["high_quality_rate"],
        **note,
    }


def modes_min(k: int) -> int:
    """Samples for a perfect sampler to fill each of k equally likely modes with probability ≥ 99%:
    P(some mode empty) ≤ k (1 − 1/k)ⁿ ≤ k e^(−n/k) ≤ 0.01 ⇔ n ≥ k ln(100k)."""
    return math.ceil(k * math.log(100 * k))
