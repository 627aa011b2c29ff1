"""Figures: point clouds, loss curves, latent interpolations, reconstructions, and writing
samples to disk.

Matplotlib is used through `matplotlib.figure.Figure` only (the Agg renderer, no
pyplot, no global state), so these functions are safe in threads and headless runs.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from genzoo.atomic import atomic_path
from genzoo.data.base import DataInfo
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel
from genzoo.pictures import (
    DATA_COLOUR,
    SAMPLE_COLOUR,
    as_array,
    as_numpy,
    figure_png,
    image_grid,
    png_bytes,
    points_figure,
    samples_png,
    value_range,
)

SAMPLE_SUFFIXES = (".png", ".npy", ".npz")
NOT_LOSSES = frozenset({"step", "epoch", "lr", "steps_per_s", "time"})  # logged, but not loss terms
SMOOTH_FROM = 50  # records; longer logs get an EMA line over the raw one


def panels(count: int, *, max_cols: int, width: float, height: float) -> tuple[Figure, list[Any]]:
    """A figure of `count` panels in rows of at most `max_cols`, each `width` × `height` inches;
    returns the figure and the `count` axes in use (the spare ones are hidden)."""
    ncols = min(max_cols, count)
    nrows = math.ceil(count / ncols)
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def _png_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


# --- loss curves -------------------------------------------------------------------------------
def loss_terms(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The numeric keys of the log records that are loss terms ("loss" first, then in order of
    first appearance); bookkeeping keys such as "step", "lr", "steps_per_s", "time" are not."""
    terms: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if k not in NOT_LOSSES and isinstance(v, (int, float)) and not isinstance(v, bool):
                terms.setdefault(k)
    return sorted(terms, key=lambda k: k != "loss")  # stable: keeps first-appearance order


def smooth(values: np.ndarray, window: float) -> np.ndarray:
    """Debiased exponential moving average with weight 1 − 1/window (TensorBoard's smoothing)."""
    beta = 1.0 - 1.0 / max(window, 1.0)
    out, acc = np.empty_like(values), 0.0
    for i, v in enumerate(values):
        acc = beta * acc + (1.0 - beta) * v
        out[i] = acc / (1.0 - beta ** (i + 1))
    return out


