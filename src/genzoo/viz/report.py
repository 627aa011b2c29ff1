"""The report of a run: one self-contained HTML page (`genzoo report RUN` → RUN/report.html).

Readable offline and safe to mail: every picture is an embedded PNG data URI, the CSS is
inline, there is no script and no external resource, and every string taken from the run
is HTML-escaped. `write_report` reads the run directory and loads the model;
`render_report` builds the page from objects already in memory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from genzoo.data import load as load_data
from genzoo.data.base import Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import Edits, GenerativeModel, HasFilters, Inpaints, Trajectories, Translates
from genzoo.models.geostat import Field
from genzoo.pictures import animated_gif, image_grid, png_bytes
from genzoo.training import checkpoint as ckpt
from genzoo.version import __version__
from genzoo.viz.page import document, escape, figure, fmt, img, note, section, table
from genzoo.viz.plots import (
    codes_figure,
    inference,
    inpainting_grid,
    interpolation_strip,
    latent_walk,
    loss_curves,
    loss_terms,
    points_figure,
    reconstruction_grid,
    trajectory_figure,
)
from genzoo.viz.scores import LISTS, Row, grouped, picture_files, render_groups

REPORT = "report.html"
RECON_EXAMPLES = 16  # two rows of 8 originals, each with its reconstructions beneath
INTERP_PAIRS, INTERP_STEPS = 6, 10
MIN_POINTS = 1000  # point data: at least this many samples, so the scatter shows the density
REFERENCE_POINTS = 2000
CONFIG_SECTIONS = ("model", "data", "data_info", "train")


def write_report(
    run_dir: str | Path, *, out: str | Path | None = None, n_samples: int = 64, seed: int = 0
) -> Path:
    """Write the report of the run in `run_dir` to `out` (default RUN/report.html), atomically.

    The model comes from `genzoo.load(run_dir)`; examples to reconstruct from the run's
    dataset (test split, else train) when it can still be loaded — if not, the page says why;
    the pictures metrics.json names (memorization.png) and the sample grids the checkpoints kept
    (RUN/samples/) from the run directory."""
    run_dir = Path(run_dir)
    config = ckpt.read_config(run_dir)
    records = ckpt.read_log(run_dir)
    metrics, notes = _read_metrics(run_dir)
    model = ckpt.load(run_dir)
    data, data_note = _load_data(config)
    if data_note:
        notes["data"] = data_note
    scores = metrics.get("metrics") if isinstance(metrics, Mapping) else None
    pictures = picture_files(run_dir, scores) if isinstance(scores, Mapping) else {}
    frames = _read_frames(run_dir)
    train = _load_data(config, ("train",))[0] if hasattr(model, "decoder_basis") else None
    page = render_report(
        model,
        config,
        records,
        metrics,
        data=data,
        n_samples=n_samples,
        seed=seed,
        notes=notes,
        train=train,
        pictures=pictures,
        frames=frames,
    )
    out = Path(out) if out is not None else run_dir / REPORT
    ckpt.atomic_write(out, lambda p: p.write_text(page, encoding="utf-8"))
    return out


def _read_frames(run_dir: Path) -> list[tuple[int, bytes]]:
    """The kept checkpoints' sample grids, in step order; one that a run still training deletes
    meanwhile (it keeps at most ckpt.MAX_FRAMES) is left out."""
    frames = []
    for step, path in ckpt.read_frames(run_dir):
        try:
            frames.append((step, path.read_bytes()))
        except FileNotFoundError:
            continue
    return frames


def _read_metrics(run_dir: Path) -> tuple[dict[str, Any] | None, dict[str, str]]:
    path = run_dir / ckpt.METRICS
    if not path.is_file():
        return None, {}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None, {"metrics": f"{ckpt.METRICS} is not valid JSON; run `genzoo evaluate` again"}
    if not isinstance(metrics, dict):
        return None, {"metrics": f"{ckpt.METRICS} does not hold a JSON object"}
    return metrics, {}


def _load_data(
    config: Mapping[str, Any], splits: Sequence[str] = ("test", "train")
) -> tuple[Dataset | None, str | None]:
    """The run's dataset (the first of `splits` that loads), or None and the reason."""
    spec = config.get("data") or {}
    name = spec.get("name") if isinstance(spec, Mapping) else None
    if not name:
        return None, "the run does not record which dataset it was trained on"
    error: Exception | None = None
    for split in splits:
        try:
            return load_data(name, split=split, **(spec.get("options") or {})), None
        except Exception as exc:  # best effort: the user's folder may be gone, a loader may fail
            error = exc
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return None, f"dataset {name!r} could not be loaded ({reason})"


