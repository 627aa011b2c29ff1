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
        step = (1.0, 0.0) if direction == "row" else (0.0, 1.0)
        _variogram_curves(ax, x, reference, cov, direction, step, lag, colour)
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


def _variogram_curves(
    ax: Any, x: torch.Tensor, reference: Any, cov: Any, direction: str, step: tuple, lag: int, colour: str
) -> None:
    """Along `direction` (the lag `step`): the variogram of the first `VARIOGRAM_FIELDS` of `x` as
    dots ± 2 standard errors, the reference's dashed and the model's as a line."""
    from genzoo.geostat.stats import grid_variogram

    v = grid_variogram(x[:VARIOGRAM_FIELDS], max_lag=lag, direction=direction)
    d = np.asarray(v.lags, dtype=float)
    g = np.asarray(v.gamma, dtype=float)
    ax.plot(d, g, "o", ms=3, color=colour, label=f"along {direction}s")
    se = v.stderr
    if se is not None:
        se = np.asarray(se, dtype=float)
        ax.fill_between(d, g - 2 * se, g + 2 * se, color=colour, alpha=0.2, lw=0)
    if reference is not None:
        ref = grid_variogram(
            reference.detach().float().cpu()[:VARIOGRAM_FIELDS], max_lag=lag, direction=direction
        )
        ax.plot(
            np.asarray(ref.lags, dtype=float), np.asarray(ref.gamma, dtype=float), "--", color=colour, lw=1
        )
    if cov is not None:
        hh = np.linspace(0, d.max(), 200)
        lags = torch.from_numpy(hh)[:, None].double() * torch.tensor([step], dtype=torch.float64)
        ax.plot(hh, cov.variogram(lags).numpy(), "-", color=colour, lw=1)


