"""The intra-op thread count: timed on a copy of the model at the start of training (and again
when the rate changes), recorded in the run, kept by --resume, given by --threads to every command
that computes — and a choice that never changes what a seeded run computes at a given count."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import torch

import genzoo
from genzoo import threads
from genzoo.cli import build_parser, main
from genzoo.training import checkpoint as ckpt
from genzoo.training.trainer import Trainer


def _sleeper(per_count: dict[int, float]):
    """A 'training step' whose duration depends on torch's thread count, as a real one does."""

    def step() -> None:
        time.sleep(per_count[torch.get_num_threads()])

    return step


@pytest.mark.parametrize(("per_count", "best"), [({1: 0.004, 2: 0.012}, 1), ({1: 0.012, 2: 0.004}, 2)])
def test_probe_picks_the_faster_count_and_restores_torchs(per_count, best) -> None:
    before = torch.get_num_threads()
    result = threads.probe(_sleeper(per_count), [1, 2], budget=0.1)
    assert result.best == best and torch.get_num_threads() == before
    assert result.seconds[best] == pytest.approx(per_count[best], rel=0.5)


def test_a_count_that_collapses_is_dropped_after_one_step() -> None:
    """Beside busy processes one count can be 50× slower: it is timed once (its warm-up), not again."""
    calls = {1: 0, 2: 0}

    def step() -> None:
        n = torch.get_num_threads()
        calls[n] += 1
        time.sleep(0.002 if n == 1 else 0.1)

    result = threads.probe(step, [1, 2], budget=0.05)
    assert result.best == 1 and calls[2] == 1 and result.took < 0.5


def test_a_smaller_count_within_three_percent_wins() -> None:
    assert threads.Probe({1: 1.02, 2: 1.0}, 10, 1.0).best == 1
    assert threads.Probe({1: 1.05, 2: 1.0}, 10, 1.0).best == 2


def test_the_tuner_asks_for_a_new_probe_when_the_rate_moves() -> None:
    tuner = threads.Tuner(window=0.5, cooldown=1.0)
    assert not any(tuner.observe(0.01) for _ in range(200))  # 2 s at a steady rate: its reference
    assert not any(tuner.observe(0.011) for _ in range(100))  # 10 % slower: noise
    asks = [tuner.observe(0.03) for _ in range(40)]  # 3× slower (another process started)
    assert any(asks)


def test_only_the_free_cores_are_candidates(tmp_path, monkeypatch) -> None:
    """Beside a busy process (one core of two free) 1 thread is chosen without timing 2, whose one
    step there could take longer than the whole run."""
    monkeypatch.setattr(Trainer, "PROBE_MIN_STEPS", 0)
    monkeypatch.setattr(threads, "by_load", lambda interval=0.1: 1)
    monkeypatch.setattr(
        threads, "probe", lambda *a, **k: pytest.fail("timed although one count was possible")
    )
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    data = genzoo.datasets.load("ring8")
    genzoo.train(genzoo.models.create("gan", data), data, out=tmp_path / "r", steps=20, progress=False)
    chosen = json.loads((tmp_path / "r" / ckpt.CONFIG).read_text())["threads"]
    assert chosen["count"] == 1 and chosen["how"].startswith("free cores (1 of")


def test_candidates_and_cpu_count() -> None:
    assert (
        threads.candidates(1) == [1]
        and threads.candidates(2) == [1, 2]
        and threads.candidates(6) == [1, 2, 4, 6]
    )
    assert 1 <= threads.cpu_count() <= (torch.multiprocessing.cpu_count() or 1)


def test_busy_cores_sees_a_busy_process() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert threads.busy_cores(0.5) >= 0.7
        threads._LOAD.clear()
        free = threads.by_load(0.5)
        assert 1 <= free <= max(1, threads.cpu_count() - 1)  # the busy core is not counted as free
    finally:
        spinner.kill()
        spinner.wait()


