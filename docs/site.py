"""What the documentation site generates from the repository, as plain functions of their inputs
(docs/hooks.py calls them from MkDocs; tests/test_docs_site.py checks them without MkDocs):

- the option tables of every family, dataset and training option, from the config dataclasses
  (`genzoo.config.describe_fields`, what `genzoo list` prints);
- the command-line reference, from the parser (`genzoo.cli.build_parser`);
- sections of BENCHMARKS.md, by their heading, for the family pages;
- the tutorial notebooks as pages, with the outputs of their last run (`make notebooks`);
- repository links made site links (a file that is not a page becomes its path, in code);
- formulas written in LaTeX made MathML, which browsers draw without a script or a font download;
- the check that a built page loads nothing from another host.
"""

from __future__ import annotations

import argparse
import base64
import html
import posixpath
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# a marker in a page's Markdown, on a line of its own: <!-- genzoo KIND: ARGUMENT -->, replaced by what
# KIND generates (written inside a sentence or a code span, it is text)
MARKER = re.compile(r"^<!--\s*genzoo\s+([a-z-]+)\s*:\s*(.*?)\s*-->[ \t]*$", re.M)


def cell(text: Any) -> str:
    """A value as a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def code(text: Any) -> str:
    """A value as code in a table cell (the table reads no pipe inside a code span)."""
    return f"`{' '.join(str(text).split())}`"


def options_table(cls: type, section: str) -> str:
    """A Markdown table of a config dataclass's options: name, default, values, what it does."""
    from genzoo.config import describe_fields, shown_default

    rows = ["| option | default | values | what it does |", "|---|---|---|---|"]
    for name, default, allowed, help_text in describe_fields(cls):
        key = f"{section}.{name}" if section else f"--{name}"
        rows.append(
            f"| `{key}` | {code(shown_default(default, allowed))} | {cell(allowed)} "
            f"| {cell(help_text) or '—'} |"
        )
    return "\n".join(rows)


def family_options(name: str) -> str:
    """A family's section of its page: what it models, its default data, its abilities, and every
    option with its default (model, sample, condition), as `genzoo list models NAME` says them."""
    from genzoo.catalog import ability_names, default_data
    from genzoo.config import shown_value
    from genzoo.models import MODELS

    cls = MODELS.get(name)
    data, data_options = default_data(name)
    able = ability_names(cls)
    command = f"genzoo train {name}" + "".join(f" --set data.{k}={v}" for k, v in data_options.items())
    out = [
        f"### `{name}`",
        "",
        f"{cls.summary[0].upper()}{cls.summary[1:]}.",
        "",
        f"- **Data**: {', '.join(cls.kinds)}; without `--data` it trains on `{data}`: `{command}`",
        f"- **Abilities**: {', '.join(able) or 'sampling'}",
    ]
    if cls.default_train:
        own = ", ".join(f"`train.{k}={shown_value(v)}`" for k, v in cls.default_train.items())
        out.append(
            f"- **Its own training defaults**: {own} (the rest: [training options](../reference/training.md))"
        )
    out += ["", "Model options (`--set model.KEY=VALUE`):", "", options_table(cls.Config, "model")]
    for method, holder in (("sample", cls.SampleOptions), ("condition --mask", cls.InpaintOptions)):
        if holder is not None:
            out += [
                "",
                f"Options of `genzoo {method}` (default: the model's own):",
                "",
                options_table(holder, ""),
            ]
    return "\n".join(out)


def training_options() -> str:
    from genzoo.training.trainer import TrainConfig

    return options_table(TrainConfig, "train")


def dataset_options() -> str:
    """Every dataset, its summary and its options."""
    from genzoo.data import DATASETS, PREFIXES

    out = []
    names = [(name, DATASETS.get(name)) for name in DATASETS.names()]
    names += [(f"{name}:PATH", spec) for name, spec in sorted(PREFIXES.items())]
    for name, spec in names:
        out += [f"### `{name}`", "", f"{spec.summary[0].upper()}{spec.summary[1:]}.", ""]
        out += [options_table(spec.options, "data"), ""]
    return "\n".join(out).rstrip()


def metric_list() -> str:
    from genzoo.metrics import METRICS

    rows = ["| metric | what it measures |", "|---|---|"]
    rows += [f"| `{name}` | {cell(METRICS.get(name).summary)} |" for name in METRICS.names()]
    return "\n".join(rows)


def ability_table(link: Callable[[str], str] | None = None) -> str:
    """Model × ability, as `genzoo list models` prints it; `link(name)` gives a model's page."""
    from genzoo.catalog import ability_marks
    from genzoo.models import MODELS
    from genzoo.models.base import ABILITIES

    heads = [label for label, _ in ABILITIES.values()]
    rows = ["| model | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    for name in MODELS.names():
        marks = ability_marks(MODELS.get(name))
        shown = f"[`{name}`]({link(name)})" if link else f"`{name}`"
        rows.append(f"| {shown} | " + " | ".join(marks) + " |")
    return "\n".join(rows)


# --- the command line ---------------------------------------------------------------------------
def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser, str]]:
    for action in parser._actions:  # argparse keeps its subcommands here
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, sub, helps.get(name, "")) for name, sub in action.choices.items()]
    return []


