"""The metric registry and `evaluate`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from genzoo.data.base import Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel
from genzoo.registry import Registry


@dataclass(frozen=True)
class MetricSpec:
    """`fn(model, test, *, n, generator, train) -> dict`; `applies(model)` says whether the
    metric makes sense for a model (e.g. a likelihood), `why_not` what to say when it doesn't."""

    name: str
    fn: Callable[..., dict[str, Any]]
    summary: str
    applies: Callable[[GenerativeModel], bool] = lambda model: True
    why_not: str = ""


METRICS: Registry[MetricSpec] = Registry("metric")


def register_metric(name: str, summary: str, *, applies: Callable[[GenerativeModel], bool] | None = None, why_not: str = ""):
    def deco(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        METRICS.register(name)(MetricSpec(name, fn, summary, applies or (lambda m: True), why_not))
        return fn

    return deco


def default_metrics(model: GenerativeModel) -> list[str]:
    return [name for name in METRICS.names() if METRICS.get(name).applies(model)]


def evaluate(
    model: GenerativeModel,
    data: Dataset,
    *,
    metrics: list[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    train_data: Dataset | None = None,
) -> dict[str, Any]:
    """Score `model` on held-out `data`. Returns {"metrics": {name: {...}}, "n": ..., "seed": ...,
    "split": ..., "data": ...}; a metric that does not apply to the model is refused by name."""
    explicit = bool(metrics)
    names = metrics or default_metrics(model)
    specs = [METRICS.get(name) for name in names]
    for spec in specs:
        if not spec.applies(model):
            raise GenzooError(f"metric {spec.name!r} does not apply to model {model.name!r}: {spec.why_not}")
    n_used = len(data) if n is None else min(n, len(data))
    if n_used < 1:
        raise GenzooError("evaluation needs at least one held-out example (--n must be >= 1)")
    subset = data.subset(torch.arange(n_used))
    results: dict[str, Any] = {}
    model.eval()
    for spec in specs:
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                out = spec.fn(model, subset, n=n_used, generator=torch.Generator().manual_seed(seed), train=train_data)
        except GenzooError as exc:
            if explicit:  # asked for by name: say why it cannot be computed
                raise GenzooError(f"metric {spec.name!r}: {exc}") from None
            out = {"skipped": str(exc)}  # part of the default suite: record why, go on
        out["seconds"] = time.perf_counter() - t0
        results[spec.name] = out
    source = data.source or {}
    return {
        "metrics": results,
        "n": n_used,
        "seed": seed,
        "split": source.get("split", "given"),
        "data": source.get("name", data.info.name),
        "binarize": data.info.binarize,
    }