# --- the page ----------------------------------------------------------------------------------
def render_report(
    model: GenerativeModel,
    config: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Any] | None,
    data: Dataset | None = None,
    *,
    n_samples: int = 64,
    seed: int = 0,
    notes: Mapping[str, str] | None = None,
    figures: Sequence[tuple[bytes, str]] = (),
    train: Dataset | None = None,
    pictures: Mapping[str, bytes] | None = None,
    frames: Sequence[tuple[int, bytes]] = (),
) -> str:
    """The report as an HTML string (`train`: the training data, for the linear-AE/PCA panel).

    `config` is a run's config.json, `records` its log.jsonl records, `metrics` its
    metrics.json (or None), `data` examples for reconstructions and reference scatters.
    `notes` replace the default text of a missing section ("data", "metrics"). `pictures` maps
    the picture file names metrics.json holds to their bytes; `frames` are the sample grids of
    the kept checkpoints as (step, PNG), in step order; `figures` more (PNG, caption) pictures
    under the metrics."""
    notes = dict(notes or {})
    if data is not None and tuple(data.info.shape) != tuple(model.info.shape):
        notes.setdefault(
            "data", f"dataset {data.info.name!r} has shape {data.info.shape}, the model {model.info.shape}"
        )
        data = None
    model_name = _nested(config, "model", "name") or model.name
    data_name = _nested(config, "data", "name") or _nested(config, "data_info", "name") or model.info.name
    title = f"{model_name} on {data_name}"
    sections = [
        _summary_section(model, config, records),
        _config_section(config),
        _training_section(records),
        _samples_section(model, data, n_samples, seed),
    ]
    if frames:
        sections.append(_progress_section(frames))
    if model.latent:
        sections.append(_latent_section(model, data, seed, notes.get("data"), train))
    if model.info.kind == "field" and len(model.info.shape) == 3:
        caption = (
            "four samples and the variograms along rows and columns of 32 samples "
            "(dots, ± 2 standard errors) against held-out fields (dashed)"
            + (" and the fitted model (lines)" if isinstance(model, Field) else "")
        )
        sections.append(
            section(
                "Fields",
                _try_figure(lambda: field_figure(model, data, seed), "fields and variograms", caption),
            )
        )
    if model.info.kind == "field" and len(model.info.shape) == 4:
        sections.append(section("Blocks", _blocks_body(model, data, seed)))
    if model.conditional and model.info.kind != "points" and model.info.num_classes:
        caption = f"one row per class, {CLASS_EXAMPLES} samples each, seed {seed}"
        sections.append(
            section(
                "Samples by class", _try_figure(lambda: class_grid(model, seed), "samples by class", caption)
            )
        )
    if isinstance(model, Trajectories):
        caption = (
            "the reverse process from pure noise x_T (left) to samples x_0 (right), evenly spaced states"
        )
        sections.append(
            section(
                "Denoising trajectory",
                _try_figure(
                    lambda: trajectory_figure(model, generator=torch.Generator().manual_seed(seed)),
                    "denoising trajectory",
                    caption,
                ),
            )
        )
    if isinstance(model, Inpaints) and data is not None and model.info.kind != "points":
        caption = "held-out examples (row 1), the bottom half hidden (row 2), the model's fills (row 3)"
        sections.append(
            section(
                "Inpainting", _try_figure(lambda: inpainting_figure(model, data, seed), "inpainting", caption)
            )
        )
    if isinstance(model, HasFilters) and model.info.kind != "points":
        caption = (
            f"the weights into the first {FILTERS} hidden units as images, each scaled to its own range "
            "(dark negative, light positive)"
        )
        sections.append(section("Filters", _try_figure(lambda: filter_grid(model), "filters", caption)))
    if isinstance(model, Edits) and model.encodes and data is not None and model.info.kind != "points":
        caption = (
            "held-out examples (row 1) redrawn as each class in turn (rows 2…): "
            "G(E_z(x), y) keeps their style"
        )
        sections.append(section("Edits", _try_figure(lambda: edit_grid(model, data), "edits", caption)))
    if isinstance(model, Translates) and data is not None and data.pair is not None:
        sections.append(
            section(
                "Translations",
                _try_figure(
                    lambda: translation_grid(model, data), "translations", _translation_caption(data)
                ),
            )
        )
    sections.append(
        _metrics_section(
            metrics, notes.get("metrics"), figures, pictures=pictures, train_seconds=wall_time(records)
        )
    )
    version = config.get("genzoo_version", "unknown")
    by = "" if version == __version__ else f"; report by genzoo {__version__}"
    header = f'<h1>{escape(title)}</h1><p class="sub">trained with genzoo {escape(version)}{escape(by)}</p>'
    return document(f"genzoo report: {title}", header, sections, css=REPORT_CSS)


