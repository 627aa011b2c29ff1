"""Figures of spatial fields: a few realisations and their variograms against the model's."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genzoo.pictures import figure_png
from genzoo.viz.plots import panels

FIELD_CMAP = "viridis"
VARIOGRAM_FIELDS = 32  # realisations in the figure's variogram
MAX_LAG = 48


def fields_figure(
    fields: torch.Tensor,
    cov: Any = None,
    *,
    points: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    reference: torch.Tensor | None = None,
    count: int = 4,
    max_lag: int | None = None,
    title: str = "",
) -> bytes:
    """PNG: `count` realisations (n, 1, H, W) on one colour scale — with the conditioning points
    as white-edged dots — and a panel of the empirical variograms along rows and columns (the mean
    over the first `VARIOGRAM_FIELDS` realisations ± 2 standard errors, lags up to a third of the
    side and at most `MAX_LAG`) beside the model's γ(h) when `cov` is given, and the variograms of
    `reference` fields (held-out data) as dashed lines when given."""
    from genzoo.geostat.stats import grid_variogram

    x = fields.detach().float().cpu()
    shown = min(count, len(x))
    fig, axes = panels(shown + 1, max_cols=shown + 1, width=2.6, height=2.6)
    lo, hi = np.percentile(x[:shown].numpy(), [1, 99])
    for i in range(shown):
        ax = axes[i]
        ax.imshow(x[i, 0].numpy(), cmap=FIELD_CMAP, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"realisation {i + 1}", fontsize=8)
        if points is not None:
            rows, cols, values = points
            ax.scatter(
                cols.numpy(),
                rows.numpy(),
                c=values.numpy(),
                cmap=FIELD_CMAP,
                vmin=lo,
                vmax=hi,
                s=14,
                edgecolors="white",
                linewidths=0.8,
            )
    ax = axes[-1]
    h, w = x.shape[-2:]
    lag = max_lag or max(1, min(min(h, w) // 3, MAX_LAG))
    for direction, colour in (("row", "#1f5fa8"), ("col", "#d62728")):
        v = grid_variogram(x[:VARIOGRAM_FIELDS], max_lag=lag, direction=direction)
        d = np.asarray(v.lags, dtype=float)
        g = np.asarray(v.gamma, dtype=float)
        ax.plot(d, g, "o", ms=3, color=colour, label=f"along {direction}s")
        se = getattr(v, "stderr", None)
        if se is not None:
            se = np.asarray(se, dtype=float)
            ax.fill_between(d, g - 2 * se, g + 2 * se, color=colour, alpha=0.2, lw=0)
        if reference is not None:
            ref = grid_variogram(
                reference.detach().float().cpu()[:VARIOGRAM_FIELDS], max_lag=lag, direction=direction
            )
            ax.plot(
                np.asarray(ref.lags, dtype=float),
                np.asarray(ref.gamma, dtype=float),
                "--",
                color=colour,
                lw=1,
            )
        if cov is not None:
            hh = np.linspace(0, d.max(), 200)
            step = torch.tensor([[1.0, 0.0]] if direction == "row" else [[0.0, 1.0]], dtype=torch.float64)
            model = cov.variogram(torch.from_numpy(hh)[:, None].double() * step).numpy()
            ax.plot(hh, model, "-", color=colour, lw=1)
    ax.set_xlabel("lag (cells)", fontsize=8)
    ax.set_ylabel("γ(h)", fontsize=8)
    what = (
        "samples (dots)"
        + (", model (lines)" if cov is not None else "")
        + (", held-out data (dashed)" if reference is not None else "")
    )
    ax.set_title(f"variogram: {what}", fontsize=7)
    ax.legend(fontsize=7, frameon=False)
    ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return figure_png(fig)
