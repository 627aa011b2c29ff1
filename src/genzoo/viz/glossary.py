"""What each figure in metrics.json means: its name on a page, its unit, which way is better, the
key of its noise floor, the group it belongs to, and one line a student can read. One catalogue
serves the report's grouped metrics, the board's columns and the tour's "How to read this".

The floor of a figure is the same metric between two halves of the held-out data: what a perfect
model scores at the same number of examples (see `genzoo.metrics.core`)."""

from __future__ import annotations

from dataclasses import dataclass

LIKELIHOOD = "Likelihood"
FIDELITY = "Sample quality — fidelity"
DIVERSITY = "Diversity"
OVERALL = "Sample quality — fidelity and diversity together"
MEMORISATION = "Memorisation"
RECONSTRUCTION = "Reconstruction and anomaly scores"
KNOWN_TRUTH = "Known truth (2-D mixtures, fields)"
CLASSIFIER = "Classification"
TIMING = "Timing"
OTHER = "Other figures"
GROUPS = (
    LIKELIHOOD,
    FIDELITY,
    DIVERSITY,
    OVERALL,
    MEMORISATION,
    RECONSTRUCTION,
    KNOWN_TRUTH,
    CLASSIFIER,
    TIMING,
    OTHER,
)

SHARE = "share (0–1)"


@dataclass(frozen=True)
class Figure:
    """One figure of a metric: `metric` and `key` locate it in metrics.json ({"pr": {"recall": …}}),
    `floor` names the key of its noise floor in the same metric, `better` is "lower", "higher",
    "half" (0.5 ideal) or "" (not a score); a `detail` (a setting such as k, a count) is left to the
    full list of values, so that the groups show what a reader compares."""

    metric: str
    key: str
    label: str
    group: str
    meaning: str
    unit: str = ""
    better: str = ""
    floor: str | None = None
    detail: bool = False

    @property
    def better_text(self) -> str:
        """ "lower is better", "higher is better", "0.5 is best", or ""."""
        return {"lower": "lower is better", "higher": "higher is better", "half": "0.5 is best"}.get(
            self.better, ""
        )


def _f(
    metric: str,
    key: str,
    label: str,
    group: str,
    meaning: str,
    unit: str = "",
    better: str = "",
    floor: str | None = None,
) -> Figure:
    return Figure(metric, key, label, group, meaning, unit, better, floor)


def _detail(metric: str, key: str, label: str, group: str, meaning: str, unit: str = "") -> Figure:
    return Figure(metric, key, label, group, meaning, unit, detail=True)