def _summary_section(
    model: GenerativeModel, config: Mapping[str, Any], records: Sequence[Mapping[str, Any]]
) -> str:
    info = model.info
    rows: list[tuple[str, Any]] = [
        ("model", f"{model.name}: {model.summary}" if model.summary else model.name)
    ]
    rows.append(("parameters", f"{model.num_parameters():,}"))
    rows.append(("likelihood", model.likelihood or "none"))
    if model.latent:
        rows.append(("latent shape", _try_text(lambda: " × ".join(str(s) for s in model.latent_shape()))))
    data = (
        f"{info.kind}, {' × '.join(str(s) for s in info.shape)}, "
        f"values in [{fmt(info.value_range[0])}, {fmt(info.value_range[1])}]"
    )
    if info.num_classes:
        data += f", {info.num_classes} classes"
    if info.binary:
        data += f", binarised ({info.binarize})"
    rows.append(("data", data))
    planned = _nested(config, "train", "steps")
    if records:
        last = records[-1]
        step = last.get("step", len(records))
        rows.append(
            (
                "steps",
                f"{fmt(step)}" + (f" of {fmt(planned)} planned" if planned not in (None, step) else ""),
            )
        )
        wall = wall_time(records)
        if wall is not None:
            rows.append(("wall time", _duration(wall)))
        rates = [r["steps_per_s"] for r in records if _number(r.get("steps_per_s"))]
        if rates:
            rows.append(("throughput", f"{fmt(sorted(rates)[len(rates) // 2])} steps/s (median)"))
        final = [f"{k} {fmt(last[k])}" for k in loss_terms([last])]
        if final:
            rows.append(("last logged", " · ".join(final)))
    else:
        rows.append(("steps", "not logged" + (f" ({fmt(planned)} planned)" if planned is not None else "")))
    return section("Summary", table(rows))


def wall_time(records: Sequence[Mapping[str, Any]]) -> float | None:
    """Training seconds from the records' "time" (seconds since the loop started). A resumed
    run restarts that clock, so each segment's last value is summed."""
    times = [float(r["time"]) for r in records if _number(r.get("time"))]
    if not times:
        return None
    total = 0.0
    for prev, cur in zip(times, times[1:]):
        if cur < prev:  # the clock restarted: a resume
            total += prev
    return total + times[-1]


