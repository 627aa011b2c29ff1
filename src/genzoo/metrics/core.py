"""The metric registry, the evaluation context and `evaluate`.

Protocol of the sample metrics: the first `n` held-out examples are split into two halves A
and B of n/2 each; a model is scored on half A against n/2 of its own samples, and the same
metric on A against B — two independent draws of real data of the same size — is reported
beside it as the *noise floor*: a figure no model can be expected to beat at that N. Below the
sample size at which a metric means much, its result carries a "note" saying so
(`small_sample`), and the protocol a "small_sample" line naming those metrics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.data.base import Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel
from genzoo.registry import Registry


class EvalContext:
    """What metrics share within one evaluation: the held-out subset, its halves, the model's
    samples and their features, each computed once on first use."""

    def __init__(
        self,
        model: GenerativeModel,
        test: Dataset,
        *,
        n: int,
        seed: int,
        train: Dataset | None = None,
        features: str = "auto",
        artifacts_dir: Path | None = None,
    ) -> None:
        self.model, self.train, self.seed = model, train, seed
        self.artifacts_dir = artifacts_dir
        self.test = test.subset(torch.arange(n))
        self.n = n
        self.requested_features = features

    def save_png(self, name: str, png: bytes) -> str | None:
        """Write a picture a metric leaves for the report (atomically); its file name, or None."""
        if self.artifacts_dir is None:
            return None
        from genzoo.atomic import atomic_write

        atomic_write(self.artifacts_dir / name, lambda p: p.write_bytes(png))
        return name

    def generator(self, offset: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed + offset)

    # --- real data ------------------------------------------------------------------------
    @cached_property
    def real(self) -> torch.Tensor:
        return self.test.tensors()

    @cached_property
    def half(self) -> int:
        return len(self.real) // 2

    @property
    def real_a(self) -> torch.Tensor:
        return self.real[: self.half]

    @property
    def real_b(self) -> torch.Tensor:
        return self.real[self.half : 2 * self.half]

    # --- samples --------------------------------------------------------------------------
    @cached_property
    def samples(self) -> torch.Tensor:
        """n/2 samples from the model (the size of half A), on the CPU, timed (`sample_seconds`).

        Drawn in fixed chunks of 1000, the chunk starting at `start` from its own generator
        (seed + 1 + start); under torchrun the chunks are split over the ranks and gathered
        (`distributed.map_split`), so every rank holds the same samples as one process would."""
        from genzoo.distributed import map_split

        if self.half < 2:
            raise GenzooError(f"sample metrics need at least 4 held-out examples, got {self.n}")

        def chunk(start: int) -> torch.Tensor:
            size = min(1000, self.half - start)
            with torch.no_grad():
                return self.model.sample(size, generator=self.generator(1 + start)).float().cpu()

        t0 = time.perf_counter()
        out = map_split(chunk, range(0, self.half, 1000))
        self.sample_seconds = time.perf_counter() - t0
        return torch.cat(out)

    # --- features -------------------------------------------------------------------------
    @cached_property
    def extractor(self):
        from genzoo.metrics.features import FeatureExtractor

        reference = self.train.tensors() if self.train is not None else self.real
        return FeatureExtractor(self.test.info, self.requested_features).fit(reference)

    @cached_property
    def feats_a(self) -> np.ndarray:
        return self.extractor(self.real_a)

    @cached_property
    def feats_b(self) -> np.ndarray:
        return self.extractor(self.real_b)

    @cached_property
    def feats_fake(self) -> np.ndarray:
        return self.extractor(samples_as_data(self.samples, self.test))


def small_sample(ctx: EvalContext, minimum: int, why: str) -> dict[str, str]:
    """{"note": ...} beside a metric's figures when fewer than `minimum` real or generated
    examples were scored — `why` says what goes wrong below that size — else {}.

    The note travels with the figures (metrics.json, the CLI, the report, the board), so that a
    precision of 1 on 20 samples is never read like one on 5,000."""
    n_real, n_fake = ctx.half, len(ctx.samples)
    if min(n_real, n_fake) >= minimum:
        return {}
    return {"note": f"n = {n_real} real vs {n_fake} generated: below {minimum} per set, {why}; read as rough"}


def samples_as_data(x: torch.Tensor, data: Dataset) -> torch.Tensor:
    """Samples as evaluation sees the data: for statically binarised data (thresholded at 0.5) the
    samples thresholded alike; for dynamically binarised data (seen as one stochastic binarisation,
    `Dataset.tensors`) samples of grey probabilities binarised alike, each pixel 1 with probability
    its value (binary samples stay as they are)."""
    if data.info.binarize == "static":
        return (x > 0.5).float()
    if data.info.binarize == "dynamic":
        from genzoo.data.base import BINARIZE_SEED, binarize

        return binarize(x, BINARIZE_SEED + 2)
    return x


@dataclass(frozen=True)
class MetricSpec:
    """`fn(ctx) -> dict`; `applies(model, data)` says whether the metric makes sense (a likelihood,
    an encoder, known modes), `why_not` what to say when it doesn't."""

    name: str
    fn: Callable[[EvalContext], dict[str, Any]]
    summary: str
    applies: Callable[[GenerativeModel, Dataset], bool]
    why_not: str = ""


