"""Pixels: a batch of images or fields as one picture.

Values are mapped linearly from the data's value range to 0..255 — the range in
:class:`DataInfo` when it is finite, otherwise the batch's own min/max (unbounded fields),
so a grid is comparable across runs on bounded data and always uses full contrast on fields.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
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


def image_grid(
    x: torch.Tensor | np.ndarray,
    info: DataInfo | None = None,
    *,
    nrow: int | None = None,
    pad: int = 2,
    scale: int | None = None,
) -> Image.Image:
    """Tile `x` (N, C, H, W) into one picture: grey for C = 1, RGB for C = 3.

    `nrow` is the number of images per row (torchvision's meaning), ceil(√N) by default.
    `scale` is an integer nearest-neighbour upscaling factor; by default the smallest one
    that makes a cell at least `MIN_CELL` pixels wide. `pad` pixels of grey separate cells.
    """
    a = as_numpy(x)
    if a.ndim == 3:  # (N, H, W): single-channel
        a = a[:, None]
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
    images = [im.convert(mode) if im.size == size else im.convert(mode).resize(size, Image.Resampling.NEAREST) for im in images]
    buf = io.BytesIO()
    durations = [ms] * (len(images) - 1) + [last_ms]
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return buf.getvalue()
