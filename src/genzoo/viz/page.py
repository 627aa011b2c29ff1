"""The pieces of genzoo's self-contained HTML pages (a run's report, the leaderboards, the tour):
escaped text, formatted numbers, sections, notes, two-column tables, embedded pictures and the
one inline style sheet. Every picture is a data URI and every string is HTML-escaped, so a page
is one file with no script and no request to the network."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def escape(text: Any) -> str:
    """`text` as HTML, quotes included (safe in element content and attribute values)."""
    return html.escape(str(text), quote=True)


def fmt(v: Any) -> str:
    """A value for a table cell: 4 significant digits for floats, JSON for containers."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return "0" if v == 0 else f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return json.dumps(v, default=str)
    return str(v)


def section(title: str, body: str, *, ident: str | None = None) -> str:
    """A titled card; `ident` becomes its id (a link target)."""
    attr = f' id="{escape(ident)}"' if ident else ""
    return f"<section{attr}><h2>{escape(title)}</h2>\n{body}\n</section>"


def note(text: str) -> str:
    """A warning-coloured paragraph: what is missing, or why a figure could not be drawn."""
    return f'<p class="note">{escape(text)}</p>'


def table(
    rows: Sequence[tuple[str, Any]],
    head: tuple[str, str] | None = None,
    *,
    flag: Callable[[str], bool] | None = None,
) -> str:
    """Two-column rows; those whose key `flag` picks are drawn as notes (class "flag")."""
    thead = f"<thead><tr><th>{escape(head[0])}</th><th>{escape(head[1])}</th></tr></thead>" if head else ""
    flagged = ' class="flag"'
    body = "".join(
        f"<tr{flagged if flag and flag(k) else ''}><th>{escape(k)}</th><td>{escape(fmt(v))}</td></tr>"
        for k, v in rows
    )
    # scrolls on its own if too wide
    return f'<div class="wide"><table>{thead}<tbody>{body}</tbody></table></div>'


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """`data` as a data: URI, so that a page carries its pictures inside."""
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def picture_mime(data: bytes) -> str | None:
    """The MIME type of a PNG or GIF file from its first bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def img(data: bytes, alt: str, *, mime: str = "image/png", cls: str = "") -> str:
    """An <img> holding `data`."""
    attr = f' class="{escape(cls)}"' if cls else ""
    return f'<img{attr} src="{data_uri(data, mime)}" alt="{escape(alt)}">'


def figure(png: bytes, alt: str, caption: str = "", *, mime: str = "image/png") -> str:
    """A picture with its caption."""
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f"<figure>{img(png, alt, mime=mime)}{cap}</figure>"


def document(title: str, header: str, sections: Sequence[str], *, css: str = "") -> str:
    """A whole page: `header` (HTML) above the `sections`, the style sheet inline."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}{css}</style>\n</head>\n<body>\n<main>\n"
        f"<header>{header}</header>\n" + "\n".join(sections) + "\n</main>\n</body>\n</html>\n"
    )


CSS = """
body{margin:0;background:#f5f6f8;color:#1d2733;font:15px/1.5 system-ui,-apple-system,"Segoe UI",\
Roboto,Helvetica,Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 32px 48px}
h1{margin:0 0 2px;font-size:26px}
.sub{margin:0;color:#5b6776}
section{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:14px 20px 16px;margin:18px 0}
h2{margin:0 0 10px;font-size:18px}
h3{margin:10px 0 4px;font-size:14px;color:#3a4656;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;font-size:14px;font-variant-numeric:tabular-nums}
th,td{padding:3px 14px 3px 0;text-align:left;vertical-align:top;border-bottom:1px solid #edf0f3}
tbody th{font-weight:500;color:#3a4656}
thead th{font-weight:600;border-bottom:2px solid #dde2e8}
td{overflow-wrap:anywhere;min-width:5em}
tbody th{overflow-wrap:anywhere;min-width:6em}
.wide{overflow-x:auto}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:4px 28px}
figure{margin:6px 0 14px}
figure img{display:block;max-width:100%;height:auto;border:1px solid #dde2e8}
figcaption{margin-top:4px;color:#5b6776;font-size:13px}
tr.flag th,tr.flag td{background:#fff6dc;color:#6b5200;font-size:13px}
.note{margin:6px 0;padding:6px 10px;border-radius:4px;background:#fff6dc;color:#6b5200;overflow-wrap:anywhere}
details>summary{cursor:pointer;color:#2e5d9a;margin:6px 0}
@media (max-width:600px){main{padding:12px 10px 32px}section{padding:10px 12px 12px}\
h1{font-size:22px}th,td{padding-right:10px}}
""".strip()
