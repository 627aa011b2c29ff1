"""Leaderboards over runs (`genzoo compare`, the tour), written for a student to read.

The page opens with a gallery — per dataset, 64 held-out examples and then each run's samples,
each with its headline figure, floor and training time — and "How to read this"; then one table
per dataset (figures of different datasets never share a column or an axis), the headline
columns first and the rest behind a "more" toggle (a <details> element: no script), a bar chart
per dataset, and the protocol. The Markdown board has the same tables per dataset.

A metric evaluated on too few examples carries a "note" in metrics.json
(`genzoo.metrics.core.small_sample`); its cells get a footnote marker [k] and the note is
printed under the tables, so a figure on 20 samples never looks like one on 5,000."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open

from genzoo.pictures import figure_png
from genzoo.training import checkpoint as ckpt
from genzoo.viz import gallery
from genzoo.viz.page import document, escape, figure, fmt, note, section
from genzoo.viz.plots import panels
from genzoo.viz.report import wall_time


@dataclass(frozen=True)
class Column:
    """A leaderboard column: a path into metrics.json, its header, and which way is better."""

    key: tuple[str, ...]
    header: str
    better: str  # "lower" | "higher" | "half" (0.5 ideal) | ""
    floor: tuple[str, ...] | None = None


RECOGNISABLE = Column(("recognisable", "share"), "recognisable", "higher", ("recognisable", "floor"))
CLASS_TV = Column(("recognisable", "class_tv"), "class TV", "lower", ("recognisable", "class_tv_floor"))
FD = Column(("fd", "fd"), "FD", "lower", ("fd", "floor"))
PRECISION = Column(("pr", "precision"), "precision", "higher", ("pr", "precision_floor"))
RECALL = Column(("pr", "recall"), "recall", "higher", ("pr", "recall_floor"))
NLL = Column(("nll", "nats"), "NLL (nats)", "lower")
MODES = Column(("modes", "modes_covered"), "modes", "higher", ("modes", "modes_covered_floor"))
HQ = Column(("modes", "high_quality_rate"), "HQ rate", "higher", ("modes", "high_quality_rate_floor"))
W2 = Column(("w2", "relative"), "W₂/√trΣ", "lower", ("w2", "relative_floor"))
VARIOGRAM = Column(("variogram", "error"), "variogram err.", "lower", ("variogram", "floor"))
INDICATOR = Column(
    ("facies", "indicator_variogram"), "indicator γ err.", "lower", ("facies", "indicator_variogram_floor")
)
PATTERN = Column(("facies", "pattern_js"), "pattern JS", "lower", ("facies", "pattern_js_floor"))
COPY_RATE = Column(("memorization", "copy_rate"), "copy rate", "lower")

# a dataset's table opens with these (where any of its runs has them), then "train s"
HEADLINE = (RECOGNISABLE, CLASS_TV, FD, PRECISION, RECALL, NLL, MODES, HQ, W2, VARIOGRAM, INDICATOR, PATTERN)
# ... and shows these behind "more"
MORE = (
    COPY_RATE,
    Column(("nll", "bits_per_dim"), "bits/dim", "lower"),
    Column(("kid", "mean"), "KID", "lower", ("kid", "floor")),
    Column(("dc", "density"), "density", "higher", ("dc", "density_floor")),
    Column(("dc", "coverage"), "coverage", "higher", ("dc", "coverage_floor")),
    Column(("1nn", "accuracy"), "1-NN acc.", "half", ("1nn", "floor")),
    Column(("recon", "mse_per_dim"), "recon MSE/dim", "lower"),
)
COLUMNS = HEADLINE + MORE
# the figures under a gallery picture: the first group whose first column some run of the dataset has
GALLERY = (
    (RECOGNISABLE, CLASS_TV),
    (MODES, HQ),
    (W2, VARIOGRAM),
    (VARIOGRAM,),
    (INDICATOR, PATTERN),
    (FD,),
    (PRECISION, RECALL),
)
TRAIN = "train s"
MORE_FIXED = ["model", "parameters", "sample s/1000"]


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
    data_options: dict[str, Any] = field(default_factory=dict)  # the dataset's options (binarize, ...)

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
            protocol = (
                {
                    k: v
                    for k, v in doc.items()
                    if k != "metrics" and (v is None or isinstance(v, (str, int, float)))
                }
                if isinstance(doc, dict)
                else {}
            )
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
        data_options=_options(cfg),
    )


def _options(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The dataset options a run's config.json records (none where it records none or odd ones)."""
    data = cfg.get("data")
    options = data.get("options") if isinstance(data, Mapping) else None
    return dict(options) if isinstance(options, Mapping) else {}


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


