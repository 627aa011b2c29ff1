"""Spatial statistics of continuous fields and facies images: variograms, fits, connectivity, patterns.

Conventions (those of `genzoo.geostat.covariance`):

* A *field* is a tensor (H, W) or a batch of realisations (n, 1, H, W); lags are (Δrow, Δcol) in
  cells. The direction ``"row"`` is the step (1, 0) — the row index changes, i.e. vertically in an
  image — and ``"col"`` the step (0, 1); an arbitrary integer step (drow, dcol), e.g. the diagonal
  (1, 1) or the knight's move (1, 2), gives the lags k·(drow, dcol) at distances k·|(drow, dcol)|.
* A *block* is a 3-D field, given as a batch (n, 1, D, H, W) (n = 1 for one), lags (Δlayer, Δrow, Δcol): the
  grid statistics (variograms, indicator variograms, connectivity with 6-connected components,
  proportions — also per layer) take blocks. ``"layer"`` is the step (1, 0, 0) (the vertical of a
  geological block), ``"row"`` (0, 1, 0), ``"col"`` (0, 0, 1), ``"both"`` the two horizontal axes
  pooled, ``"all"`` the three, and any integer step (dlayer, drow, dcol) a direction.
* An angle θ (degrees) is measured from the column axis towards the row axis: the unit lag of
  direction θ is (Δrow, Δcol) = (sin θ, cos θ).
* A *facies image* holds integer codes 0..K−1 (as floats or integers) in the same shapes.

Estimators:

* Grid variogram (Matheron), along a step e:
  γ̂(k) = 1 / (2 N(k)) · Σ_u (x(u + k·e) − x(u))², over the N(k) pairs with both ends inside the
  grid, summed over all realisations; the per-realisation estimates give the standard error
  std / √n of their mean (the realisations are independent, the lags within one are not).
* Point variogram: γ̂(h) = 1 / (2 |N(h)|) · Σ_{(i,j) ∈ N(h)} (z_i − z_j)² over the pairs whose
  distance falls in a bin (and, optionally, whose direction is within a tolerance of a given one).
* Fits: weighted least squares of a covariance model's variogram, by default with Cressie's (1985)
  weights N(h) / γ_model(h)², i.e. minimising Σ N(h) (γ̂(h) / γ_model(h) − 1)².
* Facies: proportions, indicator variograms (the grid variogram of 1[x = f]), the connectivity
  function τ(h) = P(u ↔ u+h within facies f | x(u) = x(u+h) = f) with 4-connected components,
  multiple-point pattern histograms, their Jensen–Shannon divergence, and ANODI-style scores.

Everything runs in float64 on the tensors' device, vectorised over pixels (Python loops run over
lags, window offsets or images only); connected components use scipy on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from genzoo.errors import GenzooError
from genzoo.geostat.covariance import MODELS, Covariance, make

Direction = str | tuple[int, int]

__all__ = [
    "Variogram",
    "Connectivity",
    "Patterns",
    "grid_variogram",
    "point_variogram",
    "fit_variogram",
    "fit_field",
    "proportions",
    "indicator_variogram",
    "connectivity",
    "pattern_histogram",
    "js_distance",
    "pattern_scores",
    "facies_errors",
]


# --- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variogram:
    """An empirical variogram.

    lags: (L,) lag distances in cells (for a point variogram, the mean distance of the bin's pairs);
    gamma: (L,) γ̂; pairs: (L,) the number of pairs N(h) behind each value (over all realisations);
    per_field: (n, L) the estimate of each realisation (grids only; each realisation has the same
    pair counts, so gamma is exactly their mean), else None; direction: what was asked for;
    vectors: (L, 2) the lag vectors (Δrow, Δcol) when the variogram is directional (one grid step,
    or a point variogram with a direction), else None — anisotropic fits need them.
    """

    lags: Tensor
    gamma: Tensor
    pairs: Tensor
    per_field: Tensor | None
    direction: Direction | float | None
    vectors: Tensor | None = None

    @property
    def stderr(self) -> Tensor | None:
        """Standard error of gamma as the mean of the n per-realisation estimates: std / √n, with
        the unbiased std (NaN when n < 2); None without per-realisation estimates."""
        if self.per_field is None:
            return None
        n = self.per_field.shape[0]
        if n < 2:
            return torch.full_like(self.gamma, float("nan"))
        return self.per_field.std(0, correction=1) / math.sqrt(n)

    def __len__(self) -> int:
        return len(self.lags)


@dataclass(frozen=True)
class Connectivity:
    """The connectivity function of one facies: tau (L,) = connected / pairs at lags (L,) cells;
    pairs: the number of pairs with both ends in the facies, connected: those of them in the same
    4-connected component (NaN tau where pairs = 0)."""

    lags: Tensor
    tau: Tensor
    pairs: Tensor
    connected: Tensor
    direction: Direction
    facies: int


@dataclass(frozen=True)
class Patterns:
    """A multiple-point pattern histogram.

    codes: (P,) int64 sorted distinct codes of the windows seen, a window w (sh × sw, row-major
    cells w_0 … w_{s−1}, s = sh·sw) read as the base-K numeral Σ_t w_t K^{s−1−t} (top-left most
    significant); counts: (P,) how many windows; freq: (P,) float64 counts / total (sums to 1);
    k: the number of facies K; size: (sh, sw).
    """

    codes: Tensor
    counts: Tensor
    freq: Tensor
    k: int
    size: tuple[int, int]

    def pattern(self, code: int) -> Tensor:
        """The window (sh, sw) of integer facies codes that `code` encodes."""
        sh, sw = self.size
        digits = []
        c = int(code)
        for _ in range(sh * sw):
            c, d = divmod(c, self.k)
            digits.append(d)
        return torch.tensor(digits[::-1], dtype=torch.int64).reshape(sh, sw)

    def as_dict(self) -> dict[int, float]:
        """{code: frequency}."""
        return dict(zip(self.codes.tolist(), self.freq.tolist()))

    def __len__(self) -> int:
        return len(self.codes)


# --- input checks ----------------------------------------------------------------------------
def _as_fields(fields: Tensor | np.ndarray, what: str = "fields", blocks: bool = False) -> Tensor:
    """(n, H, W) float64 from (H, W) or (n, 1, H, W) — and with `blocks`, (n, D, H, W) from a batch
    of 3-D blocks (n, 1, D, H, W) (a 3-D tensor is refused: (n, H, W) and (D, H, W) look alike);
    finite values."""
    t = torch.as_tensor(fields)
    if t.is_complex():
        raise GenzooError(f"{what} must be real, got {t.dtype}")
    if t.dim() == 2:
        t = t[None]
    elif t.dim() == 4 and t.shape[1] == 1 or (blocks and t.dim() == 5 and t.shape[1] == 1):
        t = t[:, 0]
    else:
        kinds = "a field (H, W) or a batch (n, 1, H, W)"
        if blocks:
            kinds += " or a batch of 3-D blocks (n, 1, D, H, W)"
        raise GenzooError(f"{what} must be {kinds}, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise GenzooError(f"{what} are empty: shape {tuple(t.shape)}")
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise GenzooError(f"{what} hold NaN or infinite values")
    return t


def _as_facies(
    images: Tensor | np.ndarray, k: int | None, what: str = "images", blocks: bool = False
) -> tuple[Tensor, int]:
    """(n, H, W) — or with `blocks` also (n, D, H, W) — int64 codes and K, checking that the codes
    are integers in 0..K−1."""
    x = _as_fields(images, what, blocks)
    if not bool((x == torch.round(x)).all()):
        raise GenzooError(f"{what} must hold integer facies codes 0..K−1; found non-integer values")
    lo, hi = int(x.min()), int(x.max())
    if lo < 0:
        raise GenzooError(f"{what} must hold facies codes 0..K−1; found {lo}")
    if k is None:
        k = hi + 1
    elif isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise GenzooError(f"k must be a positive number of facies, got {k!r}")
    elif hi >= k:
        raise GenzooError(f"{what} hold facies code {hi}, not below k = {k}")
    return x.to(torch.int64), int(k)


def _check_facies(facies: int, k: int) -> int:
    if isinstance(facies, bool) or not isinstance(facies, (int, np.integer)) or not 0 <= facies < k:
        raise GenzooError(f"facies must be an integer code in 0..{k - 1}, got {facies!r}")
    return int(facies)


_AXES2 = {"both": [(1, 0), (0, 1)], "row": [(1, 0)], "rows": [(1, 0)], "col": [(0, 1)], "cols": [(0, 1)]}
_AXES3 = {
    "all": [(1, 0, 0), (0, 1, 0), (0, 0, 1)],
    "both": [(0, 1, 0), (0, 0, 1)],
    "layer": [(1, 0, 0)],
    "layers": [(1, 0, 0)],
    "row": [(0, 1, 0)],
    "rows": [(0, 1, 0)],
    "col": [(0, 0, 1)],
    "cols": [(0, 0, 1)],
}


def _steps(direction: Direction, dim: int = 2) -> list[tuple[int, ...]]:
    table = _AXES2 if dim == 2 else _AXES3
    names = "'both', 'row', 'col'" if dim == 2 else "'all', 'both', 'layer', 'row', 'col'"
    step = "(drow, dcol)" if dim == 2 else "(dlayer, drow, dcol)"
    if isinstance(direction, str):
        key = direction.strip().lower()
        if key not in table:
            raise GenzooError(f"direction must be {names} or an integer step {step}, got {direction!r}")
        return table[key]
    if (
        isinstance(direction, (tuple, list))
        and len(direction) == dim
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in direction)
        and any(direction)
    ):
        return [tuple(int(v) for v in direction)]
    raise GenzooError(f"direction must be {names} or a nonzero integer step {step}, got {direction!r}")


def _max_lag(shape: tuple[int, ...], steps: list[tuple[int, ...]], max_lag: int | None) -> int:
    """The default min(H, W) // 2 // max(|drow|, |dcol|) (at least 1) — in a block, the smallest
    side the steps move along —, or the given one, checked: every lag k·step, k ≤ max_lag, must
    fit in the grid."""
    big = math.prod(shape)
    feasible = min(min((s - 1) // abs(d) if d else big for s, d in zip(shape, st)) for st in steps)
    sides = "×".join(str(s) for s in shape)
    if feasible < 1:
        raise GenzooError(f"the {sides} fields are too small for a lag of direction {steps[0]}")
    if max_lag is None:
        longest = max(max(abs(d) for d in st) for st in steps)
        if len(shape) == 2:
            side = min(shape)
        else:
            side = min(s for i, s in enumerate(shape) if any(st[i] for st in steps))
        return max(1, min(feasible, side // 2 // longest))
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) or max_lag < 1:
        raise GenzooError(f"max_lag must be a positive integer, got {max_lag!r}")
    if max_lag > feasible:
        raise GenzooError(
            f"max_lag = {max_lag} is too large for {sides} fields along "
            f"{steps if len(steps) > 1 else steps[0]}: at most {feasible}"
        )
    return int(max_lag)


def _pair_slices(x: Tensor, *step: int) -> tuple[Tensor, Tensor]:
    """The values at u and u + step over every u with both inside: two views (n, H−|dr|, W−|dc|)
    (or (n, D−|dl|, H−|dr|, W−|dc|) for a 3-D step)."""
    sides = x.shape[-len(step) :]
    a = x[(..., *(slice(max(0, -d), s - max(0, d)) for s, d in zip(sides, step)))]
    b = x[(..., *(slice(max(0, d), s - max(0, -d)) for s, d in zip(sides, step)))]
    return a, b


# --- variograms ------------------------------------------------------------------------------
def grid_variogram(
    fields: Tensor | np.ndarray, max_lag: int | None = None, direction: Direction = "both"
) -> Variogram:
    """The empirical (Matheron) variogram of gridded fields — or 3-D blocks — along rows, columns,
    both, (in a block) layers or all three axes, or a step.

    γ̂(k) = 1 / (2 N(k)) · Σ (x(u + k·e) − x(u))² for k = 1..max_lag, over every pair with both
    ends in the grid, in every realisation; e = (1, 0) for "row", (0, 1) for "col", both pooled
    (pairs of either axis together) for "both", or the integer step (drow, dcol) given, at
    distance k·|e| (in a block: (1, 0, 0) "layer", (0, 1, 0) "row", (0, 0, 1) "col", "both" the
    two horizontal ones, "all" the three, or a step (dlayer, drow, dcol)). max_lag defaults to
    min(H, W) // 2 (divided by the step's largest component; in a block the smallest side the
    steps move along). The field is not detrended: for a stationary field γ̂ is unbiased.
    """
    x = _as_fields(fields, blocks=True)
    n, *shape = x.shape
    steps = _steps(direction, len(shape))
    lmax = _max_lag(tuple(shape), steps, max_lag)
    per = torch.zeros(n, lmax, dtype=torch.float64, device=x.device)
    counts = []
    spatial = tuple(range(-len(shape), 0))
    for i, k in enumerate(range(1, lmax + 1)):
        total, count = 0.0, 0
        for st in steps:
            a, b = _pair_slices(x, *(k * d for d in st))
            total = total + ((b - a) ** 2).sum(spatial)
            count += math.prod(s - abs(k * d) for s, d in zip(shape, st))
        per[:, i] = total / (2 * count)
        counts.append(count * n)
    ks = torch.arange(1, lmax + 1, dtype=torch.float64, device=x.device)
    if len(steps) == 1:
        step = torch.tensor(steps[0], dtype=torch.float64, device=x.device)
        vectors: Tensor | None = ks[:, None] * step
        lags = ks * step.norm()
    else:
        vectors, lags = None, ks
    pairs = torch.tensor(counts, dtype=torch.float64, device=x.device)
    label = direction if isinstance(direction, str) else tuple(steps[0])
    return Variogram(
        lags=lags, gamma=per.mean(0), pairs=pairs, per_field=per, direction=label, vectors=vectors
    )


def point_variogram(
    coords: Tensor | np.ndarray,
    values: Tensor | np.ndarray,
    bins: int | Sequence[float] | Tensor | np.ndarray = 10,
    max_dist: float | None = None,
    direction: float | None = None,
    tolerance: float = 22.5,
) -> Variogram:
    """The empirical (Matheron) variogram of scattered values z_i at points (row, col).

    γ̂(h) = 1 / (2 |N(h)|) · Σ_{(i,j) ∈ N(h)} (z_i − z_j)², each unordered pair i < j once, N(h)
    the pairs whose distance d falls in the bin edges[b] < d ≤ edges[b + 1] (coincident points,
    d = 0, are never counted). `bins` is a number of equal bins on [0, max_dist] (max_dist
    defaulting to half the largest distance between the points) or the increasing edges
    themselves. With `direction` θ (degrees, from the column axis towards the row axis), only the
    pairs whose separation makes an angle within ±`tolerance` degrees of θ (mod 180) are kept.
    Empty bins are left out; lags are the bins' mean pair distances.
    """
    xy = torch.as_tensor(coords).to(torch.float64)
    z = torch.as_tensor(values).to(torch.float64).to(xy.device)
    if xy.dim() != 2 or xy.shape[1] != 2:
        raise GenzooError(f"coords must be (m, 2) points (row, col), got shape {tuple(xy.shape)}")
    if z.dim() != 1 or len(z) != len(xy):
        raise GenzooError(f"values must be (m,) = ({len(xy)},), one per point, got shape {tuple(z.shape)}")
    if len(z) < 2:
        raise GenzooError(f"a variogram needs at least 2 points, got {len(z)}")
    if not (bool(torch.isfinite(xy).all()) and bool(torch.isfinite(z).all())):
        raise GenzooError("coords and values must be finite")
    if direction is not None:
        if (
            not isinstance(direction, (int, float))
            or isinstance(direction, bool)
            or not math.isfinite(direction)
        ):
            raise GenzooError(f"direction must be an angle in degrees, got {direction!r}")
        if not 0 < tolerance <= 90:
            raise GenzooError(f"tolerance must be an angle in (0, 90] degrees, got {tolerance!r}")
    m = len(z)
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise GenzooError(f"bins must be a positive number of bins or their edges, got {bins!r}")
        if max_dist is None:
            step = max(1, 4_000_000 // m)  # the largest distance, by blocks of rows
            max_dist = 0.5 * max(float(torch.cdist(xy[i : i + step], xy).max()) for i in range(0, m, step))
        if not max_dist > 0:
            raise GenzooError(f"max_dist must be positive, got {max_dist!r}")
        edges = torch.linspace(0, float(max_dist), int(bins) + 1, dtype=torch.float64, device=xy.device)
    else:
        edges = torch.as_tensor(bins).to(torch.float64).to(xy.device).reshape(-1)
        if len(edges) < 2 or not bool((edges[1:] > edges[:-1]).all()) or bool(edges[0] < 0):
            raise GenzooError("bin edges must be at least two increasing non-negative distances")
    nb = len(edges) - 1
    sums = torch.zeros(nb, dtype=torch.float64, device=xy.device)
    dsum = torch.zeros_like(sums)
    cnt = torch.zeros_like(sums)
    chunk = max(1, 2_000_000 // m)
    for i0 in range(0, m - 1, chunk):
        i1 = min(m - 1, i0 + chunk)
        ii, jj = torch.meshgrid(
            torch.arange(i0, i1, device=xy.device), torch.arange(m, device=xy.device), indexing="ij"
        )
        keep = jj > ii
        ii, jj = ii[keep], jj[keep]
        sep = xy[jj] - xy[ii]
        d = sep.norm(dim=-1)
        b = torch.bucketize(d, edges, right=False) - 1  # edges[b] < d ≤ edges[b + 1]
        ok = (b >= 0) & (b < nb)
        if direction is not None:
            ang = torch.rad2deg(torch.atan2(sep[:, 0], sep[:, 1]))
            off = torch.remainder(ang - direction + 90, 180) - 90
            ok &= off.abs() <= tolerance + 1e-9
        b, d, sq = b[ok], d[ok], (z[jj[ok]] - z[ii[ok]]) ** 2
        sums.index_add_(0, b, sq)
        dsum.index_add_(0, b, d)
        cnt.index_add_(0, b, torch.ones_like(d))
    seen = cnt > 0
    lags = dsum[seen] / cnt[seen]
    vectors = None
    if direction is not None:
        t = math.radians(direction)
        vectors = lags[:, None] * torch.tensor(
            [math.sin(t), math.cos(t)], dtype=torch.float64, device=xy.device
        )
    return Variogram(
        lags=lags,
        gamma=sums[seen] / (2 * cnt[seen]),
        pairs=cnt[seen],
        per_field=None,
        direction=direction,
        vectors=vectors,
    )


# --- fits ------------------------------------------------------------------------------------
_WEIGHTS = ("cressie", "pairs", "pairs/h2", "equal")


def fit_variogram(
    variogram: Variogram | Sequence[Variogram],
    model: str = "exponential",
    *,
    nu: float | None = None,
    nugget: bool = False,
    anisotropic: bool | str = False,
    weights: str = "cressie",
) -> Covariance:
    """Fit a covariance model to one or several empirical variograms by weighted least squares.

    Parameters: the range a and the (partial) sill, the nugget when `nugget` (else 0), Matérn's ν
    when model = "matern" and `nu` is None (else ν = `nu`), all positive through their logarithms,
    by scipy.optimize.least_squares (trust region reflective, within wide bounds) from several
    starting ranges, keeping the best (a nugget that ends at its lower bound, 1e-10 of the largest
    γ̂, is returned as 0). The residuals, with N(h) the pair counts:

    * "cressie" (default): √N(h) · (γ̂(h) / γ_model(h) − 1), i.e. weights N(h) / γ_model(h)²
      (Cressie 1985);
    * "pairs": √N(h) · (γ̂ − γ_model);  "pairs/h2": √N(h) / h · (γ̂ − γ_model);  "equal": γ̂ − γ_model.

    Isotropic (default): γ_model is evaluated at the lag distances, whatever the directions.
    `anisotropic=True` fits separate ranges a_row and a_col along the two axes (a geometric
    anisotropy aligned with the grid, r = √((Δrow / a_row)² + (Δcol / a_col)²)) from directional
    variograms (their lag vectors, which need at least two directions); the result has the larger
    range as `range`, `ratio` = smaller / larger, and `angle` = 90 when the rows' range is the
    larger (the major axis along the row axis), else 0. With variograms of 3-D blocks (lag vectors
    (Δlayer, Δrow, Δcol), along three directions) it fits a range along each axis: the horizontal
    ones as in 2-D and the layers' as `ratio3` = a_layer / `range` (the vertical anisotropy of a
    layered block); `anisotropic="vertical"` fits one horizontal range (`range`, ratio 1) and the
    vertical one (`ratio3`): r = √((Δrow² + Δcol²) / a_h² + Δlayer² / a_v²). Only the lags with
    pairs and h > 0 count; the fit works in units of the largest lag and the largest γ̂, so it does
    not depend on scale.
    """
    vgs = [variogram] if isinstance(variogram, Variogram) else list(variogram)
    if not vgs or not all(isinstance(v, Variogram) for v in vgs):
        raise GenzooError(
            "fit_variogram needs a Variogram or a list of them (from grid_variogram or point_variogram)"
        )
    key = str(model).strip().lower()
    if key not in MODELS:
        raise GenzooError(f"unknown covariance model {model!r} (valid: {', '.join(MODELS)})")
    if nu is not None and key != "matern":
        raise GenzooError(f"nu is the smoothness of the matern model; the {key} model has none")
    if weights not in _WEIGHTS:
        raise GenzooError(f"weights must be one of {', '.join(_WEIGHTS)}, got {weights!r}")

    d = np.concatenate([v.lags.detach().cpu().numpy() for v in vgs])
    g = np.concatenate([v.gamma.detach().cpu().numpy() for v in vgs])
    npairs = np.concatenate([v.pairs.detach().cpu().numpy() for v in vgs])
    if anisotropic not in (False, True, "vertical"):
        raise GenzooError(f"anisotropic must be True, False or 'vertical', got {anisotropic!r}")
    if anisotropic:
        if any(v.vectors is None for v in vgs):
            raise GenzooError(
                "an anisotropic fit needs directional variograms "
                "(direction 'row', 'col' or a step), not pooled ones"
            )
        vec = np.concatenate([v.vectors.detach().cpu().numpy() for v in vgs])
    else:
        vec = np.stack([np.zeros_like(d), d], axis=-1)
    dims = vec.shape[1]  # 2, or 3 for the variograms of blocks
    vertical = anisotropic == "vertical"
    if vertical and dims != 3:
        raise GenzooError("anisotropic='vertical' fits the variograms of 3-D blocks (layer, row, col)")
    ok = (npairs > 0) & np.isfinite(g) & (d > 0)
    d, g, npairs, vec = d[ok], g[ok], npairs[ok], vec[ok]
    if (
        anisotropic
        and np.linalg.matrix_rank(vec, tol=1e-9 * max(1.0, float(np.abs(vec).max(initial=0.0)))) < dims
    ):
        raise GenzooError(
            "an anisotropic fit needs variograms along at least two directions (e.g. 'row' and 'col')"
            if dims == 2
            else "an anisotropic fit of blocks needs variograms along the three axes ('layer', 'row', 'col')"
        )
    free_nu = key == "matern" and nu is None
    n_axes = (2 if vertical else dims) if anisotropic else 1
    n_par = n_axes + 1 + int(nugget) + int(free_nu)
    if len(g) < n_par:
        raise GenzooError(f"{len(g)} variogram values are too few to fit {n_par} parameters")
    gscale = float(g.max())
    if not gscale > 0:
        raise GenzooError("the variogram is zero everywhere: nothing to fit")
    dscale = float(d.max())
    gn, vecn = g / gscale, vec / dscale
    w = npairs / npairs.sum()
    if weights == "cressie" or weights == "pairs":
        sw = np.sqrt(w)
    elif weights == "pairs/h2":
        sw = np.sqrt(w) / (d / dscale)
    else:
        sw = np.ones_like(d)
    lag_t = torch.from_numpy(vecn)

    def build(p: np.ndarray, two: bool, scaled: bool) -> Covariance:
        """The model of log-parameters p = [log a (or log a_row, log a_col, or log a_layer, log
        a_row, log a_col), log sill, (log nugget), (log ν)]."""
        e = np.exp(p)
        n_a = n_axes if two else 1
        a_row, a_col = (e[n_a - 2], e[n_a - 1]) if two else (e[0], e[0])
        a_layer = e[0] if two and n_a == 3 else None
        if two and vertical:  # p = [log a_v, log a_h]
            a_layer, a_row, a_col = e[0], e[1], e[1]
        i = n_a
        sill = e[i]
        nug = e[i + 1] if nugget else 0.0
        if not scaled and nug <= 1.001e-10:  # a nugget fitted to its lower bound is none
            nug = 0.0
        nu_v = e[-1] if free_nu else nu
        ls, gs = (1.0, 1.0) if scaled else (dscale, gscale)
        major, minor = max(a_row, a_col), min(a_row, a_col)
        return make(
            key,
            range=float(major * ls),
            sill=float(sill * gs),
            nugget=float(nug * gs),
            angle=90.0 if a_row > a_col else 0.0,
            ratio=float(minor / major),
            **({"ratio3": float(a_layer / major)} if a_layer is not None else {}),
            nu=None if nu_v is None else float(nu_v),
        )

    def solve(x0: list[float], two: bool) -> tuple[float, np.ndarray]:
        from scipy.optimize import least_squares

        big = math.log(1e4)
        n_a = n_axes if two else 1
        lo = (
            [-big] * (n_a + 1) + ([math.log(1e-10)] if nugget else []) + ([math.log(0.05)] if free_nu else [])
        )
        hi = [big] * (n_a + 1) + ([math.log(10.0)] if nugget else []) + ([math.log(20.0)] if free_nu else [])

        def resid(p: np.ndarray) -> np.ndarray:
            gm = build(p, two, True).variogram(lag_t).numpy()
            if weights == "cressie":
                return sw * (gn / np.maximum(gm, 1e-300) - 1)
            return sw * (gn - gm)

        x = np.clip(np.asarray(x0, dtype=np.float64), np.asarray(lo) + 1e-9, np.asarray(hi) - 1e-9)
        r = least_squares(
            resid, x, bounds=(lo, hi), jac="3-point", xtol=1e-14, ftol=1e-14, gtol=1e-14, max_nfev=3000
        )
        return float(r.cost), r.x

    nug0 = 0.1 * float(gn[np.argmin(d)]) if nugget else 0.0
    tail = (
        [math.log(max(1.0 - nug0, 0.05))]
        + ([math.log(max(nug0, 1e-6))] if nugget else [])
        + ([0.0] if free_nu else [])
    )
    best = min((solve([math.log(a0)] + tail, False) for a0 in (0.05, 0.2, 0.6, 2.0)), key=lambda t: t[0])
    if not anisotropic:
        return build(best[1], False, False)
    # anisotropic: start from the isotropic solution, as it is and nudged both ways
    a, rest = best[1][0], list(best[1][1:])
    if n_axes == 3:
        starts = ([a + s, a, a - s] for s in (0.0, 0.4, -0.4, 0.8))
    else:
        starts = ([a + s, a - s] for s in (0.0, 0.4, -0.4))
    best = min((solve(x0 + rest, True) for x0 in starts), key=lambda t: t[0])
    return build(best[1], True, False)


def fit_field(
    fields: Tensor | np.ndarray,
    model: str = "exponential",
    *,
    nu: float | None = None,
    nugget: bool = False,
    anisotropic: bool | str = False,
    max_lag: int | None = None,
    weights: str = "cressie",
) -> Covariance:
    """Fit a covariance model to gridded fields: the row and column variograms (lags 1..max_lag)
    fitted jointly by `fit_variogram` — one range (isotropic) or, with `anisotropic`, a range
    along each axis (angle 0 or 90, ratio = minor / major). For 3-D blocks (n, 1, D, H, W) the
    layers' variogram joins them (and, anisotropic, gives `ratio3` = the vertical range / range;
    "vertical": one horizontal range and the vertical one).
    The fields are not detrended: a mean that varies between realisations is fine (increments
    ignore it), a trend within one is not."""
    x = _as_fields(fields, blocks=True)
    directions = ["row", "col"] if x.dim() == 3 else ["layer", "row", "col"]
    vgs = [grid_variogram(x[:, None], max_lag, d) for d in directions]
    return fit_variogram(vgs, model, nu=nu, nugget=nugget, anisotropic=anisotropic, weights=weights)


# --- facies statistics -----------------------------------------------------------------------
def proportions(
    images: Tensor | np.ndarray, k: int | None = None, per_image: bool = False, per_layer: bool = False
) -> Tensor:
    """The share of each facies 0..K−1 (float64): (K,) over all pixels of all images, or (n, K)
    for each image when `per_image`; for 3-D blocks with `per_layer`, (D, K) for each layer over
    all blocks (the vertical proportion curve). K = k, or the largest code + 1."""
    x, k = _as_facies(images, k, blocks=True)
    n = x.shape[0]
    if per_layer:
        if x.dim() != 4:
            raise GenzooError(
                f"per_layer proportions need 3-D blocks (n, 1, D, H, W), got {x.dim() - 1}-D images"
            )
        flat = x.transpose(0, 1).reshape(x.shape[1], -1)  # (D, n·H·W)
        counts = torch.zeros(len(flat), k, dtype=torch.float64, device=x.device)
        counts.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))
        return counts / flat.shape[1]
    flat = x.reshape(n, -1)
    counts = torch.zeros(n, k, dtype=torch.float64, device=x.device)
    counts.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))
    if per_image:
        return counts / flat.shape[1]
    return counts.sum(0) / flat.numel()


def indicator_variogram(
    images: Tensor | np.ndarray,
    facies: int,
    max_lag: int | None = None,
    direction: Direction = "both",
    k: int | None = None,
) -> Variogram:
    """The grid variogram (see `grid_variogram`) of the indicator 1[x = facies]:
    γ_I(k) = P(exactly one of u, u + k·e in the facies) / 2; images or 3-D blocks."""
    x, kk = _as_facies(images, k, blocks=True)
    f = _check_facies(facies, kk)
    return grid_variogram((x == f).to(torch.float64)[:, None], max_lag, direction)


def _labels(x: Tensor, facies: int) -> Tensor:
    """Connected components of x == facies, per image (0 outside), on x's device: 4-connected in
    2-D, 6-connected (faces) in 3-D."""
    from scipy import ndimage

    mask = (x == facies).cpu().numpy()
    out = np.zeros(mask.shape, dtype=np.int64)
    for i in range(mask.shape[0]):
        out[i] = ndimage.label(mask[i])[0]  # default structure: the cross of face neighbours
    return torch.from_numpy(out).to(x.device)


def connectivity(
    images: Tensor | np.ndarray,
    facies: int,
    max_lag: int | None = None,
    direction: Direction = "both",
    k: int | None = None,
) -> Connectivity:
    """The connectivity function of a facies along rows, columns, both (pooled) or a step — in 3-D
    blocks also layers or all three axes:

    τ(k) = #{pairs (u, u + k·e): both in the facies and in the same connected component}
           / #{pairs (u, u + k·e): both in the facies},

    over all images (components are found per image, 4-connected in 2-D, 6-connected in 3-D; NaN
    where no pair has both ends in the facies).
    """
    x, kk = _as_facies(images, k, blocks=True)
    f = _check_facies(facies, kk)
    shape = tuple(x.shape[1:])
    steps = _steps(direction, len(shape))
    lmax = _max_lag(shape, steps, max_lag)
    lab = _labels(x, f)
    both_n, conn_n = [], []
    for k_ in range(1, lmax + 1):
        nb = nc = 0
        for st in steps:
            a, b = _pair_slices(lab, *(k_ * d for d in st))
            both = (a > 0) & (b > 0)
            nb += int(both.sum())
            nc += int((both & (a == b)).sum())
        both_n.append(nb)
        conn_n.append(nc)
    pairs = torch.tensor(both_n, dtype=torch.float64, device=x.device)
    conn = torch.tensor(conn_n, dtype=torch.float64, device=x.device)
    tau = torch.where(pairs > 0, conn / pairs.clamp_min(1), torch.full_like(pairs, float("nan")))
    ks = torch.arange(1, lmax + 1, dtype=torch.float64, device=x.device)
    lags = ks * math.hypot(*steps[0]) if len(steps) == 1 else ks
    label = direction if isinstance(direction, str) else tuple(steps[0])
    return Connectivity(lags=lags, tau=tau, pairs=pairs, connected=conn, direction=label, facies=f)


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in size)
    ):
        raise GenzooError(f"size must be a positive integer or a pair (rows, cols), got {size!r}")
    return int(size[0]), int(size[1])


def _pattern_codes(x: Tensor, k: int, size: tuple[int, int]) -> Tensor:
    """The code of every fully inside window: (n, H−sh+1, W−sw+1) int64 (base K, Horner's rule
    over the window's cells in row-major order: a loop over the sh·sw offsets, not the pixels)."""
    sh, sw = size
    _, h, w = x.shape
    if sh > h or sw > w:
        raise GenzooError(f"pattern size {sh}×{sw} is larger than the {h}×{w} images")
    if (sh * sw) * math.log2(max(k, 2)) >= 63:
        raise GenzooError(f"{sh}×{sw} patterns of {k} facies do not fit in 64-bit codes; use a smaller size")
    ho, wo = h - sh + 1, w - sw + 1
    codes = torch.zeros(x.shape[0], ho, wo, dtype=torch.int64, device=x.device)
    for i in range(sh):
        for j in range(sw):
            codes = codes * k + x[:, i : i + ho, j : j + wo]
    return codes


def _histogram(codes: Tensor, k: int, size: tuple[int, int]) -> Patterns:
    uniq, counts = torch.unique(codes.reshape(-1), sorted=True, return_counts=True)
    return Patterns(codes=uniq, counts=counts, freq=counts.to(torch.float64) / counts.sum(), k=k, size=size)


def pattern_histogram(
    images: Tensor | np.ndarray, size: int | tuple[int, int] = 3, k: int | None = None
) -> Patterns:
    """The multiple-point histogram of every size × size (or sh × sw) window lying fully inside an
    image, pooled over the images: the distinct patterns seen and their relative frequencies (see
    `Patterns` for the base-K code). K = k, or the largest code + 1; K^(sh·sw) < 2^63."""
    x, k = _as_facies(images, k)
    sz = _size(size)
    return _histogram(_pattern_codes(x, k, sz), k, sz)


def _as_patterns(h: Patterns | Mapping[int, float], what: str) -> tuple[Tensor, Tensor]:
    if isinstance(h, Patterns):
        return h.codes.cpu(), h.freq.cpu()
    if isinstance(h, Mapping):
        codes = torch.tensor(list(h.keys()), dtype=torch.int64)
        freq = torch.tensor(list(h.values()), dtype=torch.float64)
        if len(freq) == 0 or bool((freq < 0).any()) or not freq.sum() > 0:
            raise GenzooError(f"{what} must hold non-negative frequencies, not all zero")
        return codes, freq / freq.sum()
    raise GenzooError(
        f"{what} must be a pattern histogram (from pattern_histogram) or a {{code: frequency}} dict"
    )


def js_distance(hist_a: Patterns | Mapping[int, float], hist_b: Patterns | Mapping[int, float]) -> float:
    """The Jensen–Shannon *divergence* (base 2, in [0, 1]) between two pattern histograms p and q,
    over the union of their patterns (absent patterns have frequency 0):

    JS(p, q) = ½ Σ p log₂(p / m) + ½ Σ q log₂(q / m),  m = (p + q) / 2,  with 0 log 0 = 0.

    0 for equal histograms, 1 for disjoint ones. Note: scipy.spatial.distance.jensenshannon returns
    the *distance*, the square root of this divergence. Both histograms must use the same K and size.
    """
    if isinstance(hist_a, Patterns) and isinstance(hist_b, Patterns):
        if hist_a.k != hist_b.k or hist_a.size != hist_b.size:
            raise GenzooError(
                f"pattern histograms differ in K or size "
                f"({hist_a.k}, {hist_a.size}) vs ({hist_b.k}, {hist_b.size}): their codes are not comparable"
            )
    ca, pa = _as_patterns(hist_a, "hist_a")
    cb, pb = _as_patterns(hist_b, "hist_b")
    uniq, inv = torch.unique(torch.cat([ca, cb]), return_inverse=True)
    p = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inv[: len(ca)], pa)
    q = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inv[len(ca) :], pb)
    m = (p + q) / 2

    def kl(a: Tensor) -> Tensor:
        pos = a > 0
        return (a[pos] * torch.log2(a[pos] / m[pos])).sum()

    return float((0.5 * kl(p) + 0.5 * kl(q)).clamp(0.0, 1.0))