FIGURES: tuple[Figure, ...] = (
    _f(
        "nll",
        "nats",
        "NLL",
        LIKELIHOOD,
        "−log p(x) of held-out examples, averaged: how surprised the model is by new data",
        "nats per example",
        "lower",
    ),
    _f(
        "nll",
        "bits_per_dim",
        "bits/dim",
        LIKELIHOOD,
        "the NLL in bits, divided by the number of pixels or coordinates",
        "bits per dimension",
        "lower",
    ),
    _f(
        "nll",
        "std_err_nats",
        "NLL standard error",
        LIKELIHOOD,
        "the standard error of the NLL's average over the examples",
        "nats",
    ),
    _f(
        "nll",
        "kind",
        "how the NLL is known",
        LIKELIHOOD,
        "exact: the model's true likelihood; bound: an upper bound on the NLL "
        "(ELBO, IWAE, the diffusion bound); estimate: importance-sampled (AIS)",
    ),
    _detail("nll", "n", "examples", LIKELIHOOD, "held-out examples the NLL averages", "examples"),
    _f(
        "recognisable",
        "share",
        "recognisable",
        FIDELITY,
        "share of samples the shipped classifier puts in one class with probability ≥ 0.9: do they look like "
        "digits?",
        SHARE,
        "higher",
        "floor",
    ),
    _f(
        "pr",
        "precision",
        "precision",
        FIDELITY,
        "share of samples that land among real examples (within a real example's k-nearest-neighbour ball): "
        "they look real",
        SHARE,
        "higher",
        "precision_floor",
    ),
    _f(
        "dc",
        "density",
        "density",
        FIDELITY,
        "how many real examples' neighbour balls hold a sample, on average, over k: "
        "about 1 for real data, above 1 where samples crowd the densest regions",
        "",
        "higher",
        "density_floor",
    ),
    _f(
        "recognisable",
        "class_tv",
        "class TV",
        DIVERSITY,
        "distance between the mix of classes in the samples and in held-out data: 0 = every class as often "
        "as in the data",
        "distance (0–1)",
        "lower",
        "class_tv_floor",
    ),
    _f(
        "pr",
        "recall",
        "recall",
        DIVERSITY,
        "share of real examples that some sample lands near: the samples cover the data's variety",
        SHARE,
        "higher",
        "recall_floor",
    ),
    _f(
        "dc",
        "coverage",
        "coverage",
        DIVERSITY,
        "share of real examples whose neighbour ball holds at least one sample",
        SHARE,
        "higher",
        "coverage_floor",
    ),
    _detail(
        "pr",
        "k",
        "k (precision, recall)",
        DIVERSITY,
        "neighbours that set the size of each ball",
        "neighbours",
    ),
    _detail(
        "dc",
        "k",
        "k (density, coverage)",
        DIVERSITY,
        "neighbours that set the size of each ball",
        "neighbours",
    ),
    _f(
        "fd",
        "fd",
        "FD",
        OVERALL,
        "Fréchet distance between the feature statistics of samples and of held-out data: low only when "
        "samples are realistic and varied; compare at equal N",
        "squared feature units",
        "lower",
        "floor",
    ),
    _f(
        "kid",
        "mean",
        "KID",
        OVERALL,
        "kernel distance between the features of samples and held-out data (an unbiased "
        "MMD² with a polynomial kernel); can be negative by chance near 0",
        "squared feature units",
        "lower",
        "floor",
    ),
    _f(
        "kid",
        "std",
        "KID spread",
        OVERALL,
        "the spread of KID over random subsets: about its standard error",
        "squared feature units",
    ),
    _detail("kid", "subsets", "KID subsets", OVERALL, "random subsets KID is averaged over"),
    _detail("kid", "subset_size", "KID subset size", OVERALL, "examples per set in each subset", "examples"),
    _detail("kid", "spread", "KID spread, how", OVERALL, "how the spread is measured"),
    _f(
        "mmd",
        "mmd2",
        "MMD²",
        OVERALL,
        "kernel maximum mean discrepancy (Gaussian kernel) between samples and held-out "
        "data; can be negative by chance near 0",
        "",
        "lower",
        "floor",
    ),
    _detail(
        "mmd",
        "bandwidth",
        "MMD bandwidth",
        OVERALL,
        "the Gaussian kernel's width (the median distance)",
        "feature units",
    ),
    _f(
        "1nn",
        "accuracy",
        "1-NN accuracy",
        OVERALL,
        "a 1-nearest-neighbour classifier told to separate samples from held-out "
        "data: 0.5 = it cannot (ideal), 1 = every sample is told apart",
        SHARE,
        "half",
        "floor",
    ),
    _detail(
        "1nn",
        "accuracy_real",
        "1-NN accuracy, real",
        OVERALL,
        "the same on the held-out examples alone",
        SHARE,
    ),
    _detail(
        "1nn", "accuracy_fake", "1-NN accuracy, samples", OVERALL, "the same on the samples alone", SHARE
    ),
    _f(
        "memorization",
        "copy_rate",
        "copy rate",
        MEMORISATION,
        "share of samples nearer a training example than 95 % of held-out examples are: about 0.05 without "
        "copying, up to 1 for copies",
        SHARE,
        "lower",
    ),
    _f(
        "memorization",
        "ratio",
        "distance ratio",
        MEMORISATION,
        "median distance from a sample to its nearest training "
        "example, over the same for held-out examples: about 1 for new data, well below 1 for copies",
    ),
    _detail(
        "memorization",
        "median_sample_distance",
        "median distance, samples",
        MEMORISATION,
        "from a sample to its nearest training example",
        "pixel units",
    ),
    _detail(
        "memorization",
        "median_test_distance",
        "median distance, held-out",
        MEMORISATION,
        "from a held-out example to its nearest training example",
        "pixel units",
    ),
    _f(
        "memorization",
        "threshold",
        "copy threshold",
        MEMORISATION,
        "the 5th percentile of the held-out distances: "
        "a sample nearer than this to a training example counts as a copy",
        "pixel units",
    ),
    _f(
        "memorization",
        "closest_pairs_png",
        "closest pairs",
        MEMORISATION,
        "the samples nearest to a training example "
        "(top row) above that training example (bottom row): copies look identical",
        "picture",
    ),
    _f(
        "recon",
        "mse_per_dim",
        "recon MSE/dim",
        RECONSTRUCTION,
        "squared error of decode(encode(x)) on held-out examples, per pixel or coordinate",
        "per dimension",
        "lower",
    ),
    _detail(
        "recon",
        "mse_per_example",
        "recon MSE/example",
        RECONSTRUCTION,
        "the same, summed over an example",
        "per example",
    ),
    _detail("recon", "n", "examples", RECONSTRUCTION, "held-out examples reconstructed", "examples"),
    _f(
        "anomaly",
        "auroc_vs_shuffled",
        "anomaly AUROC",
        RECONSTRUCTION,
        "how well the model's anomaly score (NLL or "
        "reconstruction error) tells held-out data from the same data with shuffled pixels: 0.5 chance, 1 "
        "perfect",
        SHARE,
        "higher",
    ),
    _f("anomaly", "mean_score", "anomaly score, held-out", RECONSTRUCTION, "the mean score of held-out data"),
    _f(
        "anomaly",
        "mean_score_shuffled",
        "anomaly score, shuffled",
        RECONSTRUCTION,
        "the mean score of pixel-shuffled data: should be far higher",
    ),
    _detail("anomaly", "n", "examples", RECONSTRUCTION, "held-out examples scored", "examples"),
    _f(
        "modes",
        "modes_covered",
        "modes",
        KNOWN_TRUTH,
        "mixture components with a sample within 3σ of their centre",
        "modes",
        "higher",
        "modes_covered_floor",
    ),
    _f(
        "modes",
        "high_quality_rate",
        "HQ rate",
        KNOWN_TRUTH,
        "share of samples within 3σ of a component's centre",
        SHARE,
        "higher",
        "high_quality_rate_floor",
    ),
    _f(
        "modes", "modes_total", "modes in the mixture", KNOWN_TRUTH, "components of the true mixture", "modes"
    ),
    _f(
        "w2",
        "relative",
        "W₂/√trΣ",
        KNOWN_TRUTH,
        "Wasserstein-2 distance from the samples' Gaussian to the fields' true Gaussian law, per √trΣ",
        "",
        "lower",
        "relative_floor",
    ),
    _f("w2", "w2", "W₂", KNOWN_TRUTH, "the same distance, in field units", "field units", "lower", "floor"),
    _detail("w2", "n", "samples", KNOWN_TRUTH, "samples the moments are estimated from", "samples"),
    _f(
        "variogram",
        "error",
        "variogram err.",
        KNOWN_TRUTH,
        "gap between the spatial correlation (variogram) of samples and of held-out fields",
        "per unit variance",
        "lower",
        "floor",
    ),
    _detail("variogram", "max_lag", "variogram lags", KNOWN_TRUTH, "lags compared", "cells"),
    _f(
        "facies",
        "proportion",
        "facies proportion err.",
        KNOWN_TRUTH,
        "gap between the facies proportions of samples and held-out images",
        SHARE,
        "lower",
        "proportion_floor",
    ),
    _f(
        "facies",
        "indicator_variogram",
        "indicator γ err.",
        KNOWN_TRUTH,
        "gap between their indicator variograms (how each facies' continuity falls with distance)",
        "",
        "lower",
        "indicator_variogram_floor",
    ),
    _f(
        "facies",
        "connectivity",
        "connectivity err.",
        KNOWN_TRUTH,
        "gap between the chance that two cells of a facies are connected",
        "",
        "lower",
        "connectivity_floor",
    ),
    _f(
        "facies",
        "pattern_js",
        "pattern JS",
        KNOWN_TRUTH,
        "Jensen–Shannon divergence between the histograms of 3×3 facies patterns",
        "",
        "lower",
        "pattern_js_floor",
    ),
    _f(
        "classify",
        "accuracy",
        "classifier accuracy",
        CLASSIFIER,
        "the model's own classifier on labelled held-out data",
        SHARE,
        "higher",
    ),
    _f("classify", "std_err", "its standard error", CLASSIFIER, "", SHARE),
    _detail("classify", "n", "examples", CLASSIFIER, "held-out examples classified", "examples"),
)

_BY_KEY = {(f.metric, f.key): f for f in FIGURES}
_GROUP_OF_METRIC: dict[str, str] = {}
for _fig in FIGURES:
    _GROUP_OF_METRIC.setdefault(_fig.metric, _fig.group)


def lookup(metric: str, key: str) -> Figure | None:
    """The catalogue's entry for `metric`.`key`, or None for a figure it does not know."""
    return _BY_KEY.get((metric, key))


def group_of(metric: str) -> str:
    """The group a metric's figures go to when the catalogue does not place them (its first figure's)."""
    return _GROUP_OF_METRIC.get(metric, OTHER)


def floor_keys(metric: str) -> set[str]:
    """The keys of `metric` that hold the floors of its figures (shown beside them, not alone)."""
    return {f.floor for f in FIGURES if f.metric == metric and f.floor}
