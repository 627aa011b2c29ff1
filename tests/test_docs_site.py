"""The documentation site (mkdocs.yml, docs/hooks.py, docs/site.py): what it generates from the code —
option tables against `genzoo list`, the command-line reference against the parser, sections of
BENCHMARKS.md, links, notebooks as pages, formulas as MathML — and the strict build itself, offline,
with nothing loaded from another host. CI builds it again after running the notebooks (make docs)."""

from __future__ import annotations

import argparse
import base64
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from genzoo.catalog import render_model
from genzoo.cli import build_parser
from genzoo.models import MODELS

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("genzoo_docs_site", ROOT / "docs" / "site.py")
site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(site)

FAMILIES = [name for name in MODELS.names() if name != "noisy-mean"]  # conftest's test model has no page
# a 1×1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def table_rows(markdown: str) -> dict[str, list[str]]:
    """{first cell: the other cells} of every Markdown table row (code spans kept as written)."""
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|(?=(?:[^`]*`[^`]*`)*[^`]*$)", line.strip("|"))]
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("name", FAMILIES)
def test_a_family_s_option_table_says_what_genzoo_list_says(name):
    """Every model option `genzoo list models NAME` prints, with the same default, is a row of the
    family's table; the table has no other model option."""
    listed = dict(re.findall(r"^  model\.([\w]+)=(.*)$", render_model(name), flags=re.M))
    rows = table_rows(site.family_options(name))
    model_rows = {k.strip("`").removeprefix("model."): v for k, v in rows.items() if k.startswith("`model.")}
    assert set(model_rows) == set(listed)
    for key, default in listed.items():
        assert model_rows[key][0] == f"`{default}`", key


def test_every_model_is_on_exactly_one_family_page():
    named = []
    for page in sorted((ROOT / "docs" / "families").glob("*.md")):
        for kind, argument in site.MARKER.findall(page.read_text()):
            if kind == "options":
                named += [n.strip() for n in argument.split(",")]
    assert sorted(named) == sorted(FAMILIES)


def test_the_training_options_table_has_every_field_with_its_default():
    import dataclasses

    from genzoo.training.trainer import TrainConfig

    rows = table_rows(site.training_options())
    for f in dataclasses.fields(TrainConfig):
        assert f"`train.{f.name}`" in rows, f.name
    assert rows["`train.checkpoint_every`"][0] == f"`{TrainConfig().checkpoint_every}`"
    assert len(rows) == len(dataclasses.fields(TrainConfig))


def test_the_cli_reference_has_every_command_and_argument_of_the_parser():
    parser = build_parser()
    text = site.cli_reference(parser)
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    headings = re.findall(r"^## `genzoo (\S+)`$", text, flags=re.M)
    assert headings == list(subs.choices)  # every command, in the order of `genzoo --help`
    for name, sub in subs.choices.items():
        part = text.split(f"## `genzoo {name}`")[1].split("\n## ")[0]
        assert " ".join(sub.format_usage().split()).removeprefix("usage: ") in part
        rows = table_rows(part)
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            key = next(
                k
                for k in rows
                if k.strip("`").split(" ")[0].rstrip(",") == (action.option_strings or [action.dest])[0]
            )
            default, helptext = rows[key]
            if action.required:
                assert default == "required"
            elif action.default is not None and action.default is not False and action.nargs != 0:
                assert default == f"`{action.default}`"
            assert action.help is None or " ".join(action.help.split())[:40] in helptext
    assert "| `--threads N|auto` |" in text  # a pipe inside a code span is left as it is


def test_a_section_of_markdown_by_its_heading():
    text = "\n".join(
        [
            "# Top",
            "## GANs — `bench_gan.py`",
            "intro",
            "```",
            "# not a heading",
            "```",
            "### Mode coverage",
            "rows",
            "## Diffusion",
            "other",
        ]
    )
    got = site.section(text, "GANs", level=3)
    assert got.splitlines() == [
        "### GANs — `bench_gan.py`",
        "intro",
        "```",
        "# not a heading",
        "```",
        "#### Mode coverage",
        "rows",
    ]
    assert site.section(text, "Mode", level=2) == "## Mode coverage\nrows"
    with pytest.raises(KeyError):
        site.section(text, "VAEs")


def test_repository_links_become_site_links_or_paths(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "gan-theory.md").write_text("x")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text("x")
    pages = {
        "README.md": "guide.md",
        "docs/gan-theory.md": "gan-theory.md",
        "benchmarks/f.png": "benchmarks/f.png",
    }
    text = "\n".join(
        [
            "See [the theory](docs/gan-theory.md#the-game) and ![a figure](benchmarks/f.png).",
            "The code: [model.py](src/model.py), [`model.py`](src/model.py); [gone](docs/gone.md).",
            "[web](https://example.org/a.md) [here](#top)",
            "```",
            "[in code](docs/gan-theory.md)",
            "```",
        ]
    )
    out = site.rewrite_links(text, "README.md", pages, root=tmp_path).splitlines()
    assert out[0] == "See [the theory](gan-theory.md#the-game) and ![a figure](benchmarks/f.png)."
    assert out[1] == "The code: model.py (`src/model.py`), `model.py`; [gone](docs/gone.md)."
    assert out[2] == "[web](https://example.org/a.md) [here](#top)"
    assert out[4] == "[in code](docs/gan-theory.md)"
    # from a page one folder down, to a page at the top
    nested = site.rewrite_links(
        "[guide](../../README.md)",
        "docs/tutorials/README.md",
        {**pages, "docs/tutorials/README.md": "tutorials/README.md"},
        root=tmp_path,
    )
    assert nested == "[guide](../guide.md)"


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["genzoo"] = {"quick": False, "seconds": 12.3}
    code = nbformat.v4.new_code_cell("print('hello')\nshow()")
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="step 1\rstep 2\rdone\n" + "line\n" * 100),
        nbformat.v4.new_output(
            "display_data", data={"image/png": base64.b64encode(PNG).decode(), "text/plain": "<Figure>"}
        ),
        nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=1),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\nText with $x_1$ and\n$$\\sum_i x_i$$ inline."), code]
    return nb


def test_a_notebook_becomes_a_page_with_its_outputs():
    text, pictures = site.notebook_page(_notebook(), "01-demo", executed=True, max_lines=10)
    assert pictures == {"01-demo/cell01-1.png": PNG}
    assert "![output](01-demo/cell01-1.png)" in text
    assert "at full size, in 12 s" in text and "(01-demo.ipynb)" in text
    assert "```python\nprint('hello')\nshow()\n```" in text
    assert "```text\ndone\nline\n" in text and "step 1" not in text  # what a terminal leaves of \r
    assert "… (92 more lines)" in text  # 101 lines cut to 10
    assert "```text\n42\n```" in text
    assert "\n\n$$\n\\sum_i x_i\n$$\n\n" in text  # display maths as a block of its own
    # not executed: the code without outputs, and the page says how to get them
    bare, pictures = site.notebook_page(_notebook(), "01-demo", executed=False)
    assert pictures == {} and "step" not in bare and "make notebooks" in bare


def test_formulas_become_mathml():
    page = (
        '<p>a <span class="arithmatex">\\(x_1 &lt; \\frac{a}{b}\\)</span></p>'
        '<div class="arithmatex">\\[\\sum_i x_i\\]</div>'
    )
    out = site.mathml(page)
    assert "arithmatex" not in out and out.count("<math") == 2
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in out
    assert "<mfrac>" in out and "<mo>&#x0003C;</mo>" in out and '<div class="math-block">' in out
    assert "<math" in site.title_math("Choosing \\(h\\) by cross-validation")


def test_every_formula_of_the_tutorials_converts():
    from latex2mathml.converter import convert

    formulas = []
    for path in sorted((ROOT / "docs" / "tutorials").glob("[0-9][0-9]-*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                formulas += [
                    a or b for a, b in re.findall(r"\$\$(.+?)\$\$|\$(.+?)\$", cell.source, flags=re.S)
                ]
    assert len(formulas) > 100
    for tex in formulas:
        drawn = re.sub(r"<[^>]+>", "", convert(tex))
        assert "\\" not in drawn, tex  # no command left undrawn


def test_what_a_page_would_load_from_another_host():
    page = "\n".join(
        [
            '<script src="https://cdn.example.org/mathjax.js"></script>',
            '<link rel="stylesheet" href="//fonts.example.com/css?family=Roboto">',
            "<style>@import 'https://fonts.example.com/x.css';",
            "body { background: url(https://x.org/a.png) }</style>",
            '<img src="assets/logo.png"><script src="search.js"></script>',
            '<a href="https://arxiv.org/abs/1406.2661">paper</a>',
            '<link rel="canonical" href="https://example.org/page.html">',
            '<math xmlns="http://www.w3.org/1998/Math/MathML"></math>',
        ]
    )
    assert site.external_resources(page) == [
        "https://cdn.example.org/mathjax.js",
        "//fonts.example.com/css?family=Roboto",
        "https://fonts.example.com/x.css",
        "https://x.org/a.png",
    ]


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="the docs extra is not installed")
def test_the_site_builds_strict_and_offline(tmp_path):
    """`mkdocs build --strict`, as `make docs` runs it: every page there, the generated tables in,
    formulas drawn, and (the hook's own check) nothing loaded from another host."""
    out = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    families = sorted(p.stem for p in (ROOT / "docs" / "families").glob("*.md"))
    for page in [
        "index",
        "getting-started",
        "guide",
        "architecture",
        "benchmarks",
        "reference/cli",
        "reference/api",
    ]:
        assert (out / f"{page}.html").exists(), page
    for name in families:
        assert (out / "families" / f"{name}.html").exists()
    for nb in (ROOT / "docs" / "tutorials").glob("[0-9][0-9]-*.ipynb"):
        assert (out / "tutorials" / f"{nb.stem}.html").exists()
    vae = (out / "families" / "vaes.html").read_text()
    assert "model.latent_dim" in vae and "<math" in vae
    api = (out / "reference" / "api.html").read_text()
    assert "Build model" in api  # the docstring of genzoo.models.create
    cli = (out / "reference" / "cli.html").read_text()
    assert all(f"genzoo {name}" in cli for name in ("train", "sample", "simulate", "lab"))
    for page in out.rglob("*.html"):
        assert site.external_resources(page.read_text()) == [], page
    shutil.rmtree(out)


def _site_blocks(lang: str) -> list[tuple[str, str]]:
    """(page, block) for the fenced blocks of this language on the site's hand-written pages."""
    out = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        text = page.read_text()
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            if m.group(1) == lang:
                out.append((page.relative_to(ROOT).as_posix(), m.group(2)))
    return out


def test_every_command_line_on_the_site_parses_with_valid_options():
    """Each `genzoo ...` line of the pages' bash blocks is accepted by the parser as written, names a
    model and a dataset that exist, and every --set option is one the model, data or trainer has with
    a value it accepts (the pages' examples were run when written; this keeps them from going stale
    without training anything)."""
    import shlex

    from genzoo.config import build, parse_sets
    from genzoo.data.registry import resolve
    from genzoo.training.trainer import TrainConfig

    parser = build_parser()
    lines = [
        (page, line)
        for page, block in _site_blocks("bash")
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip().startswith("genzoo ")
    ]
    assert len(lines) >= 20
    for page, line in lines:
        words = shlex.split(line, comments=True)
        try:
            args = parser.parse_args(words[1:])
        except SystemExit:
            pytest.fail(f"{page}: `{line.strip()}` does not parse")
        sets = parse_sets(getattr(args, "set", None) or [])
        if words[1] == "train":
            cls = MODELS.get(args.model)
            build(cls.Config, sets.get("model", {}), section="model")
            build(TrainConfig, sets.get("train", {}), section="train")
            if args.data:
                spec, _ = resolve(args.data)
                build(spec.options, sets.get("data", {}), section="data")


def test_every_python_block_on_the_site_compiles():
    blocks = _site_blocks("python")
    assert len(blocks) >= 10
    for page, block in blocks:
        compile(block, page, "exec")
