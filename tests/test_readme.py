"""Every command line and Python example in README.md runs as written, at a tiny budget.

The command lines of the README's code blocks run in order in one folder (later ones use the runs
of earlier ones, as a reader's would), each through genzoo's own `main` (torchrun lines through
torchrun). Lines with placeholders (RUN, MODEL, [options], HOST, ...) are the synopsis and are only
checked to parse nowhere; `make` lines are the set-up itself. The budget is cut, never the command:
--steps N becomes N/2000 (2 to 4; a --resume still goes further than the run it continues), a
train line without --steps gets 2, ddpm trains 20 noise levels (its sampling and inpainting then
take 20 steps, not 1,000; a sampling --steps is cut to 10), an RBM estimates its likelihood with 500
AIS temperatures, not 10,000, `genzoo lab --export` records 20 steps,
evaluate looks at 300 held-out examples unless it says -n (100 for likelihoods alone), and the
Python examples train for 20 steps and draw 4 fields where they say n=100.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import genzoo
from genzoo.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
PLACEHOLDERS = re.compile(r"\b(RUN|MODEL|METHOD|FILE|HOST|NAME)\b|\[|\.\.\.|\|")


def blocks(lang: str = "") -> list[str]:
    """The README's fenced code blocks with this info string ('' = plain)."""
    text = README.read_text()
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M) if m.group(1) == lang]


def command_lines() -> list[list[str]]:
    out = []
    for block in blocks():
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] in ("genzoo", "torchrun") and not PLACEHOLDERS.search(line.split("#")[0]):
                out.append(words)
    return out


def tiny(words: list[str]) -> list[str]:
    """The same command at a tiny budget (see the module docstring)."""
    words = list(words)
    i = words.index("-m") + 2 if words[0] == "torchrun" else 1
    command = words[i]
    if "--steps" in words and command == "train":
        k = words.index("--steps") + 1
        words[k] = str(min(4, max(2, int(words[k]) // 2000)))
    elif command == "train":
        words += ["--steps", "2"]
    if command == "train":
        words += ["--quiet"]
        if words[i + 1] == "ddpm":
            words += ["--set", "model.timesteps=20"]
        if words[i + 1] == "rbm":  # its likelihood by 500 AIS temperatures, not 10,000 (30 s of evaluate)
            words += ["--set", "model.ais_betas=500"]
    if command in ("sample", "condition") and "--steps" in words:  # sampling steps, within ddpm's 20
        k = words.index("--steps") + 1
        words[k] = str(min(int(words[k]), 10))
    if command == "lab":  # only --export lines run (a lab otherwise serves until Ctrl-C): 20 steps
        assert "--export" in words, "a `genzoo lab` line that would serve forever"
        words += ["--steps", "20", "--frames", "4"]
    if command == "evaluate" and "-n" not in words:  # FD on 128 features needs more than 128 per half
        metrics = words[words.index("--metrics") + 1] if "--metrics" in words else "fd"
        words += ["-n", "300" if re.search(r"fd|pr|dc|kid|1nn", metrics) else "100"]
    return words


def _inputs(folder: Path) -> None:
    """The example files the README's commands read (my_digits.npy, blurry.npy, gravel.npz)."""
    np.save(folder / "my_digits.npy", genzoo.datasets.load("digits", split="test").x[:8].numpy())
    np.save(folder / "blurry.npy", genzoo.datasets.load("mnist-sr", split="test").inputs()[:8].numpy())
    np.savez(
        folder / "gravel.npz", x=genzoo.datasets.load("brick2gravel", split="test").tensors()[:4].numpy()
    )


def test_the_readme_has_examples_to_run() -> None:
    lines = command_lines()
    assert len(lines) >= 30 and any(w[0] == "torchrun" for w in lines)
    assert [
        "genzoo",
        "train",
        "vae",
        "--data",
        "mnist",
        "--steps",
        "6000",
        "--resume",
        "--out",
        "runs/vae-mnist",
    ] in lines


@pytest.mark.slow
def test_every_readme_command_line_runs_as_written(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(genzoo.__file__).parents[1])}
    torchrun = [sys.executable, "-m", "torch.distributed.run"]
    for words in command_lines():
        argv = tiny(words)
        if argv[0] == "torchrun":
            done = subprocess.run(
                [*torchrun, *argv[1:]], env=env, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, f"{shlex.join(words)}:\n{done.stderr[-3000:]}"
            continue
        code = main(argv[1:])
        err = capsys.readouterr().err
        assert code == 0, f"{shlex.join(words)}: {err}"
        for word in argv:
            if re.fullmatch(r"[\w./-]+\.(png|npz|npy|html|md)", word) and not (tmp_path / word).exists():
                assert word in ("my_digits.npy", "blurry.npy", "gravel.npz"), (
                    f"{shlex.join(words)} wrote no {word}"
                )


@pytest.mark.slow
def test_every_readme_python_example_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for code in blocks("python"):
        code = re.sub(r"steps=\d+", "steps=20", code)
        code = re.sub(r"\bn=\d+", "n=4", code)  # realisations of 512×512 fields: 4, not 100
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the project's own README
    assert math.isfinite(float(torch.as_tensor(namespace.get("x", torch.zeros(1))).float().mean()))
