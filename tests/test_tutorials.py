"""The tutorial notebooks (docs/tutorials): committed without outputs, written with genzoo's public
API alone, each ending with exercises, and each running top to bottom in a fresh Jupyter kernel (here
at the smaller size GENZOO_TUTORIAL_QUICK=1 selects; `make notebooks`, which CI runs, at full size)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

RUNNER = Path(__file__).resolve().parent.parent / "docs" / "tutorials" / "run.py"
_spec = importlib.util.spec_from_file_location("genzoo_tutorials_run", RUNNER)
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)
NOTEBOOKS = run.notebooks()


def test_the_tutorials_are_there():
    assert {"01-density-estimation.ipynb", "02-autoencoders.ipynb", "04-gans.ipynb"} <= {
        p.name for p in NOTEBOOKS
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_is_committed_clean_uses_the_public_api_and_ends_with_exercises(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "outputs are not committed"
    text = "\n".join(c.source for c in code)
    assert "import genzoo" in text
    assert not re.search(r"from genzoo\b|import genzoo\.", text), "only `import genzoo` and its attributes"
    assert not re.search(r"\b\w+\._[A-Za-z]", text), "no private name of genzoo's (or any object's)"
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Exercises")
    assert len(re.findall(r"^\d+\. ", last.source, flags=re.M)) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_runs_top_to_bottom(path):
    assert run.run(path, quick=True) < 120