# --- datasets and their columns ----------------------------------------------------------------
def by_dataset(entries: Sequence[Entry]) -> list[tuple[str, list[Entry]]]:
    """The entries grouped by dataset name: the dataset with the most runs first (in a tour, the
    one most families share), ties in order of first appearance; runs in their given order."""
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.data, []).append(e)
    order = {data: i for i, data in enumerate(groups)}
    return sorted(groups.items(), key=lambda item: (-len(item[1]), order[item[0]]))


def present(entries: Sequence[Entry], cols: Sequence[Column]) -> list[Column]:
    """The columns that some of the entries have a number for."""
    return [c for c in cols if any(e.value(c.key) is not None for e in entries)]


def headline(entries: Sequence[Entry]) -> list[Column]:
    """The figures a dataset's gallery pictures carry (`GALLERY`): the recognisable share on
    digits, modes on 2-D mixtures, W₂ or variogram errors on fields, else FD, else precision/recall."""
    for cols in GALLERY:
        if any(e.value(cols[0].key) is not None for e in entries):
            return present(entries, cols)
    return []


def cell(entry: Entry, col: Column) -> str:
    """A figure and, in brackets, its floor: "0.81 (0.93)"; "—" where the run has none."""
    v = entry.value(col.key)
    if v is None:
        return "—"
    text = fmt(float(v)) if isinstance(v, float) else str(v)
    floor = entry.value(col.floor) if col.floor else None
    return f"{text} ({fmt(float(floor))})" if floor is not None else text


def footnotes(
    blocks: Sequence[tuple[Sequence[Entry], Sequence[Column]]],
) -> tuple[list[str], dict[tuple[int, str], int]]:
    """The distinct notes of the figures shown, numbered from 1 in order of appearance (block by
    block, row by row), and the number each (id of the entry, metric) points to; runs evaluated at
    the same N share a note."""
    texts: list[str] = []
    marks: dict[tuple[int, str], int] = {}
    for entries, cols in blocks:
        for e in entries:
            for c in cols:
                text = None if e.error or e.value(c.key) is None else e.note(c.key[0])
                if text is not None:
                    if text not in texts:
                        texts.append(text)
                    marks[id(e), c.key[0]] = texts.index(text) + 1
    return texts, marks


@dataclass
class Table:
    """One dataset's two tables: the headline columns and the "more" ones."""

    data: str
    entries: list[Entry]
    head: list[Column]
    more: list[Column]


def tables(entries: Sequence[Entry]) -> list[Table]:
    """One `Table` per dataset."""
    return [
        Table(data, group, present(group, HEADLINE), present(group, MORE))
        for data, group in by_dataset(entries)
    ]


def _marked(
    e: Entry, cols: Sequence[Column], marks: Mapping[tuple[int, str], int]
) -> list[tuple[str, int | None]]:
    """(text, footnote number or None) for each metric column of a run."""
    out = []
    for c in cols:
        text = cell(e, c)
        out.append((text, marks.get((id(e), c.key[0])) if text != "—" else None))
    return out


def _train_cell(e: Entry) -> str:
    return "—" if e.train_seconds is None else f"{e.train_seconds:.1f}"


def _more_fixed(e: Entry) -> list[str]:
    s = e.protocol.get("sample_seconds_per_1000")
    return [e.model, "—" if e.params is None else f"{e.params:,}", f"{s:.3g}" if _number(s) else "—"]


def _head_row(e: Entry, t: Table, marks: Mapping[tuple[int, str], int]) -> list[tuple[str, int | None]]:
    if e.error:  # a failed run: the reason in the first metric column, the rest empty
        return [(e.name, None), (f"failed: {e.error}", None)] + [("", None)] * len(t.head)
    return [(e.name, None), *_marked(e, t.head, marks), (_train_cell(e), None)]


def _more_row(e: Entry, t: Table, marks: Mapping[tuple[int, str], int]) -> list[tuple[str, int | None]]:
    metrics = [("", None)] * len(t.more) if e.error else _marked(e, t.more, marks)
    return [(e.name, None), *metrics, *((c, None) for c in _more_fixed(e))]


def _better(c: Column) -> str:
    return {"lower": "lower", "higher": "higher", "half": "closer to 0.5"}.get(c.better, "")


FLOOR_NOTE = (
    "Figures in brackets: the same metric between two halves of the held-out data — "
    "the noise floor at that N."
)


def _legend(cols: Sequence[Column]) -> str:
    return FLOOR_NOTE + " Better: " + ", ".join(f"{c.header} {_better(c)}" for c in cols) + "."