def loss_curves(records: Sequence[Mapping[str, Any]]) -> bytes | None:
    """One panel per loss term of a log.jsonl against "step", as PNG bytes.

    Logs longer than `SMOOTH_FROM` records show the raw values faintly under a smoothed line.
    Returns None when there is nothing to plot (no records, or no numeric loss terms)."""
    terms = loss_terms(records)
    if not terms:
        return None
    fig, axes = panels(len(terms), max_cols=3, width=4.2, height=2.9)
    for ax, term in zip(axes, terms):
        pts = [(r.get("step", i), r[term]) for i, r in enumerate(records) if _finite_number(r.get(term))]
        steps, values = (np.array(a, dtype=float) for a in zip(*pts)) if pts else (np.zeros(0), np.zeros(0))
        if len(values) > SMOOTH_FROM:
            ax.plot(steps, values, color=DATA_COLOUR, linewidth=0.8)
            ax.plot(steps, smooth(values, len(values) / 30), color=SAMPLE_COLOUR, linewidth=1.5)
        else:
            ax.plot(steps, values, "-o", color=SAMPLE_COLOUR, markersize=3, linewidth=1.2)
        ax.set_title(term, fontsize="medium")
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    return figure_png(fig)


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# --- latent space ------------------------------------------------------------------------------
@contextlib.contextmanager
def inference(model: GenerativeModel) -> Iterator[None]:
    """Eval mode and no gradients for the block; the model's previous mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, method: str = "slerp") -> torch.Tensor:
    """Codes along the path from z0 to z1 (each (P, *L)) at fractions t (T,) → (P, T, *L).

    "linear": (1 − t)·z0 + t·z1. "slerp" (Shoemake 1985; White 2016, *Sampling Generative
    Networks*): sin((1 − t)ω)/sin ω · z0 + sin(tω)/sin ω · z1 with cos ω = ⟨z0, z1⟩/(|z0||z1|),
    which keeps the codes at the norms typical of N(0, I) where the straight line passes
    through the improbable region near the origin. Parallel pairs fall back to linear."""
    a, b = z0.flatten(1).double(), z1.flatten(1).double()  # (P, d)
    t = t.double().expand(a.shape[0], -1)  # (P, T)
    w0, w1 = 1.0 - t, t
    if method == "slerp":
        cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
        omega = torch.arccos(cos.clamp(-1.0, 1.0))[:, None]  # (P, 1)
        sin = torch.sin(omega)
        ok = sin.abs() > 1e-6
        safe = torch.where(ok, sin, torch.ones_like(sin))
        w0 = torch.where(ok, torch.sin((1.0 - t) * omega) / safe, w0)
        w1 = torch.where(ok, torch.sin(t * omega) / safe, w1)
    elif method != "linear":
        raise GenzooError(f"unknown interpolation method {method!r} (valid: linear, slerp)")
    z = w0[..., None] * a[:, None] + w1[..., None] * b[:, None]  # (P, T, d)
    return z.reshape(*z.shape[:2], *z0.shape[1:]).to(z0.dtype)


def _batch(x: torch.Tensor | np.ndarray, info: DataInfo) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).float()
    return x[None] if tuple(x.shape) == tuple(info.shape) else x


def interpolation_strip(
    model: GenerativeModel,
    *,
    x0: torch.Tensor | np.ndarray | None = None,
    x1: torch.Tensor | np.ndarray | None = None,
    steps: int = 10,
    pairs: int = 6,
    method: str = "slerp",
    generator: torch.Generator | None = None,
    info: DataInfo | None = None,
    reference: torch.Tensor | np.ndarray | None = None,
) -> Image.Image:
    """Decodes along paths between pairs of latent codes, one row per pair, `steps` columns.

    The end codes are `encode(x0)`, `encode(x1)` (one example each or batches of equal size)
    when given, else `pairs` draws each of z0, z1 from `model.sample_latent` (the prior N(0, I)
    of a VAE, the fitted code distribution of an autoencoder) with `generator`. The path is
    spherical (`method="slerp"`, the default, suited to Gaussian latents) or straight
    (`"linear"`). For point data the decoded paths are drawn in data space over `reference`."""
    if not model.latent:
        raise GenzooError(f"model {model.name!r} has no latent space to interpolate in")
    if steps < 2:
        raise GenzooError(f"interpolation needs at least 2 steps, got {steps}")
    if x0 is not None and not model.encodes:
        raise GenzooError(f"model {model.name!r} has no encoder: interpolate between latent draws instead")
    if (x0 is None) != (x1 is None):
        raise GenzooError("interpolation between data needs both x0 and x1")
    info = info or model.info
    with inference(model):
        if x0 is not None:
            z0 = model.encode(_batch(x0, info).to(model.device)).cpu()
            z1 = model.encode(_batch(x1, info).to(model.device)).cpu()
            if z0.shape != z1.shape:
                raise GenzooError(f"x0 and x1 hold different numbers of examples ({len(z0)} and {len(z1)})")
        else:  # draws from the model's own distribution of codes (N(0, I) for a VAE)
            z0 = model.sample_latent(pairs, generator=generator).cpu()
            z1 = model.sample_latent(pairs, generator=generator).cpu()
        z = interpolate(z0, z1, torch.linspace(0.0, 1.0, steps), method)  # (P, T, *L)
        x = model.decode(z.flatten(0, 1).to(model.device)).float().cpu()  # (P·T, *shape)
    if info.kind == "points":
        paths = list(x.reshape(z.shape[0], steps, -1))
        ends = "encoded examples" if x0 is not None else "prior draws"
        title = f"{model.name}: {method} paths between {len(paths)} pairs of {ends}"
        return _png_image(
            points_figure(
                x.reshape(-1, x.shape[-1]), reference=reference, paths=paths, title=title, label="decodes"
            )
        )
    return image_grid(x, info, nrow=steps)


def walk(
    z0: torch.Tensor,
    noise: torch.Tensor,
    step: float,
    mean: torch.Tensor | float = 0.0,
    scale: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """Random walks from z0 (W, *L) driven by noise (W, T − 1, *L) ~ N(0, I): (W, T, *L) with

        z_t = μ + √(1 − β²)·(z_{t−1} − μ) + β·s·ε_t,

    an autoregressive walk whose stationary law is N(μ, s²) — for the N(0, I) prior of a VAE or
    GAN every z_t is again a prior draw, so the walk never leaves the region the decoder knows.
    β = `step` ∈ (0, 1] sets how far each move goes (β = 1: independent draws)."""
    if not 0.0 < step <= 1.0:
        raise GenzooError(f"walk step must be in (0, 1], got {step}")
    a = math.sqrt(1.0 - step**2)
    out = [z0]
    for t in range(noise.shape[1]):
        out.append(mean + a * (out[-1] - mean) + step * scale * noise[:, t])
    return torch.stack(out, dim=1)


def latent_walk(
    model: GenerativeModel,
    *,
    walks: int = 6,
    steps: int = 10,
    step: float = 0.35,
    generator: torch.Generator | None = None,
    info: DataInfo | None = None,
    reference: torch.Tensor | np.ndarray | None = None,
) -> Image.Image:
    """Decodes `walks` random walks of `steps` codes through the latent space (`walk`),
    one row per walk: the walk starts at a draw of `model.sample_latent`, moves by β = `step`,
    and keeps to the mean and per-dimension spread of the model's latent distribution (estimated
    from 512 of its draws), so that for a Gaussian prior it stays on the prior. For point data
    the decoded walks are drawn as paths over `reference`."""
    if not model.latent:
        raise GenzooError(f"model {model.name!r} has no latent space to walk in")
    if steps < 2:
        raise GenzooError(f"a latent walk needs at least 2 steps, got {steps}")
    info = info or model.info
    with inference(model):
        draws = model.sample_latent(512, generator=generator).cpu().float()
        mean, scale = draws.mean(0), draws.std(0)
        z0 = model.sample_latent(walks, generator=generator).cpu().float()
        if generator is None:
            noise = torch.randn((walks, steps - 1, *z0.shape[1:]))
        else:
            noise = torch.randn(
                (walks, steps - 1, *z0.shape[1:]), generator=generator, device=generator.device
            ).cpu()
        z = walk(z0, noise, step, mean, scale)  # (W, T, *L)
        x = model.decode(z.flatten(0, 1).to(model.device)).float().cpu()
    if info.kind == "points":
        paths = list(x.reshape(walks, steps, -1))
        title = f"{model.name}: {walks} latent walks of {steps} steps (β = {step})"
        return _png_image(
            points_figure(
                x.reshape(-1, x.shape[-1]), reference=reference, paths=paths, title=title, label="decodes"
            )
        )
    return image_grid(x, info, nrow=steps)


def trajectory_figure(
    model: GenerativeModel,
    *,
    n: int = 8,
    frames: int = 8,
    generator: torch.Generator | None = None,
    steps: int | None = None,
) -> bytes:
    """The denoising trajectory x_T … x_0 of a diffusion model (`model.trajectory`),
    `frames` evenly spaced states from pure noise to the samples: for images one row per sample,
    for points one scatter per state (with 40 × n points)."""
    points = model.info.kind == "points"
    with inference(model):
        path = model.trajectory(40 * n if points else n, generator=generator, steps=steps).float().cpu()
    idx = torch.linspace(0, path.shape[1] - 1, frames).round().long()
    if not points:
        rows = path[:, idx].flatten(0, 1)  # (n·frames, *shape): sample by sample, noise → data
        return png_bytes(image_grid(rows, model.info, nrow=frames))
    fig, axes = panels(frames, max_cols=frames, width=1.9, height=2.0)
    lim = float(path[:, -1].abs().max()) * 1.2 + 1e-9
    for ax, i in zip(axes, idx.tolist()):
        ax.scatter(*path[:, i].T.numpy(), s=1.5, linewidths=0, alpha=0.6)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
        ax.set_title(
            "x_T (noise)" if i == 0 else ("x_0" if i == path.shape[1] - 1 else f"state {i}"), fontsize=8
        )
    return figure_png(fig)


def codes_figure(model: GenerativeModel, x: torch.Tensor, labels: torch.Tensor) -> bytes:
    """Scatter of the 2-D codes encode(x), coloured by label (dimension reduction at a glance)."""
    with inference(model):
        codes = torch.cat(
            [model.encode(c.to(model.device)).float().cpu() for c in torch.split(x, 500)]
        ).numpy()
    fig = Figure(figsize=(5.2, 4.6), layout="constrained")
    ax = fig.add_subplot()
    labels = np.asarray(labels)
    cmap = matplotlib.colormaps["tab10"]
    for i, c in enumerate(np.unique(labels)):
        m = labels == c
        ax.scatter(codes[m, 0], codes[m, 1], s=4, color=cmap(i % 10), label=str(c), alpha=0.7, linewidths=0)
    ax.legend(markerscale=3, fontsize=7, loc="best", ncols=2)
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(f"{model.name}: codes of {len(codes)} examples")
    return figure_png(fig)


def reconstruction_grid(
    model: GenerativeModel,
    x: torch.Tensor | np.ndarray,
    info: DataInfo | None = None,
    *,
    ncol: int = 8,
) -> Image.Image:
    """Originals on rows 1, 3, 5, … and their reconstructions `decode(encode(x))` beneath.

    Rows hold `ncol` examples; examples past the last full row are left out. For point
    data: the originals (light) and reconstructions, each pair joined by a line."""
    if not model.encodes:
        raise GenzooError(f"model {model.name!r} has no encoder to reconstruct through")
    info = info or model.info
    x = _batch(x, info)
    if len(x) == 0:
        raise GenzooError("reconstruction_grid needs at least one example")
    ncol = max(1, min(ncol, len(x)))
    x = x[: len(x) // ncol * ncol]
    with inference(model):
        r = model.reconstruct(x.to(model.device)).float().cpu().reshape(x.shape)
    if info.kind == "points":
        pairs = list(torch.stack([x, r], dim=1))  # each (2, D): original → reconstruction
        title = f"{model.name}: reconstructions"
        figure = points_figure(
            r, reference=x, paths=pairs, path_colour="#8a96a3", title=title, label="reconstructions"
        )
        return _png_image(figure)
    rows = x.shape[0] // ncol
    both = torch.stack([x.reshape(rows, ncol, *x.shape[1:]), r.reshape(rows, ncol, *x.shape[1:])], dim=1)
    return image_grid(both.reshape(-1, *x.shape[1:]), info, nrow=ncol)


def inpainting_grid(x: torch.Tensor, mask: torch.Tensor, filled: torch.Tensor, info: DataInfo) -> Image.Image:
    """Three rows, one example per column: the originals, what the model was shown (the hole
    drawn as a mid-grey/white checkerboard) and the model's fills."""
    lo, hi = value_range(as_numpy(x), info)
    m = mask.expand_as(x).float()
    yy, xx = torch.meshgrid(torch.arange(x.shape[-2]), torch.arange(x.shape[-1]), indexing="ij")
    checker = lo + (hi - lo) * (0.5 + 0.5 * ((yy // 2 + xx // 2) % 2).float())
    shown = m * x + (1 - m) * checker.expand_as(x)
    return image_grid(torch.cat([x, shown, filled.reshape(x.shape)]), info, nrow=len(x))


# --- files -------------------------------------------------------------------------------------
def save_samples(
    x: torch.Tensor | np.ndarray,
    info: DataInfo | None,
    path: str | Path,
    *,
    y: torch.Tensor | np.ndarray | None = None,
) -> Path:
    """Write samples to `path`, chosen by its suffix: .png (a grid for images and fields, a
    scatter for points), .npy (the array as is) or .npz (`x`, and `y` when labels are given).

    The file is written under a temporary name in the same directory and renamed into place,
    so an error never leaves a half-written file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        raise GenzooError(
            f"{path}: cannot write samples as {suffix or 'a file without a suffix'!r} "
            f"(use {', '.join(SAMPLE_SUFFIXES)})"
        )
    arr = as_array(x)
    if suffix == ".png":
        data = samples_png(arr, info)

        def write(fh: Any) -> None:
            fh.write(data)

    elif suffix == ".npy":

        def write(fh: Any) -> None:
            np.save(fh, arr, allow_pickle=False)

    else:
        extra = {} if y is None else {"y": as_array(y)}

        def write(fh: Any) -> None:
            np.savez(fh, x=arr, **extra)

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a file object, so numpy never appends its own suffix
            write(fh)
    return path