def _flag(action: argparse.Action) -> str:
    names = ", ".join(action.option_strings) or action.dest
    if action.nargs == 0:
        return names
    metavar = action.metavar or (
        "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.dest.upper()
    )
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    return f"{names} {metavar}" if action.option_strings else names


def cli_reference(parser: argparse.ArgumentParser) -> str:
    """Every command of the parser: its usage, its description, and a table of its arguments with
    their defaults, in the order `genzoo --help` lists them."""
    out = []
    for name, sub, summary in _subcommands(parser):
        usage = " ".join(sub.format_usage().split())
        out += [f"## `genzoo {name}`", ""]
        if summary:
            out += [f"{summary[0].upper()}{summary[1:]}.".replace("..", "."), ""]
        if sub.description and sub.description != summary:
            out += [sub.description.strip(), ""]
        out += ["```text", usage.removeprefix("usage: "), "```", ""]
        rows = ["| argument | default | what it does |", "|---|---|---|"]
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            default = action.default
            none = default is None or default is argparse.SUPPRESS or default is False  # 0 is a default
            shown = "—" if none or action.nargs == 0 else code(default)
            if not action.option_strings:
                shown = "required" if action.nargs not in ("?", "*") else shown
            elif action.required:
                shown = "required"
            helptext = action.help if action.help and action.help != argparse.SUPPRESS else "—"
            if action.choices and not isinstance(action.choices, dict):
                helptext += f" (one of {', '.join(map(str, action.choices))})"
            rows.append(
                f"| {code(_flag(action))} | {shown} "
                f"| {cell(helptext % vars(action) if '%(' in helptext else helptext)} |"
            )
        out += rows + [""]
    return "\n".join(out).rstrip()


# --- BENCHMARKS.md sections -----------------------------------------------------------------------
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def section(markdown: str, title: str, *, level: int = 3) -> str:
    """The section of `markdown` under the first heading that starts with `title`, to the next heading
    of its level or above, its headings moved so that its own is at `level`. Fenced code is not
    read as headings. A title no heading starts with raises KeyError (a page that names a section
    BENCHMARKS.md no longer has fails the build)."""
    lines = markdown.splitlines()
    fenced, start, depth = False, None, 0
    end = len(lines)
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
            continue
        m = HEADING.match(line) if not fenced else None
        if not m:
            continue
        if start is None and m.group(2).strip().startswith(title):
            start, depth = i, len(m.group(1))
        elif start is not None and len(m.group(1)) <= depth:
            end = i
            break
    if start is None:
        raise KeyError(f"no heading starting with {title!r}")
    shift = level - depth
    out, fenced = [], False
    for line in lines[start:end]:
        if line.startswith("```"):
            fenced = not fenced
        m = HEADING.match(line) if not fenced else None
        out.append(f"{'#' * min(6, len(m.group(1)) + shift)} {m.group(2)}" if m else line)
    return "\n".join(out).strip()


# --- links ------------------------------------------------------------------------------------------
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")


def rewrite_links(markdown: str, source: str, pages: dict[str, str], root: Path = ROOT) -> str:
    """Links of a Markdown file at repository path `source` made links of the site: a target that is a
    page of the site (`pages`: repository path → site path) links to that page, relative to where
    `source` is shown; any other file of the repository becomes its path in code (the site does not
    serve the repository); a target that does not exist is left as it is, so that the strict build
    names it. Web links and anchors are left alone."""
    here = posixpath.dirname(pages.get(source, source))
    origin = posixpath.dirname(source)

    def repl(m: re.Match) -> str:
        bang, text, target = m.groups()
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return m.group(0)
        path, _, anchor = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(origin, path))
        if repo_path in pages:
            new = posixpath.relpath(pages[repo_path], here or ".")
            return f"{bang}[{text}]({new}{'#' + anchor if anchor else ''})"
        if (root / repo_path).exists():
            return f"{text} (`{repo_path}`)" if not text.startswith("`") else text
        return m.group(0)

    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        out.append(line if fenced else LINK.sub(repl, line))
    return "\n".join(out) + ("\n" if markdown.endswith("\n") else "")


# --- notebooks ---------------------------------------------------------------------------------------
def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _display_math(source: str) -> str:
    """$$ … $$ on lines of their own, with a blank line around, so that Markdown reads a block."""
    return re.sub(
        r"\s*\$\$(.+?)\$\$\s*", lambda m: f"\n\n$$\n{m.group(1).strip()}\n$$\n\n", source, flags=re.S
    )


