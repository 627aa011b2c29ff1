"""A run's metrics as a student reads them: grouped by kind (likelihood, fidelity, diversity,
memorisation, ...), each figure with its floor, its unit and a line on what it means (from
`genzoo.viz.glossary`), a metric's small-sample note beside its figures, and a value that
names a picture the metric left in the run directory (memorization.png) shown as that picture."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genzoo.viz import glossary
from genzoo.viz.page import escape, fmt, img, picture_mime

LISTS = ("closest", "counts")  # per-example lists: kept in metrics.json, left out of the tables
MAX_PICTURE_BYTES = 20 << 20


@dataclass(frozen=True)
class Row:
    """One line of a group: `key` is where the value sits in metrics.json ("pr.precision"); `kind`
    is "value", "picture" (the value is a picture's file name), "note" or "skipped"."""

    key: str
    label: str
    value: Any
    floor: Any = None
    unit: str = ""
    meaning: str = ""
    kind: str = "value"


def is_picture_name(value: Any) -> bool:
    """A plain file name of a PNG or GIF (no folder in it): what a metric writes for a picture it left."""
    return (
        isinstance(value, str)
        and value.lower().endswith((".png", ".gif"))
        and Path(value).name == value
        and not value.startswith(".")
    )


def picture_files(run_dir: str | Path, scores: Mapping[str, Any]) -> dict[str, bytes]:
    """The pictures that values of `scores` name, read from `run_dir`: only PNG or GIF files that
    lie in the run directory itself (a hand-edited name cannot reach outside it)."""
    run_dir = Path(run_dir)
    found: dict[str, bytes] = {}
    for out in scores.values():
        for value in out.values() if isinstance(out, Mapping) else ():
            path = run_dir / value if is_picture_name(value) else None
            if (
                path is None
                or value in found
                or not path.is_file()
                or path.stat().st_size > MAX_PICTURE_BYTES
            ):
                continue
            data = path.read_bytes()
            if picture_mime(data):
                found[value] = data
    return found


def _rank(metric: str, key: str) -> int:
    """A figure's place in the catalogue (the order a group lists them in); unknown ones last."""
    for i, f in enumerate(glossary.FIGURES):
        if f.metric == metric and f.key == key:
            return i
    return len(glossary.FIGURES)


def _row(metric: str, key: str, value: Any, out: Mapping[str, Any]) -> tuple[str, Row]:
    """(group, row) of one value of a metric."""
    if key == "skipped":
        return glossary.group_of(metric), Row(f"{metric}.skipped", metric, value, kind="skipped")
    fig = glossary.lookup(metric, key)
    kind = "picture" if is_picture_name(value) else "value"
    if fig is None:  # a figure the catalogue does not know yet: its name from metrics.json
        return glossary.group_of(metric), Row(f"{metric}.{key}", f"{metric}.{key}", value, kind=kind)
    meaning = " ".join(_sentence(part) for part in (fig.meaning, fig.better_text.capitalize()) if part)
    floor = out.get(fig.floor) if fig.floor else None
    return fig.group, Row(f"{metric}.{key}", fig.label, value, floor, fig.unit, meaning, kind)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _metric_rank(metric: str, group: str) -> int:
    """Where a metric's block stands in a group: at its first catalogued figure there."""
    ranks = [i for i, f in enumerate(glossary.FIGURES) if f.metric == metric and f.group == group]
    return min(ranks) if ranks else len(glossary.FIGURES)


def metric_blocks(metric: str, out: Any) -> dict[str, list[Row]]:
    """One metric's rows per group, in catalogue order, its note (if any) after its rows in each group."""
    if not isinstance(out, Mapping):
        return {glossary.OTHER: [Row(metric, metric, out)]}
    floors = glossary.floor_keys(metric)
    blocks: dict[str, list[tuple[int, Row]]] = {}
    for key, value in out.items():
        if key in floors or key in LISTS or key in ("note", "seconds"):
            continue
        fig = glossary.lookup(metric, str(key))
        if fig is not None and fig.detail:  # a setting or a count: in the list of every value only
            continue
        group, row = _row(metric, str(key), value, out)
        blocks.setdefault(group, []).append((_rank(metric, str(key)), row))
    note = out.get("note")
    result = {}
    for group, ranked in blocks.items():
        rows = [row for _, row in sorted(ranked, key=lambda pair: pair[0])]
        if isinstance(note, str) and note.strip():
            rows.append(Row(f"{metric}.note", "note", note, kind="note"))
        result[group] = rows
    return result


def grouped(scores: Mapping[str, Any], timing: Sequence[Row] = ()) -> dict[str, list[Row]]:
    """Every figure of `scores` (metrics.json's "metrics") in its group, groups in
    `glossary.GROUPS` order, empty groups left out; `timing` rows (training, sampling) open
    the timing group, followed by the seconds each metric took."""
    groups: dict[str, list[tuple[int, int, list[Row]]]] = {g: [] for g in glossary.GROUPS}
    for order, (metric, out) in enumerate(scores.items()):
        for group, rows in metric_blocks(str(metric), out).items():
            groups[group].append((_metric_rank(str(metric), group), order, rows))
    result = {
        g: [row for _, _, rows in sorted(blocks, key=lambda b: b[:2]) for row in rows]
        for g, blocks in groups.items()
    }
    seconds = [
        Row(f"{m}.seconds", m, out["seconds"], unit="seconds", meaning=f"time to compute {m}")
        for m, out in scores.items()
        if isinstance(out, Mapping) and _number(out.get("seconds"))
    ]
    result[glossary.TIMING] = [*timing, *seconds]
    return {g: rows for g, rows in result.items() if rows}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


HEAD = (
    "<thead><tr><th>figure</th><th>value</th><th>floor</th><th>unit</th><th>what it means</th></tr></thead>"
)


def render_row(row: Row, pictures: Mapping[str, bytes]) -> str:
    """One <tr>: a figure with its floor, unit and meaning; a note or a skipped metric across the
    row; a picture's file name as the picture."""
    key = f' data-key="{escape(row.key)}"'
    if row.kind == "note":
        return f'<tr class="flag"{key}><th>note</th><td colspan="4">{escape(row.value)}</td></tr>'
    if row.kind == "skipped":
        return (
            f'<tr class="skip"{key}><th>{escape(row.label)}</th>'
            f'<td colspan="4">not computed: {escape(fmt(row.value))}</td></tr>'
        )
    if row.kind == "picture":
        data = pictures.get(row.value)
        mime = picture_mime(data) if data else None
        shown = (
            img(data, row.value, mime=mime, cls="metric-picture")
            if data and mime
            else f"{escape(row.value)} (not in the run directory)"
        )
        return (
            f'<tr class="picture"{key}><th>{escape(row.label)}</th>'
            f'<td colspan="4">{shown}<div>{escape(row.meaning)}</div></td></tr>'
        )
    floor = "—" if row.floor is None else fmt(row.floor)
    cells = [fmt(row.value), floor, row.unit, row.meaning]
    return (
        f"<tr{key}><th>{escape(row.label)}</th>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
    )


def render_groups(groups: Mapping[str, Sequence[Row]], pictures: Mapping[str, bytes] | None = None) -> str:
    """Each group as a heading and a five-column table (figure, value, floor, unit, meaning)."""
    pictures = pictures or {}
    parts = []
    for group, rows in groups.items():
        body = "".join(render_row(r, pictures) for r in rows)
        parts.append(
            f'<h3>{escape(group)}</h3><div class="wide"><table class="metrics">'
            f"{HEAD}<tbody>{body}</tbody></table></div>"
        )
    return "".join(parts)
