"""Metrics: one suite for every family. Each metric is registered by name with the
function that computes it from a model and held-out data; `evaluate` runs a list of them
and records the protocol (sample sizes, seed, split) beside the numbers."""

from genzoo.metrics.core import METRICS, MetricSpec, evaluate, register_metric
from genzoo.metrics.likelihood import nll  # noqa: F401  (registers)
from genzoo.metrics.recon import reconstruction_error  # noqa: F401  (registers)

__all__ = ["METRICS", "MetricSpec", "evaluate", "register_metric"]
