"""The tour on a tiny budget, and `genzoo compare`."""

from __future__ import annotations

import json
import re

import pytest

from genzoo.cli import main
from genzoo.models.base import TourEntry
from genzoo.tour import plan, run_tour
from genzoo.training import checkpoint as ckpt


@pytest.fixture(scope="module")
def tour_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    run_tour(out, quick=True, only=["kde", "vae"], steps=30, eval_n=400, progress=False)
    return out


def test_plan_reads_the_registry():
    families = {name for name, _ in plan()}
    assert {
        "kde",
        "vae",
    } <= families and "noisy-mean" not in families  # a model without tour data is not toured
    assert all(entry.data for _, entry in plan())
    full, quick = plan(["ddpm"]), plan(["ddpm"], quick=True)
    assert [e.data for _, e in full] == ["ring8", "mnist"] and [e.data for _, e in quick] == [
        "ring8"
    ]  # mnist: full tour only


def md_tables(md: str) -> dict[str, list[list[list[str]]]]:
    """board.md's tables under each "## dataset" heading: {dataset: [table, ...]}, header row first."""
    out: dict[str, list[list[list[str]]]] = {}
    heading, inside = None, False
    for line in md.splitlines():
        if line.startswith("## "):
            heading, inside = line[3:], False
        elif line.startswith("|---"):
            continue
        elif line.startswith("| ") and heading is not None:
            if not inside:
                out.setdefault(heading, []).append([])
            out[heading][-1].append([c.strip() for c in line.strip("|").split("|")])
            inside = True
        else:
            inside = False
    return out


def test_tour_report_table(tour_dir):
    html = (tour_dir / "index.html").read_text()
    md = (tour_dir / "board.md").read_text()
    for label in ("kde on mnist", "kde on ring8", "vae on mnist", "vae on ring8"):
        assert label in html and label in md
        assert (tour_dir / "runs" / label.replace(" on ", "-") / ckpt.METRICS).is_file()
    tables = md_tables(md)
    assert sorted(tables) == ["mnist", "ring8"]  # one headline and one "more" table per dataset
    (head, *rows), (more, *_) = tables["ring8"]
    assert head[:4] == ["run", "FD", "precision", "recall"] and head[-1] == "train s"
    assert {"NLL (nats)", "modes", "HQ rate"} <= set(head) and "coverage" in more and "coverage" not in head
    assert {r[0] for r in rows} == {"kde on ring8", "vae on ring8"}
    modes = dict(zip(head, next(r for r in rows if r[0] == "vae on ring8")))["modes"]
    assert re.fullmatch(r"\d+ \(\d+\)", modes), modes  # model (floor): the floor of real data is 8
    assert modes.endswith("(8)")
    (head, *rows), _ = tables["mnist"]
    assert (
        head[:6] == ["run", "recognisable", "class TV", "FD", "precision", "recall"] and "modes" not in head
    )  # what a person sees, first
    assert "Mode coverage" in html and html.count("data:image/png;base64,") >= 5
    assert "http://" not in html and "https://" not in html


def test_tour_page_opens_with_a_gallery_of_real_data_and_each_run(tour_dir):
    html = (tour_dir / "index.html").read_text()
    assert html.index('id="gallery"') < html.index('id="how-to-read"') < html.index('id="board"')
    groups = dict(
        re.findall(r'<div class="gallery-group" data-dataset="([^"]+)">(.*?)</div></div>', html, re.S)
    )
    assert sorted(groups) == ["mnist", "ring8"]
    for data, chunk in groups.items():
        tiles = re.findall(r'<figure class="tile (\w+)"(?: data-run="([^"]*)")?>(.*?)</figure>', chunk, re.S)
        assert [(kind, run) for kind, run, _ in tiles] == [
            ("real", ""),
            ("run", f"kde on {data}"),
            ("run", f"vae on {data}"),
        ]
        assert all(
            'src="data:image/png;base64,' in body for _, _, body in tiles
        )  # the real data and every run: a picture
        assert "trained " in tiles[-1][2] and "(floor " in tiles[-1][2]
    assert (
        "modes↑" in groups["ring8"] and "recognisable↑" in groups["mnist"]
    )  # digits: the recognisable share heads


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
        (
            json.dumps({"n": 9, "n_real": 9, "sample_seconds_per_1000": "fast", "metrics": [1, 2]}).encode(),
            b'{"step": "x"}\n[1]\n',
        ),
        (
            json.dumps(
                {"split": {"a": 1}, "seed": [0], "metrics": {"fd": {"fd": "low", "floor": "n/a"}, "nll": 3}}
            ).encode(),
            b"\xff\xfe\n" + json.dumps({"step": 3, "time": "late", "loss": "high"}).encode(),
        ),
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


