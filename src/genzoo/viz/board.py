"""Leaderboards over runs (`genzoo compare`, the tour): one row per run, one column per metric,
with the protocol, the training time and the parameter count; a figure per metric with its
noise floor; sample grids side by side. Markdown or one self-contained HTML page.

A metric evaluated on too few examples carries a "note" in metrics.json
(:func:`genzoo.metrics.core.small_sample`); its cells get a footnote marker [k] and the note is
printed under the table, so a figure on 20 samples never looks like one on 5,000."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open

from genzoo.training import checkpoint as ckpt
from genzoo.viz.page import document, escape, figure, fmt, note, section
from genzoo.viz.plots import figure_png, panels
from genzoo.viz.report import wall_time


@dataclass(frozen=True)
class Column:
    """A leaderboard column: a path into metrics.json, its header, and which way is better."""

    key: tuple[str, ...]
    header: str
    better: str  # "lower" | "higher" | "half" (0.5 ideal) | ""
    floor: tuple[str, ...] | None = None


COLUMNS = (
    Column(("nll", "nats"), "NLL (nats)", "lower"),
    Column(("nll", "bits_per_dim"), "bits/dim", "lower"),
    Column(("fd", "fd"), "FD", "lower", ("fd", "floor")),
    Column(("kid", "mean"), "KID", "lower", ("kid", "floor")),
    Column(("pr", "precision"), "precision", "higher", ("pr", "precision_floor")),
    Column(("pr", "recall"), "recall", "higher", ("pr", "recall_floor")),
    Column(("dc", "density"), "density", "higher", ("dc", "density_floor")),
    Column(("dc", "coverage"), "coverage", "higher", ("dc", "coverage_floor")),
    Column(("1nn", "accuracy"), "1-NN acc.", "half", ("1nn", "floor")),
    Column(("memorization", "copy_rate"), "copy rate", "lower"),
    Column(("modes", "modes_covered"), "modes", "higher", ("modes", "modes_covered_floor")),
    Column(("modes", "high_quality_rate"), "HQ rate", "higher", ("modes", "high_quality_rate_floor")),
    Column(("recon", "mse_per_dim"), "recon MSE/dim", "lower"),
    Column(("w2", "relative"), "W₂/√trΣ", "lower", ("w2", "relative_floor")),
    Column(("variogram", "error"), "variogram err.", "lower", ("variogram", "floor")),
    Column(("facies", "indicator_variogram"), "indicator γ err.", "lower", ("facies", "indicator_variogram_floor")),
    Column(("facies", "pattern_js"), "pattern JS", "lower", ("facies", "pattern_js_floor")),
)


@dataclass
class Entry:
    """One run on the board."""

    name: str
    model: str
    data: str
    metrics: dict[str, Any]
    protocol: dict[str, Any]
    params: int | None = None
    train_seconds: float | None = None
    steps: int | None = None
    samples_png: bytes | None = None
    figures: list[tuple[bytes, str]] = field(default_factory=list)  # (png, caption)
    error: str | None = None  # a tour family that failed: why

    def value(self, key: Sequence[str]) -> Any:
        v: Any = self.metrics
        for k in key:
            if not isinstance(v, Mapping):
                return None
            v = v.get(k)
        return v if _number(v) else None

    def note(self, metric: str) -> str | None:
        """The metric's small-sample note, if metrics.json holds one as a non-empty string."""
        out = self.metrics.get(metric)
        note = out.get("note") if isinstance(out, Mapping) else None
        return note if isinstance(note, str) and note.strip() else None


def entry_from_run(run_dir: str | Path, name: str | None = None) -> Entry:
    """Read a run directory (config.json, metrics.json, log.jsonl, weights, samples.png)."""
    run_dir = Path(run_dir)
    cfg = ckpt.read_config(run_dir)
    metrics_path = run_dir / ckpt.METRICS
    protocol: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    if metrics_path.is_file():
        try:
            doc = json.loads(metrics_path.read_text(encoding="utf-8"))
            metrics = doc.get("metrics", {}) if isinstance(doc, dict) else {}
            metrics = metrics if isinstance(metrics, dict) else {}
            # the protocol's plain values only: a metrics.json edited by hand cannot break the table
            protocol = {k: v for k, v in doc.items() if k != "metrics" and (v is None or isinstance(v, (str, int, float)))} \
                if isinstance(doc, dict) else {}
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            protocol = {"unreadable": f"{ckpt.METRICS} is not valid JSON; run `genzoo evaluate` again"}
    log = ckpt.read_log(run_dir)
    samples = run_dir / ckpt.SAMPLES
    return Entry(
        name=name or run_dir.name,
        model=cfg["model"]["name"],
        data=(cfg.get("data") or {}).get("name") or cfg["data_info"]["name"],
        metrics=metrics,
        protocol=protocol,
        params=count_parameters(run_dir / ckpt.WEIGHTS),
        train_seconds=wall_time(log),
        steps=log[-1]["step"] if log else (cfg.get("train") or {}).get("steps"),
        samples_png=samples.read_bytes() if samples.is_file() else None,
    )


