"""Pictures of samples: a batch of images or fields as one grid, a point cloud as a scatter, and
`samples_png`, the picture of a run's samples.png — below training and the metrics, which draw
them, and viz, which lays them out.

Values are mapped linearly from the data's value range to 0..255 — the range in
`DataInfo` when it is finite, otherwise the batch's own min/max (unbounded fields),
so a grid is comparable across runs on bounded data and always uses full contrast on fields.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from genzoo.data.base import DataInfo
from genzoo.errors import GenzooError

MIN_CELL = 48  # tiny images (8×8 digits) are upscaled by nearest until a cell is at least this wide
PAD_VALUE = 128  # mid-grey separates cells on both black and white backgrounds


def as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """A float64 copy of a tensor or array on the CPU."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def value_range(x: np.ndarray, info: DataInfo | None = None) -> tuple[float, float]:
    """`info.value_range` when finite, else the finite min/max of `x` (never an empty interval)."""
    if info is not None:
        lo, hi = (float(v) for v in info.value_range)
        if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
            return lo, hi
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def to_uint8(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """round(255 · (x − lo) / (hi − lo)), clipped to 0..255; NaN becomes 0."""
    scaled = np.nan_to_num((x - lo) / (hi - lo), nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def block_cards(a: np.ndarray) -> np.ndarray:
    """Blocks (N, C, D, H, W) as 2-D cards (N, C, H + 1 + D, W): the horizontal section through the
    middle layer above the vertical section through the middle row (layers × columns, layer 0 at
    the top), one row of the blocks' minimum between them."""
    n, c, d, h, w = a.shape
    gap = np.full((n, c, 1, w), np.nanmin(a) if a.size else 0.0, dtype=a.dtype)
    return np.concatenate([a[:, :, d // 2], gap, a[:, :, :, h // 2]], axis=2)


def image_grid(
    x: torch.Tensor | np.ndarray,
    info: DataInfo | None = None,
    *,
    nrow: int | None = None,
    pad: int = 2,
    scale: int | None = None,
) -> Image.Image:
    """Tile `x` (N, C, H, W) into one picture: grey for C = 1, RGB for C = 3; 3-D blocks
    (N, C, D, H, W) are tiled as their sections (see `block_cards`).

    `nrow` is the number of images per row (torchvision's meaning), ceil(√N) by default.
    `scale` is an integer nearest-neighbour upscaling factor; by default the smallest one
    that makes a cell at least `MIN_CELL` pixels wide. `pad` pixels of grey separate cells.
    """
    a = as_numpy(x)
    if a.ndim == 3:  # (N, H, W): single-channel
        a = a[:, None]
    if a.ndim == 5 and a.shape[0] > 0:  # 3-D blocks: each as its sections, one card per block
        a = block_cards(a)
    if a.ndim != 4 or a.shape[0] == 0 or a.shape[1] not in (1, 3):
        raise GenzooError(
            f"image_grid needs a non-empty (N, C, H, W) batch with C = 1 or 3, got shape {tuple(a.shape)}"
        )
    n, c, h, w = a.shape
    nrow = max(1, min(nrow or math.ceil(math.sqrt(n)), n))
    scale = scale or max(1, math.ceil(MIN_CELL / max(h, w)))
    if scale < 1 or pad < 0:
        raise GenzooError(f"image_grid: scale must be >= 1 and pad >= 0, got scale={scale}, pad={pad}")
    pixels = to_uint8(a, *value_range(a, info))  # (N, C, H, W)
    pixels = pixels.repeat(scale, axis=2).repeat(scale, axis=3).transpose(0, 2, 3, 1)  # (N, sH, sW, C)
    ch, cw = h * scale, w * scale
    rows = math.ceil(n / nrow)
    canvas = np.full((rows * (ch + pad) + pad, nrow * (cw + pad) + pad, c), PAD_VALUE, dtype=np.uint8)
    for i in range(n):
        top, left = pad + (i // nrow) * (ch + pad), pad + (i % nrow) * (cw + pad)
        canvas[top : top + ch, left : left + cw] = pixels[i]
    return Image.fromarray(canvas[..., 0] if c == 1 else canvas)  # uint8 (H, W) → "L", (H, W, 3) → "RGB"


def png_bytes(image: Image.Image) -> bytes:
    """`image` encoded as PNG."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def animated_gif(frames: list[bytes], *, ms: int = 700, last_ms: int = 1600) -> bytes:
    """PNG pictures (e.g. a run's sample grids in step order) as one looping GIF: each shown `ms`
    milliseconds, the last `last_ms`; frames of another size are scaled to the first's."""
    if not frames:
        raise GenzooError("animated_gif needs at least one frame")
    images = [Image.open(io.BytesIO(f)) for f in frames]
    size = images[0].size
    mode = "L" if all(im.mode in ("L", "1") for im in images) else "RGB"
    images = [
        im.convert(mode) if im.size == size else im.convert(mode).resize(size, Image.Resampling.NEAREST)
        for im in images
    ]
    buf = io.BytesIO()
    durations = [ms] * (len(images) - 1) + [last_ms]
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return buf.getvalue()


DATA_COLOUR = "#c3cedb"
SAMPLE_COLOUR = "#1f5fa8"
MODE_COLOUR = "#d62728"


def figure_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """`fig` rendered by Agg as PNG bytes (without the Software metadata chunk)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


# --- point clouds ------------------------------------------------------------------------------
def points_figure(
    points: torch.Tensor | np.ndarray,
    *,
    reference: torch.Tensor | np.ndarray | None = None,
    modes: torch.Tensor | np.ndarray | None = None,
    paths: Sequence[torch.Tensor | np.ndarray] | None = None,
    path_colour: str | None = None,
    title: str | None = None,
    label: str = "samples",
) -> bytes:
    """A scatter of (N, D) `points` over optional `reference` data (light), with optional
    mode centres (red crosses) and `paths` (each (T, D), drawn as lines from a dot at their
    start, in `path_colour` or else one colour each); equal aspect.

    Only the first two dimensions are drawn when D > 2 (the title says so); D = 1 gives
    overlaid histograms instead. Returns PNG bytes."""
    p = as_numpy(points)
    if p.ndim != 2 or p.shape[0] == 0:
        raise GenzooError(f"points_figure needs a non-empty (N, D) array, got shape {tuple(p.shape)}")
    d = p.shape[1]
    ref = None if reference is None else as_numpy(reference).reshape(-1, d)
    title = title or ""
    if d > 2:
        title = f"{title} (dims 1-2 of {d})".strip()
    fig = Figure(figsize=(5.0, 5.0), layout="constrained")
    ax = fig.add_subplot()
    if d == 1:
        bins = np.histogram_bin_edges(
            p[:, 0] if ref is None else np.concatenate([p[:, 0], ref[:, 0]]), bins=50
        )
        if ref is not None:
            ax.hist(ref[:, 0], bins=bins, density=True, color=DATA_COLOUR, label="data")
        ax.hist(p[:, 0], bins=bins, density=True, histtype="step", color=SAMPLE_COLOUR, label=label)
        ax.set_xlabel("x")
    else:
        if ref is not None:
            ax.scatter(ref[:, 0], ref[:, 1], s=5, c=DATA_COLOUR, linewidths=0, label="data")
        ax.scatter(p[:, 0], p[:, 1], s=6, c=SAMPLE_COLOUR, alpha=0.75, linewidths=0, label=label)
        if modes is not None:
            m = as_numpy(modes).reshape(-1, d)
            ax.scatter(m[:, 0], m[:, 1], s=50, marker="x", c=MODE_COLOUR, linewidths=1.5, label="modes")
        for path in paths or []:
            q = as_numpy(path).reshape(-1, d)
            (line,) = ax.plot(q[:, 0], q[:, 1], "-", color=path_colour, linewidth=1.2, alpha=0.9)
            ax.plot(q[:1, 0], q[:1, 1], "o", color=line.get_color(), markersize=4)  # where the path starts
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
    if ref is not None or modes is not None:
        ax.legend(loc="best", fontsize="small", markerscale=2)
    if title:
        ax.set_title(title, fontsize="medium")
    ax.grid(True, alpha=0.3)
    return figure_png(fig)


def as_array(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """A tensor or array as an array on the CPU, its dtype kept."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def samples_png(x: torch.Tensor | np.ndarray, info: DataInfo | None, *, what: str = "samples") -> bytes:
    """Samples (or data: `what` = "examples") as one PNG: a grid for images and fields, a scatter
    for points — the picture of samples.png, so that real data drawn with it sit beside a run's
    samples alike."""
    arr = as_array(x)
    kind = info.kind if info is not None else ("points" if arr.ndim == 2 else "image")
    if kind == "points":
        name = f"{info.name}: " if info is not None else ""
        return points_figure(arr, title=f"{name}{len(arr)} {what}")
    return png_bytes(image_grid(arr, info))
