"""Multiple-point simulation by direct sampling (Mariethoz, Renard & Straubhaar 2010): the
classical generator of facies from a training image, the baseline a GAN on facies must beat.

Each realisation visits the nodes of the simulation grid in a random order. At a node x it takes
the data event — the values z(x + hᵢ) at the `neighbours` nearest informed nodes (conditioning data
or nodes already simulated), at lags hᵢ — and scans the training image (TI) from a random position
in a random order; at each scanned position y it compares the TI's values at y + hᵢ with the data
event,

    d(y) = (1/N) Σᵢ 1[TI(y + hᵢ) ≠ z(x + hᵢ)]                    (categorical variables)
    d(y) = √((1/N) Σᵢ (TI(y + hᵢ) − z(x + hᵢ))²) / (max TI − min TI)   (continuous ones),

lags falling outside the TI counting as mismatches (1, or the full range), and pastes TI(y) at x at
the first y with d(y) ≤ `threshold`, or the best one seen once a share `fraction` of the TI has been
scanned. The data are placed first and never changed: every realisation honours them exactly.

The neighbours are searched within a template of lags sorted by distance (up to `radius` cells,
ties broken at random once per realisation), ring by growing ring (4N, 16N, … lags) until N are
found, so that the cost per node is a gather over the first ring once the grid fills up; the TI's
positions are put in one random order per realisation, and each node's scan starts at a random
place in it and runs on in batches of `batch` positions (vectorised). 2-D images (H, W) and 3-D
blocks (D, H, W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import GenzooError


@dataclass
class DirectSampling:
    """Direct sampling from a training image `ti` (H, W) or (D, H, W) (see the module docstring).

    neighbours: N, the size of the data event; threshold: t, the distance accepted; fraction: f,
    the share of the TI scanned at most; radius: the largest lag searched for neighbours (cells);
    categorical: whether the values are codes (default: whether the TI holds integers only).

    The defaults depend on the dimension: N = 30, t = 0.05 in 2-D (Mariethoz et al.'s usual
    values); N = 16, t = 0 in 3-D — with 30 neighbours and one mismatch allowed a 3-D data event
    rarely matches exactly, the near matches favour the majority facies, and thin bodies fade
    (on facies3d: a third of the minority facies lost, indicator-variogram error 3× that of
    N = 16, t = 0, which is also twice as fast; `python benchmarks/bench_geostat.py --parts ds3d`)."""

    ti: Tensor
    neighbours: int | None = None
    threshold: float | None = None
    fraction: float = 0.3
    radius: int | None = None
    categorical: bool | None = None
    batch: int = 512

    def __post_init__(self) -> None:
        ti = torch.as_tensor(self.ti)
        if ti.dim() == 4 and ti.shape[0] == 1:
            ti = ti[0]
        if ti.dim() not in (2, 3) or min(ti.shape) < 1:
            raise GenzooError(
                "direct sampling: the training image must be (H, W) or (D, H, W), got shape "
                f"{tuple(ti.shape)}"
            )
        ti = ti.double()
        if not bool(torch.isfinite(ti).all()):
            raise GenzooError("direct sampling: the training image holds NaN or infinite values")
        if self.neighbours is None:
            self.neighbours = 30 if ti.dim() == 2 else 16
        if self.threshold is None:
            self.threshold = 0.05 if ti.dim() == 2 else 0.0
        if isinstance(self.neighbours, bool) or not isinstance(self.neighbours, int) or self.neighbours < 1:
            raise GenzooError(
                f"direct sampling: neighbours must be a positive integer, got {self.neighbours!r}"
            )
        if not 0 <= self.threshold <= 1:
            raise GenzooError(f"direct sampling: threshold must be in [0, 1], got {self.threshold!r}")
        if not 0 < self.fraction <= 1:
            raise GenzooError(f"direct sampling: fraction must be in (0, 1], got {self.fraction!r}")
        self.ti = ti
        self.dim = ti.dim()
        if self.categorical is None:
            self.categorical = bool((ti == ti.round()).all())
        self.span = float(ti.max() - ti.min()) or 1.0
        r = self.radius if self.radius is not None else max(ti.shape) // 2
        self.radius = max(1, int(r))
        # the TI padded by `radius` with NaN (never equal to a datum: a lag outside the TI is a
        # mismatch), flattened: a pattern's values are then one gather at base + the lags' offsets
        padded = torch.nn.functional.pad(ti[None, None], (self.radius,) * (2 * self.dim), value=math.nan)[
            0, 0
        ]
        self._pad_flat = padded.reshape(-1)
        # categorical codes 0 … 254 also as bytes (255 outside the TI): an eighth of the memory
        # the gathers touch
        self._pad_codes = None
        if self.categorical and float(ti.min()) >= 0 and float(ti.max()) <= 254:
            self._pad_codes = torch.nan_to_num(self._pad_flat, nan=255.0).to(torch.uint8)
        self._pad_strides = torch.tensor([math.prod(padded.shape[i + 1 :]) for i in range(self.dim)])
        pos = torch.stack(torch.unravel_index(torch.arange(ti.numel()), tuple(ti.shape)), -1)
        self._base = (pos + self.radius) @ self._pad_strides  # each TI position in the padded array

    # --- the template of lags ----------------------------------------------------------------
    def _template(self, generator: torch.Generator | None) -> Tensor:
        """Every lag within `radius` but 0, by distance, ties in a random order: (L, dim) int64."""
        r = self.radius
        axes = [torch.arange(-r, r + 1)] * self.dim
        lags = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, self.dim)
        dist = lags.double().norm(dim=1)
        keep = (dist > 0) & (dist <= r)
        lags, dist = lags[keep], dist[keep]
        jitter = torch.rand(len(dist), generator=generator, dtype=torch.float64) * 1e-6
        return lags[torch.argsort(dist + jitter)]

    # --- one realisation -----------------------------------------------------------------------
    def simulate(
        self,
        shape: tuple[int, ...],
        *,
        points: tuple[Tensor, Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One realisation (shape) float64; `points` (index (m, dim) int64, values (m,)) are honoured."""
        shape = tuple(int(s) for s in shape)
        if len(shape) != self.dim:
            raise GenzooError(
                f"direct sampling: a {self.dim}-D training image simulates {self.dim}-D grids, got the "
                f"shape {shape}"
            )
        grid = torch.full(shape, math.nan, dtype=torch.float64)
        known = torch.zeros(shape, dtype=torch.bool)
        if points is not None:
            idx, values = points
            grid[tuple(idx.T)] = values.double()
            known[tuple(idx.T)] = True
        template = self._template(generator)
        ti_flat = self.ti.reshape(-1)
        ti_count = len(ti_flat)
        g_shape = torch.tensor(shape)
        todo = (~known).reshape(-1).nonzero().reshape(-1)
        path = todo[torch.randperm(len(todo), generator=generator)]
        scan_max = max(1, int(self.fraction * ti_count))
        # the TI's positions in one random order for the realisation; each node's scan starts at a
        # random place in it (cyclically)
        order = torch.randperm(ti_count, generator=generator)
        starts = torch.randint(ti_count, (len(path),), generator=generator)
        values, bases = ti_flat[order], self._base[order]  # the TI's values and padded places, in order
        # the template searched in growing rings: most nodes find their N neighbours in the first
        rings = sorted({min(len(template), self.neighbours * 4**k) for k in range(1, 12)} | {len(template)})
        coords = torch.stack(torch.unravel_index(path, shape), -1) if len(path) else path.reshape(0, self.dim)
        for node, start in zip(coords, starts.tolist()):
            lags = template[:0]
            lo = 0
            for hi in rings:
                ring = template[lo:hi]
                at = node[None] + ring
                inside = ((at >= 0) & (at < g_shape)).all(1)
                found = ring[inside][known[tuple(at[inside].T)]]
                lags = torch.cat([lags, found])
                lo = hi
                if len(lags) >= self.neighbours:
                    break
            lags = lags[: self.neighbours]  # the N nearest informed lags
            if len(lags) == 0:  # nothing known yet: a random TI value
                grid[tuple(node)] = values[start]
                known[tuple(node)] = True
                continue
            event = grid[tuple((node[None] + lags).T)]  # (N,)
            offsets = lags @ self._pad_strides
            grid[tuple(node)] = self._scan(offsets, event, values, bases, start, scan_max)
            known[tuple(node)] = True
        return grid

    def _scan(
        self, offsets: Tensor, event: Tensor, values: Tensor, bases: Tensor, start: int, count: int
    ) -> float:
        """The TI's value at the first of the `count` positions from `start` on (cyclically) in the
        realisation's order — `values` and `bases` (their places in the padded TI) in that order —
        whose pattern is within the threshold, or at the best one of them (in batches)."""
        n = len(offsets)
        total = len(values)
        best_d, best_v = math.inf, float(values[start])
        codes = self._pad_codes is not None and bool(
            ((event >= 0) & (event <= 254) & (event == event.round())).all()
        )
        pad, event = (self._pad_codes, event.to(torch.uint8)) if codes else (self._pad_flat, event)
        i, size = 0, self.batch
        while i < count:  # batches of growing size: a hit comes early or the scan runs long
            k = min(size, count - i)
            a = (start + i) % total
            span = slice(a, a + k) if a + k <= total else None
            at = bases[span] if span else torch.cat([bases[a:], bases[: a + k - total]])
            vals = pad[at[:, None] + offsets[None]]  # (B, N), NaN (255) outside the TI
            if self.categorical:
                d = (vals != event).sum(1).double() / n
            else:
                diff = torch.nan_to_num((vals - event) / self.span, nan=1.0)
                d = (diff**2).sum(1).div(n).sqrt()
            hit = (d <= self.threshold).nonzero()
            if len(hit):
                return float(values[(a + int(hit[0])) % total])
            j = int(d.argmin())
            if float(d[j]) < best_d:
                best_d, best_v = float(d[j]), float(values[(a + j) % total])
            i += k
            size = min(2 * size, 64 * self.batch)
        return best_v

    def sample(
        self,
        n: int,
        shape: Any,
        *,
        points: Any = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """n realisations (n, 1, *shape) float32 (float64 where `points` must be honoured to
        rounding); `points` as for kriging: (rows, cols, values) or (layers, rows, cols, values),
        an array or a CSV / GSLIB point file."""
        from genzoo.geostat.simulators import grid_shape

        sides = grid_shape(shape)
        data = None
        if points is not None:
            from genzoo.geostat.kriging import as_points

            *index, values = as_points(points, sides)
            data = (torch.stack(index, 1), values)
        out = torch.stack([self.simulate(sides, points=data, generator=generator) for _ in range(int(n))])
        return out[:, None] if data is not None else out[:, None].float()


def direct_sampling(
    ti: Any,
    shape: Any,
    n: int = 1,
    *,
    seed: int | None = 0,
    points: Any = None,
    **options: Any,
) -> Tensor:
    """n direct-sampling realisations (n, 1, *shape) of the training image `ti` (see
    `DirectSampling` for the options: neighbours, threshold, fraction, radius, categorical)."""
    gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
    return DirectSampling(torch.as_tensor(ti), **options).sample(n, shape, points=points, generator=gen)