def block_figure(
    blocks: torch.Tensor,
    cov: Any = None,
    *,
    points: tuple[torch.Tensor, ...] | None = None,
    reference: torch.Tensor | None = None,
    count: int = 3,
    title: str = "",
    show: torch.Tensor | None = None,
    labels: list[str] | None = None,
) -> bytes:
    """PNG of 3-D blocks (n, 1, D, H, W): for each of `count` realisations (or of the blocks `show`,
    named by `labels` — e.g. held-out and generated ones side by side), three sections through
    its centre on one colour scale — the horizontal one (a layer: rows × columns) and the two
    vertical ones (layers × columns at the middle row, layers × rows at the middle column), layer 0
    at the top —, the data (layer, row, col, value) within a cell of a section drawn on it; and
    the variograms along layers, rows and columns (the mean over the first `VARIOGRAM_FIELDS`
    blocks ± 2 standard errors) beside the model's γ(h) when `cov` is given and those of
    `reference` blocks (dashed) when given."""

    x = blocks.detach().float().cpu()
    if x.dim() != 5 or x.shape[1] != 1:
        raise ValueError(f"blocks must be (n, 1, D, H, W), got {tuple(x.shape)}")
    pictured = x[:count] if show is None else show.detach().float().cpu()
    names = labels or [str(i + 1) for i in range(len(pictured))]
    shown = len(pictured)
    d, h, w = x.shape[-3:]
    mid = (d // 2, h // 2, w // 2)
    fig, axes = panels(3 * shown + 1, max_cols=3, width=2.6, height=2.4)
    lo, hi = np.percentile(pictured.numpy(), [1, 99])
    sections = (
        ("layer", lambda b: b[mid[0]], (1, 2), f"layer {mid[0]}: rows × cols"),
        ("row", lambda b: b[:, mid[1]], (0, 2), f"row {mid[1]}: layers × cols"),
        ("col", lambda b: b[:, :, mid[2]], (0, 1), f"col {mid[2]}: layers × rows"),
    )
    for i in range(shown):
        for j, (axis, cut, (ya, xa), label) in enumerate(sections):
            ax = axes[3 * i + j]
            ax.imshow(
                cut(pictured[i, 0]).numpy(),
                cmap=FIELD_CMAP,
                vmin=lo,
                vmax=hi,
                interpolation="nearest",
                aspect="auto",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{names[i]}: {label}", fontsize=7)
            if points is not None:
                idx = [t.numpy() for t in points[:3]]
                fixed = {"layer": 0, "row": 1, "col": 2}[axis]
                on = idx[fixed] == mid[fixed]
                if on.any():
                    ax.scatter(
                        idx[xa][on],
                        idx[ya][on],
                        c=points[3].numpy()[on],
                        cmap=FIELD_CMAP,
                        vmin=lo,
                        vmax=hi,
                        s=10,
                        edgecolors="white",
                        linewidths=0.6,
                    )
    ax = axes[-1]
    colours = {"layer": "#2ca02c", "row": "#1f5fa8", "col": "#d62728"}
    steps = {"layer": (1.0, 0.0, 0.0), "row": (0.0, 1.0, 0.0), "col": (0.0, 0.0, 1.0)}
    for direction, colour in colours.items():
        side = {"layer": d, "row": h, "col": w}[direction]
        if side < 2:
            continue
        lag = max(1, min(side // 3, MAX_LAG))
        _variogram_curves(ax, x, reference, cov, direction, steps[direction], lag, colour)
    ax.set_xlabel("lag (cells)", fontsize=8)
    ax.set_ylabel("γ(h)", fontsize=8)
    parts = ["samples (dots)"] + (["model (lines)"] if cov is not None else [])
    parts += ["held-out (dashed)"] if reference is not None else []
    ax.set_title("variograms: " + ", ".join(parts), fontsize=7)
    ax.legend(fontsize=7, frameon=False)
    ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return figure_png(fig)


def layer_sweep(blocks: torch.Tensor, labels: list[str], *, ms: int = 250) -> bytes:
    """An animated GIF through the layers of blocks (k, 1, D, H, W) side by side on one grey scale —
    a 3-D view that any browser plays without a script or a network: frame d shows layer d of each
    block (layer 0 first, the top of the block), with the layer's number."""
    from PIL import Image, ImageDraw

    from genzoo.pictures import animated_gif, png_bytes

    x = blocks.detach().float().cpu().numpy()[:, 0]  # (k, D, H, W)
    lo, hi = np.percentile(x, [1, 99])
    k, d, h, w = x.shape
    scale = max(1, 96 // max(h, w))
    frames = []
    for layer in range(d):
        canvas = Image.new("L", (k * (w * scale + 4) + 4, h * scale + 18), 128)
        for i in range(k):
            grey = np.clip((x[i, layer] - lo) / (hi - lo or 1.0), 0, 1)
            tile = Image.fromarray((grey * 255).astype(np.uint8)).resize(
                (w * scale, h * scale), Image.NEAREST
            )
            canvas.paste(tile, (4 + i * (w * scale + 4), 16))
            ImageDraw.Draw(canvas).text((4 + i * (w * scale + 4), 2), f"{labels[i]}, layer {layer}", fill=255)
        frames.append(png_bytes(canvas.convert("RGB")))
    return animated_gif(frames, ms=ms, last_ms=ms)


def block_faces(block: Any) -> list[tuple[np.ndarray, ...]]:
    """The three outer faces of a block (D, H, W) seen from the south-east and above, as surfaces
    (X, Y, Z, V) over the cells' corners in the 3-D view's coordinates (see `block_isosurface`):
    the top (layer 0, z = D), the south side (the last row, y = 0) and the east side (the last
    column, x = W). V[i, j] is the value of the cell whose patch has corner (i, j) first (V has a
    spare last row and column, as Matplotlib's plot_surface takes the colours)."""
    v = np.asarray(block)
    d, h, w = v.shape

    def surface(values: np.ndarray, first: int, second: int, place: Any) -> tuple[np.ndarray, ...]:
        a, b = np.meshgrid(np.arange(first + 1), np.arange(second + 1))
        X, Y, Z = (np.broadcast_to(np.asarray(c, dtype=float), a.shape) for c in place(a, b))
        return X, Y, Z, np.pad(values, [(0, 1), (0, 1)] + [(0, 0)] * (values.ndim - 2), mode="edge")

    return [
        surface(v[0], w, h, lambda a, b: (a, h - b, d)),  # a: column corner, b: row corner
        surface(v[:, -1], w, d, lambda a, b: (a, 0, d - b)),  # b: layer corner
        surface(v[:, :, -1], h, d, lambda a, b: (w, h - a, d - b)),  # a: row corner
    ]


def block_isosurface(block: Any, level: float, *, step: int | None = None) -> np.ndarray:
    """The isosurface {v = level} of a block (D, H, W) as triangles (T, 3, 3) in the 3-D view's
    coordinates: x east along the columns (0 … W), y north (row 0, the top of a map, at y = H), z up
    (layer 0, the top of the block, at z = D); cell (l, r, c) spans [c, c+1] × [H−r−1, H−r] ×
    [D−l−1, D−l]. The block is padded by cells below every value, so that bodies cut by its sides
    are closed there (on the sides); marching cubes of scikit-image, `step` cells per cube
    (default 1, 2 above 40,000 cells)."""
    from skimage.measure import marching_cubes

    v = np.asarray(block, dtype=np.float64)
    d, h, w = v.shape
    floor = float(v.min()) - 1.0
    if not float(v.max()) > level > floor:
        return np.zeros((0, 3, 3))
    padded = np.pad(v, 1, constant_values=floor)
    verts, tri, _, _ = marching_cubes(padded, level, step_size=step or (1 if v.size <= 40_000 else 2))
    # padded index p → the centre of cell p − 1, at p − 0.5; a crossing into the padding (within
    # half a cell of a side) is a closing cap: onto the side
    sides = np.array([d, h, w], dtype=float)
    verts = verts - 0.5
    verts = np.where(verts < 0.5, 0.0, np.where(verts > sides - 0.5, sides, verts))
    xyz = np.stack([verts[:, 2], h - verts[:, 1], d - verts[:, 0]], -1)
    return xyz[tri]


def block_view(
    blocks: torch.Tensor,
    labels: list[str] | None = None,
    *,
    level: float | None = None,
    title: str = "",
) -> bytes:
    """PNG: a 3-D view of each block (k, 1, D, H, W) — above, the block's three outer faces seen
    from the south-east and above (its top layer, its last row, its last column; the geologist's
    block diagram) on one colour scale; below, the isosurface at `level` (default: 0.5 for facies
    — the bodies of the codes ≥ 1 —, the 80th percentile of the blocks for continuous fields — the
    bodies of high values), closed at the block's sides and shaded by a light from above, drawn
    by marching cubes (scikit-image). Layer 0 is at the top; the vertical scale is the cells'."""
    from matplotlib import colormaps
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    from genzoo.viz.plots import Figure

    x = blocks.detach().float().cpu()
    if x.dim() != 5 or x.shape[1] != 1:
        raise ValueError(f"blocks must be (k, 1, D, H, W), got {tuple(x.shape)}")
    vol = x[:, 0].numpy()
    k, d, h, w = vol.shape
    if min(d, h, w) < 2:
        raise ValueError(f"a 3-D view needs at least 2 cells along each axis, got {d}×{h}×{w}")
    names = labels or [f"block {i + 1}" for i in range(k)]
    codes = bool(np.all(vol == np.round(vol)))
    lo, hi = (float(vol.min()), float(vol.max())) if codes else np.percentile(vol, [1, 99])
    if level is None:
        level = 0.5 if codes else float(np.percentile(vol, 80))
    cmap = colormaps[FIELD_CMAP]
    fig = Figure(figsize=(3.2 * k, 6.0), layout="constrained")
    for i in range(k):
        v = (vol[i] - lo) / ((hi - lo) or 1.0)
        ax = fig.add_subplot(2, k, i + 1, projection="3d")
        for X, Y, Z, face in block_faces(v):
            ax.plot_surface(
                X,
                Y,
                Z,
                facecolors=cmap(np.clip(face, 0, 1)),
                rstride=1,
                cstride=1,
                shade=False,
                linewidth=0,
                antialiased=False,
            )
        _block_axes(ax, d, h, w, f"{names[i]}: faces")
        ax = fig.add_subplot(2, k, k + i + 1, projection="3d")
        tris = block_isosurface(vol[i], level)
        if len(tris):
            n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
            n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
            shade = 0.35 + 0.65 * np.abs(n @ np.array([-0.4, -0.5, 0.77]))  # a light from above
            base = np.array(cmap(float(np.clip((1 - lo) / ((hi - lo) or 1.0), 0, 1)) if codes else 0.85))
            fcs = np.clip(base[None, :3] * shade[:, None], 0, 1)
            ax.add_collection3d(Poly3DCollection(tris, facecolors=fcs, linewidths=0))
        what = "bodies (codes ≥ 1)" if codes and level == 0.5 else f"isosurface {level:.3g}"
        _block_axes(ax, d, h, w, f"{names[i]}: {what}")
    if title:
        fig.suptitle(title, fontsize=9)
    return figure_png(fig)


def _block_axes(ax: Any, d: int, h: int, w: int, title: str) -> None:
    ax.set_xlim(0, w)
    ax.set_ylim(0, h)
    ax.set_zlim(0, d)
    ax.set_box_aspect((w, h, d))
    ax.view_init(elev=28, azim=-55)
    ax.set_axis_off()
    ax.set_title(title, fontsize=8)