def _config_section(config: Mapping[str, Any]) -> str:
    titles = {"model": "Model", "data": "Data", "data_info": "Data info", "train": "Training"}
    blocks = []
    for key in CONFIG_SECTIONS:
        value = config.get(key)
        body = table(_config_rows(value)) if isinstance(value, Mapping) and value else note("not recorded")
        blocks.append(f"<div><h3>{titles[key]}</h3>{body}</div>")
    other = {k: v for k, v in config.items() if k not in CONFIG_SECTIONS and k != "genzoo_version"}
    if other:
        blocks.append(f"<div><h3>Other</h3>{table(flatten(other))}</div>")
    return section("Configuration", f'<div class="cols">{"".join(blocks)}</div>')


def _config_rows(part: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A config section's rows; the model's "params" and the data's "options" are listed
    without their prefix, since they are what the section is about."""
    rows = []
    for k, v in part.items():
        inline = k in ("params", "options") and isinstance(v, Mapping)
        rows.extend(flatten(v) if inline else flatten(v, str(k)))
    return rows


def _training_section(records: Sequence[Mapping[str, Any]]) -> str:
    if not records:
        return section("Training", note(f"no {ckpt.LOG}: the run has not logged a step yet"))
    png = loss_curves(records)
    if png is None:
        return section("Training", note(f"{ckpt.LOG} holds no loss terms to plot"))
    caption = f"{len(records)} logged records" + (
        ", smoothed (raw values faint)" if len(records) > 50 else ""
    )
    return section("Training", figure(png, "loss curves", caption))


def _samples_section(model: GenerativeModel, data: Dataset | None, n: int, seed: int) -> str:
    info = model.info

    def draw() -> bytes:
        generator = torch.Generator().manual_seed(seed)
        count = max(n, MIN_POINTS) if info.kind == "points" else n
        with inference(model):
            x = model.sample(count, generator=generator).float().cpu()
        if info.kind != "points":
            return png_bytes(image_grid(x, info))
        reference = None if data is None else data.tensors()[:REFERENCE_POINTS]
        modes = None if data is None else data.extras.get("modes")
        return points_figure(x, reference=reference, modes=modes, title=f"{model.name}: {count} samples")

    return section("Samples", _try_figure(draw, "samples", f"drawn with seed {seed}"))


def _latent_section(
    model: GenerativeModel,
    data: Dataset | None,
    seed: int,
    data_note: str | None,
    train: Dataset | None = None,
) -> str:
    parts = []
    pairs, steps = INTERP_PAIRS, INTERP_STEPS
    points = model.info.kind == "points"
    per_row = "" if points else ", one pair per row"
    recon = (
        "originals (light) joined to their reconstructions decode(encode(x))"
        if points
        else "originals (rows 1, 3) with their reconstructions decode(encode(x)) beneath"
    )
    if not model.encodes:
        parts.append(
            note(f"{model.name} has no encoder: no reconstructions, interpolation between latent draws only")
        )
    elif data is None:
        parts.append(note(f"no reconstructions: {data_note or 'no data given'}"))
    else:
        x = data.tensors()
        parts.append(
            _try_figure(
                lambda: png_bytes(reconstruction_grid(model, x[:RECON_EXAMPLES])),
                "reconstructions",
                recon,
            )
        )
        if len(x) >= 2 * pairs:
            parts.append(
                _try_figure(
                    lambda: png_bytes(
                        interpolation_strip(
                            model,
                            x0=x[:pairs],
                            x1=x[pairs : 2 * pairs],
                            steps=steps,
                            reference=x[:REFERENCE_POINTS],
                        )
                    ),
                    "interpolation between examples",
                    f"slerp between the codes of {pairs} pairs of data examples{per_row}",
                )
            )
    reference = None if data is None else data.tensors()[:REFERENCE_POINTS]
    parts.append(
        _try_figure(
            lambda: png_bytes(
                interpolation_strip(
                    model,
                    pairs=pairs,
                    steps=steps,
                    reference=reference,
                    generator=torch.Generator().manual_seed(seed),
                )
            ),
            "interpolation between prior draws",
            f"slerp between {pairs} pairs of codes z₀, z₁ drawn from the model's latent distribution "
            f"(seed {seed}){per_row}",
        )
    )
    parts.append(
        _try_figure(
            lambda: png_bytes(
                interpolation_strip(
                    model,
                    pairs=pairs,
                    steps=steps,
                    method="linear",
                    reference=reference,
                    generator=torch.Generator().manual_seed(seed),
                )
            ),
            "linear interpolation between the same draws",
            "straight lines between the same pairs: in high dimensions their midpoints have a smaller "
            "norm than Gaussian draws (the prior's mass lies near a sphere), which slerp avoids",
        )
    )
    parts.append(
        _try_figure(
            lambda: png_bytes(
                latent_walk(
                    model,
                    walks=pairs,
                    steps=steps,
                    reference=reference,
                    generator=torch.Generator().manual_seed(seed + 1),
                )
            ),
            "latent walks",
            f"{pairs} random walks z_t = √(1 − β²) z_(t−1) + β ε_t (β = 0.35) "
            f"that keep to the latent distribution{per_row}",
        )
    )
    if model.encodes and data is not None and data.y is not None and tuple(model.latent_shape()) == (2,):
        parts.append(
            _try_figure(
                lambda: codes_figure(model, data.tensors()[:2000], data.y[:2000]),
                "codes coloured by label",
                "the 2-D codes of held-out examples, coloured by their label",
            )
        )
    if hasattr(model, "decoder_basis"):
        parts.append(_try_text(lambda: pca_comparison(model, train)))
    return section("Latent space", "\n".join(parts))


TRANSLATE_EXAMPLES = 8
CLASS_EXAMPLES = 8


def class_grid(model: GenerativeModel, seed: int) -> bytes:
    """CLASS_EXAMPLES samples of each class of a conditional model, one row per class."""
    k = model.info.num_classes
    labels = torch.arange(k).repeat_interleave(CLASS_EXAMPLES)
    with inference(model):
        x = (
            model.sample(
                len(labels), generator=torch.Generator().manual_seed(seed), label=labels.to(model.device)
            )
            .float()
            .cpu()
        )
    return png_bytes(image_grid(x, model.info, nrow=CLASS_EXAMPLES))


def field_figure(model: GenerativeModel, data: Dataset | None, seed: int) -> bytes:
    from genzoo.viz.fields import VARIOGRAM_FIELDS, fields_figure

    with inference(model):
        x = (
            model.sample(VARIOGRAM_FIELDS, generator=torch.Generator(device=model.device).manual_seed(seed))
            .float()
            .cpu()
        )
    cov = model.cov if isinstance(model, Field) else None
    return fields_figure(x, cov, reference=None if data is None else data.tensors()[:VARIOGRAM_FIELDS])


def _blocks_body(model: GenerativeModel, data: Dataset | None, seed: int) -> str:
    """3-D blocks: held-out and generated blocks' sections side by side with the variograms along
    layers, rows and columns, and an animated sweep through their layers."""
    from genzoo.viz.fields import VARIOGRAM_FIELDS, block_figure, block_view, layer_sweep

    with inference(model):
        gen = torch.Generator(device=model.device).manual_seed(seed)
        x = model.sample(VARIOGRAM_FIELDS, generator=gen).float().cpu()
    real = None if data is None else data.tensors()[:VARIOGRAM_FIELDS].float()
    cov = model.cov if isinstance(model, Field) else None

    def sections_png() -> bytes:
        if real is None:
            return block_figure(x, cov, count=2)
        names = ["held-out 1", "held-out 2", "sample 1", "sample 2"]
        return block_figure(x, cov, reference=real, show=torch.cat([real[:2], x[:2]]), labels=names)

    caption = (
        "the horizontal section through the middle layer and the vertical sections through the middle row "
        "and column of held-out and generated blocks, and the variograms along layers, rows and columns of "
        f"{VARIOGRAM_FIELDS} samples (dots, ± 2 standard errors) against held-out blocks (dashed)"
        + (" and the fitted model (lines)" if isinstance(model, Field) else "")
    )
    parts = [_try_figure(sections_png, "sections and variograms", caption)]
    shown, names = (
        (x[:2], ["sample 1", "sample 2"])
        if real is None
        else (
            torch.cat([real[:1], x[:2]]),
            ["held-out", "sample 1", "sample 2"],
        )
    )
    parts.append(
        _try_figure(
            lambda: block_view(shown, names),
            "the blocks in 3-D",
            "each block's outer faces seen from the south-east and above (layer 0 on top), and below "
            "the bodies of its facies codes ≥ 1 or of its values above the 80th percentile (an isosurface)",
        )
    )
    try:
        gif = layer_sweep(shown, names)
        parts.append(
            figure(gif, "the layers, animated", "a sweep through the layers, top to bottom", mime="image/gif")
        )
    except (GenzooError, RuntimeError, ValueError) as exc:
        parts.append(note(f"could not animate the layers: {type(exc).__name__}: {exc}"))
    return "".join(parts)


def inpainting_figure(model: GenerativeModel, data: Dataset, seed: int) -> bytes:
    """Held-out examples with their bottom half filled by `model.inpaint` (sampler defaults)."""
    from genzoo.models.base import hole_mask

    x = data.tensors()[:TRANSLATE_EXAMPLES]
    mask = hole_mask("bottom-half", tuple(model.info.shape))
    with inference(model):
        filled = (
            model.inpaint(x.to(model.device), mask, generator=torch.Generator().manual_seed(seed))
            .float()
            .cpu()
        )
    return png_bytes(inpainting_grid(x, mask, filled, model.info))


FILTERS = 100


def filter_grid(model: GenerativeModel) -> bytes:
    """The first FILTERS of `model.filters()` (an RBM's W columns), each min–max scaled to [0, 1]."""
    w = model.filters()[:FILTERS].detach().float().cpu()
    flat = w.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    scaled = ((flat - low) / (high - low).clamp_min(1e-12)).reshape(w.shape)
    return png_bytes(image_grid(scaled, replace(model.info, value_range=(0.0, 1.0)), nrow=10))


def edit_grid(model: GenerativeModel, data: Dataset) -> bytes:
    """Held-out examples on the first row, and beneath them each class's edit of them
    (`model.edit(x, label)`, a conditional model with an inverting encoder), one column per example."""
    x = data.tensors()[:TRANSLATE_EXAMPLES]
    with inference(model):
        rows = [x] + [model.edit(x.to(model.device), k).float().cpu() for k in range(model.info.num_classes)]
    return png_bytes(image_grid(torch.cat(rows), model.info, nrow=len(x)))


def _translation_caption(data: Dataset) -> str:
    if data.info.pairing == "paired":
        return "held-out inputs (row 1), their translations (row 2) and the true targets (row 3)"
    return "held-out domain-A examples (row 1), G(a) in domain B (row 2), the cycle F(G(a)) back in A (row 3)"


def translation_grid(model: GenerativeModel, data: Dataset) -> bytes:
    """Rows of held-out inputs, their translations and the targets (paired data) or the cycle
    back to the input domain (unpaired data), one example per column."""
    inputs = data.inputs()[:TRANSLATE_EXAMPLES]
    with inference(model):
        out = model.translate(inputs.to(model.device)).float().cpu()
        third = (
            data.tensors()[: len(inputs)]
            if data.info.pairing == "paired"
            else model.translate(out.to(model.device), direction="b2a").float().cpu()
        )
    if not (inputs.shape == out.shape == third.shape):
        raise GenzooError(
            f"inputs {tuple(inputs.shape[1:])} and outputs {tuple(out.shape[1:])} differ in shape: "
            "no side-by-side grid"
        )
    return png_bytes(image_grid(torch.cat([inputs, out, third]), model.info, nrow=len(inputs)))


def pca_comparison(model: GenerativeModel, data: Dataset | None) -> str:
    """A linear autoencoder beside PCA: its decoder's column space against the principal subspace
    of the same dimension (principal angles; Baldi & Hornik 1989), and both bases as images."""
    import numpy as np
    from scipy.linalg import subspace_angles

    if data is None:
        return note("no PCA comparison: the training data could not be loaded")
    x = data.tensors().flatten(1).double().numpy()  # the training data the model was fitted to
    basis = model.decoder_basis().detach().double().cpu().numpy()  # (D, d)
    d = basis.shape[1]
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    pca = vt[:d].T  # (D, d)
    angles = np.degrees(subspace_angles(basis, pca))
    q, _ = np.linalg.qr(basis)
    text = (
        f"<p>Decoder column space against the {d} leading principal components of the {len(x)} "
        f"training examples: largest principal angle {angles.max():.2f}°, mean {angles.mean():.2f}°.</p>"
    )
    if model.info.kind == "points":
        return text
    tiles = torch.tensor(np.concatenate([q.T, pca.T])).float().reshape(2 * d, *model.info.shape)
    tiles = (tiles - tiles.amin(dim=(1, 2, 3), keepdim=True)) / (
        tiles.amax(dim=(1, 2, 3), keepdim=True) - tiles.amin(dim=(1, 2, 3), keepdim=True) + 1e-12
    )
    png = png_bytes(image_grid(tiles, None, nrow=d))
    return text + figure(
        png,
        "linear autoencoder against PCA",
        "top: an orthonormal basis of the decoder's columns; "
        "bottom: the principal components (each rescaled to [0, 1])",
    )


def _metrics_section(
    metrics: Mapping[str, Any] | None,
    missing: str | None,
    figures: Sequence[tuple[bytes, str]] = (),
    *,
    pictures: Mapping[str, bytes] | None = None,
    train_seconds: float | None = None,
) -> str:
    """The run's scores grouped by kind with floor, unit and meaning (`genzoo.viz.scores`);
    every value of metrics.json in a collapsed table beneath, then what they were evaluated on."""
    if metrics is None:
        return section(
            "Metrics", note(missing or f"no {ckpt.METRICS}: run `genzoo evaluate RUN` to score the model")
        )
    scores = metrics.get("metrics")
    if not isinstance(scores, Mapping):
        body = table(flatten(metrics), head=("metric", "value"))
        return section("Metrics", body + "".join(figure(png, caption, caption) for png, caption in figures))
    rest = {k: v for k, v in metrics.items() if k != "metrics"}
    timing = (
        [
            Row(
                "training",
                "training",
                _duration(train_seconds),
                meaning="the optimisation loop, from log.jsonl",
            )
        ]
        if train_seconds is not None
        else []
    )
    sampling = rest.get("sample_seconds_per_1000")
    if _number(sampling):
        timing.append(
            Row(
                "sample_seconds_per_1000",
                "sampling",
                sampling,
                unit="seconds per 1,000 samples",
                meaning="drawing samples, measured during evaluation",
            )
        )
    body = (
        _note_floor()
        + render_groups(grouped(scores, timing), pictures)
        + "".join(figure(png, caption, caption) for png, caption in figures)
    )
    # per-example lists (closest pairs, mode counts) are in metrics.json; the table keeps the numbers
    shown = {
        k: {kk: vv for kk, vv in v.items() if kk not in LISTS} if isinstance(v, Mapping) else v
        for k, v in scores.items()
    }
    body += (
        '<details class="all"><summary>every value in metrics.json</summary>'
        f"{table(flatten(shown), head=('metric', 'value'), flag=_is_note)}</details>"
    )
    if rest:
        body += f"<h3>Evaluated on</h3>{table(flatten(rest), flag=_is_note)}"
    return section("Metrics", body)


def _note_floor() -> str:
    return (
        '<p class="sub">Floor: the same metric between two halves of the held-out data — what a perfect '
        "model scores at this number of examples. Read each figure against its floor, not against 0 or 1.</p>"
    )


PROGRESS_MS = 700  # each grid of the animation, in milliseconds


def _progress_section(frames: Sequence[tuple[int, bytes]]) -> str:
    """The sample grid of each kept checkpoint (the same noise each time), as a looping animation
    and as a strip of frames in step order."""
    strip = "".join(
        f'<figure class="frame" data-step="{step}">{img(png, f"samples at step {step}")}'
        f"<figcaption>step {step:,}</figcaption></figure>"
        for step, png in frames
    )
    parts = []
    if len(frames) > 1:
        try:
            gif = animated_gif([png for _, png in frames], ms=PROGRESS_MS)
            parts.append(
                figure(
                    gif,
                    "samples over training, animated",
                    f"the {len(frames)} grids below in a loop",
                    mime="image/gif",
                )
            )
        except (OSError, ValueError) as exc:  # a damaged frame: the strip still shows the others
            parts.append(note(f"could not animate the grids: {type(exc).__name__}: {exc}"))
    else:
        parts.append(note("one checkpoint so far: train with a smaller --checkpoint-every for more frames"))
    parts.append(f'<div class="wide"><div class="strip">{strip}</div></div>')
    caption = (
        f"64 samples drawn with the same noise at each of {len(frames)} checkpoints "
        f"(RUN/{ckpt.FRAMES}/, at most {ckpt.MAX_FRAMES} spread over the run)"
    )
    return section("Samples over training", "".join(parts) + f'<p class="sub">{escape(caption)}</p>')


# --- HTML pieces -------------------------------------------------------------------------------
def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested mappings as (dotted key, leaf) pairs: {"nll": {"nats": 1}} → [("nll.nats", 1)]."""
    if not isinstance(value, Mapping):
        return [(prefix, value)]
    if not value and prefix:
        return [(prefix, {})]
    rows = []
    for k, v in value.items():
        rows.extend(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return rows


def _is_note(key: str) -> bool:
    """A metric's small-sample note ("pr.note") or the protocol's summary of them: shown as a
    warning in the row beside the figures it qualifies."""
    return key.rsplit(".", 1)[-1] in ("note", "small_sample")


def _try_figure(draw: Callable[[], bytes], alt: str, caption: str) -> str:
    """A figure, or a note saying why it could not be drawn (one failing picture should not
    cost the whole report)."""
    try:
        return figure(draw(), alt, caption)
    except (GenzooError, NotImplementedError, RuntimeError, ValueError) as exc:
        return note(f"could not draw the {alt}: {type(exc).__name__}: {exc}")


def _try_text(make: Callable[[], str]) -> str:
    try:
        return make()
    except (GenzooError, NotImplementedError) as exc:
        return f"unknown ({exc})"


def _nested(d: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, s = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {s} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


REPORT_CSS = """
.strip{display:flex;gap:10px;width:max-content}
.strip figure{margin:4px 0}
.strip img{width:150px;height:auto;image-rendering:pixelated}
table.metrics td:last-child{min-width:16em;color:#3a4656;font-size:13px}
table.metrics tr.picture td{font-size:13px;color:#3a4656}
table.metrics img.metric-picture{display:block;max-width:100%;height:auto;image-rendering:pixelated;\
border:1px solid #dde2e8;margin-bottom:4px}
table.metrics tr.skip td{color:#5b6776}
details.all{margin-top:10px}
"""