def _shown(ts: Sequence[Table]) -> list[Column]:
    """The metric columns shown anywhere on the board, in `COLUMNS` order."""
    used = {c for t in ts for c in (*t.head, *t.more)}
    return [c for c in COLUMNS if c in used]


def _explained(ts: Sequence[Table]) -> list[Column]:
    """The columns "How to read this" explains: the headline ones on the board, and the copy rate."""
    return [c for c in _shown(ts) if c in HEADLINE or c == COPY_RATE]


def protocol_lines(entries: Sequence[Entry]) -> list[str]:
    """One line per run: what it was evaluated on (split, n, features, seed), or why not."""
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


# --- Markdown ----------------------------------------------------------------------------------
def _md_table(head: Sequence[str], rows: Sequence[Sequence[tuple[str, int | None]]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(t + (f" [{k}]" if k else "") for t, k in row) + " |")
    return "\n".join(lines)


def render_markdown(entries: Sequence[Entry], *, title: str = "genzoo leaderboard") -> str:
    """The board as Markdown: per dataset a table of the headline columns and one of the rest;
    the notes, the legend, how to read it and the protocol beneath."""
    ts = tables(entries)
    texts, marks = footnotes([b for t in ts for b in ((t.entries, t.head), (t.entries, t.more))])
    parts = [f"# {title}"]
    for t in ts:
        parts.append(f"## {t.data}")
        parts.append(
            _md_table(
                ["run", *(c.header for c in t.head), TRAIN], [_head_row(e, t, marks) for e in t.entries]
            )
        )
        parts.append(f"More on {t.data}:")
        parts.append(
            _md_table(
                ["run", *(c.header for c in t.more), *MORE_FIXED], [_more_row(e, t, marks) for e in t.entries]
            )
        )
    parts.append("## Notes")
    parts.extend(f"[{k}] {text}" for k, text in enumerate(texts, 1))
    parts.append(_legend(_shown(ts)))
    parts.append("## How to read this")
    parts.extend(f"- **{term}**: {text}" for term, text in gallery.how_to_read(_explained(ts), entries))
    parts.append("## Protocol")
    parts.append("\n".join(f"- {line}" for line in protocol_lines(entries)))
    return "\n\n".join(parts) + "\n"


# --- HTML --------------------------------------------------------------------------------------
def _html_table(cls: str, head: Sequence[str], rows: Sequence[Sequence[tuple[str, int | None]]]) -> str:
    thead = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(t)}{_sup(k)}</td>" for t, k in row) + "</tr>" for row in rows
    )
    return (
        f'<div class="wide"><table class="board {cls}"><thead><tr>{thead}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def slug(name: str) -> str:
    """A dataset name as a fragment of an HTML id."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "data"


def _dataset_block(t: Table, marks: Mapping[tuple[int, str], int]) -> str:
    """A dataset's headline table and, collapsed, its other columns and its bar chart."""
    head = _html_table(
        "headline", ["run", *(c.header for c in t.head), TRAIN], [_head_row(e, t, marks) for e in t.entries]
    )
    more = _html_table(
        "more", ["run", *(c.header for c in t.more), *MORE_FIXED], [_more_row(e, t, marks) for e in t.entries]
    )
    names = ", ".join(c.header for c in t.more[:4]) + (", …" if len(t.more) > 4 else "")
    summary = (
        f"more on {t.data}" + (f": {names}" if names else "") + ", the model, its size and sampling time"
    )
    chart = _chart(t)
    return (
        f'<div class="dataset" id="board-{escape(slug(t.data))}" data-dataset="{escape(t.data)}">'
        f"<h3>{escape(t.data)}</h3>{head}"
        f'<details class="more"><summary>{escape(summary)}</summary>{more}{chart}</details></div>'
    )


def _chart(t: Table) -> str:
    ok = [e for e in t.entries if not e.error]
    png = metric_figure(ok, t.head)
    if png is None:
        return ""
    noted = any(e.note(c.key[0]) and e.value(c.key) is not None for e in ok for c in t.head)
    caption = f"{t.data}: bars, the runs; dashed red, the noise floor of real data" + (
        "; †: too few examples, see the notes under the tables" if noted else ""
    )
    return figure(png, f"headline figures on {t.data}", caption)


def render_html(
    entries: Sequence[Entry],
    *,
    title: str = "genzoo leaderboard",
    intro: str = "",
    extra_sections: Sequence[str] = (),
    real: Mapping[str, Sequence[tuple[str, bytes | str]]] | None = None,
) -> str:
    """The board as one self-contained page: the gallery (`real` maps a dataset to (caption,
    picture of its held-out examples, or why there is none) pairs, as
    `gallery.real_tiles` makes them), how to read it, the tables per dataset,
    the protocol, the runs' own figures, then `extra_sections`."""
    ts = tables(entries)
    texts, marks = footnotes([b for t in ts for b in ((t.entries, t.head), (t.entries, t.more))])
    board = "".join(_dataset_block(t, marks) for t in ts)
    board += "".join(f'<p class="fn" id="fn{k}">[{k}] {escape(text)}</p>' for k, text in enumerate(texts, 1))
    board += note(_legend(_shown(ts)))
    proto = (
        "<h3>Protocol</h3><ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in protocol_lines(entries))
        + "</ul>"
    )
    groups = [(t.data, t.entries, headline(t.entries)) for t in ts]
    sections = [
        section("Gallery", gallery.render(groups, real or {}), ident="gallery"),
        section("How to read this", gallery.how_to_read_html(_explained(ts), entries), ident="how-to-read"),
        section("Leaderboard", board + proto, ident="board"),
    ]
    figs = [figure(png, cap, cap) for e in entries for png, cap in e.figures]
    if figs:
        sections.append(
            section(
                "Figures",
                '<div class="grid">' + "".join(f'<div class="cell">{f}</div>' for f in figs) + "</div>",
            )
        )
    sections.extend(extra_sections)
    header = f"<h1>{escape(title)}</h1>" + (f'<p class="sub">{escape(intro)}</p>' if intro else "")
    return document(title, header, sections, css=BOARD_CSS + gallery.CSS)


def _sup(k: int | None) -> str:
    return f'<sup><a href="#fn{k}">[{k}]</a></sup>' if k else ""


# --- bar charts, one per dataset ------------------------------------------------------------------
def metric_figure(entries: Sequence[Entry], cols: Sequence[Column]) -> bytes | None:
    """One small bar chart per column, the runs (of one dataset) side by side, the noise floor
    dashed; a † after the title when some run's figure carries a small-sample note. Drawn once
    for each distinct content: the tour rewrites its page after every entry."""
    spec = []
    for c in cols:
        values = tuple(e.value(c.key) for e in entries)
        if all(v is None for v in values):
            continue
        floors = tuple(e.value(c.floor) if c.floor else None for e in entries)
        noted = any(e.note(c.key[0]) and e.value(c.key) is not None for e in entries)
        spec.append((f"{c.header} ({_better(c)})" + (" †" if noted else ""), values, floors))
    if not spec:
        return None
    return _bars(tuple(e.name for e in entries), tuple(spec))


@functools.lru_cache(maxsize=64)
def _bars(names: tuple[str, ...], spec: tuple[tuple[str, tuple[Any, ...], tuple[Any, ...]], ...]) -> bytes:
    fig, axes = panels(len(spec), max_cols=4, width=3.3, height=2.8)
    xs = np.arange(len(names))
    for ax, (title, values, floors) in zip(axes, spec):
        ax.bar(xs, [np.nan if v is None else v for v in values], color="#4a7ab8")
        for x, f in zip(xs, floors):
            if f is not None:
                ax.hlines(f, x - 0.4, x + 0.4, colors="#c0392b", linestyles="dashed", linewidth=1.2)
        ax.set_title(title, fontsize=9)
        ax.set_xticks(xs, names, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    return figure_png(fig)


def write_board(
    entries: Sequence[Entry], out: str | Path, *, title: str = "genzoo leaderboard", **kw: Any
) -> Path:
    """Write the board as Markdown (.md) or HTML (.html), atomically; an HTML board without `real`
    given draws each dataset's held-out examples itself (`gallery.real_tiles`)."""
    from genzoo.errors import GenzooError

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".md":
        text = render_markdown(entries, title=title)
    elif suffix in (".html", ".htm"):
        kw.setdefault("real", gallery.real_tiles([(e.data, e.data_options) for e in entries]))
        text = render_html(entries, title=title, **kw)
    else:
        raise GenzooError(f"--out {out}: unsupported file type {suffix or '(none)'!r} (use .html or .md)")
    ckpt.atomic_write(out, lambda p: p.write_text(text, encoding="utf-8"))
    return out


BOARD_CSS = """
table.board td,table.board th{white-space:nowrap;padding-right:12px}
.dataset{margin:4px 0 18px}
.grid{display:flex;flex-wrap:wrap;gap:16px}
.cell{flex:0 0 auto;max-width:340px}
.cell img{max-width:320px;height:auto;image-rendering:pixelated}
p.fn{margin:4px 0;font-size:13px;color:#6b5200;overflow-wrap:anywhere}
table.board sup a{color:#6b5200;text-decoration:none}
"""