def notebook_page(nb: Any, name: str, *, executed: bool, max_lines: int = 60) -> tuple[str, dict[str, bytes]]:
    """A notebook as a Markdown page and the pictures it shows ({file name: PNG bytes}): its Markdown
    cells as they are, its code cells as Python blocks, each followed by its outputs (text as text,
    pictures as images under NAME/). `executed` says whether the outputs come from a run (the page
    says which, and how long it took) or the notebook was never run here (the page says so)."""
    pictures: dict[str, bytes] = {}
    meta = nb.metadata.get("genzoo", {}) if executed else {}
    parts = []
    download = f"[download the notebook]({name}.ipynb)"
    if executed and meta:
        size = (
            "at the quick size (`make docs` without `make notebooks`)"
            if meta.get("quick")
            else "at full size"
        )
        parts.append(
            f'!!! note "Outputs"\n    The outputs below come from running this notebook top to bottom '
            f"{size}, "
            f"in {meta.get('seconds', 0):.0f} s on the machine that built this site; {download}."
        )
    else:
        parts.append(
            '!!! note "Outputs"\n    This page shows the notebook without outputs: run `make notebooks` '
            "before "
            f"`make docs` to see them here; {download}."
        )
    for index, c in enumerate(nb.cells):
        source = _text(c.source).rstrip()
        if c.cell_type == "markdown":
            parts.append(_display_math(source))
        elif c.cell_type == "code" and source:
            parts.append(f"```python\n{source}\n```")
            for k, output in enumerate(c.get("outputs", []) if executed else []):
                parts += _output(output, f"{name}/cell{index:02d}-{k}", pictures, max_lines)
    return "\n\n".join(parts) + "\n", pictures


def _output(output: Any, stem: str, pictures: dict[str, bytes], max_lines: int) -> list[str]:
    kind = output.get("output_type")
    if kind == "stream":
        return [_text_block(_text(output.get("text", "")), max_lines)]
    if kind in ("execute_result", "display_data"):
        data = output.get("data", {})
        if "image/png" in data:
            file = f"{stem}.png"
            pictures[file] = base64.b64decode(_text(data["image/png"]))
            return [f"![output]({file})"]  # the page sits beside its pictures folder
        if "text/plain" in data:
            return [_text_block(_text(data["text/plain"]), max_lines)]
        return []
    if kind == "error":
        return [_text_block(f"{output.get('ename')}: {output.get('evalue')}", max_lines)]
    return []


def _text_block(text: str, max_lines: int) -> str:
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).rstrip("\n")  # no terminal colours
    lines = [line.split("\r")[-1].rstrip() for line in text.split("\n")]  # what a terminal leaves of \r
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [f"… ({len(lines) - max_lines + 1} more lines)"]
    body = "\n".join(lines).replace("```", "` ` `")
    return f"```text\n{body}\n```"


def source_cells(nb: Any) -> list[tuple[str, str]]:
    """What a notebook is, without its outputs: its cells' kinds and sources."""
    return [(c.cell_type, _text(c.source)) for c in nb.cells]


# --- formulas ---------------------------------------------------------------------------------------
MATH = re.compile(
    r'<span class="arithmatex">\\\((.*?)\\\)</span>|<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S
)


def mathml(page: str) -> str:
    """Formulas as pymdownx.arithmatex marks them (generic mode) made MathML: nothing to load, the
    browser draws them."""
    from latex2mathml.converter import convert

    def repl(m: re.Match) -> str:
        inline, block = m.groups()
        tex = html.unescape(inline if inline is not None else block).strip()
        out = convert(tex, display="inline" if inline is not None else "block")
        return out if inline is not None else f'<div class="math-block">{out}</div>'

    return MATH.sub(repl, page)


def title_math(title: str) -> str:
    """A heading's formula as the table of contents holds it (\\( … \\)), made MathML."""
    from latex2mathml.converter import convert

    return re.sub(r"\\\((.*?)\\\)", lambda m: convert(html.unescape(m.group(1)).strip()), title)


# --- nothing from another host ----------------------------------------------------------------------
TAG_SOURCE = re.compile(
    r"<(?:script|img|iframe|source|video|audio|embed)\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.I
)
LINK_TAG = re.compile(r"<link\b[^>]*>", re.I)
CSS_URL = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"'])([^\"')\s]+)", re.I)
REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)


def external_resources(text: str) -> list[str]:
    """What a page or a stylesheet would load from another host — scripts, styles, images, fonts;
    links a reader may follow are not loads."""
    found = [m.group(1) for m in TAG_SOURCE.finditer(text)]
    for tag in LINK_TAG.findall(text):
        rel = re.search(r"\brel\s*=\s*[\"']?([^\"'>]+)", tag, re.I)
        href = re.search(r"\bhref\s*=\s*[\"']?([^\"'\s>]+)", tag, re.I)
        if href and not (rel and rel.group(1).strip().lower() in ("canonical", "alternate")):
            found.append(href.group(1))
    found += [m.group(1) for m in CSS_URL.finditer(text)]
    return [url for url in found if REMOTE.match(url)]


def files_under(folder: Path, patterns: Iterable[str]) -> list[Path]:
    return sorted({p for pattern in patterns for p in folder.rglob(pattern)})
