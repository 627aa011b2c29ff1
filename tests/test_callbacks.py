"""Callbacks and TensorBoard: the trainer calls a Python user's hooks at every step, log record and
checkpoint and once at the end; `--tensorboard` writes the losses (equal to log.jsonl's), the sample
grid at each checkpoint and the metrics of `genzoo evaluate` as events that TensorBoard's own reader
reads back; without the package, one line says how to install it."""

from __future__ import annotations

import builtins
import json

import pytest

import genzoo
from genzoo.cli import main
from genzoo.errors import GenzooError
from genzoo.training.callbacks import Callback


class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_start(self, trainer):
        self.calls.append(("start", trainer.step, [type(c).__name__ for c in trainer.callbacks]))

    def on_stop(self, trainer):
        self.calls.append(("stop", trainer.step))

    def on_step(self, trainer, step, terms):
        self.calls.append(("step", step, sorted(terms)))

    def on_log(self, trainer, record):
        self.calls.append(("log", record["step"]))

    def on_checkpoint(self, trainer, step):
        self.calls.append(("checkpoint", step, (trainer.out / "model.safetensors").is_file()))

    def on_end(self, trainer, run):
        self.calls.append(("end", run.step))


def test_the_hooks_are_called_in_order(tmp_path):
    data = genzoo.datasets.load("ring8", split="train")
    model = genzoo.models.create("vae", data, seed=0, hidden=(16,))
    rec = Recorder()
    genzoo.train(
        model, data, steps=12, log_every=5, checkpoint_every=6, progress=False, out=tmp_path, callbacks=[rec]
    )
    steps = [c[1] for c in rec.calls if c[0] == "step"]
    assert steps == list(range(1, 13)) and all("loss" in c[2] for c in rec.calls if c[0] == "step")
    assert [c[1] for c in rec.calls if c[0] == "log"] == [5, 10, 12]
    assert [c[1:] for c in rec.calls if c[0] == "checkpoint"] == [(6, True), (12, True)]
    assert rec.calls[-1] == ("end", 12) and sum(c[0] == "end" for c in rec.calls) == 1
    # the checkpoint hook comes after that step's log record and before the next step
    order = [c[:2] for c in rec.calls]
    assert order.index(("checkpoint", 12)) > order.index(("log", 12))
    assert order.index(("step", 5)) > order.index(("log", 5))  # the bar shows the step's logged loss
    # the steps start once and stop once, before the end; the trainer's callbacks come first
    assert rec.calls[0] == ("start", 0, ["SampleGrid", "Recorder"]) and rec.calls[-2] == ("stop", 12)


def test_the_progress_bar_and_the_sample_grid_are_callbacks(tmp_path, monkeypatch, capsys):
    from genzoo.training import callbacks

    monkeypatch.setenv("GENZOO_PROGRESS_INTERVAL", "0")  # a line per update where there is no terminal
    grids = []
    real = callbacks.SampleGrid.on_checkpoint
    monkeypatch.setattr(
        callbacks.SampleGrid, "on_checkpoint", lambda self, t, step: grids.append(step) or real(self, t, step)
    )
    data = genzoo.datasets.load("ring8", split="train")

    def run(out, steps, resume=False, **opts):
        rec = Recorder()
        model = genzoo.models.create("vae", data, seed=0, hidden=(16,))
        genzoo.train(
            model,
            data,
            steps=steps,
            checkpoint_every=4,
            log_every=2,
            out=out,
            resume=resume,
            callbacks=[rec],
            **opts,
        )
        return rec.calls

    calls = run(tmp_path / "a", 8, progress=True)
    assert calls[0] == ("start", 0, ["ProgressBar", "SampleGrid", "Recorder"]) and grids == [4, 8]
    assert (tmp_path / "a" / "samples.png").is_file()
    err = capsys.readouterr().err
    assert "vae: step 8/8 (100 %)" in err and "vae: 8 steps in" in err  # its last lines
    calls = run(tmp_path / "a", 12, resume=True, progress=False)  # a resume starts at the checkpoint
    assert calls[0] == ("start", 8, ["SampleGrid", "Recorder"]) and grids == [4, 8, 12]
    assert "vae: step" not in capsys.readouterr().err
    calls = run(tmp_path / "b", 4, progress=False, sample_grid=False)
    assert calls[0] == ("start", 0, ["Recorder"]) and grids == [4, 8, 12]
    assert not (tmp_path / "b" / "samples.png").exists()


def test_tensorboard_events_read_back_by_tensorboard(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "ae"
    argv = ["train", "ae", "--data", "digits", "--steps", "30", "--out", str(run), "--quiet", "--tensorboard"]
    assert main([*argv, "--set", "train.log_every=10", "--set", "train.checkpoint_every=15"]) == 0
    assert main(["evaluate", str(run), "--metrics", "recon", "-n", "50"]) == 0
    capsys.readouterr()
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    loss = events.Scalars("train/loss")
    assert [e.step for e in loss] == [r["step"] for r in logged] == [10, 20, 30]
    assert [e.value for e in loss] == pytest.approx([r["loss"] for r in logged], rel=1e-6)
    assert "run/lr" in tags["scalars"] and "run/steps_per_s" in tags["scalars"]
    assert [e.step for e in events.Images("samples")] == [15, 30]
    recon = json.loads((run / "metrics.json").read_text())["metrics"]["recon"]
    got = {t: events.Scalars(t)[-1] for t in tags["scalars"] if t.startswith("metrics/recon/")}
    assert got and all(e.step == 30 for e in got.values())
    key = next(iter(got))
    assert got[key].value == pytest.approx(recon[key.split("/")[-1]], rel=1e-6)


def test_tensorboard_missing_is_one_line(tmp_path, monkeypatch):
    real = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard") or name.startswith("tensorboard"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    data = genzoo.datasets.load("ring8", split="train")
    model = genzoo.models.create("vae", data, seed=0)
    with pytest.raises(GenzooError, match=r"needs the tensorboard package: pip install tensorboard") as err:
        genzoo.train(model, data, steps=2, progress=False, out=tmp_path, log_to="tensorboard")
    assert "\n" not in str(err.value)
    with pytest.raises(GenzooError, match=r"writes into the run directory"):
        genzoo.train(model, data, steps=2, progress=False, log_to="tensorboard")
