"""The tour on a tiny budget, and `genzoo compare`."""

from __future__ import annotations

import json
import re

import pytest

from genzoo.cli import main
from genzoo.tour import plan, run_tour
from genzoo.training import checkpoint as ckpt


@pytest.fixture(scope="module")
def tour_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    run_tour(out, quick=True, only=["kde", "vae"], steps=30, eval_n=400, progress=False)
    return out


def test_plan_reads_the_registry():
    families = {name for name, _ in plan()}
    assert {"kde", "vae"} <= families and "noisy-mean" not in families  # a model without tour data is not toured
    assert all(entry.data for _, entry in plan())
    full, quick = plan(["ddpm"]), plan(["ddpm"], quick=True)
    assert [e.data for _, e in full] == ["ring8", "mnist"] and [e.data for _, e in quick] == ["ring8"]  # mnist: full tour only


def test_tour_report_table(tour_dir):
    html = (tour_dir / "index.html").read_text()
    md = (tour_dir / "board.md").read_text()
    for label in ("kde on mnist", "kde on ring8", "vae on mnist", "vae on ring8"):
        assert label in html and label in md
        assert (tour_dir / "runs" / label.replace(" on ", "-") / ckpt.METRICS).is_file()
    header = next(line for line in md.splitlines() if line.startswith("| run"))
    for col in ("NLL (nats)", "FD", "precision", "recall", "coverage", "modes", "train s"):
        assert col in header, col
    rows = [line for line in md.splitlines() if line.startswith("| vae on ring8")]
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    cols = [c.strip() for c in header.strip("|").split("|")]
    modes = cells[cols.index("modes")]
    assert re.fullmatch(r"\d+ \(\d+\)", modes), modes  # model (floor): the floor of real data is 8
    assert modes.endswith("(8)")
    assert "Mode coverage" in html and html.count("data:image/png;base64,") >= 5
    assert "http://" not in html and "https://" not in html


def test_tour_metrics_protocol(tour_dir):
    doc = json.loads((tour_dir / "runs" / "vae-mnist" / ckpt.METRICS).read_text())
    assert doc["n"] == 400 and doc["n_real"] == 200 and doc["n_fake"] == 200
    assert "classifier" in doc["features"]
    m = doc["metrics"]
    assert m["nll"]["kind"] == "estimate" and m["fd"]["floor"] >= 0
    assert 0 <= m["pr"]["precision"] <= 1 and 0 <= m["dc"]["coverage"] <= 1
    assert (tour_dir / "runs" / "vae-mnist" / "memorization.png").is_file()


def test_failing_family_is_reported_and_the_tour_goes_on(tmp_path, monkeypatch):
    import genzoo.tour as tour

    real = tour.create

    def broken(name, *a, **kw):
        if name == "kde":
            raise RuntimeError("boom")
        return real(name, *a, **kw)

    monkeypatch.setattr(tour, "create", broken)
    path = run_tour(tmp_path, quick=True, only=["kde", "vae"], steps=5, eval_n=100, progress=False)
    html = path.read_text()
    assert "failed: RuntimeError: boom" in html
    assert (tmp_path / "runs" / "vae-ring8" / ckpt.METRICS).is_file()  # the families after it still ran


def test_compare_md_and_html(tour_dir, tmp_path, capsys):
    runs = [str(tour_dir / "runs" / name) for name in ("kde-ring8", "vae-ring8")]
    assert main(["compare", *runs, "--out", str(tmp_path / "b.md")]) == 0
    md = (tmp_path / "b.md").read_text()
    assert "kde-ring8" in md and "vae-ring8" in md and "modes" in md and "parameters" in md
    assert main(["compare", *runs, "--out", str(tmp_path / "b.html")]) == 0
    assert "data:image/png;base64," in (tmp_path / "b.html").read_text()
    assert main(["compare", *runs, "--out", str(tmp_path / "b.txt")]) == 2
    assert main(["compare", str(tmp_path / "nope"), "--out", str(tmp_path / "c.md")]) == 2
    err = capsys.readouterr().err
    assert "unsupported file type '.txt'" in err and "run directory not found" in err


@pytest.mark.parametrize(
    "metrics, log",
    [
        (json.dumps({"n": 9, "n_real": 9, "sample_seconds_per_1000": "fast", "metrics": [1, 2]}).encode(), b'{"step": "x"}\n[1]\n'),
        (json.dumps({"split": {"a": 1}, "seed": [0], "metrics": {"fd": {"fd": "low", "floor": "n/a"}, "nll": 3}}).encode(),
         b"\xff\xfe\n" + json.dumps({"step": 3, "time": "late", "loss": "high"}).encode()),
        (b"\xff\xfe not json", b"[" * 100_000),
    ],
    ids=["wrong-types", "odd-values", "not-utf8-and-deep"],
)
def test_compare_and_report_take_hand_edited_metrics_and_logs(tour_dir, tmp_path, capsys, metrics, log):
    """A metrics.json or log.jsonl edited by hand: the board and the report show what they can and say
    the rest, without a traceback (fuzzing found a KeyError on a metrics.json without n_fake)."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tour_dir / "runs" / "kde-ring8", run)
    (run / ckpt.METRICS).write_bytes(metrics)
    (run / ckpt.LOG).write_bytes(log)
    for out in ("b.md", "b.html"):
        assert main(["compare", str(run), "--out", str(tmp_path / out)]) == 0, capsys.readouterr().err
    assert "run" in (tmp_path / "b.md").read_text()
    assert main(["report", str(run)]) == 0, capsys.readouterr().err
    assert (run / "report.html").is_file()
