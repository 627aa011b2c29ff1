"""Kriging and exact conditional simulation.

Simple kriging (known mean μ) of data d at points p predicts x̂(u) = μ + Σ_up Σ_pp⁻¹ (d − μ); in
the dual form the weights α = Σ_pp⁻¹ (d − μ) are solved once and x̂(u) = μ + Σⱼ C(u − pⱼ) αⱼ at
every node. Ordinary kriging (unknown constant mean) solves the bordered system

    [Σ_pp 1] [α]   [d]
    [1ᵀ   0] [β] = [0],      x̂(u) = β + Σⱼ C(u − pⱼ) αⱼ,

whose weights sum to one. A moving neighbourhood uses, at each node, only its `neighbours`
nearest data (one small system per node, batched).

Kriging with a trend (`drift=`): the mean is m(u) = Σₖ βₖ fₖ(u) with unknown βₖ — universal kriging
for fₖ the monomials of the coordinates up to degree 1 ("linear") or 2 ("quadratic"), kriging with an
external drift for fₖ given fields (a known smooth variable: a seismic attribute, a depth map), the
constant always included. The dual system

    [Σ_pp F] [α]   [d]
    [Fᵀ   0] [β] = [0],      x̂(u) = Σⱼ C(u − pⱼ) αⱼ + Σₖ βₖ fₖ(u),

with F (m × k) the drift terms at the data, gives the weights that filter any such mean; ordinary
kriging is the case f = 1.

Conditional simulation (Journel & Huijbregts 1978): with x an unconditional realisation,

    x_c(u) = x(u) + [kriging of the residuals d − x(p)](u),

which honours the data exactly (without a nugget, kriging interpolates) and, for simple kriging
with a global neighbourhood, has exactly the conditional law of a Gaussian field: mean the
kriging mean and covariance Σ_uu − Σ_up Σ_pp⁻¹ Σ_pu. Adding a *scaled* unconditional field to the
kriging mean instead — the shortcut of some libraries — gives the right variance only at the
data and the wrong covariance everywhere else.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.errors import GenzooError
from genzoo.geostat.covariance import Covariance, covariance_matrix, grid_points

_NODE_CHUNK = 1 << 16  # grid nodes per block of the node × data covariance


def as_points(points: Any, shape: tuple[int, ...]) -> tuple[Tensor, ...]:
    """(rows, cols, values) from an (m, 3) array, a (rows, cols, values) triple or the path of a CSV
    or GSLIB point file,
    checked against the grid `shape` (see `genzoo.geostat.latent.check_points`); for a
    3-D block (D, H, W), (layers, rows, cols, values) from an (m, 4) array, a quadruple or a CSV
    path with a layer column (see `genzoo.geostat.latent.check_block_points`)."""
    from pathlib import Path

    from genzoo.geostat.formats import read_points
    from genzoo.geostat.latent import check_block_points, check_points

    k = len(shape) + 1  # the index columns and the value
    names = "(row, col, value)" if k == 3 else "(layer, row, col, value)"
    if isinstance(points, (str, Path)):
        cols = read_points(points, layers=k == 4)  # a CSV or a GSLIB point file
    elif isinstance(points, (tuple, list)) and len(points) == k and not torch.is_tensor(points):
        cols = tuple(points)
    else:
        t = torch.as_tensor(points, dtype=torch.float64)
        if t.dim() != 2 or t.shape[1] != k:
            raise GenzooError(f"points must be (m, {k}) rows of {names}, got shape {tuple(t.shape)}")
        cols = tuple(t[:, i] for i in range(k))
    return check_points(*cols, shape) if k == 3 else check_block_points(*cols, shape)


def _system(cov: Covariance, coords: Tensor, ordinary: bool) -> Tensor:
    k = covariance_matrix(cov, coords)
    if not ordinary:
        return k
    m = len(coords)
    out = torch.zeros(m + 1, m + 1, dtype=torch.float64)
    out[:m, :m] = k
    out[:m, m] = out[m, :m] = 1
    return out


def _solve(a: Tensor, b: Tensor) -> Tensor:
    try:
        return torch.linalg.solve(a, b)
    except RuntimeError:
        raise GenzooError(
            "kriging: the data covariance matrix is singular "
            "(duplicate or too-close points with a smooth model?)"
        ) from None


class Drift:
    """The drift terms fₖ of kriging with a trend on a grid of `shape`, from a spec: "linear" or
    "quadratic" (monomials of the centred, scaled coordinates — the span, hence the kriging, is that
    of the raw coordinates'), a field (shape) or fields (k, *shape) of an external drift, or a list
    of these; the constant comes first, always."""

    def __init__(self, spec: Any, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)
        self.degree = 0
        fields: list[Tensor] = []
        for term in spec if isinstance(spec, (list, tuple)) and not torch.is_tensor(spec) else [spec]:
            if isinstance(term, str):
                degrees = {"linear": 1, "quadratic": 2}
                if term not in degrees:
                    raise GenzooError(
                        f"drift must be linear, quadratic or external drift fields, got {term!r}"
                    )
                self.degree = max(self.degree, degrees[term])
                continue
            t = torch.as_tensor(term, dtype=torch.float64)
            if tuple(t.shape) == self.shape:
                t = t[None]
            if t.dim() != len(self.shape) + 1 or tuple(t.shape[1:]) != self.shape:
                raise GenzooError(
                    f"an external drift is a field of the grid's shape {self.shape} (or k of them), "
                    f"got shape {tuple(t.shape)}"
                )
            if not bool(torch.isfinite(t).all()):
                raise GenzooError("the external drift holds NaN or infinite values")
            fields.append(t.reshape(len(t), -1).T)  # (nodes, k)
        self.external = torch.cat(fields, 1) if fields else None
        self.centre = torch.tensor([(s - 1) / 2 for s in self.shape], dtype=torch.float64)
        self.scale = max(max(self.shape) / 2, 1.0)

    def terms(self, coords: Tensor, nodes: Tensor | None = None) -> Tensor:
        """f(u) (b, k) at points (b, d); the external drift at the grid nodes of flat index `nodes`."""
        x = (coords - self.centre) / self.scale
        cols = [torch.ones(len(x), 1, dtype=torch.float64)]
        if self.degree >= 1:
            cols.append(x)
        if self.degree >= 2:
            d = x.shape[1]
            cols += [(x[:, i] * x[:, j])[:, None] for i in range(d) for j in range(i, d)]
        if self.external is not None:
            cols.append(self.external[nodes])
        return torch.cat(cols, 1)

    def node_index(self, coords: Tensor) -> Tensor | None:
        """The flat grid index of each data point, which an external drift needs (data on nodes)."""
        if self.external is None:
            return None
        if not bool((coords == coords.round()).all()):
            raise GenzooError(
                "kriging with an external drift needs the data on grid nodes (integer coordinates)"
            )
        idx = coords.round().long()
        flat = idx[:, 0]
        for i, s in enumerate(self.shape[1:], 1):
            flat = flat * s + idx[:, i]
        return flat


def krige(
    coords: Tensor,
    values: Tensor,
    cov: Covariance,
    shape: tuple[int, ...],
    *,
    mean: float | None = 0.0,
    neighbours: int | None = None,
    variance: bool = False,
    drift: Any = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """The kriging of `values` (m,) or (m, n) — n data sets at the same points (m, 2) — onto the
    grid: (H, W) or (n, H, W) float64; in a 3-D block, points (m, 3) (layer, row, col) onto
    (D, H, W) or (n, D, H, W). `mean` a number: simple kriging with that mean; None: ordinary
    kriging. `drift` ("linear", "quadratic", external drift fields, or a list of them; mean=None):
    universal kriging / kriging with an external drift (see the module docstring). `neighbours`: a
    moving neighbourhood of that many nearest data. With `variance`, also the kriging variance
    (H, W) or (D, H, W)."""
    coords = torch.as_tensor(coords, dtype=torch.float64)
    if coords.dim() != 2 or coords.shape[1] != len(shape):
        raise GenzooError(
            f"kriging on a {'×'.join(map(str, shape))} grid takes points (m, {len(shape)}), got shape "
            f"{tuple(coords.shape)}"
        )
    v = torch.as_tensor(values, dtype=torch.float64)
    single = v.dim() == 1
    v = v.reshape(len(coords), -1)  # (m, n)
    grid = grid_points(shape)
    m = len(coords)
    if drift is not None:
        if mean is not None:
            raise GenzooError("kriging with a drift estimates the mean: give mean=None with drift=")
        if neighbours is not None:
            raise GenzooError("kriging with a drift uses all the data: give neighbours=None with drift=")
        est, var = _krige_drift(coords, v, cov, grid, Drift(drift, tuple(shape)), variance)
    elif neighbours is not None and neighbours < m:
        est, var = _krige_local(coords, v, cov, grid, mean, int(neighbours), variance)
    else:
        est, var = _krige_global(coords, v, cov, grid, mean, variance)
    est = est.T.reshape(-1, *shape)
    if single:
        est = est[0]
    if variance:
        return est, var.reshape(shape)
    return est


def _krige_global(coords, v, cov, grid, mean, variance):
    ordinary = mean is None
    m = len(coords)
    a = _system(cov, coords, ordinary)
    rhs = v if not ordinary else torch.cat([v, torch.zeros(1, v.shape[1], dtype=torch.float64)])
    dual = _solve(a, rhs if ordinary else rhs - mean)  # (m[+1], n)
    est = torch.empty(len(grid), v.shape[1], dtype=torch.float64)
    var = torch.empty(len(grid), dtype=torch.float64) if variance else None
    for i in range(0, len(grid), _NODE_CHUNK):
        g = grid[i : i + _NODE_CHUNK]
        k = covariance_matrix(cov, g, coords)  # (b, m)
        if ordinary:
            est[i : i + len(g)] = k @ dual[:m] + dual[m]
        else:
            est[i : i + len(g)] = k @ dual + mean
        if variance:
            kk = torch.cat([k, torch.ones(len(g), 1, dtype=torch.float64)], 1) if ordinary else k
            w = _solve(a, kk.T)  # (m[+1], b)
            var[i : i + len(g)] = cov.variance - (kk * w.T).sum(1)
    return est, var


def _krige_drift(coords, v, cov, grid, drift: Drift, variance):
    m = len(coords)
    f = drift.terms(coords, drift.node_index(coords))  # (m, k)
    k = f.shape[1]
    if m < k or int(torch.linalg.matrix_rank(f)) < k:
        raise GenzooError(
            f"kriging with a drift of {k} terms: the {m} data do not determine them (too few points, or "
            "points on a line or plane for a linear drift, or a drift field constant over them)"
        )
    a = torch.zeros(m + k, m + k, dtype=torch.float64)
    a[:m, :m] = covariance_matrix(cov, coords)
    a[:m, m:] = f
    a[m:, :m] = f.T
    dual = _solve(a, torch.cat([v, torch.zeros(k, v.shape[1], dtype=torch.float64)]))  # (m + k, n)
    est = torch.empty(len(grid), v.shape[1], dtype=torch.float64)
    var = torch.empty(len(grid), dtype=torch.float64) if variance else None
    for i in range(0, len(grid), _NODE_CHUNK):
        g = grid[i : i + _NODE_CHUNK]
        kk = torch.cat([covariance_matrix(cov, g, coords), drift.terms(g, torch.arange(i, i + len(g)))], 1)
        est[i : i + len(g)] = kk @ dual
        if variance:
            w = _solve(a, kk.T)  # (m + k, b)
            var[i : i + len(g)] = cov.variance - (kk * w.T).sum(1)
    return est, var


def _krige_local(coords, v, cov, grid, mean, k, variance):
    ordinary = mean is None
    est = torch.empty(len(grid), v.shape[1], dtype=torch.float64)
    var = torch.empty(len(grid), dtype=torch.float64) if variance else None
    chunk = max(1, _NODE_CHUNK // (k * k // 16 + 1))
    for i in range(0, len(grid), chunk):
        g = grid[i : i + chunk]
        near = torch.cdist(g, coords).topk(k, largest=False).indices  # (b, k)
        pts = coords[near]  # (b, k, 2)
        a = cov(pts[:, :, None, :] - pts[:, None, :, :])  # (b, k, k)
        rhs = cov(g[:, None, :] - pts)  # (b, k)
        if ordinary:
            b = len(g)
            big = torch.zeros(b, k + 1, k + 1, dtype=torch.float64)
            big[:, :k, :k] = a
            big[:, :k, k] = big[:, k, :k] = 1
            rhs = torch.cat([rhs, torch.ones(b, 1, dtype=torch.float64)], 1)
            a = big
        w = _solve(a, rhs.unsqueeze(-1)).squeeze(-1)  # (b, k[+1]) weights (and the Lagrange multiplier)
        vals = v[near]  # (b, k, n)
        if ordinary:
            est[i : i + len(g)] = (w[:, :k, None] * vals).sum(1)
        else:
            est[i : i + len(g)] = (w[:, :, None] * (vals - mean)).sum(1) + mean
        if variance:
            var[i : i + len(g)] = cov.variance - (w * rhs).sum(1)
    return est, var


def condition(
    fields: Tensor,
    points: Any,
    cov: Covariance,
    *,
    mean: float | None = 0.0,
    neighbours: int | None = None,
    drift: Any = None,
) -> Tensor:
    """Condition unconditional realisations (n, 1, H, W) — or 3-D blocks (n, 1, D, H, W), with
    points (layer, row, col, value), wells being vertical lines of them — to `points` by kriging
    their residuals (simple kriging with `mean`, ordinary with mean=None): every realisation
    honours the data; with `drift` (mean=None) by universal kriging or kriging with an external
    drift, which filters the trend of the residuals. The result is float64, so that the data are
    honoured to rounding (1e-12), not to float32's 1e-7."""
    if fields.dim() not in (4, 5) or fields.shape[1] != 1:
        raise GenzooError(
            f"fields must have shape (n, 1, H, W) or (n, 1, D, H, W), got {tuple(fields.shape)}"
        )
    shape = tuple(fields.shape[2:])
    *index, values = as_points(points, shape)
    at = fields[(slice(None), 0, *index)].double().cpu().T  # (m, n) the realisations at the data
    residual = values[:, None] - at
    coords = torch.stack(index, 1).double()
    kr = krige(
        coords, residual, cov, shape, mean=None if mean is None else 0.0, neighbours=neighbours, drift=drift
    )
    return fields.double() + kr.reshape(len(fields), 1, *shape).to(fields.device)