METRICS: Registry[MetricSpec] = Registry("metric")


def register_metric(
    name: str,
    summary: str,
    *,
    applies: Callable[[GenerativeModel, Dataset], bool] | None = None,
    why_not: str = "",
):
    def deco(fn: Callable[[EvalContext], dict[str, Any]]) -> Callable[[EvalContext], dict[str, Any]]:
        METRICS.register(name)(MetricSpec(name, fn, summary, applies or (lambda m, d: True), why_not))
        return fn

    return deco


def default_metrics(model: GenerativeModel, data: Dataset) -> list[str]:
    return [name for name in METRICS.names() if METRICS.get(name).applies(model, data)]


def evaluate(
    model: GenerativeModel,
    data: Dataset,
    *,
    metrics: list[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    train_data: Dataset | None = None,
    features: str = "auto",
    progress: bool = False,
    artifacts_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Score `model` on held-out `data` with the named metrics (default: every one that applies).

    Returns {"metrics": {name: {...}}, "n", "seed", "split", "data", "features", ...}: the numbers
    with their protocol. A metric asked for by name that cannot be computed is an error; one from
    the default suite is recorded as {"skipped": why} and the others go on.

    Under torchrun (a process group of N > 1 ranks joined, as `genzoo evaluate` does), every rank
    must call this with the same arguments: the model's samples and a deterministic likelihood's
    chunks are split over the ranks and gathered, the other metrics computed on every rank, and
    the results equal one process's (a Monte-Carlo likelihood excepted: see `nll`). Pass
    artifacts_dir on one rank only."""
    explicit = bool(metrics)
    names = metrics or default_metrics(model, data)
    specs = [METRICS.get(name) for name in names]
    for spec in specs:
        if not spec.applies(model, data):
            raise GenzooError(
                f"metric {spec.name!r} does not apply to model {model.name!r} on {data.info.name!r}: "
                f"{spec.why_not}"
            )
    n_used = len(data) if n is None else min(n, len(data))
    if n_used < 1:
        raise GenzooError("evaluation needs at least one held-out example (--n must be >= 1)")
    ctx = EvalContext(
        model,
        data,
        n=n_used,
        seed=seed,
        train=train_data,
        features=features,
        artifacts_dir=Path(artifacts_dir) if artifacts_dir is not None else None,
    )
    results: dict[str, Any] = {}
    model.eval()
    with torch.random.fork_rng(devices=[]):  # metrics that use the global RNG: seeded, and no leak
        torch.manual_seed(seed)
        for spec in specs:
            _run_metric(spec, ctx, results, explicit=explicit, progress=progress)
    source = data.source or {}
    protocol: dict[str, Any] = {
        "metrics": results,
        "n": n_used,
        "seed": seed,
        "split": source.get("split", "given"),
        "data": source.get("name", data.info.name),
        "binarize": data.info.binarize,
    }
    if "extractor" in ctx.__dict__:
        protocol["features"] = ctx.extractor.describe()
    if "samples" in ctx.__dict__:
        protocol["n_real"] = ctx.half
        protocol["n_fake"] = len(ctx.samples)
        protocol["sample_seconds_per_1000"] = ctx.sample_seconds * 1000 / max(1, len(ctx.samples))
        noted = [name for name, out in results.items() if "note" in out]
        if noted:
            protocol["small_sample"] = (
                f"{ctx.half} real vs {len(ctx.samples)} generated: "
                f"too few for {', '.join(noted)} to mean much "
                "(see the note beside each)"
            )
    return protocol


def _run_metric(
    spec: MetricSpec, ctx: EvalContext, results: dict[str, Any], *, explicit: bool, progress: bool
) -> None:
    if progress:
        print(f"  {spec.name} ...", end="", flush=True)
    t0 = time.perf_counter()
    try:
        with torch.no_grad():
            out = spec.fn(ctx)
    except GenzooError as exc:
        if explicit:
            raise GenzooError(f"metric {spec.name!r}: {exc}") from None
        out = {"skipped": str(exc)}
    out["seconds"] = time.perf_counter() - t0
    results[spec.name] = out
    if progress:
        print(f" {out['seconds']:.1f} s", flush=True)


def finite(value: float) -> float | None:
    """JSON has no NaN: a non-finite result is stored as null."""
    return value if math.isfinite(value) else None
