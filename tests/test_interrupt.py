"""Ctrl-C during `genzoo train` saves the last finished step; --resume then ends exactly where an
uninterrupted run of the same length ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import torch

from genzoo.training import checkpoint as ckpt

ARGS = [
    "--data",
    "digits",
    "--set",
    "model.hidden=16",
    "--set",
    "model.latent_dim=2",
    "--set",
    "data.binarize=static",
    "--set",
    "train.batch_size=32",
    "--quiet",
]


def _genzoo(*argv: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "genzoo.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def test_sigint_saves_and_resume_matches_straight_run(tmp_path):
    out = tmp_path / "r"
    proc = _genzoo(
        "train", "vae", "--out", str(out), "--steps", "1000000", "--checkpoint-every", "1000000", *ARGS
    )
    deadline = time.time() + 60
    while time.time() < deadline and not (out / ckpt.LOG).is_file():
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    stopped = int(ckpt.load_state(out / ckpt.STATE)["step"])
    assert stopped > 0
    assert not list(out.glob(".*.tmp"))

    target = stopped + 7
    resumed = _genzoo("train", "vae", "--out", str(out), "--steps", str(target), "--resume", "--quiet")
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read()
    straight = _genzoo("train", "vae", "--out", str(tmp_path / "s"), "--steps", str(target), *ARGS)
    assert straight.wait(timeout=120) == 0, straight.stderr.read()
    a = ckpt.read_weights(out / ckpt.WEIGHTS)
    b = ckpt.read_weights(tmp_path / "s" / ckpt.WEIGHTS)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
