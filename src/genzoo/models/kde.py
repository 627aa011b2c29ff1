"""Kernel density estimation: the density baseline with an exact likelihood.

Gaussian kernel (`model.kernel=gaussian`). On flattened examples x ∈ R^D and stored training
examples x_1..x_N,

    p(x) = (1/N) Σ_i N(x; x_i, h² I)
    log p(x) = logsumexp_i(−‖x − x_i‖² / (2h²)) − log N − (D/2) log(2π h²).

Sampling picks x_i uniformly and adds h·ε, ε ~ N(0, I). The bandwidth h comes from a
rule of thumb (Scott 1992, Silverman 1986), from K-fold cross-validated held-out
likelihood, or is given as a number. There is no optimisation loop: `prepare` stores the
data and fits h once. Reference: Bishop, *Pattern Recognition and Machine Learning*, §2.5.1.

Bernoulli kernel (`model.kernel=bernoulli`), for binarised images x ∈ {0, 1}^D: each centre
p_i ∈ [0, 1]^D is a training image's pixel probabilities (its grey values under dynamic
binarisation, its bits under static binarisation) and the bandwidth is a flip probability λ ∈ (0, ½]:

    q_i = λ + (1 − 2λ) p_i
    p(x) = (1/N) Σ_i Π_d q_id^x_d (1 − q_id)^(1 − x_d)
    log p(x) = logsumexp_i(x · logit q_i + Σ_d log(1 − q_id)) − log N.

For binary centres this is Aitchison & Aitken's kernel for binary data (Biometrika 63, 1976):
each pixel of x_i kept with probability 1 − λ and flipped with probability λ, so
log K = −H(x, x_i) log((1 − λ)/λ) + D log(1 − λ) with H the Hamming distance. It sums to one over
{0, 1}^D, so its NLL is a probability comparable with the other discrete likelihoods on binarised
images — a Gaussian kernel there is a density of continuous values and its samples, binarised,
are speckle. Sampling picks i uniformly and draws x ~ Bernoulli(q_i). λ comes from K-fold held-out
likelihood of the binarised examples (`cv`) or is given as a number.

The log-density is a direct sum over all N centres (O(M·N·D) for M queries, no tree), exact in
any dimension; scikit-learn's tree-based `score_samples` is not once the kernel values underflow
(high D, small h: wrong on half of the MNIST queries at Scott's h, scikit-learn #7492, #25799).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel, TourEntry
from genzoo.models.registry import register_model

RULES = ("scott", "silverman", "cv")
KERNELS = ("gaussian", "bernoulli")
# the Bernoulli kernel's cv candidates: flip probabilities log-spaced over [FLIP_LOW, ½]
FLIP_LOW = 1e-4
CV_SPAN = 10.0  # the cv grid runs log-spaced from h_scott / CV_SPAN to h_scott · CV_SPAN
CV_SEED = 0  # seed of the permutation that assigns the cv folds
MAX_TRAIN_SEED = 0  # seed of the permutation whose first max_train examples are kept
# A (queries × points) distance block holds at most _MAX_BLOCK elements (128 MiB in float64).
# In low D the element-wise work dominates and cache-sized blocks of _CACHE_BLOCK elements are
# fastest; in high D the matrix product dominates and wants many rows, so the block grows with D.
_MAX_BLOCK = 1 << 24
_CACHE_BLOCK = 1 << 19


def parse_bandwidth(value: float | str) -> str | float:
    """`value` as a rule name ("scott", "silverman", "cv") or a positive finite float.

    Raises GenzooError naming `model.bandwidth` for anything else."""
    if isinstance(value, str) and value.strip().lower() in RULES:
        return value.strip().lower()
    try:
        h = float(value)
    except (TypeError, ValueError):
        h = math.nan
    if isinstance(value, bool) or not (math.isfinite(h) and h > 0):
        raise GenzooError(
            f"model.bandwidth: expected scott, silverman, cv or a positive number, got {value!r}"
        )
    return h


@dataclass
class KDEConfig:
    """Options of the `kde` model (`--set model.KEY=VALUE`)."""

    kernel: str = option(
        "gaussian",
        choices=KERNELS,
        help="gaussian (continuous values) | bernoulli (binarised images: each pixel of a centre flipped "
        "with probability λ = the bandwidth; an exact probability of binary images)",
    )
    bandwidth: float | str = option(
        "scott",
        help="scott | silverman | cv (K-fold held-out likelihood) | a positive number; "
        "bernoulli kernel: cv or the flip probability λ in (0, 0.5]",
    )
    cv_grid: int = option(
        20,
        low=2,
        help="cv: number of log-spaced bandwidths in [h_scott/10, 10·h_scott] (bernoulli: λ in [1e-4, 0.5])",
    )
    cv_folds: int = option(5, low=2, help="cv: number of folds")
    max_train: int = option(0, low=0, help="store at most this many examples (a fixed-seed subset); 0 = all")
    cv_max: int = option(
        2000,
        low=0,
        help="cv on at most this many examples (a fixed-seed subset), rescaled to n; 0 = all "
        "(bernoulli: this many scored against all the centres)",
    )

    def __post_init__(self) -> None:
        rule = parse_bandwidth(self.bandwidth)
        if self.kernel == "bernoulli" and rule in ("scott", "silverman"):
            raise GenzooError(
                f"model.bandwidth={rule}: a Gaussian rule of thumb; "
                "the bernoulli kernel takes cv or a flip probability in (0, 0.5]"
            )
        if self.kernel == "bernoulli" and isinstance(rule, float) and rule > 0.5:
            raise GenzooError(
                f"model.bandwidth: the bernoulli kernel's flip probability must be in (0, 0.5], got {rule:g}"
            )


# --- bandwidth rules ---------------------------------------------------------------------------
def mean_std(points: Tensor) -> float:
    """σ̂ = (1/D) Σ_d std_d, the mean over dimensions of the per-dimension standard deviation
    with Bessel's correction (ddof = 1, as in scipy.stats.gaussian_kde)."""
    if len(points) < 2:
        raise GenzooError("kde: a bandwidth rule needs at least 2 examples; give model.bandwidth=<number>")
    sigma = points.double().std(dim=0, correction=1).mean().item()
    if not sigma > 0:
        raise GenzooError("kde: the examples are all identical; give model.bandwidth=<number>")
    return sigma


