"""MkDocs hooks (mkdocs.yml: hooks): the pages the site generates from the repository, the markers
in hand-written pages expanded, repository links made site links, formulas made MathML, and the
check that no built page loads anything from another host. What they generate is docs/site.py's."""

from __future__ import annotations

import importlib.util
import posixpath
import sys
from pathlib import Path

import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))  # the genzoo of this repository, installed or not

_spec = importlib.util.spec_from_file_location("genzoo_docs_site", HERE / "site.py")
site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(site)

EXECUTED = ROOT / "build" / "notebooks"  # docs/tutorials/run.py --out build/notebooks (make notebooks)

# repository files shown as pages or files of the site: repository path -> site path
COPIED = {"README.md": "guide.md", "ARCHITECTURE.md": "architecture.md", "BENCHMARKS.md": "benchmarks.md"}
FAMILY_OF: dict[str, str] = {}  # model name -> its family page, read from the family pages' markers


def _pages() -> dict[str, str]:
    pages = dict(COPIED)
    for path in (ROOT / "docs").rglob("*"):
        rel = path.relative_to(ROOT / "docs").as_posix()
        if path.suffix == ".ipynb" and rel.startswith("tutorials/"):
            pages[f"docs/{rel}"] = rel.removesuffix(".ipynb") + ".md"
        elif path.suffix in (".md", ".png", ".svg", ".jpg"):
            pages[f"docs/{rel}"] = rel
    for path in (ROOT / "benchmarks" / "figures").glob("*.png"):
        pages[path.relative_to(ROOT).as_posix()] = path.relative_to(ROOT).as_posix()
    return pages


PAGES = _pages()


def on_files(files: Files, config) -> Files:
    for source, target in COPIED.items():
        text = (ROOT / source).read_text(encoding="utf-8")
        files.append(File.generated(config, target, content=site.rewrite_links(text, source, PAGES)))
    for path in sorted((ROOT / "benchmarks" / "figures").glob("*.png")):
        files.append(File.generated(config, path.relative_to(ROOT).as_posix(), abs_src_path=str(path)))
    for path in sorted((HERE / "tutorials").glob("[0-9][0-9]-*.ipynb")):
        name = path.stem
        committed = nbformat.read(path, as_version=4)
        shown, executed = committed, False
        done = EXECUTED / path.name
        if done.exists():
            ran = nbformat.read(done, as_version=4)
            if site.source_cells(ran) == site.source_cells(committed):
                shown, executed = ran, True
        text, pictures = site.notebook_page(shown, name, executed=executed)
        text = site.rewrite_links(text, f"docs/tutorials/{path.name}", PAGES)
        files.append(File.generated(config, f"tutorials/{name}.md", content=text))
        for file, data in pictures.items():
            files.append(File.generated(config, f"tutorials/{file}", content=data))
    for page in (HERE / "families").glob("*.md"):
        for kind, argument in site.MARKER.findall(page.read_text(encoding="utf-8")):
            if kind == "options":
                FAMILY_OF.update({name.strip(): page.name for name in argument.split(",")})
    return files


def _expand(kind: str, argument: str, page) -> str:
    if kind == "options":
        return "\n\n".join(site.family_options(name.strip()) for name in argument.split(","))
    if kind == "benchmarks":
        try:
            text = site.section((ROOT / "BENCHMARKS.md").read_text(encoding="utf-8"), argument)
        except KeyError:
            raise PluginError(f"{page.file.src_uri}: BENCHMARKS.md has no section {argument!r}") from None
        return site.rewrite_links(text, "BENCHMARKS.md", {**PAGES, "BENCHMARKS.md": page.file.src_uri})
    if kind == "training":
        return site.training_options()
    if kind == "datasets":
        return site.dataset_options()
    if kind == "metrics":
        return site.metric_list()
    if kind == "abilities":
        from genzoo.models import MODELS

        missing = [name for name in MODELS.names() if name not in FAMILY_OF]
        if missing:
            raise PluginError(f"no family page shows {', '.join(missing)} (<!-- genzoo options: NAME -->)")
        here = posixpath.dirname(page.file.src_uri) or "."
        return site.ability_table(
            lambda name: f"{posixpath.relpath('families/' + FAMILY_OF[name], here)}#{name}"
        )
    if kind == "cli":
        from genzoo.cli import build_parser

        return site.cli_reference(build_parser())
    raise PluginError(f"{page.file.src_uri}: unknown marker 'genzoo {kind}'")


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = site.MARKER.sub(lambda m: _expand(m.group(1), m.group(2), page), markdown)
    source = f"docs/{page.file.src_uri}"
    if not page.file.generated_by and source in PAGES:
        markdown = site.rewrite_links(markdown, source, PAGES)
    return markdown


def on_page_content(html: str, page, config, files) -> str:
    def walk(items) -> None:
        for item in items:
            item.title = site.title_math(item.title)
            walk(item.children)

    walk(page.toc)
    return site.mathml(html)


def on_post_build(config) -> None:
    built = Path(config["site_dir"])
    found = []
    for path in site.files_under(built, ("*.html", "*.css", "*.js")):
        found += [
            f"{path.relative_to(built)}: {url}" for url in site.external_resources(path.read_text("utf-8"))
        ]
    if found:
        raise PluginError("the site would load from other hosts:\n  " + "\n  ".join(found[:20]))