def _mean_pairwise_js(hists: list[Patterns], max_pairs: int, rng: np.random.Generator) -> float:
    n = len(hists)
    if n < 2:
        return float("nan")
    iu, ju = np.triu_indices(n, 1)
    if len(iu) > max_pairs:
        pick = rng.choice(len(iu), size=max_pairs, replace=False)
        iu, ju = iu[pick], ju[pick]
    return float(np.mean([js_distance(hists[i], hists[j]) for i, j in zip(iu, ju)]))


def pattern_scores(
    realisations: Tensor | np.ndarray,
    training: Tensor | np.ndarray,
    size: int | tuple[int, int] = 3,
    k: int | None = None,
    max_pairs: int = 300,
    seed: int = 0,
) -> dict[str, float]:
    """ANODI-style scores (after Tan, Caers et al. 2014), simplified: single-resolution exact
    pattern histograms (no pyramid, no clustering) compared by the JS divergence (`js_distance`).

    * "inconsistency": mean over realisations r of JS(hist(r), hist(training)) — the training
      histogram pooled over all training images; lower is more faithful;
    * "diversity": mean JS between the histograms of two realisations, over all pairs or
      `max_pairs` random ones (seeded by `seed`); higher is more varied (NaN for one realisation);
    * "training_inconsistency", "training_diversity": the same two numbers for the training images
      themselves (each against the pooled training histogram), the reference a generator's scores
      should be compared with (they depend on the image size: smaller images have sparser histograms).
    """
    xr, k1 = _as_facies(realisations, k, "realisations")
    xt, k2 = _as_facies(training, k, "training images")
    kk = max(k1, k2)
    sz = _size(size)
    cr, ct = _pattern_codes(xr, kk, sz), _pattern_codes(xt.to(xr.device), kk, sz)
    pooled = _histogram(ct, kk, sz)
    hr = [_histogram(c, kk, sz) for c in cr]
    ht = [_histogram(c, kk, sz) for c in ct]
    rng = np.random.default_rng(seed)
    return {
        "inconsistency": float(np.mean([js_distance(h, pooled) for h in hr])),
        "diversity": _mean_pairwise_js(hr, max_pairs, rng),
        "training_inconsistency": float(np.mean([js_distance(h, pooled) for h in ht])),
        "training_diversity": _mean_pairwise_js(ht, max_pairs, rng),
    }