def scott_bandwidth(points: Tensor) -> float:
    """Scott's rule h = σ̂ · n^(−1/(D+4)), σ̂ from `mean_std`.

    In 1-D this equals the kernel standard deviation of scipy's
    `gaussian_kde(bw_method="scott")`. scikit-learn's `KernelDensity(bandwidth="scott")` returns
    n^(−1/(D+4)) without the σ̂ factor (it assumes standardised data)."""
    n, d = points.shape
    return mean_std(points) * n ** (-1.0 / (d + 4))


def silverman_bandwidth(points: Tensor) -> float:
    """Silverman's rule h = σ̂ · (n(D+2)/4)^(−1/(D+4)), σ̂ from `mean_std`.

    As for Scott's rule, scikit-learn's "silverman" omits σ̂ and scipy's equals this in 1-D."""
    n, d = points.shape
    return mean_std(points) * (n * (d + 2) / 4.0) ** (-1.0 / (d + 4))


def cv_grid(points: Tensor, size: int) -> Tensor:
    """The cv candidates: `size` bandwidths log-spaced over [h_scott / 10, 10 · h_scott] (float64)."""
    h = scott_bandwidth(points)
    return h * torch.logspace(-math.log10(CV_SPAN), math.log10(CV_SPAN), size, dtype=torch.float64)