# --- progress, the page after each entry, continuing -------------------------------------------
TINY = [
    ("kde", TourEntry("ring8", 0, 0)),
    ("vae", TourEntry("ring8", 20, 20, params={"latent_dim": 2, "hidden": (16, 16)})),
]


@pytest.fixture
def tiny(monkeypatch):
    """A two-entry tour on ring8 (a KDE, then a 20-step VAE), scored on 100 examples."""
    import genzoo.tour as tour

    monkeypatch.setattr(tour, "plan", lambda only=None, *, quick=False: TINY)
    return lambda out, **kw: run_tour(out, **{"quick": True, "eval_n": 100, **kw})


def _files(run_dir):
    return {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}


def _count_steps(monkeypatch):
    """Count the training steps taken from now on, per model."""
    from genzoo.training.trainer import Trainer

    real, counts = Trainer._one_step, {}

    def counted(self):
        counts[self.model.name] = counts.get(self.model.name, 0) + 1
        return real(self)

    monkeypatch.setattr(Trainer, "_one_step", counted)
    return counts


def test_progress_lines_off_a_terminal_carry_the_tour_time_left(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENZOO_PROGRESS_INTERVAL", "0")
    tiny(tmp_path)
    lines = capsys.readouterr().err.splitlines()
    assert any(
        re.fullmatch(r"\[1/2\] kde on ring8 \(quick budget\); tour: about .+ left", ln) for ln in lines
    ), lines
    step = (
        r"\[2/2\] vae on ring8: step \d+/20 \(\d+ %\), [\d.]+ (steps/s|s/step), "
        r"about .+ left; tour: about .+ left"
    )
    assert sum(bool(re.fullmatch(step, ln)) for ln in lines) >= 10, lines
    assert any(
        re.fullmatch(r"\[2/2\] vae on ring8: 20 steps in .+; tour: about .+ left", ln) for ln in lines
    ), lines
    assert any(
        re.fullmatch(r"    evaluating on 100 examples \(about .+\); tour: about .+ left", ln) for ln in lines
    ), lines


def test_an_interrupted_tour_shows_what_it_did_and_continues(tiny, tmp_path, capsys, monkeypatch):
    """Ctrl-C in the second entry's training: the page lists the first entry and the second as
    still to run; the same command again keeps the first and continues the second's training."""
    import signal

    from genzoo.training.trainer import Trainer

    real = Trainer._one_step

    def interrupted(self):
        if self.model.name == "vae" and self.step == 10:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C does: the trainer saves step 11 and stops
        return real(self)

    monkeypatch.setattr(Trainer, "_one_step", interrupted)
    with pytest.raises(KeyboardInterrupt, match="run the same command again"):
        tiny(tmp_path)
    html, md = (tmp_path / "index.html").read_text(), (tmp_path / "board.md").read_text()
    for page in (html, md):
        assert "kde on ring8" in page and "Still to run" in page
        assert page.index("Still to run") < page.index("vae on ring8")  # listed as pending, not as a result
    assert "1 of 2 runs finished" in html
    state = json.loads((tmp_path / "tour.json").read_text())["entries"]
    assert state["kde-ring8"]["status"] == "done" and state["vae-ring8"]["status"] == "started"
    assert state["kde-ring8"]["run"]["budget"] == "quick" and state["kde-ring8"]["run"]["eval_n"] == 100
    kde = _files(tmp_path / "runs" / "kde-ring8")
    capsys.readouterr()

    monkeypatch.setattr(Trainer, "_one_step", real)
    steps = _count_steps(monkeypatch)
    tiny(tmp_path)
    err = capsys.readouterr().err
    assert (
        f"continuing: 1 of 2 entries already done in {tmp_path}" in err
        and "continuing its interrupted training" in err
    )
    assert _files(tmp_path / "runs" / "kde-ring8") == kde  # kept as it was
    assert steps == {"vae": 9}  # steps 12..20 only: resumed from the checkpoint of step 11
    html = (tmp_path / "index.html").read_text()
    assert "Still to run" not in html and "vae on ring8" in html and "2 runs of 2 families" in html
    assert "Mode coverage" in html
    state = json.loads((tmp_path / "tour.json").read_text())["entries"]
    assert {k: v["status"] for k, v in state.items()} == {"kde-ring8": "done", "vae-ring8": "done"}
    assert (tmp_path / "runs" / "vae-ring8" / ckpt.METRICS).is_file()


def test_a_finished_tour_is_kept_and_other_parameters_start_over(tiny, tmp_path, capsys, monkeypatch):
    from genzoo.tour import measured_times

    tiny(tmp_path)
    times = measured_times(tmp_path)  # what a tour_times.json is made of
    assert (
        times["vae-ring8"]["steps"] == 20
        and times["vae-ring8"]["n"] == 100
        and times["vae-ring8"]["train"] > 0
    )
    assert (
        times["kde-ring8"]["steps"] == 0
        and times["kde-ring8"]["train"] == 0
        and times["kde-ring8"]["evaluate"] > 0
    )
    before = {k: _files(tmp_path / "runs" / k) for k in ("kde-ring8", "vae-ring8")}
    page = (tmp_path / "index.html").read_text()
    capsys.readouterr()
    steps = _count_steps(monkeypatch)
    tiny(tmp_path)  # the same parameters: nothing runs again, the page is rebuilt alike
    assert "continuing: 2 of 2 entries already done" in capsys.readouterr().err
    assert steps == {} and {k: _files(tmp_path / "runs" / k) for k in before} == before
    again = (tmp_path / "index.html").read_text()
    assert (
        again.count("data:image/png;base64,") == page.count("data:image/png;base64,")
        and "Mode coverage" in again
    )

    tiny(tmp_path, eval_n=120)  # another evaluation size: both start over
    assert "0 of 2 entries already done in" in capsys.readouterr().err and steps == {"vae": 20}
    assert json.loads((tmp_path / "runs" / "vae-ring8" / ckpt.METRICS).read_text())["n"] == 120
    tiny(tmp_path, eval_n=120, overwrite=True)
    assert "continuing" not in capsys.readouterr().err and steps == {"vae": 40}


def test_the_time_left_scales_the_reference_by_this_machines_speed():
    from genzoo.progress import Snapshot
    from genzoo.tour import Clock, Reference

    clock = Clock({"a": Reference(10, 5, 1), "b": Reference(20, 10, 2)})
    assert clock.left() == 48  # nothing timed yet: the reference itself
    clock.start("a")
    clock.finish(32.0, ok=True)  # twice as slow as the reference
    assert clock.speed() == 2 and clock.left() == 64
    clock.start("b")
    # b's training: 45 of 100 steps in 45 s (9 reference seconds: five times as slow), its own estimate 55 s;
    # a, finished 9 reference seconds earlier, weighs 2^(-9/120)
    snap = Snapshot(done=45, total=100, elapsed=45.0, rate=1.0, left=55.0)
    w = 0.5 ** (9 / Clock.HALF_LIFE)
    rho = (w * 32 + 45) / (w * 16 + 9)
    assert clock.speed(snap) == pytest.approx(rho) and rho > (32 + 45) / (
        16 + 9
    )  # the recent work counts more
    assert clock.left(snap) == pytest.approx(
        55 + rho * (10 + 2)
    )  # the rest of its training, then its evaluation
    clock.train_done(50.0)  # its whole loop took 50 s for 20 reference seconds
    w = 0.5 ** (20 / Clock.HALF_LIFE)
    rho = (w * 32 + 50) / (w * 16 + 20)
    assert clock.speed() == pytest.approx(rho)
    assert clock.left() == pytest.approx(rho * (10 + 2), abs=0.05)  # its evaluation and the rest
    clock.finish(100.0, ok=False)  # a failure says nothing of the speed
    assert clock.speed() == 2 and clock.left() == 0


def test_reference_scales_by_steps_and_examples_and_knows_every_quick_entry():
    from genzoo.tour import Reference, reference, reference_times, run_key

    table = {
        "x-mnist": {"steps": 100, "train": 10.0, "n": 1000, "test_n": 1000, "evaluate": 8.0, "other": 2.0}
    }
    assert reference("x-mnist", 50, quick=True, eval_n=None, table=table) == Reference(5.0, 8.0, 2.0)
    assert reference("x-mnist", 100, quick=True, eval_n=250, table=table) == Reference(10.0, 2.0, 2.0)
    assert reference("y-mnist", 10, quick=True, eval_n=None, table=table) == Reference(
        1.0, 8.0, 2.0
    )  # unknown: the median entry
    shipped = reference_times()
    missing = [run_key(n, e) for n, e in plan(quick=True) if run_key(n, e) not in shipped]
    assert not missing, f"tour_times.json lacks {missing}: measure them (see its 'about')"


def test_the_intro_counts_threads_in_words():
    """The page says the thread counts the runs trained with (recorded in each config.json), in words."""
    import genzoo.tour as tour

    assert "on 1 CPU thread (" in tour._intro(TINY, 2, 60.0, quick=True, counts=[1, 1])
    assert "on 4 CPU threads (" in tour._intro(TINY, 2, 60.0, quick=True, counts=[4])
    assert "chosen per run (1 for 1 run, 2 for 3 runs)" in tour._intro(
        TINY, 2, 60.0, quick=True, counts=[2, 1, 2, 2]
    )


def test_the_intro_reads_the_counts_from_the_runs(tmp_path):
    from genzoo.tour import _thread_counts

    for name, count in (("a", 1), ("b", 2)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(
            json.dumps({"threads": {"count": count, "how": "timed"}})
        )
    (tmp_path / "c").mkdir()  # no config: left out
    assert _thread_counts([tmp_path / "a", tmp_path / "b", tmp_path / "c"]) == [1, 2]


def test_the_mode_markers_lie_under_the_samples():
    """Hollow 3σ circles drawn below the points (red crosses on top hid the samples they marked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    from genzoo.data import load
    from genzoo.tour import draw_modes, mode_figure

    data = load("ring8", split="test")
    fig, ax = plt.subplots()
    draw_modes(ax, "ring8 data", data.x[:500], data)
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len(circles) == 8 and all(
        not c.get_fill() and c.get_radius() == pytest.approx(3 * 0.02) for c in circles
    )
    assert max(c.get_zorder() for c in circles) < min(s.get_zorder() for s in ax.collections)
    plt.close(fig)
    png = mode_figure([("ring8 data", data.x[:500], data)])
    assert png is not None and png.startswith(b"\x89PNG")


def test_a_second_tour_into_the_same_folder_is_refused(tmp_path) -> None:
    """One tour writes OUT at a time: another process's tour into it is refused naming its pid."""
    import subprocess
    import sys
    import time

    from genzoo.errors import GenzooError

    out = tmp_path / "tour"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\nfrom genzoo.training.checkpoint import run_lock\n"
                f"with run_lock({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(GenzooError, match=f"is in use: process {holder.pid}"):
            run_tour(out, only=["kde"], steps=2, eval_n=50, progress=False)
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert run_tour(out, only=["kde"], quick=True, eval_n=50, progress=False).is_file()


def test_the_full_tour_trains_with_the_entrys_full_training_options(tmp_path, monkeypatch):
    import genzoo.tour as tour

    entry = TourEntry(
        "ring8",
        3,
        4,
        params={"latent_dim": 2, "hidden": (8,)},
        train={"lr": 1e-3},
        full_train={"lr": 2e-4, "ema": 0.999},
    )
    assert entry.train_options(quick=True) == {"lr": 1e-3} and entry.train == {
        "lr": 1e-3
    }  # `train` is not changed
    assert entry.train_options(quick=False) == {"lr": 2e-4, "ema": 0.999}
    monkeypatch.setattr(tour, "plan", lambda only=None, *, quick=False: [("vae", entry)])
    for quick, lr, ema, steps in ((True, 1e-3, None, 3), (False, 2e-4, 0.999, 4)):
        out = tmp_path / ("quick" if quick else "full")
        run_tour(out, quick=quick, eval_n=50, progress=False)
        config = json.loads((out / "runs" / "vae-ring8" / "config.json").read_text())["train"]
        assert (config["lr"], config["ema"], config["steps"]) == (lr, ema, steps)
        recorded = json.loads((out / "tour.json").read_text())["entries"]["vae-ring8"]["run"]["entry"][
            "train"
        ]
        assert recorded == (
            {"lr": lr} if quick else {"lr": lr, "ema": ema}
        )  # what the entry ran with, as tour.json keeps it
