"""The layer contract (ARCHITECTURE.md): every module of genzoo sits in one layer and imports only
from its own layer and the ones below, at module level or inside a function alike; no module imports
another's private (underscore) names. Read from the source with `ast`, so nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "genzoo"

# bottom to top; a module may import from its own layer and the layers below
LAYERS: dict[str, int] = {
    # 0: what every layer may use
    "errors": 0,
    "config": 0,
    "registry": 0,
    "version": 0,
    "atomic": 0,
    "progress": 0,
    "threads": 0,
    "distributed": 0,
    # 1: data, networks, numerics
    "data": 1,
    "nn": 1,
    "geostat": 1,
    "diffusion": 1,
    "pictures": 1,
    # 2: the model families
    "models": 2,
    "runfiles": 2,  # a run's or model folder's files: config, weights and checksums, lock, log
    "hub": 2,  # model folders: the model card, save_pretrained / from_pretrained
    # 3: what trains and what scores them
    "training": 3,
    "metrics": 3,
    # 4: pictures and pages of runs; the catalog of models, datasets and metrics
    "viz": 4,
    "catalog": 4,
    # 5: the main job and the command line
    "tour": 5,
    "lab": 5,
    "cli": 5,
    "sklearn": 5,  # scikit-learn estimators over models and training
    # 6: the package's public API (`import genzoo`), which no module of it imports
    "__init__": 6,
    "__main__": 6,
}


def _top(parts: list[str]) -> str:
    """The layer key of a dotted genzoo name: genzoo.models.vae -> models; genzoo -> __init__."""
    return parts[1] if len(parts) > 1 else "__init__"


def _is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, imported genzoo module as a dotted name, the name taken from it or None) for every
    import in `path`, relative imports resolved."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    package = ["genzoo", *parts[:-1]]  # the package a relative import starts from
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == "genzoo"]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            if target.split(".")[0] != "genzoo":
                continue
            for a in node.names:
                if target == "genzoo" and _is_module(a.name):  # from genzoo import threads: a submodule
                    out.append((node.lineno, f"genzoo.{a.name}", None))
                else:
                    out.append((node.lineno, target, a.name))
    return out


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{line}"


def test_every_module_has_a_layer():
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in SOURCES}
    assert tops - set(LAYERS) == set(), (
        "place these in a layer of tests/test_architecture.py and ARCHITECTURE.md"
    )


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in SOURCES:
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for line, target, _ in imports(path):
            other = _top(target.split("."))
            if LAYERS[other] > LAYERS[own]:
                upward.append(
                    f"{_where(path, line)}: {own} (layer {LAYERS[own]}) imports {target} (layer "
                    f"{LAYERS[other]})"
                )
    assert upward == []


def test_no_module_imports_another_modules_private_names():
    private = [
        f"{_where(path, line)}: from {target} import {name}"
        for path in SOURCES
        for line, target, name in imports(path)
        if name is not None and name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from genzoo.viz import plots\n", [(1, "genzoo.viz", "plots")]),
        ("from genzoo import threads\n", [(1, "genzoo.threads", None)]),
        ("import genzoo\n", [(1, "genzoo", None)]),
        ("def f():\n    from genzoo.viz.plots import _png_image\n", [(2, "genzoo.viz.plots", "_png_image")]),
        ("from .base import DataInfo\n", [(1, "genzoo.models.base", "DataInfo")]),
        ("from ..errors import GenzooError\n", [(1, "genzoo.errors", "GenzooError")]),
    ],
)
def test_the_reader_finds_every_kind_of_import(tmp_path, monkeypatch, source, expected):
    """The checks above are only as good as `imports`: module-level, function-level, relative and
    submodule imports, as read from a file placed at genzoo/models/probe.py."""
    root = tmp_path / "genzoo"
    (root / "models").mkdir(parents=True)
    (root / "threads.py").write_text("")
    (root / "models" / "probe.py").write_text(source)
    monkeypatch.setitem(globals(), "PACKAGE", root)
    assert imports(root / "models" / "probe.py") == expected


def test_an_upward_import_is_caught(tmp_path, monkeypatch):
    """A model module importing viz is reported (the contract can fail)."""
    root = tmp_path / "genzoo"
    (root / "models").mkdir(parents=True)
    (root / "models" / "bad.py").write_text("def f():\n    from genzoo.viz.plots import panels\n")
    monkeypatch.setitem(globals(), "PACKAGE", root)
    monkeypatch.setitem(globals(), "SOURCES", [root / "models" / "bad.py"])
    with pytest.raises(AssertionError, match=r"models \(layer 2\) imports genzoo.viz.plots \(layer 4\)"):
        test_no_module_imports_from_a_layer_above_its_own()