def count_parameters(weights: Path) -> int | None:
    """Number of stored values in a safetensors file, read from its header (no model built)."""
    if not weights.is_file():
        return None
    try:
        with safe_open(str(weights), "pt") as fh:
            return int(sum(math.prod(fh.get_slice(k).get_shape()) for k in fh.keys()))
    except Exception:  # an unreadable file: the board says "—"
        return None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _columns(entries: Sequence[Entry]) -> list[Column]:
    return [c for c in COLUMNS if any(e.value(c.key) is not None for e in entries)]


def _cell(entry: Entry, col: Column) -> str:
    v = entry.value(col.key)
    if v is None:
        return "—"
    text = fmt(float(v)) if isinstance(v, float) else str(v)
    floor = entry.value(col.floor) if col.floor else None
    return f"{text} ({fmt(float(floor))})" if floor is not None else text


def footnotes(entries: Sequence[Entry], cols: Sequence[Column]) -> tuple[list[str], dict[tuple[int, str], int]]:
    """The distinct notes of the metrics shown, numbered from 1 in order of appearance, and the
    number each (entry index, metric) points to; runs evaluated at the same N share a note."""
    texts: list[str] = []
    marks: dict[tuple[int, str], int] = {}
    for i, e in enumerate(entries):
        for c in cols:
            note = None if e.error or e.value(c.key) is None else e.note(c.key[0])
            if note is not None:
                if note not in texts:
                    texts.append(note)
                marks[i, c.key[0]] = texts.index(note) + 1
    return texts, marks


def _marked_cells(i: int, e: Entry, cols: Sequence[Column], marks: Mapping[tuple[int, str], int]) -> list[tuple[str, int | None]]:
    """(text, footnote number or None) for each metric column of run i."""
    out = []
    for c in cols:
        text = _cell(e, c)
        out.append((text, marks.get((i, c.key[0])) if text != "—" else None))
    return out


def _fixed_cells(e: Entry) -> list[str]:
    t = "—" if e.train_seconds is None else f"{e.train_seconds:.1f}"
    s = e.protocol.get("sample_seconds_per_1000")
    return [e.name, e.model, e.data, "—" if e.params is None else f"{e.params:,}", t, f"{s:.3g}" if _number(s) else "—"]


FIXED = ["run", "model", "data", "parameters", "train s", "sample s/1000"]


def protocol_lines(entries: Sequence[Entry]) -> list[str]:
    lines = []
    for e in entries:
        p = e.protocol
        if e.error:
            lines.append(f"{e.name}: failed — {e.error}")
            continue
        if not p:
            lines.append(f"{e.name}: not evaluated (run `genzoo evaluate`)")
            continue
        if "unreadable" in p:
            lines.append(f"{e.name}: {p['unreadable']}")
            continue
        parts = [f"{p.get('data', e.data)} {p.get('split', '?')} split", f"n={p.get('n')}"]
        if "n_real" in p:
            parts.append(f"{p['n_real']} real vs {p.get('n_fake')} generated")
        if p.get("features"):
            parts.append(f"features: {p['features']}")
        parts.append(f"seed {p.get('seed')}")
        kind = e.metrics.get("nll", {}).get("kind") if isinstance(e.metrics.get("nll"), Mapping) else None
        if kind:
            parts.append(f"likelihood {kind}")
        skipped = [k for k, v in e.metrics.items() if isinstance(v, Mapping) and "skipped" in v]
        if skipped:
            parts.append("skipped: " + "; ".join(f"{k} ({e.metrics[k]['skipped']})" for k in skipped))
        if isinstance(p.get("small_sample"), str):
            parts.append(f"small sample: {p['small_sample']}")
        lines.append(f"{e.name}: " + ", ".join(parts))
    return lines


def render_markdown(entries: Sequence[Entry], *, title: str = "genzoo leaderboard") -> str:
    cols = _columns(entries)
    head = FIXED + [c.header for c in cols]
    rows = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    texts, marks = footnotes(entries, cols)
    for i, e in enumerate(entries):
        marked = [t + (f" [{k}]" if k else "") for t, k in _marked_cells(i, e, cols, marks)]
        rows.append("| " + " | ".join(_fixed_cells(e) + marked) + " |")
    notes = [f"[{k}] {text}" for k, text in enumerate(texts, 1)] + [
        "Figures in brackets: the same metric between two halves of the held-out data — the noise floor at that N.",
        "Better: " + ", ".join(f"{c.header} {_better(c)}" for c in cols) + ".",
    ]
    proto = "\n".join(f"- {line}" for line in protocol_lines(entries))
    return f"# {title}\n\n" + "\n".join(rows) + "\n\n" + "\n\n".join(notes) + "\n\nProtocol:\n\n" + proto + "\n"


def _better(c: Column) -> str:
    return {"lower": "lower", "higher": "higher", "half": "closer to 0.5"}.get(c.better, "")