def facies_errors(
    generated: Tensor | np.ndarray,
    reference: Tensor | np.ndarray,
    k: int | None = None,
    max_lag: int | None = None,
    size: int | tuple[int, int] = 3,
) -> dict[str, float]:
    """Summary discrepancies between generated facies images and reference (e.g. held-out
    training) images, all with K = k or the largest code in either set + 1:

    * "proportion": max over facies of |p_gen − p_ref| (pooled proportions);
    * "indicator_variogram": mean |γ_gen − γ_ref| of the indicator variograms over lags 1..max_lag,
      facies and the two axes (rows, columns);
    * "connectivity": mean |τ_gen − τ_ref| likewise, over the lags where both are defined (NaN if none);
    * "pattern_js": the JS divergence between the pooled size × size pattern histograms.

    max_lag defaults to min(H, W) // 2 of the smaller images. 3-D blocks (n, 1, D, H, W): the
    variograms and connectivity along layers too (to D // 2 at most), the patterns those of every
    horizontal section (each layer an image).
    """
    xg, k1 = _as_facies(generated, k, "generated images", blocks=True)
    xr, k2 = _as_facies(reference, k, "reference images", blocks=True)
    if xg.dim() != xr.dim():
        raise GenzooError(
            f"generated and reference must both be images or both blocks, got {xg.dim() - 1}-D and "
            f"{xr.dim() - 1}-D"
        )
    kk = max(k1, k2)
    xr = xr.to(xg.device)
    if max_lag is None:
        max_lag = max(1, min(*xg.shape[-2:], *xr.shape[-2:]) // 2)
    pg, pr = proportions(xg[:, None], kk), proportions(xr[:, None], kk)
    lags = {"row": max_lag, "col": max_lag}
    if xg.dim() == 4:
        lags = {"layer": max(1, min(max_lag, min(xg.shape[1], xr.shape[1]) // 2)), **lags}
    vg_err, con_err = [], []
    for f in range(kk):
        for d, lag in lags.items():
            a = indicator_variogram(xg[:, None], f, lag, d, kk).gamma
            b = indicator_variogram(xr[:, None], f, lag, d, kk).gamma
            vg_err.append((a - b).abs())
            ta = connectivity(xg[:, None], f, lag, d, kk).tau
            tb = connectivity(xr[:, None], f, lag, d, kk).tau
            con_err.append((ta - tb).abs())
    ce = torch.cat(con_err)
    ce = ce[torch.isfinite(ce)]
    sz = _size(size)
    if xg.dim() == 4:  # the layers as images
        xg, xr = xg.reshape(-1, *xg.shape[-2:]), xr.reshape(-1, *xr.shape[-2:])
    return {
        "proportion": float((pg - pr).abs().max()),
        "indicator_variogram": float(torch.cat(vg_err).mean()),
        "connectivity": float(ce.mean()) if len(ce) else float("nan"),
        "pattern_js": js_distance(
            pattern_histogram(xg[:, None], sz, kk), pattern_histogram(xr[:, None], sz, kk)
        ),
    }
