"""The trainer: repeatability, resume equality, checkpoints, EMA, divergence, schedules."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.errors import GenzooError, TrainingDiverged
from genzoo.models import create
from genzoo.training import checkpoint as ckpt
from genzoo.training.trainer import TrainConfig, _lr_factor


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _train(points, out, steps, *, resume=False, seed=0, **kw):
    model = create("noisy-mean", points, seed=seed)
    kw.setdefault("sample_grid", False)
    return genzoo.train(
        model, points, out=out, steps=steps, batch_size=32, seed=seed, progress=False, resume=resume, **kw
    )


def test_training_changes_weights_and_lowers_loss(points):
    model = create("noisy-mean", points, seed=0)
    before = _weights(model)
    run = genzoo.train(model, points, steps=200, batch_size=32, lr=1e-2, progress=False)
    assert not _same(before, _weights(run.model))
    assert run.log[-1]["loss"] < run.log[0]["loss"]
    assert run.step == 200


def test_seeded_cpu_run_is_bitwise_repeatable(points, tmp_path):
    a = _train(points, tmp_path / "a", 50)
    b = _train(points, tmp_path / "b", 50)
    assert _same(_weights(a.model), _weights(b.model))
    c = _train(points, tmp_path / "c", 50, seed=1)
    assert not _same(_weights(a.model), _weights(c.model))


@pytest.mark.parametrize("extra", [{}, {"ema": 0.9}, {"epochs": None, "grad_clip": 0.5}])
def test_resume_30_to_60_equals_60_straight(points, tmp_path, extra):
    extra = {k: v for k, v in extra.items() if v is not None}
    straight = _train(points, tmp_path / "s", 60, checkpoint_every=1000, **extra)
    _train(points, tmp_path / "r", 30, **extra)
    resumed = _train(points, tmp_path / "r", 60, resume=True, **extra)
    assert resumed.step == 60
    assert _same(_weights(straight.model), _weights(resumed.model))
    s_file = load_file(str(tmp_path / "s" / ckpt.WEIGHTS))
    r_file = load_file(str(tmp_path / "r" / ckpt.WEIGHTS))
    assert _same(s_file, r_file)
    # the log counts on from 30 and holds every logged step once
    steps = [r["step"] for r in ckpt.read_log(tmp_path / "r")]
    assert steps == list(range(10, 61, 10))
    s_log = [r["loss"] for r in ckpt.read_log(tmp_path / "s")]
    r_log = [r["loss"] for r in ckpt.read_log(tmp_path / "r")]
    assert s_log == r_log


def test_interrupted_between_checkpoints_resumes_exactly(points, tmp_path):
    """A run killed at step 45 with checkpoints every 20 resumes from 40 and ends as a straight one."""
    straight = _train(points, tmp_path / "s", 60, checkpoint_every=20)
    model = create("noisy-mean", points, seed=0, fail_at=46)  # dies during step 46
    with pytest.raises(TrainingDiverged, match="step 46"):
        genzoo.train(
            model,
            points,
            out=tmp_path / "r",
            steps=60,
            batch_size=32,
            seed=0,
            progress=False,
            checkpoint_every=20,
        )
    assert ckpt.load_state(tmp_path / "r" / ckpt.STATE)["step"] == 40
    resumed = _train(points, tmp_path / "r", 60, resume=True, checkpoint_every=20)
    assert _same(_weights(straight.model), _weights(resumed.model))


def test_divergence_names_the_step_and_keeps_last_checkpoint(points, tmp_path):
    model = create("noisy-mean", points, seed=0, fail_at=25)
    with pytest.raises(TrainingDiverged) as info:
        genzoo.train(
            model, points, out=tmp_path, steps=100, batch_size=32, progress=False, checkpoint_every=10
        )
    assert "step 25" in str(info.value) and "nan" in str(info.value)
    assert load_file(str(tmp_path / ckpt.WEIGHTS)) is not None
    assert ckpt.load_state(tmp_path / ckpt.STATE)["step"] == 20
    assert not list(tmp_path.glob(".*.tmp"))


def test_run_directory_contents(points, tmp_path):
    _train(points, tmp_path, 20, checkpoint_every=10, sample_grid=True)
    for name in (ckpt.CONFIG, ckpt.WEIGHTS, ckpt.STATE, ckpt.LOG, ckpt.SAMPLES):
        assert (tmp_path / name).is_file(), name
    cfg = json.loads((tmp_path / ckpt.CONFIG).read_text())
    assert cfg["model"]["name"] == "noisy-mean"
    assert cfg["train"]["steps"] == 20 and cfg["genzoo_version"] == genzoo.__version__
    assert cfg["data_info"]["shape"] == [2]
    loaded = genzoo.load(tmp_path)
    g = torch.Generator().manual_seed(3)
    x1 = loaded.sample(5, generator=g)
    x2 = genzoo.load(tmp_path).sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(x1, x2)


# --- the sample grid of each checkpoint --------------------------------------------------------
def _frame_steps(run_dir) -> list[int]:
    return [step for step, _ in ckpt.read_frames(run_dir)]


def test_spread_keeps_the_ends_and_evenly_spaced_steps_between():
    assert ckpt.spread([30, 10, 20], 12) == [10, 20, 30]  # few enough: all, sorted
    assert ckpt.spread(list(range(10, 101, 10)), 4) == [10, 40, 70, 100]  # targets 10, 40, 70, 100 exactly
    picked = ckpt.spread(list(range(1, 1001)), 12)
    assert len(picked) == 12 and picked[0] == 1 and picked[-1] == 1000
    gaps = [b - a for a, b in zip(picked, picked[1:])]
    assert max(gaps) - min(gaps) <= 1  # 999 / 11 = 90.8: every gap is 90 or 91
    assert ckpt.spread([5, 6, 7], 1) == [7] and ckpt.spread([5, 6], 0) == []


def test_each_checkpoint_keeps_its_sample_grid(points, tmp_path):
    _train(points, tmp_path, 50, checkpoint_every=10, sample_grid=True)
    frames = ckpt.read_frames(tmp_path)
    assert [s for s, _ in frames] == [10, 20, 30, 40, 50]
    assert [p.name for _, p in frames] == [f"step-0000{s}.png" for s in (10, 20, 30, 40, 50)]
    assert frames[-1][1].read_bytes() == (tmp_path / ckpt.SAMPLES).read_bytes()  # the last is samples.png
    assert frames[0][1].read_bytes() != frames[-1][1].read_bytes()  # the samples move as the model learns
    assert not list((tmp_path / ckpt.FRAMES).glob(".*.tmp"))
    _train(points, tmp_path / "none", 20, checkpoint_every=10)  # sample_grid=False: no grids at all
    assert not (tmp_path / "none" / ckpt.FRAMES).exists()


def test_a_long_run_keeps_at_most_max_frames_spread_over_it(points, tmp_path):
    _train(points, tmp_path, 150, checkpoint_every=10, sample_grid=True)
    steps = _frame_steps(tmp_path)
    assert len(steps) == ckpt.MAX_FRAMES == 12 and steps[0] == 10 and steps[-1] == 150
    assert set(steps) <= set(range(10, 151, 10))
    assert max(b - a for a, b in zip(steps, steps[1:])) <= 20  # no hole wider than two checkpoints


def test_a_resumed_run_continues_the_series_and_a_new_one_starts_its_own(points, tmp_path):
    _train(points, tmp_path, 30, checkpoint_every=10, sample_grid=True)
    assert _frame_steps(tmp_path) == [10, 20, 30]
    _train(points, tmp_path, 60, checkpoint_every=10, sample_grid=True, resume=True)
    assert _frame_steps(tmp_path) == [10, 20, 30, 40, 50, 60]
    straight = tmp_path / "straight"
    _train(points, straight, 60, checkpoint_every=10, sample_grid=True)
    for (_, a), (_, b) in zip(ckpt.read_frames(tmp_path), ckpt.read_frames(straight)):
        assert a.read_bytes() == b.read_bytes()  # resumed or straight, the same pictures
    _train(points, tmp_path, 20, checkpoint_every=10, sample_grid=True)  # not resumed: a run of its own
    assert _frame_steps(tmp_path) == [10, 20]


def test_training_removes_the_scores_of_the_weights_it_replaces(points, tmp_path):
    """metrics.json (genzoo evaluate's) scores the weights it was computed from: a new run into the
    folder (from Python, which replaces it) and a resumed run that trains further remove it; a resume
    with nothing left to train keeps it."""
    scores = tmp_path / ckpt.METRICS
    _train(points, tmp_path, 20, checkpoint_every=10)
    scores.write_text('{"nll": {"nats": 1.0}}')
    _train(points, tmp_path, 20, checkpoint_every=10, resume=True)  # at 20 already: the same weights
    assert scores.exists()
    _train(points, tmp_path, 30, checkpoint_every=10, resume=True)
    assert not scores.exists()
    scores.write_text('{"nll": {"nats": 1.0}}')
    _train(points, tmp_path, 10)  # a run of its own
    assert not scores.exists() and (tmp_path / ckpt.WEIGHTS).exists()


def test_a_run_killed_between_checkpoints_resumes_its_series_from_the_last_one(points, tmp_path):
    model = create("noisy-mean", points, seed=0, fail_at=46)  # dies during step 46
    with pytest.raises(TrainingDiverged):
        genzoo.train(
            model, points, out=tmp_path, steps=60, batch_size=32, seed=0, progress=False, checkpoint_every=20
        )
    assert _frame_steps(tmp_path) == [20, 40]
    stray = ckpt.frame_path(
        tmp_path, 45
    )  # a grid past the checkpoint (none is written so; put there by hand)
    stray.write_bytes(b"not the run's")
    (tmp_path / ckpt.FRAMES / ".step-000060.png.x1.tmp").write_bytes(
        b"half"
    )  # a write killed before its rename
    _train(points, tmp_path, 60, checkpoint_every=20, sample_grid=True, resume=True)
    assert _frame_steps(tmp_path) == [20, 40, 60]
    assert not list((tmp_path / ckpt.FRAMES).glob(".*.tmp"))


def test_ema_weights_are_saved(points, tmp_path):
    run = _train(points, tmp_path, 30, ema=0.5)
    saved = load_file(str(tmp_path / ckpt.WEIGHTS))
    raw = ckpt.load_state(tmp_path / ckpt.STATE)["model"]
    assert not _same(saved, raw)  # the sampling weights are the average
    assert _same(saved, {k: v for k, v in run.model.state_dict().items()})


def test_resume_without_state_is_refused(points, tmp_path):
    model = create("noisy-mean", points)
    with pytest.raises(GenzooError, match="cannot resume"):
        genzoo.train(model, points, out=tmp_path, steps=5, resume=True, progress=False)


def test_bad_train_options_are_refused(points):
    model = create("noisy-mean", points)
    with pytest.raises(GenzooError, match="train.lr"):
        genzoo.train(model, points, steps=5, lr=-1.0)
    with pytest.raises(GenzooError, match="train.optimizer"):
        genzoo.train(model, points, steps=5, optimizer="sgdd")
    with pytest.raises(GenzooError, match="did you mean 'train.steps'"):
        genzoo.train(model, points, stepz=5)
    with pytest.raises(GenzooError, match="either"):
        genzoo.train(model, points, steps=5, epochs=1)


def test_epochs_convert_to_steps(points):
    model = create("noisy-mean", points)
    run = genzoo.train(model, points, epochs=2, batch_size=100, progress=False)
    assert run.step == 2 * (300 // 100)


def test_lr_schedules():
    cfg = TrainConfig(schedule="cosine", warmup=10)
    assert _lr_factor(cfg, 0, 110) == pytest.approx(0.1)
    assert _lr_factor(cfg, 9, 110) == pytest.approx(1.0)
    assert _lr_factor(cfg, 10, 110) == pytest.approx(1.0)
    assert _lr_factor(cfg, 60, 110) == pytest.approx(0.5)
    assert _lr_factor(TrainConfig(schedule="linear"), 50, 100) == pytest.approx(0.5)
    assert _lr_factor(TrainConfig(), 99, 100) == 1.0


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "x.json"
    ckpt.write_json(path, {"a": 1})

    def boom(p):
        p.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        ckpt.atomic_write(path, boom)
    assert json.loads(path.read_text()) == {"a": 1}
    assert not list(tmp_path.glob(".*.tmp"))


def test_train_state_is_loaded_without_unpickling(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / ckpt.STATE)
    with pytest.raises(GenzooError, match="not a readable genzoo training state"):
        ckpt.load_state(tmp_path / ckpt.STATE)


def test_ema_warms_up_so_the_initial_weights_fade():
    """d_t = min(d, (1 + t)/(10 + t)): a parameter that jumps from 0 to 1 and stays there keeps a
    share Π d_t of its initial value in the average — the exact product, far below d^n."""
    from genzoo.training.trainer import EMA

    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(net.weight)
    ema = EMA(net, 0.999)
    torch.nn.init.ones_(net.weight)
    for t in range(1800):
        ema.update(net, t)
    share = math.prod(min(0.999, (1 + t) / (10 + t)) for t in range(1800))
    assert 1 - ema.shadow["weight"].item() == pytest.approx(share, rel=1e-3, abs=1e-7)
    assert share < 0.01 < 0.999**1800  # 0.2 % of the initial weights left, not 17 %
    assert ema.decay_at(0) == 0.1 and ema.decay_at(10**6) == 0.999


@pytest.mark.parametrize("defer", [False, True])
def test_divergence_step_is_exact_with_deferred_checks(points, tmp_path, monkeypatch, defer):
    """The CUDA path keeps loss terms on the device and reads them back only at logging and
    checkpoint steps; it must still name the exact step and keep the checkpoint before it."""
    from genzoo.training.trainer import Trainer

    monkeypatch.setattr(Trainer, "DEFER_SYNC", defer)
    model = create("noisy-mean", points, seed=0, fail_at=25)
    with pytest.raises(TrainingDiverged) as info:
        genzoo.train(
            model,
            points,
            out=tmp_path,
            steps=100,
            batch_size=32,
            progress=False,
            checkpoint_every=10,
            log_every=7,
        )
    assert "step 25" in str(info.value) and "nan" in str(info.value)
    assert ckpt.load_state(tmp_path / ckpt.STATE)["step"] == 20
    # the deferred path logs the same numbers as the direct one
    a = genzoo.train(
        create("noisy-mean", points, seed=0), points, steps=30, batch_size=32, seed=0, progress=False
    )
    monkeypatch.setattr(Trainer, "DEFER_SYNC", not defer)
    b = genzoo.train(
        create("noisy-mean", points, seed=0), points, steps=30, batch_size=32, seed=0, progress=False
    )
    assert [r["loss"] for r in a.log] == pytest.approx([r["loss"] for r in b.log], rel=1e-6)


def test_a_run_prints_in_one_line(tmp_path) -> None:
    """print(run) shows the model, the step, the last loss and where it is, not the whole log."""
    data = genzoo.datasets.load("ring8")
    run = genzoo.train(
        genzoo.models.create("gan", data), data, out=tmp_path / "r", steps=30, progress=False, log_every=1
    )
    text = repr(run)
    assert len(run.log) == 30 and "\n" not in text and len(text) < 200
    assert (
        text.startswith("Run('gan', step=30, loss=")
        and "log=[30 records]" in text
        and str(tmp_path / "r") in text
    )