def metric_figure(entries: Sequence[Entry], cols: Sequence[Column]) -> bytes | None:
    """One small bar chart per metric, runs side by side, the noise floor dashed; a † after the
    title when some run's figure carries a small-sample note."""
    cols = [c for c in cols if sum(e.value(c.key) is not None for e in entries) >= 1]
    if not cols:
        return None
    fig, axes = panels(len(cols), max_cols=4, width=3.3, height=2.8)
    names = [e.name for e in entries]
    for ax, c in zip(axes, cols):
        vals = [e.value(c.key) for e in entries]
        xs = np.arange(len(entries))
        ax.bar(xs, [np.nan if v is None else v for v in vals], color="#4a7ab8")
        floors = [e.value(c.floor) if c.floor else None for e in entries]
        for x, f in zip(xs, floors):
            if f is not None:
                ax.hlines(f, x - 0.4, x + 0.4, colors="#c0392b", linestyles="dashed", linewidth=1.2)
        noted = any(e.note(c.key[0]) and e.value(c.key) is not None for e in entries)
        ax.set_title(f"{c.header} ({_better(c)})" + (" †" if noted else ""), fontsize=9)
        ax.set_xticks(xs, names, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    return figure_png(fig)


def render_html(entries: Sequence[Entry], *, title: str = "genzoo leaderboard", intro: str = "", extra_sections: Sequence[str] = ()) -> str:
    cols = _columns(entries)
    head = "".join(f"<th>{escape(h)}</th>" for h in FIXED + [c.header for c in cols])
    body = []
    texts, marks = footnotes(entries, cols)
    for i, e in enumerate(entries):
        if e.error:  # a failed run: the reason in the first metric column, the rest empty
            cells = [(c, None) for c in _fixed_cells(e) + [f"failed: {e.error}"] + [""] * max(0, len(cols) - 1)]
        else:
            cells = [(c, None) for c in _fixed_cells(e)] + _marked_cells(i, e, cols, marks)
        body.append("<tr>" + "".join(f"<td>{escape(t)}{_sup(k)}</td>" for t, k in cells) + "</tr>")
    table = f'<div class="wide"><table class="board"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    table += "".join(f'<p class="fn" id="fn{k}">[{k}] {escape(text)}</p>' for k, text in enumerate(texts, 1))
    legend = note("Figures in brackets: the same metric between two halves of the held-out data — the noise floor at that N. Better: "
                   + ", ".join(f"{c.header} {_better(c)}" for c in cols) + ".")
    proto = "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in protocol_lines(entries)) + "</ul>"
    sections = [section("Leaderboard", (f"<p>{escape(intro)}</p>" if intro else "") + table + legend + "<h3>Protocol</h3>" + proto)]
    fig = metric_figure([e for e in entries if not e.error], cols)
    if fig is not None:
        caption = "bars: the runs; dashed red: the noise floor of real data" + ("; †: too few examples, see the notes under the table" if texts else "")
        sections.append(section("Metrics", figure(fig, "metrics per run", caption)))
    grids = [
        f'<div class="cell"><h3>{escape(e.name)}</h3>{_img(e.samples_png, e.name)}</div>' for e in entries if e.samples_png
    ]
    if grids:
        sections.append(section("Samples", '<div class="grid">' + "".join(grids) + "</div>"))
    figs = [figure(png, cap, cap) for e in entries for png, cap in e.figures]
    if figs:
        sections.append(section("Figures", '<div class="grid">' + "".join(f'<div class="cell">{f}</div>' for f in figs) + "</div>"))
    sections.extend(extra_sections)
    return document(title, f"<h1>{escape(title)}</h1>", sections, css=BOARD_CSS)


def _sup(k: int | None) -> str:
    return f'<sup><a href="#fn{k}">[{k}]</a></sup>' if k else ""


def _img(png: bytes, alt: str) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{escape(alt)}">'


def write_board(entries: Sequence[Entry], out: str | Path, *, title: str = "genzoo leaderboard", **kw: Any) -> Path:
    """Write the board as Markdown (.md) or HTML (.html), atomically."""
    from genzoo.errors import GenzooError

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".md":
        text = render_markdown(entries, title=title)
    elif suffix in (".html", ".htm"):
        text = render_html(entries, title=title, **kw)
    else:
        raise GenzooError(f"--out {out}: unsupported file type {suffix or '(none)'!r} (use .html or .md)")
    ckpt.atomic_write(out, lambda p: p.write_text(text, encoding="utf-8"))
    return out


BOARD_CSS = """
table.board td,table.board th{white-space:nowrap;padding-right:12px}
.grid{display:flex;flex-wrap:wrap;gap:16px}
.cell{flex:0 0 auto;max-width:340px}
.cell img{max-width:320px;height:auto;image-rendering:pixelated}
p.fn{margin:4px 0;font-size:13px;color:#6b5200;overflow-wrap:anywhere}
table.board sup a{color:#6b5200;text-decoration:none}
"""
