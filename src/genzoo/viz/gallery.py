"""The opening of a board page: the gallery — per dataset, a grid of its held-out examples
("real data") and then each run's samples, each picture with its headline figure against the
floor and its training time — and "How to read this", a minute's reading on what the figures
mean, which way is better, what the floor is and why a copying model can look good.

The pictures are the runs' own samples.png; the real data are drawn with the same function
(`genzoo.pictures.samples_png`), so both sit side by side alike."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from genzoo.viz import glossary
from genzoo.viz.page import escape, fmt, img

if TYPE_CHECKING:  # the board's types, for hints only (the board imports this module)
    from genzoo.viz.board import Column, Entry

REAL_EXAMPLES = 64  # as many as a run's samples.png holds
ARROWS = {"lower": "↓", "higher": "↑", "half": "→½"}
BETTER = {"lower": "lower is better", "higher": "higher is better", "half": "0.5 is best"}


# --- the real data ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def real_data_png(name: str, options_json: str = "{}") -> bytes:
    """The first REAL_EXAMPLES held-out examples of a dataset (test split, with its options as
    JSON) drawn like a run's samples.png. Loaded once per process: the tour redraws its page
    after every entry."""
    from genzoo.data import load
    from genzoo.pictures import samples_png

    data = load(name, split="test", **json.loads(options_json))
    return samples_png(data.tensors()[:REAL_EXAMPLES], data.info, what="examples")


def real_caption(options: Mapping[str, Any], first: Mapping[str, Any]) -> str:
    """ "real data", with what sets these options apart from the dataset's first ones: "real data,
    binarised" where binary models sit beside grey ones, so that each is seen beside its own data."""
    changed = [k for k in sorted(options) if options.get(k) != first.get(k)] + [
        k for k in sorted(first) if k not in options
    ]
    words = [
        ("binarised" if options.get(k) in ("static", "dynamic") else "grey")
        if k == "binarize"
        else f"{k} {options.get(k)}"
        for k in changed
    ]
    return ", ".join(["real data", *words])


def real_tiles(datasets: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, list[tuple[str, bytes | str]]]:
    """For each dataset name, its held-out examples as each distinct set of its options draws them
    (in order of first appearance; options that draw the same picture once): a list of (caption,
    picture), or (caption, one line saying why it could not be drawn: a folder gone, a loader failing)."""
    tiles: dict[str, list[tuple[str, bytes | str]]] = {}
    firsts: dict[str, Mapping[str, Any]] = {}
    for name, options in datasets:
        first = firsts.setdefault(name, options)
        try:  # drawn once per (name, options): real_data_png is cached
            picture: bytes | str = real_data_png(name, json.dumps(dict(options), sort_keys=True, default=str))
        except Exception as exc:  # best effort: the page shows the runs without it
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            picture = f"held-out examples could not be loaded ({reason})"
        drawn = tiles.setdefault(name, [])
        if not any(picture == p for _, p in drawn):
            drawn.append((real_caption(options, first), picture))
    return tiles


# --- the gallery -------------------------------------------------------------------------------------
def figure_line(entry: Entry, col: Column) -> str | None:
    """ "FD↓ 634 (floor 51)": a figure, which way is better and its floor; None where the run lacks it."""
    v = entry.value(col.key)
    if v is None:
        return None
    floor = entry.value(col.floor) if col.floor else None
    return f"{col.header}{ARROWS.get(col.better, '')} {short(v)}" + (
        f" (floor {short(floor)})" if floor is not None else ""
    )


def short(v: float) -> str:
    """3 significant digits: room for a figure and its floor on one line under a picture."""
    if isinstance(v, int):
        return fmt(v)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _span(text: str, title: str = "") -> str:
    attr = f' title="{escape(title)}"' if title else ""
    return f"<span{attr}>{escape(text)}</span>"


