"""Faults: SIGKILL at random moments, Ctrl-C, a full disk, divergence — and hostile or broken run files.

The promise: a killed run loses at most the work since its last checkpoint and resumes to the
same result; no file genzoo reads can run code or crash it without a clear message.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.cli import main
from genzoo.errors import GenzooError, TrainingDiverged
from genzoo.training import checkpoint as ckpt

TRAIN = ["train", "ae", "--data", "digits", "--set", "model.hidden=32", "--batch-size", "32", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _cmd(out: Path, steps: int, *extra: str, resume: bool = False) -> list[str]:
    """`genzoo train` of a small AE; a resume names the run alone (its model and data are saved)."""
    what = ["train", "ae", "--quiet", "--resume"] if resume else TRAIN
    return [sys.executable, "-m", "genzoo", *what, "--steps", str(steps), "--out", str(out), *extra]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / ckpt.WEIGHTS))


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _written_since(path: Path, t: float) -> bool:
    try:
        return path.stat().st_mtime >= t
    except FileNotFoundError:
        return False


# --- SIGKILL ---------------------------------------------------------------------------------------
def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_weights(tmp_path) -> None:
    """Kill `genzoo train` with SIGKILL at random moments — mid-step or mid-checkpoint (one every 2
    steps, so writes fill much of the time) — again and again, resuming each time, until it ends on
    its own: the final weights equal an uninterrupted run's bit for bit. GENZOO_KILL_CYCLES sets how
    many kills to aim for (default 6)."""
    want = int(os.environ.get("GENZOO_KILL_CYCLES", "6"))
    steps = max(800, 40 * want)  # a cycle advances about 25 steps here: room for every kill before the end
    reference = tmp_path / "reference"
    # the uninterrupted run at the default checkpoint interval (checkpoints leave training as it is:
    # every 2 steps took 31 s here, the default 6 s, the same weights)
    subprocess.run(_cmd(reference, steps), env=ENV, check=True, capture_output=True)

    run, rng, kills, resumes, mid_write = tmp_path / "killed", random.Random(0), 0, 0, 0
    while True:
        resume = (run / ckpt.STATE).is_file()
        fresh = (
            ["--overwrite"] if (run / ckpt.CONFIG).exists() and not resume else []
        )  # killed before its first checkpoint
        proc = subprocess.Popen(
            _cmd(run, steps, "--checkpoint-every", "2", *fresh, resume=resume),
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        resumes += resume
        if kills < want:
            # once this process has written a checkpoint (the imports are behind it), at a random moment
            launched = time.time()
            while proc.poll() is None and not _written_since(run / ckpt.STATE, launched):
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.8))
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            temporaries = [p for p in run.glob("*.tmp")]
            assert all(p.name.startswith(".") for p in temporaries), (
                temporaries
            )  # never under a run file's name
            mid_write += bool(temporaries)  # killed while a checkpoint was being written
            continue
        assert proc.returncode == 0, err.decode()[-2000:]
        assert kills >= want, f"the run reached its {steps} steps after {kills} of {want} kills"
        break
    print(f"\n{kills} SIGKILLs ({mid_write} during a checkpoint write), {resumes} resumes")
    assert kills == want and resumes >= want
    assert not list(run.glob(".*.tmp"))  # the resumes removed what the killed writes left
    assert (
        json.loads((run / ckpt.CONFIG).read_text())["model"]
        == json.loads((reference / ckpt.CONFIG).read_text())["model"]
    )
    assert _equal(_weights(run), _weights(reference))
    state = ckpt.load_state(run / ckpt.STATE)
    assert state["step"] == steps
    steps_logged = [r["step"] for r in ckpt.read_log(run)]
    assert steps_logged == sorted(set(steps_logged))  # a resumed log never repeats a step


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


# --- Ctrl-C ---------------------------------------------------------------------------------------
CTRL_C_STEPS = 3000


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The uninterrupted run both Ctrl-C tests end against (trained once)."""
    reference = tmp_path_factory.mktemp("uninterrupted") / "reference"
    subprocess.run(_cmd(reference, CTRL_C_STEPS), env=ENV, check=True, capture_output=True)
    return reference


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_stops_cleanly_saves_and_says_how_to_resume(tmp_path, sig, uninterrupted) -> None:
    """Ctrl-C, or the SIGTERM a scheduler sends before it kills a job: the step ends, a checkpoint is
    written, the message says how to resume, and the resumed run ends where an uninterrupted one does."""
    run, reference, steps = tmp_path / "run", uninterrupted, CTRL_C_STEPS
    proc = subprocess.Popen(
        _cmd(run, steps, "--checkpoint-every", "100000"),
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None and not _has_content(run / ckpt.LOG) and time.monotonic() < deadline:
        time.sleep(
            0.02
        )  # training has begun (a signal during the imports is Python's default: no checkpoint yet)
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    stopped = int(text.split("stopped at step ")[1].split(";")[0])
    assert 0 < stopped < steps, text
    assert f"resume with --resume from {run}" in text and "Traceback" not in text
    assert ckpt.load_state(run / ckpt.STATE)["step"] == stopped  # the checkpoint of the step it stopped at
    subprocess.run(_cmd(run, steps, resume=True), env=ENV, check=True, capture_output=True)
    assert _equal(_weights(run), _weights(reference))


# --- a full disk -----------------------------------------------------------------------------------
def test_a_full_disk_during_a_checkpoint_is_a_clear_error_and_the_last_checkpoint_loads(
    tmp_path, monkeypatch
) -> None:
    data = genzoo.datasets.load("digits", split="train")
    model = genzoo.models.create("ae", data, seed=0, hidden=(32,))
    real_save = torch.save
    calls = {"n": 0}

    def save_then_fill(obj, f, *a, **k):  # the second training state fills the disk half-way
        calls["n"] += 1
        if calls["n"] == 2:
            Path(f).write_bytes(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", save_then_fill)
    with pytest.raises(
        GenzooError,
        match=r"train_state\.pt: no space left on the device.*previous train_state\.pt, if any, is intact",
    ):
        genzoo.train(model, data, out=tmp_path, steps=20, checkpoint_every=10, batch_size=32, progress=False)
    monkeypatch.setattr(torch, "save", real_save)
    assert ckpt.load_state(tmp_path / ckpt.STATE)["step"] == 10
    assert ckpt.load(tmp_path) is not None
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written leftovers
    run = genzoo.train(
        genzoo.models.create("ae", data, seed=0, hidden=(32,)),
        data,
        out=tmp_path,
        resume=True,
        steps=20,
        checkpoint_every=10,
        batch_size=32,
        progress=False,
    )
    assert run.step == 20


# --- divergence -----------------------------------------------------------------------------------
class _Poison:
    """Make the AE's loss NaN at the given (1-based) steps, once each."""

    def __init__(self, model, steps: set[int]) -> None:
        self.steps, self.calls, self.inner = set(steps), 0, model.training_step
        model.training_step = self

    def __call__(self, batch, ctx):
        self.calls += 1
        out = self.inner(batch, ctx)
        if ctx.step + 1 in self.steps:
            self.steps.discard(ctx.step + 1)
            out = {**out, "loss": torch.tensor(float("nan"))}
        return out


def test_divergence_stops_with_the_step_keeps_the_checkpoint_and_suggests_a_lower_rate(tmp_path) -> None:
    data = genzoo.datasets.load("digits", split="train")
    model = genzoo.models.create("ae", data, seed=0, hidden=(32,))
    _Poison(model, {17})
    with pytest.raises(
        TrainingDiverged, match=r"became nan at step 17; the last good checkpoint is kept in .*lower --lr"
    ):
        genzoo.train(model, data, out=tmp_path, steps=30, checkpoint_every=5, batch_size=32, progress=False)
    assert ckpt.load_state(tmp_path / ckpt.STATE)["step"] == 15


def test_broken_weights_never_overwrite_the_last_good_checkpoint(tmp_path) -> None:
    data = genzoo.datasets.load("digits", split="train")
    model = genzoo.models.create("ae", data, seed=0, hidden=(32,))
    inner = model.training_step

    def step(batch, ctx):
        out = inner(batch, ctx)
        if ctx.step + 1 == 10:  # a finite loss, but the update leaves a NaN weight
            with torch.no_grad():
                next(model.parameters()).view(-1)[0] = float("inf")
        return out

    model.training_step = step
    with pytest.raises(TrainingDiverged, match=r"weight .* became nan at step 10"):
        genzoo.train(model, data, out=tmp_path, steps=30, checkpoint_every=5, batch_size=32, progress=False)
    assert ckpt.load_state(tmp_path / ckpt.STATE)["step"] == 5
    assert all(torch.isfinite(v).all() for v in _weights(tmp_path).values())


def test_rollback_reloads_the_checkpoint_and_goes_on_with_a_lower_rate(tmp_path, capsys) -> None:
    data = genzoo.datasets.load("digits", split="train")
    model = genzoo.models.create("ae", data, seed=0, hidden=(32,))
    poison = _Poison(model, {17, 23})
    run = genzoo.train(
        model,
        data,
        out=tmp_path,
        steps=30,
        checkpoint_every=5,
        batch_size=32,
        lr=1e-3,
        log_every=1,
        progress=False,
        on_diverge="rollback",
    )
    assert run.step == 30 and poison.calls == 30 + 2 + 3  # steps 16–17 and 21–23 ran twice
    err = capsys.readouterr().err
    assert "rolled back to step 15, learning rate × 0.5 (rollback 1 of 3)" in err
    assert "rolled back to step 20, learning rate × 0.25 (rollback 2 of 3)" in err
    state = ckpt.load_state(tmp_path / ckpt.STATE)
    assert state["lr_scale"] == 0.25 and state["rollbacks"] == 2
    log = ckpt.read_log(tmp_path)
    assert [r["step"] for r in log] == list(range(1, 31))  # the abandoned steps are gone from the log
    assert log[-1]["lr"] == pytest.approx(0.25e-3)
    assert all(torch.isfinite(v).all() for v in run.model.state_dict().values())


def test_rollback_gives_up_after_max_rollbacks(tmp_path) -> None:
    data = genzoo.datasets.load("digits", split="train")
    model = genzoo.models.create("ae", data, seed=0, hidden=(32,))
    inner = model.training_step
    model.training_step = lambda batch, ctx: (
        {**inner(batch, ctx), "loss": torch.tensor(float("inf"))} if ctx.step >= 7 else inner(batch, ctx)
    )
    with pytest.raises(TrainingDiverged, match=r"still after 2 rollbacks \(train.max_rollbacks\)"):
        genzoo.train(
            model,
            data,
            out=tmp_path,
            steps=30,
            checkpoint_every=5,
            batch_size=32,
            progress=False,
            on_diverge="rollback",
            max_rollbacks=2,
        )
    assert ckpt.load_state(tmp_path / ckpt.STATE)["step"] == 5


# --- hostile and broken run files -----------------------------------------------------------------
@pytest.fixture()
def trained(tmp_path) -> Path:
    run = tmp_path / "run"
    assert main([*TRAIN, "--steps", "10", "--out", str(run)]) == 0
    return run


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_with_code_in_train_state_is_refused_without_running_it(trained, tmp_path, capsys) -> None:
    marker = tmp_path / "pwned"
    (trained / ckpt.CHECKSUMS).unlink()  # no manifest to catch it first: torch.load's weights_only must
    with open(trained / ckpt.STATE, "wb") as f:
        pickle.dump({"step": 1, "model": _Payload(str(marker))}, f)
    assert main(["train", "ae", "--steps", "20", "--out", str(trained), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert (
        "train_state.pt: not a readable genzoo training state" in err and len(err.strip().splitlines()) == 1
    )
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "flip"])
@pytest.mark.parametrize("name", [ckpt.WEIGHTS, ckpt.STATE])
def test_a_damaged_checkpoint_file_is_refused_with_its_name(trained, capsys, damage, name) -> None:
    path = trained / name
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) * 3 // 4] ^= 0x01  # one bit in the tensor data: only the checksum can tell
    path.write_bytes(bytes(data))
    argv = (
        ["sample", str(trained), "-n", "4", "--out", str(trained / "s.png")]
        if name == ckpt.WEIGHTS
        else ["train", "ae", "--steps", "20", "--out", str(trained), "--resume", "--quiet"]
    )
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"{path}: its checksum does not match" in err and len(err.splitlines()) == 1


def test_without_the_manifest_a_truncated_weights_file_is_still_refused_with_its_name(
    trained, capsys
) -> None:
    (trained / ckpt.CHECKSUMS).unlink()
    path = trained / ckpt.WEIGHTS
    path.write_bytes(path.read_bytes()[:200])
    assert main(["sample", str(trained), "-n", "4", "--out", str(trained / "s.png")]) == 2
    assert f"{path}: not a readable safetensors file" in capsys.readouterr().err


def _moment_of_wrong_shape(state: dict) -> None:
    moments = next(iter(state["optimizers"][0]["state"].values()))
    moments["exp_avg"] = torch.zeros(3)


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.pop("optimizers"),
        lambda s: s["model"].pop(next(iter(s["model"]))),
        lambda s: s["rng"].update(torch=torch.zeros(7, dtype=torch.uint8)),
        lambda s: s["batches"].update(perm=torch.zeros_like(s["batches"]["perm"])),
        _moment_of_wrong_shape,
        lambda s: s.update(step=-5),
        lambda s: s["optimizers"][0].pop("param_groups"),
        lambda s: s.clear(),
    ],
    ids=[
        "no-optimizers",
        "missing-weight",
        "bad-rng",
        "bad-batch-order",
        "moment-shape",
        "negative-step",
        "no-param-groups",
        "empty",
    ],
)
def test_a_train_state_that_does_not_fit_the_run_is_refused_in_one_line(trained, capsys, edit) -> None:
    """A train_state.pt of the right format but the wrong content, where no checksums.json can tell
    (fuzzing the state found each of these as a traceback)."""
    state = ckpt.load_state(trained / ckpt.STATE)
    edit(state)
    torch.save(state, trained / ckpt.STATE)
    (trained / ckpt.CHECKSUMS).unlink()
    assert main(["train", "ae", "--out", str(trained), "--steps", "20", "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert str(trained / ckpt.STATE) in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "does not fit this run" in err or "checkpoint does not match" in err, err


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["model"].update(name="no-such-model"), "no-such-model"),
        (lambda c: c["model"]["params"].update(no_such_key=3), "no_such_key"),
        (lambda c: c["model"]["params"].update(hidden="wide"), "hidden"),
        (lambda c: c.pop("data_info"), "data_info"),
        (lambda c: c["data_info"].update(shape="big"), "shape"),
        (lambda c: c["data"]["options"].update(split="test"), "data.options.split"),
        (lambda c: c.update(data=["digits"]), "data must be"),
        (lambda c: c["model"].update(params=[1, 2]), "params object"),
        (lambda c: c.update(train=[1]), "train must be an object"),
    ],
    ids=[
        "model-name",
        "unknown-key",
        "wrong-type",
        "missing-section",
        "bad-shape",
        "data-option-split",
        "data-list",
        "params-list",
        "train-list",
    ],
)
def test_a_broken_config_is_refused_naming_the_key(trained, capsys, edit, message) -> None:
    path = trained / ckpt.CONFIG
    cfg = json.loads(path.read_text())
    edit(cfg)
    path.write_text(json.dumps(cfg))
    assert main(["sample", str(trained), "-n", "4", "--out", str(trained / "s.png")]) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1, err


