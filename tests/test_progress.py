"""Progress with the time left, on a terminal (a tqdm bar) and off one (a line every few seconds)."""

from __future__ import annotations

import io
import re
import types

import pytest

import genzoo
from genzoo import progress
from genzoo.progress import Progress, duration, scope


class Clock:
    """A stand-in for time.perf_counter that the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(perf_counter=fake))
    return fake


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_duration_reads_like_a_person():
    assert [duration(s) for s in (0, 44.6, 93, 599, 725, 3600 + 5 * 60 + 10)] == [
        "0 s",
        "45 s",
        "1 min 33 s",
        "9 min 59 s",
        "12 min",
        "1 h 5 min",
    ]


def test_a_line_gives_position_rate_and_time_left(clock):
    out = io.StringIO()
    bar = Progress(5000, desc="vae", stream=out, interval=10)
    for _ in range(1200):
        bar.update(1)
    clock.now += 30  # 1200 steps in 30 s: 40 steps/s, 3800 left → 95 s
    assert bar.line() == "vae: step 1200/5000 (24 %), 40 steps/s, about 1 min 35 s left"
    slow = Progress(10, desc="rbm", stream=out)
    slow.update(1)
    clock.now += 4
    assert slow.line() == "rbm: step 1/10 (10 %), 4 s/step, about 36 s left"


def test_off_a_terminal_one_line_per_interval_and_a_final_line(clock):
    out = io.StringIO()
    bar = Progress(100, desc="gan", stream=out, interval=10)
    for _ in range(100):
        clock.now += 0.5  # 2 steps/s: a line every 20 steps
        bar.update(1)
    bar.close()
    bar.close()  # a second close writes nothing
    lines = out.getvalue().splitlines()
    assert len(lines) == 6, lines
    assert lines[0] == "gan: step 20/100 (20 %), 2 steps/s, about 40 s left"
    assert lines[-1] == "gan: 100 steps in 50 s (2 steps/s)"


def test_a_resumed_run_times_only_its_own_steps_and_a_stop_says_where(clock):
    out = io.StringIO()
    bar = Progress(1000, initial=900, desc="ae", stream=out, interval=1e9)
    for _ in range(50):
        bar.update(1)
    clock.now += 10  # 50 steps in this session, in 10 s: 5 steps/s, 50 left
    assert bar.line() == "ae: step 950/1000 (95 %), 5 steps/s, about 10 s left"
    bar.close()
    assert out.getvalue() == "ae: stopped at step 950/1000 in 10 s (5 steps/s)\n"
    done = Progress(1000, initial=900, desc="ae", stream=out, interval=1e9)
    done.update(100)
    clock.now += 10
    done.close()
    assert out.getvalue().splitlines()[-1] == "ae: steps 901–1000 in 10 s (10 steps/s)"


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(progress.INTERVAL_ENV, "0.25")
    assert Progress(1, stream=io.StringIO()).interval == 0.25
    for bad in ("soon", "-1"):
        monkeypatch.setenv(progress.INTERVAL_ENV, bad)
        assert Progress(1, stream=io.StringIO()).interval == progress.DEFAULT_INTERVAL


def test_disabled_says_nothing_anywhere(clock):
    for stream in (io.StringIO(), Terminal()):
        bar = Progress(10, desc="x", stream=stream, interval=0, enabled=False)
        for _ in range(10):
            clock.now += 1
            bar.update(1)
        bar.close()
        assert stream.getvalue() == ""


def test_a_scope_names_the_work_and_adds_the_outer_estimate(clock):
    out = io.StringIO()
    with scope("[2/5] vae on mnist", lambda snap: f"outer {snap.fraction:.2f}"):
        bar = Progress(100, desc="vae", stream=out, interval=0)
    outside = Progress(100, desc="vae", stream=out, interval=0)
    clock.now += 1
    bar.update(25)
    outside.update(25)
    first, second = out.getvalue().splitlines()
    assert first == "[2/5] vae on mnist: step 25/100 (25 %), 25 steps/s, about 3 s left; outer 0.25"
    assert second == "vae: step 25/100 (25 %), 25 steps/s, about 3 s left"  # the scope ended with its block


def test_on_a_terminal_a_bar_with_the_loss_and_the_outer_estimate(clock):
    term = Terminal()
    with scope("[1/3] ae on mnist", lambda snap: "tour: about 5 min left"):
        bar = Progress(10, desc="ae", stream=term, interval=0)
    for _ in range(10):
        clock.now += 2
        bar.set_postfix(loss="0.125")
        bar.update(1)
    bar.close()
    text = term.getvalue()
    assert "[1/3] ae on mnist" in text and "10/10" in text
    assert "loss=0.125, tour: about 5 min left" in text
    assert "\r" in text and "left;" not in text  # a bar redrawn in place, not the lines


def test_training_off_a_terminal_prints_lines_with_the_time_left(points, capsys, monkeypatch):
    """What `genzoo train ... | tee log` shows: a line with the estimate, and a final line (a
    tqdm bar printed nothing at all where the output was not a terminal)."""
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    model = genzoo.models.create("noisy-mean", points)
    genzoo.train(model, points, steps=30, batch_size=32, seed=0)
    lines = capsys.readouterr().err.splitlines()
    assert any(
        re.fullmatch(r"noisy-mean: step \d+/30 \(\d+ %\), [\d.]+ (steps/s|s/step), about \d+ s left", ln)
        for ln in lines
    ), lines
    assert re.fullmatch(r"noisy-mean: 30 steps in \d+ s \([\d.]+ (steps/s|s/step)\)", lines[-1]), lines
    genzoo.train(
        genzoo.models.create("noisy-mean", points), points, steps=30, batch_size=32, seed=0, progress=False
    )
    assert capsys.readouterr().err == ""


def test_waiting_reports_time_spent_and_left_off_a_terminal():
    import time

    from genzoo.progress import waiting

    out = io.StringIO()
    with scope("[3/6] ddpm on mnist", lambda snap: "tour: about 9 min left"):
        with waiting("evaluating", expected=120, interval=0.05, stream=out):
            time.sleep(0.4)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2, lines
    assert all(
        re.fullmatch(
            r"\[3/6\] ddpm on mnist: evaluating, 0 s so far, about (2 min 0 s|1 min 59 s) left; "
            r"tour: about 9 min left",
            ln,
        )
        for ln in lines
    ), lines
    quiet = io.StringIO()
    with waiting("evaluating", expected=120, interval=0.05, stream=quiet, enabled=False):
        time.sleep(0.2)
    assert quiet.getvalue() == ""