def test_the_load_is_measured_once_for_many_small_runs(monkeypatch) -> None:
    threads._LOAD.clear()
    first = threads.by_load(0.05)
    monkeypatch.setattr(
        threads, "busy_cores", lambda interval=0.1: pytest.fail("measured again within LOAD_TTL")
    )
    assert threads.by_load(0.05) == first


# --- in the trainer ----------------------------------------------------------------------------
@pytest.fixture
def always_probe(monkeypatch):
    """Time 1 and 2 threads in every run, however short and whatever the machine's load."""
    monkeypatch.setattr(Trainer, "PROBE_MIN_STEPS", 0)
    monkeypatch.setattr(Trainer, "PROBE_MIN_SECONDS", 0.0)
    monkeypatch.setattr(Trainer, "PROBE_MAX_SHARE", float("inf"))
    monkeypatch.setattr(threads, "by_load", lambda interval=0.1: 2)
    monkeypatch.setattr(threads, "candidates", lambda n=None: [1, 2])
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def _conv_run(out, **options):
    data = genzoo.datasets.load("digits", split="train")
    model = genzoo.models.create("ddpm", data, seed=0, channels=(8, 16), timesteps=50)
    return genzoo.train(
        model, data, out=out, steps=12, seed=0, batch_size=16, progress=False, log_every=2, **options
    )


def test_the_probe_leaves_the_run_as_a_fixed_count_would(tmp_path, always_probe) -> None:
    """The probe trains a copy (its own optimisers, a fixed batch, the RNG restored): the run that
    follows is bit-identical to one given the chosen count with --threads — on a conv net, whose
    bits do depend on the count."""
    auto = _conv_run(tmp_path / "auto")
    cfg = json.loads((tmp_path / "auto" / ckpt.CONFIG).read_text())
    chosen = cfg["threads"]
    assert chosen["how"] == "timed" and set(chosen["steps_per_s"]) == {"1", "2"}
    assert cfg["train"]["threads"] is None  # auto, as asked; the count it chose is beside it
    fixed = _conv_run(tmp_path / "fixed", threads=chosen["count"])
    a, b = auto.model.state_dict(), fixed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(r["threads"] == chosen["count"] for r in ckpt.read_log(tmp_path / "auto"))
    again = _conv_run(tmp_path / "again", threads=chosen["count"])  # a seeded rerun at that count
    assert all(torch.equal(again.model.state_dict()[k], b[k]) for k in b)