def test_the_manifest_survives_a_kill_between_the_rename_and_its_update(trained) -> None:
    """A kill after model.safetensors was renamed into place but before checksums.json was updated:
    the manifest still lists both digests, so the new file loads."""
    sums = json.loads((trained / ckpt.CHECKSUMS).read_text())
    old = sums[ckpt.WEIGHTS][0]
    state = {k: v + 1 for k, v in load_file(str(trained / ckpt.WEIGHTS)).items()}
    ckpt.save_weights(trained / ckpt.WEIGHTS, state)
    new = ckpt.sha256(trained / ckpt.WEIGHTS)
    (trained / ckpt.CHECKSUMS).write_text(
        json.dumps({**sums, ckpt.WEIGHTS: [new, old]})
    )  # the state mid-write
    assert ckpt.read_weights(trained / ckpt.WEIGHTS).keys() == state.keys()
    assert json.loads((trained / ckpt.CHECKSUMS).read_text())[ckpt.WEIGHTS] == [new, old]


def test_stale_temporaries_of_run_files_are_removed_and_nothing_else(tmp_path) -> None:
    left = [
        tmp_path / f".{ckpt.WEIGHTS}.k2j4x.tmp",
        tmp_path / f".{ckpt.STATE}.0a9z.tmp",
        tmp_path / f".{ckpt.CHECKSUMS}.q.tmp",
    ]
    kept = [
        tmp_path / ".notes.txt.a1.tmp",
        tmp_path / "mine.tmp",
        tmp_path / ckpt.WEIGHTS,
        tmp_path / ".model.safetensors.tmp",
    ]
    for p in left + kept:
        p.write_bytes(b"partial")
    assert sorted(ckpt.remove_stale_temporaries(tmp_path)) == sorted(left)
    assert not any(p.exists() for p in left) and all(p.exists() for p in kept)