def fold_index(n: int, folds: int) -> Tensor:
    """Fold of each example: a permutation of 0..n−1 drawn from `CV_SEED`, cut into `folds`
    contiguous near-equal slices (torch.tensor_split); example perm[j] is in fold k when j is
    in slice k."""
    if n < folds:
        raise GenzooError(f"kde: model.cv_folds={folds} needs at least {folds} examples, got {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(CV_SEED))
    fold = torch.empty(n, dtype=torch.long)
    for k, idx in enumerate(torch.tensor_split(perm, folds)):
        fold[idx] = k
    return fold


def cv_scores(points: Tensor, grid: Tensor, folds: int) -> Tensor:
    """Held-out log-likelihood for each bandwidth in `grid`, summed over all n examples.

    Each example i is scored by the KDE of the examples outside its fold:
    log p_{−k(i)}(x_i) = logsumexp_{j: k(j) ≠ k(i)}(−‖x_i − x_j‖²/(2h²)) − log n_{−k(i)} − (D/2) log(2πh²)."""
    x = points.double()
    n, d = x.shape
    fold = fold_index(n, folds).to(x.device)
    n_fit = (n - torch.bincount(fold, minlength=folds)[fold]).double()
    total = torch.zeros(len(grid), dtype=torch.float64, device=x.device)
    sq = (x * x).sum(1)
    for rows in _row_chunks(n, n, d):
        d2 = squared_distances(x[rows], x, sq)  # (m, n)
        d2.masked_fill_(fold[rows, None] == fold[None, :], math.inf)
        m = d2.shape[0]
        for j, h in enumerate(grid.tolist()):
            lse = _logsumexp_(d2 * (-0.5 / (h * h)))  # (m,)
            total[j] += (lse - n_fit[rows].log()).sum() - m * 0.5 * d * math.log(2 * math.pi * h * h)
    return total


def cv_bandwidth(points: Tensor, size: int, folds: int, *, extensions: int = 3) -> float:
    """The grid bandwidth (see `cv_grid`) with the largest K-fold held-out log-likelihood
    (see `cv_scores`); ties go to the smaller bandwidth. When the best lies at an edge of
    the grid the search goes on past that edge, a factor `CV_SPAN` at a time (at most
    `extensions` times) — e.g. on tight mixtures such as ring8, whose best bandwidth is far below
    Scott's."""
    grid = cv_grid(points, size)
    scores = cv_scores(points, grid, folds)
    ratio = float(grid[1] / grid[0])
    steps = max(1, round(math.log(CV_SPAN) / math.log(ratio)))
    for _ in range(extensions):
        best = int(torch.argmax(scores))
        if 0 < best < len(grid) - 1:
            break
        direction = -1 if best == 0 else 1
        edge = grid[0] if direction < 0 else grid[-1]
        new = edge * ratio ** (direction * torch.arange(1, steps + 1, dtype=torch.float64))
        new_scores = cv_scores(points, new, folds)
        if direction < 0:
            grid, scores = torch.cat([new.flip(0), grid]), torch.cat([new_scores.flip(0), scores])
        else:
            grid, scores = torch.cat([grid, new]), torch.cat([scores, new_scores])
    return _best_of(grid, scores, "h")


def _best_of(grid: Tensor, scores: Tensor, name: str) -> float:
    """The grid value of the largest score (ties: the first); warns when it is an edge of the grid."""
    best = int(torch.argmax(scores))
    if best in (0, len(grid) - 1):
        warnings.warn(
            f"kde: cross-validation chose the edge of its search ({name} = {grid[best]:.4g}); "
            "the best value may lie outside it",
            stacklevel=4,
        )
    return float(grid[best])


# --- densities -----------------------------------------------------------------------------------
def squared_distances(x: Tensor, y: Tensor, y_sq: Tensor | None = None) -> Tensor:
    """‖x_a − y_b‖² = ‖x_a‖² − 2 x_a·y_b + ‖y_b‖², clamped at 0: (M, D), (N, D) → (M, N),
    without the (M, N, D) difference tensor; `y_sq` = ‖y_b‖² when already known."""
    y_sq = (y * y).sum(1) if y_sq is None else y_sq
    d2 = torch.addmm(y_sq, x, y.T, alpha=-2.0)
    return d2.add_((x * x).sum(1, keepdim=True)).clamp_min_(0.0)


def _logsumexp_(e: Tensor) -> Tensor:
    """Row-wise logsumexp of e (M, N), overwriting e; each row needs a finite entry. Autograd-safe:
    the shift by the row maximum is detached, which leaves the gradient of logsumexp unchanged."""
    top = e.detach().amax(1, keepdim=True)
    return e.sub_(top).exp_().sum(1).log_().add_(top.squeeze(1))


def _row_chunks(m: int, n: int, d: int) -> list[slice]:
    """Slices of m query rows whose (rows, n) distance blocks hold at most
    min(_MAX_BLOCK, _CACHE_BLOCK · max(1, d // 16)) elements (at least one row)."""
    target = min(_MAX_BLOCK, _CACHE_BLOCK * max(1, d // 16))
    step = max(1, target // max(n, 1))
    return [slice(i, min(i + step, m)) for i in range(0, m, step)]


def kde_log_prob(x: Tensor, points: Tensor, h: float) -> Tensor:
    """log p(x) of the Gaussian KDE with centres `points` (N, D) and bandwidth h at queries
    x (M, D), in float64, chunked over queries: the formula of the module docstring."""
    x, points = x.double(), points.double()
    n, d = points.shape
    const = -math.log(n) - 0.5 * d * math.log(2 * math.pi * h * h)
    sq = (points * points).sum(1)  # (N,)
    out = [
        _logsumexp_(squared_distances(x[rows], points, sq).mul_(-0.5 / (h * h))) + const
        for rows in _row_chunks(len(x), n, d)
    ]
    return torch.cat(out) if out else x.new_zeros(0)


def bernoulli_terms(centres: Tensor, flip: float) -> tuple[Tensor, Tensor]:
    """The Bernoulli kernel's (logit q_i, Σ_d log(1 − q_id)) for centres p_i (N, D) and flip
    probability λ, with q_i = λ + (1 − 2λ) p_i: (N, D) and (N,), float64."""
    q = centres.double().mul(1.0 - 2.0 * flip).add_(flip)
    return q.logit(), torch.log1p(-q).sum(1)


def bernoulli_kde_log_prob(x: Tensor, centres: Tensor, flip: float) -> Tensor:
    """log p(x) of the Bernoulli kernel estimate with centres p_i (N, D) and flip probability λ at
    binary queries x (M, D), in float64, chunked over queries:
    logsumexp_i(x · logit q_i + Σ_d log(1 − q_id)) − log N (the module docstring)."""
    x = x.double()
    n, d = centres.shape
    logit, base = bernoulli_terms(centres, flip)
    out = [
        _logsumexp_(torch.addmm(base, x[rows], logit.T)) - math.log(n) for rows in _row_chunks(len(x), n, d)
    ]
    return torch.cat(out) if out else x.new_zeros(0)


def flip_grid(size: int) -> Tensor:
    """The Bernoulli kernel's cv candidates: `size` flip probabilities log-spaced over [1e-4, ½]."""
    return torch.logspace(math.log10(FLIP_LOW), math.log10(0.5), size, dtype=torch.float64)


def bernoulli_cv_scores(
    queries: Tensor, centres: Tensor, grid: Tensor, folds: int, *, scored: Tensor | None = None
) -> Tensor:
    """Held-out log-likelihood for each flip probability in `grid`, summed over the examples
    `scored` (an index; default all n): example i's binary draw `queries[i]` scored by the Bernoulli
    kernel on all the centres outside its fold,
    log p_{−k(i)}(x_i) = logsumexp_{j: k(j) ≠ k(i)} log K(x_i | p_j) − log n_{−k(i)}."""
    n, d = centres.shape
    fold = fold_index(n, folds).to(centres.device)
    n_fit = (n - torch.bincount(fold, minlength=folds)[fold]).double()
    scored = torch.arange(n, device=centres.device) if scored is None else scored.to(centres.device)
    x, fold_x, n_fit = queries[scored].double(), fold[scored], n_fit[scored]
    total = torch.zeros(len(grid), dtype=torch.float64, device=centres.device)
    for j, flip in enumerate(grid.tolist()):
        logit, base = bernoulli_terms(centres, flip)
        for rows in _row_chunks(len(x), n, d):
            e = torch.addmm(base, x[rows], logit.T)  # (m, n): log K(x_i | p_j)
            e.masked_fill_(fold_x[rows, None] == fold[None, :], -math.inf)
            total[j] += (_logsumexp_(e) - n_fit[rows].log()).sum()
    return total


def cv_flip(
    queries: Tensor, centres: Tensor, size: int, folds: int, *, scored: Tensor | None = None
) -> float:
    """The flip probability of `flip_grid` with the largest K-fold held-out log-likelihood
    (`bernoulli_cv_scores`); ties go to the smaller one. Warns when the best is an edge."""
    grid = flip_grid(size)
    return _best_of(
        grid, bernoulli_cv_scores(queries, centres, grid, folds, scored=scored), "flip probability"
    )


# --- the model -----------------------------------------------------------------------------------
@register_model("kde")
class KDE(GenerativeModel):
    """Kernel density estimate on flattened examples (exact log-density), Gaussian or Bernoulli.

    State: `points` (N, D) float32, the stored examples (the Bernoulli kernel: their pixel
    probabilities), and `bandwidth`, the fitted h (the Bernoulli kernel: the flip probability λ) as
    a float64 scalar (0 until fitted). N is only known after `prepare`, so the model
    starts with N = 0 and `load_weights` accepts any N."""

    Config = KDEConfig
    likelihood = "exact"
    trainable = False
    default_train = {"steps": 0}
    summary = (
        "kernel density estimate (Gaussian, or Bernoulli for binarised images); "
        "bandwidth by Scott, Silverman or cross-validation"
    )
    tour = (
        TourEntry(
            "mnist",
            quick_steps=0,
            steps=0,
            data_options={"binarize": "dynamic"},
            params={"kernel": "bernoulli", "bandwidth": "cv"},
        ),
        TourEntry("ring8", quick_steps=0, steps=0, params={"bandwidth": "cv"}),
    )
    # a Gaussian kernel is a density of continuous values: its own data are the 2-D sets with a known
    # density (on binarised images its log-density is no probability and nll is refused there; the
    # bernoulli kernel is the one for them)
    default_data = ("ring8", {})

    def __init__(self, config: KDEConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.register_buffer("points", torch.zeros(0, info.dim))  # (N, D)
        self.register_buffer("bandwidth", torch.tensor(0.0, dtype=torch.float64))
        self.bernoulli = config.kernel == "bernoulli"
        self.discrete = self.binary_likelihood = self.bernoulli  # a probability of binary images

    @property
    def fitted(self) -> bool:
        return len(self.points) > 0 and float(self.bandwidth) > 0

    # --- fitting -------------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Store the (flattened) examples, at most `max_train` of them, and fit the bandwidth.

        The Bernoulli kernel stores the pixel probabilities (`data.x`: grey values under dynamic
        binarisation) and fits λ on the binary examples that evaluation sees (`data.tensors()`)."""
        if self.bernoulli and not data.info.binary:
            raise GenzooError(
                "kde: model.kernel=bernoulli models binarised images; "
                "load the data with data.binarize=dynamic or static"
            )
        x = data.tensors().reshape(len(data), -1).float()
        if x.shape[1] != self.info.dim:
            raise GenzooError(f"kde: data has {x.shape[1]} dimensions per example, the model {self.info.dim}")
        if len(x) == 0:
            raise GenzooError(f"kde: dataset {data.info.name!r} is empty")
        centres = data.x.reshape(len(data), -1).float() if self.bernoulli else x
        cap = self.config.max_train
        if 0 < cap < len(x):
            keep = (
                torch.randperm(len(x), generator=torch.Generator().manual_seed(MAX_TRAIN_SEED))[:cap]
                .sort()
                .values
            )
            x, centres = x[keep], centres[keep]
        self.points = centres.to(self.points.device).clone()
        h = self.fit_bandwidth(self.points, x.to(self.points.device))
        self.bandwidth = torch.tensor(h, dtype=torch.float64, device=self.points.device)

    def fit_bandwidth(self, points: Tensor, queries: Tensor | None = None) -> float:
        """h for `points` (N, D) under `config.bandwidth`; the Bernoulli kernel's cv scores the
        binary `queries` (N, D), one draw of each centre (default: the centres, when binary)."""
        rule = parse_bandwidth(self.config.bandwidth)
        if self.bernoulli:
            if rule != "cv":
                return float(rule)
            queries = points if queries is None else queries
            if not ((queries == 0) | (queries == 1)).all():
                raise GenzooError(
                    "kde: the bernoulli kernel's cv scores binary examples (pixels 0 or 1); "
                    "pass one binarisation as queries"
                )
            return self._cv_flip(points, queries)
        if rule == "scott":
            return scott_bandwidth(points)
        if rule == "silverman":
            return silverman_bandwidth(points)
        if rule == "cv":
            return self._cv(points)
        return float(rule)

    def _cv(self, points: Tensor) -> float:
        """Cross-validated h. With more than `cv_max` examples the search runs on a fixed-seed
        subset of m = cv_max and is carried to all n by the optimal rate h ∝ n^(−1/(D+4)):
        h = h_m · (m/n)^(1/(D+4)) — the cost of cv falls from n² to m² distances per candidate."""
        n, d = points.shape
        m = self.config.cv_max
        if m == 0 or n <= m:
            return cv_bandwidth(points, self.config.cv_grid, self.config.cv_folds)
        keep = torch.randperm(n, generator=torch.Generator().manual_seed(CV_SEED))[:m]
        h_m = cv_bandwidth(points[keep], self.config.cv_grid, self.config.cv_folds)
        return h_m * (m / n) ** (1.0 / (d + 4))

    def _cv_flip(self, centres: Tensor, queries: Tensor) -> float:
        """Cross-validated flip probability. With more than `cv_max` examples, a fixed-seed subset
        of cv_max of them is scored, each against all the centres outside its fold: the best λ
        falls with the number of centres (0.034 with 2,000 mnist digits, 0.022 with 4,000), so the
        centres are not subsampled, and the cost is cv_max · n per candidate."""
        n, m = len(centres), self.config.cv_max
        scored = None
        if 0 < m < n:
            scored = torch.randperm(n, generator=torch.Generator().manual_seed(CV_SEED))[:m]
        return cv_flip(queries, centres, self.config.cv_grid, self.config.cv_folds, scored=scored)

    # --- the user's API ------------------------------------------------------------------------
    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) in nats per example, float64, on the device of the stored examples.

        x: (M, *info.shape) or (M, D) → (M,)."""
        self._check_fitted()
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != self.info.dim:
            raise GenzooError(f"kde: examples have {flat.shape[1]} values, the model expects {self.info.dim}")
        flat = flat.to(self.points.device)
        if not self.bernoulli:
            return kde_log_prob(flat, self.points, float(self.bandwidth))
        if not ((flat == 0) | (flat == 1)).all():
            raise GenzooError(
                "kde: the bernoulli kernel scores binary images (pixels 0 or 1); binarise them first"
            )
        return bernoulli_kde_log_prob(flat, self.points, float(self.bandwidth))

    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        """x = x_I + h·ε with I uniform on 1..N and ε ~ N(0, I), all drawn from `generator`;
        (n, *info.shape) float32, clamped to `info.value_range` for images. The Bernoulli kernel:
        x_d = [u_d < q_Id], u ~ U(0, 1)^D, q_I = λ + (1 − 2λ) p_I (binary images)."""
        self._check_fitted()
        if condition:
            raise GenzooError(f"kde model takes no conditioning, got {', '.join(sorted(condition))}")
        if n < 0:
            raise GenzooError(f"number of samples must be >= 0, got {n}")
        device = generator.device if generator is not None else self.points.device
        index = torch.randint(len(self.points), (n,), generator=generator, device=device)
        if self.bernoulli:
            flip = float(self.bandwidth)
            q = self.points[index.to(self.points.device)].mul(1.0 - 2.0 * flip).add_(flip)
            u = torch.rand(n, self.info.dim, generator=generator, device=device)
            return (u.to(self.points.device) < q).float().reshape(n, *self.info.shape)
        eps = torch.randn(n, self.info.dim, generator=generator, device=device)  # (n, D)
        x = self.points[index.to(self.points.device)] + float(self.bandwidth) * eps.to(self.points.device)
        x = x.reshape(n, *self.info.shape)
        if self.info.kind == "image":
            x = x.clamp(*self.info.value_range)
        return x

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise GenzooError("kde model is not fitted: train it (genzoo train kde) or load a run's weights")

    # --- weights -------------------------------------------------------------------------------
    def load_weights(self, state: dict[str, Tensor]) -> None:
        """Load `points` (any N, D = info.dim) and a positive scalar `bandwidth`."""
        if set(state) != {"points", "bandwidth"}:
            raise GenzooError(
                f"checkpoint does not match model 'kde': expected keys bandwidth, points, "
                f"got {', '.join(sorted(state)) or 'none'}"
            )
        points, h = state["points"], state["bandwidth"]
        if points.dim() != 2 or points.shape[1] != self.info.dim:
            raise GenzooError(
                f"checkpoint does not match model 'kde': points have shape {tuple(points.shape)}, "
                f"expected (N, {self.info.dim})"
            )
        if h.numel() != 1 or not (math.isfinite(float(h)) and (float(h) > 0 or len(points) == 0)):
            raise GenzooError(
                f"checkpoint does not match model 'kde': bandwidth must be a positive scalar, "
                f"got {h.tolist()}"
            )
        if self.bernoulli and (
            float(h) > 0.5 or len(points) and not (points.min() >= 0 and points.max() <= 1)
        ):
            raise GenzooError(
                "checkpoint does not match model 'kde' with the bernoulli kernel: "
                "the flip probability must be at most 0.5 and the centres in [0, 1]"
            )
        device = self.points.device
        self.points = points.to(device=device, dtype=torch.float32).clone()
        self.bandwidth = h.reshape(()).to(device=device, dtype=torch.float64).clone()
