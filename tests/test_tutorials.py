"""The tutorial notebooks (docs/tutorials): committed without outputs, written with genzoo's public
API alone, each ending with exercises. Running them is `make notebooks` (docs/tutorials/run.py: each
notebook top to bottom in a fresh Jupyter kernel, at full size), which CI runs after the tests — about
three minutes, too long for this suite; here the runner itself is tested on two tiny notebooks."""

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
PUBLIC = {"genzoo", "genzoo.geostat", "genzoo.sklearn"}  # what the README's examples import


def test_the_tutorials_are_there():
    assert [p.name[:3] for p in NOTEBOOKS] == [f"0{k}-" for k in range(1, 8)]  # the seven chapters


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_is_committed_clean_uses_the_public_api_and_ends_with_exercises(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "outputs are not committed"
    text = "\n".join(c.source for c in code)
    assert "import genzoo" in text
    for module in re.findall(r"(?:from|import) (genzoo[\w.]*)", text):  # genzoo and its public packages
        assert module in PUBLIC, f"{module} is not part of the public API"
    assert not re.search(r"\b\w+\._[A-Za-z]", text), "no private name of genzoo's (or any object's)"
    assert "GENZOO_TUTORIAL_QUICK" in text  # a smaller run for quick checks (run.py --quick)
    for cell in code:  # every cell is Python that parses
        compile(cell.source, path.name, "exec")
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Exercises")
    assert len(re.findall(r"^\d+\. ", last.source, flags=re.M)) >= 3


def test_the_runner_runs_a_notebook_in_a_kernel_and_fails_on_an_error(tmp_path, monkeypatch, capsys):
    cell = nbformat.v4.new_code_cell
    good = nbformat.v4.new_notebook(
        cells=[
            cell(
                "import os, genzoo\nassert os.environ['GENZOO_TUTORIAL_QUICK'] == '1'\nprint(genzoo.version)"
            )
        ]
    )
    bad = nbformat.v4.new_notebook(cells=[cell("x = 1"), cell("raise ValueError('cell two fails')")])
    nbformat.write(good, tmp_path / "01-good.ipynb")
    nbformat.write(bad, tmp_path / "02-bad.ipynb")
    monkeypatch.setattr(run, "HERE", tmp_path)
    assert [p.name for p in run.notebooks()] == ["01-good.ipynb", "02-bad.ipynb"]
    assert run.main(["--quick"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"01-good.ipynb: \d+ s", out)
    assert "02-bad.ipynb: FAILED" in out and "cell two fails" in out
    assert (
        nbformat.read(tmp_path / "02-bad.ipynb", as_version=4).cells[0].outputs == []
    )  # nothing written back
