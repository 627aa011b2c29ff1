"""Metrics: one suite for every family.

Plain functions on feature arrays (`frechet_distance`, `kid`, `mmd`, `precision_recall`,
`density_coverage`, `one_nn_accuracy`, `memorization`, `mode_coverage`) usable without a model,
and the same as registered names (`genzoo list metrics`) that `evaluate` runs against a model
with their protocol (sample sizes, seed, split, feature space, noise floor) recorded beside them.
"""

from genzoo.metrics import fields, likelihood, recon, suite  # noqa: F401  (registers the metrics)
from genzoo.metrics.core import METRICS, EvalContext, MetricSpec, default_metrics, evaluate, register_metric
from genzoo.metrics.samples import (
    density_coverage,
    frechet_distance,
    kid,
    kid_subsets,
    memorization,
    mmd,
    mode_coverage,
    one_nn_accuracy,
    precision_recall,
)

__all__ = [
    "METRICS",
    "EvalContext",
    "MetricSpec",
    "default_metrics",
    "density_coverage",
    "evaluate",
    "frechet_distance",
    "kid",
    "kid_subsets",
    "memorization",
    "mmd",
    "mode_coverage",
    "one_nn_accuracy",
    "precision_recall",
    "register_metric",
]