def run_tile(entry: Entry, cols: Sequence[Column]) -> str:
    """One run's picture with its headline figures and training time under it."""
    short = entry.name.removesuffix(f" on {entry.data}") or entry.name
    if entry.error:
        picture = f'<div class="blank">failed: {escape(entry.error)}</div>'
    elif entry.samples_png:
        picture = img(entry.samples_png, f"samples of {entry.name}")
    else:
        picture = '<div class="blank">no samples.png</div>'
    lines = (
        []
        if entry.error
        else [
            _span(line, BETTER.get(c.better, "")) for c in cols if (line := figure_line(entry, c)) is not None
        ]
    )
    if entry.train_seconds is not None and not entry.error:
        lines.append(_span(f"trained {entry.train_seconds:.1f} s"))
    caption = f"<b>{escape(short)}</b>" + "".join(lines)
    return (
        f'<figure class="tile run" data-run="{escape(entry.name)}">{picture}'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def real_tile(name: str, real: bytes | str | None, caption: str = "real data") -> str:
    """The dataset's held-out examples, or why they are missing."""
    if isinstance(real, bytes):
        picture, line = img(real, f"held-out examples of {name}"), f"{REAL_EXAMPLES} held-out examples"
    else:
        picture, line = '<div class="blank">—</div>', real or "held-out examples not drawn"
    return (
        f'<figure class="tile real">{picture}<figcaption><b>{escape(caption)}</b>'
        f"{_span(line)}</figcaption></figure>"
    )


def render(
    groups: Sequence[tuple[str, Sequence[Entry], Sequence[Column]]],
    real: Mapping[str, Sequence[tuple[str, bytes | str]]],
) -> str:
    """The gallery: per (dataset, its runs, its headline columns) a row of pictures — the real
    data first (as each set of the runs' data options draws it: grey and binarised digits), then
    each run's samples."""
    intro = (
        '<p class="sub">Each row is one dataset: first 64 of its held-out examples, '
        "then 64 samples of each model "
        "trained on it (the same seed for all). Look first; the figures under each picture say the rest.</p>"
    )
    rows = []
    for data, entries, cols in groups:
        shown = real.get(data) or [("real data", None)]
        tiles = "".join(real_tile(data, pic, caption) for caption, pic in shown) + "".join(
            run_tile(e, cols) for e in entries
        )
        rows.append(
            f'<div class="gallery-group" data-dataset="{escape(data)}"><h3>{escape(data)}</h3>'
            f'<div class="tiles">{tiles}</div></div>'
        )
    return intro + "".join(rows)


# --- how to read this ------------------------------------------------------------------------------
def how_to_read(cols: Sequence[Column], entries: Sequence[Entry]) -> list[tuple[str, str]]:
    """(term, explanation) pairs: the pictures, the floor, each of `cols` (which way is better,
    what it means), the training time, and why a model that copies its training data looks good."""
    items = [
        (
            "The pictures",
            "each gallery row is one dataset: 64 real held-out examples (grey and binarised where "
            "models of both kinds share the row: each model is trained on one of them), "
            "then 64 samples of each model. "
            "Good samples look like the real ones and vary as much.",
        ),
        (
            "The floor",
            "the number in brackets: the same metric between two halves of the held-out data — what a "
            "perfect model scores with this many examples. "
            "Compare each figure with its floor, not with 0 or 1.",
        ),
        (
            "One table per dataset",
            "figures of different datasets measure different things: they never share a column or an axis.",
        ),
    ]
    for c in cols:
        fig = glossary.lookup(*c.key[:2]) if len(c.key) >= 2 else None
        better = BETTER.get(c.better, "")
        meaning = fig.meaning if fig is not None else ""
        items.append((f"{c.header}: {better}" if better else c.header, _sentence(meaning)))
    items.append(("train s", "seconds of training on this machine."))
    copies = "kde" in {e.model for e in entries} or any(c.key == ("memorization", "copy_rate") for c in cols)
    if copies:
        items.append(
            (
                "Why KDE's FD can look good",
                "a KDE's samples are training examples plus a little noise "
                "(a few pixels flipped on binary images). FD, "
                "precision and recall compare distributions, "
                "so a sampler that reproduces its training set scores "
                "like real data, near the floor, without learning anything beyond it. Its copy rate (under "
                "“more”) and the closest pairs in its report show how near it stays to the training set.",
            )
        )
    return items


def _sentence(text: str) -> str:
    return text if not text or text.endswith((".", "?", "!")) else text + "."


def how_to_read_html(cols: Sequence[Column], entries: Sequence[Entry]) -> str:
    """`how_to_read` as a definition list."""
    items = "".join(
        f"<dt>{escape(term)}</dt><dd>{escape(text)}</dd>" for term, text in how_to_read(cols, entries)
    )
    return f'<dl class="read">{items}</dl>'


CSS = (
    """
.tiles{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.tile{margin:0;width:200px;flex:0 0 auto}
.tile img{display:block;width:100%;height:auto;image-rendering:pixelated;border:1px solid #dde2e8}
.tile.real img{border-color:#2e6bb0}
.tile figcaption{display:flex;flex-direction:column;font-size:13px;color:#3a4656}
.tile figcaption b{color:#1d2733;font-size:14px}
.tile .blank{width:100%;aspect-ratio:1;display:flex;align-items:center;justify-content:center;"""
    """text-align:center;background:#f0f2f5;color:#6b5200;font-size:13px;overflow-wrap:anywhere;"""
    """padding:6px;box-sizing:border-box}
.gallery-group{margin:6px 0 16px}
dl.read{margin:0;display:grid;grid-template-columns:minmax(9em,max-content) 1fr;gap:6px 18px}
dl.read dt{font-weight:600}
dl.read dd{margin:0;color:#3a4656}
@media (max-width:600px){.tile{width:calc(50% - 7px)}dl.read{display:block}dl.read dt{margin-top:8px}}
"""
)