# --- one writer per run directory ------------------------------------------------------------------
def _start_training(run: Path, steps: int, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(_cmd(run, steps, *extra), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while (
        proc.poll() is None
        and not (_has_content(run / ckpt.LOG) and (run / ckpt.WEIGHTS).is_file())
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()[1].decode()
    return proc


def test_a_run_being_trained_is_refused_to_a_second_trainer_and_freed_by_sigkill(tmp_path, capsys) -> None:
    """Two trainers never write into one run directory: the second (--overwrite, --resume, or the
    Python API) is refused in one line naming the first's process id; the lock is the OS's, so it
    goes with the process however it dies — SIGKILL included — and the run then resumes."""
    run = tmp_path / "run"
    proc = _start_training(run, 10**6, "--checkpoint-every", "50")
    try:
        for extra in (["--overwrite"], []):
            code = main(
                ["train", "ae", "--data", "digits", "--steps", "10", "--out", str(run), "--quiet", *extra]
            )
            err = capsys.readouterr().err
            assert code == 2 and f"{run} is in use: process {proc.pid} is training it" in err, err
        code = main(["train", "ae", "--out", str(run), "--steps", "10", "--resume", "--quiet"])
        assert code == 2 and f"process {proc.pid}" in capsys.readouterr().err
        with pytest.raises(GenzooError, match=f"process {proc.pid}"):
            data = genzoo.datasets.load("digits")
            genzoo.train(genzoo.models.create("ae", data), data, out=run, steps=5, progress=False)
        assert ckpt.run_holder(run) == proc.pid
    finally:
        proc.kill()
        proc.wait()
    assert ckpt.run_holder(run) is None  # no stale lock after a SIGKILL
    step = ckpt.load_state(run / ckpt.STATE)["step"]
    subprocess.run(_cmd(run, step + 20, resume=True), env=ENV, check=True, capture_output=True)
    assert ckpt.load_state(run / ckpt.STATE)["step"] == step + 20


def test_a_run_being_trained_can_be_sampled_and_evaluated_meanwhile(tmp_path, capsys) -> None:
    """sample, evaluate and report read the last complete checkpoint of a run that is being
    trained, checkpointing many times a second: never a torn file, never a false 'damaged'."""
    run = tmp_path / "run"
    proc = _start_training(run, 10**6, "--checkpoint-every", "5")
    try:
        for _ in range(30):
            model = ckpt.load(run)  # weights checked against checksums.json while they are rewritten
            assert model.name == "ae"
        for argv in (
            ["sample", str(run), "-n", "8", "--out", str(tmp_path / "s.png")],
            ["evaluate", str(run), "-n", "40", "--metrics", "recon"],
            ["report", str(run)],
        ):
            assert main(argv) == 0, capsys.readouterr().err
        assert proc.poll() is None  # it was training all along
    finally:
        proc.kill()
        proc.wait()


def test_a_checkpoint_landing_while_a_reader_checks_it_is_no_false_alarm(trained, monkeypatch) -> None:
    """The interleaving that made a reader call a good file damaged: it read checksums.json, then a
    checkpoint was renamed into place before it read the file. The reader reads the file first, then
    the manifest, and reads both again if either changed: it gets a complete checkpoint."""
    path = trained / ckpt.WEIGHTS
    old = ckpt.read_weights(path)
    new = {k: v + 1 if v.is_floating_point() else v for k, v in old.items()}
    from genzoo import runfiles  # where the reader's manifest is read (re-exported by checkpoint)

    original, landed = runfiles._read_checksums, []

    def manifest_then_a_checkpoint_lands(run_dir):
        sums = original(run_dir)
        if not landed:
            landed.append(True)
            ckpt.save_weights(path, new)  # the trainer's next checkpoint, between the reader's two reads
        return sums

    monkeypatch.setattr(runfiles, "_read_checksums", manifest_then_a_checkpoint_lands)
    got = ckpt.read_weights(path)
    assert landed  # the checkpoint did land in between (on the old code: "its checksum does not match")
    assert all(torch.equal(got[k], old[k]) for k in old) or all(torch.equal(got[k], new[k]) for k in new)
    monkeypatch.setattr(runfiles, "_read_checksums", original)
    assert all(torch.equal(ckpt.read_weights(path)[k], new[k]) for k in new)