def test_resume_keeps_the_runs_count(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    data = genzoo.datasets.load("ring8")
    run = genzoo.train(
        genzoo.models.create("gan", data), data, out=tmp_path / "r", steps=5, threads=1, progress=False
    )
    assert ckpt.load_state(tmp_path / "r" / ckpt.STATE)["threads"] == 1
    run = genzoo.train(
        genzoo.models.create("gan", data), data, out=tmp_path / "r", steps=300, resume=True, progress=False
    )
    assert run.step == 300
    assert [r["threads"] for r in ckpt.read_log(tmp_path / "r")][-1] == 1
    assert json.loads((tmp_path / "r" / ckpt.CONFIG).read_text())["threads"]["how"].startswith(
        "the run's count"
    )


def test_a_change_of_load_times_the_counts_again(tmp_path, always_probe, monkeypatch) -> None:
    """When the tuner sees the rate move, the counts are timed again from the current weights (on a
    copy of the model), and the run goes on untouched: with the count it then uses pinned to 1, it
    equals a run at --threads 1. (Pinned, because an MLP's bits do depend on the count on some CPUs:
    a gan on ring8 ends 80 steps up to 1e-2 apart at 1 and 2 threads on an Intel Xeon, bit-equal
    on an AMD EPYC.)"""
    asked = []

    def observe(self, seconds):  # the machine's load "changes" at step 40
        asked.append(seconds)
        return len(asked) == 40

    monkeypatch.setattr(threads.Tuner, "observe", observe)
    data = genzoo.datasets.load("ring8")
    probes = []
    original = Trainer._probe_threads

    def counting(self, *, first=False):
        probes.append(self.step)
        return {**original(self, first=first), "count": 1}

    monkeypatch.setattr(Trainer, "_probe_threads", counting)
    run = genzoo.train(genzoo.models.create("gan", data, seed=0), data, steps=80, seed=0, progress=False)
    assert probes == [0, 40]
    fixed = genzoo.train(
        genzoo.models.create("gan", data, seed=0), data, steps=80, seed=0, progress=False, threads=1
    )
    assert all(
        torch.equal(run.model.state_dict()[k], fixed.model.state_dict()[k]) for k in fixed.model.state_dict()
    )


def test_a_few_heavy_steps_are_not_timed(tmp_path, monkeypatch, points) -> None:
    """The smallest timing is a warm-up step at each other count and 2 rounds of every count: in 30
    steps of 50 ms (1.5 s) that is 0.25 s, 17 % of the run, over PROBE_MAX_SHARE (3 %): the free
    cores are taken (pixelcnn's 51 quick steps of 0.2-0.3 s were timed). Allowed 20 %, they are timed."""
    monkeypatch.setattr(Trainer, "PROBE_MIN_STEPS", 0)
    monkeypatch.setattr(Trainer, "PROBE_MIN_SECONDS", 0.0)
    monkeypatch.setattr(threads, "by_load", lambda interval=0.1: 2)
    monkeypatch.setattr(threads, "candidates", lambda n=None: [1, 2])
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cls = type(genzoo.models.create("noisy-mean", points))
    fast = cls.loss

    def slow(self, batch):
        time.sleep(0.05)
        return fast(self, batch)

    monkeypatch.setattr(cls, "loss", slow)
    for share, how in ((0.03, "free cores (2 of "), (0.2, "timed")):
        monkeypatch.setattr(Trainer, "PROBE_MAX_SHARE", share)
        out = tmp_path / str(share)
        genzoo.train(genzoo.models.create("noisy-mean", points), points, out=out, steps=30, progress=False)
        chosen = json.loads((out / ckpt.CONFIG).read_text())["threads"]
        assert chosen["how"].startswith(how), chosen
        assert ("timing would cost over 3 % of the run" in chosen["how"]) == (share == 0.03), chosen
    assert chosen["count"] in (1, 2)


def test_omp_num_threads_is_respected(tmp_path, always_probe, monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = genzoo.datasets.load("ring8")
    genzoo.train(genzoo.models.create("gan", data), data, out=tmp_path / "r", steps=60, progress=False)
    assert json.loads((tmp_path / "r" / ckpt.CONFIG).read_text())["threads"] == {
        "count": 1,
        "how": "OMP_NUM_THREADS",
    }


# --- the command line --------------------------------------------------------------------------
COMPUTING = (
    "train",
    "sample",
    "evaluate",
    "interpolate",
    "encode",
    "score",
    "denoise",
    "edit",
    "translate",
    "condition",
    "simulate",
    "report",
    "lab",
    "tour",
)


def test_every_command_that_computes_takes_threads() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, parser in sub.choices.items():
        has = any("--threads" in a.option_strings for a in parser._actions)
        assert has == (name in COMPUTING), name


def test_threads_applies_to_a_command(tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "f.npz"
    seen = []
    real = threads.resolve

    def spy(value):
        seen.append(real(value))
        return seen[-1]

    monkeypatch.setattr(threads, "resolve", spy)
    assert (
        main(["simulate", "fft", "--range", "4", "--shape", "16", "16", "--out", str(out), "--threads", "1"])
        == 0
    )
    assert seen == [1] and torch.get_num_threads() == 1
    capsys.readouterr()


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_a_bad_thread_count_is_one_line(bad, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "fft", "--range", "4", "--shape", "16", "16", "--out", "f.npz", "--threads", bad])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--threads" in err and len(err.strip().splitlines()) == 1
