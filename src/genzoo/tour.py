"""The tour — the main job: every registered family trained on its natural bundled data with a
laptop budget, scored by the one metric suite, and gathered into one self-contained report.

A family lists its datasets and budgets in its `tour` class attribute, so the tour grows as
families register. A family that fails is reported in the page and the tour goes on.
"""

from __future__ import annotations

import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

import genzoo
from genzoo.data import load as load_data
from genzoo.errors import GenzooError
from genzoo.models import MODELS, create
from genzoo.models.base import TourEntry
from genzoo.training import checkpoint as ckpt
from genzoo.viz.board import Entry, entry_from_run, write_board
from genzoo.viz.plots import figure_png, panels
from genzoo.viz.report import _figure, _section

QUICK_EVAL_N = 1000


def plan(only: list[str] | None = None, *, quick: bool = False) -> list[tuple[str, TourEntry]]:
    """(family, entry) pairs the tour will run, in registry order; `only` keeps those families,
    `quick` leaves out the entries only the full tour can afford."""
    if only:
        for name in only:
            MODELS.get(name)  # unknown names: one line with the closest valid ones
    return [
        (name, entry) for name in MODELS.names() if not only or name in only
        for entry in MODELS.get(name).tour if entry.quick or not quick
    ]


def run_one(
    name: str, entry: TourEntry, out: Path, *, quick: bool, seed: int = 0, progress: bool = True,
    steps: int | None = None, eval_n: int | None = None,
) -> Entry:
    """Train, evaluate and describe one family on one dataset; errors become a failed entry."""
    run_dir = out / "runs" / f"{name}-{entry.data}"
    label = f"{name} on {entry.data}"
    try:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        train = load_data(entry.data, split="train", **entry.data_options)
        test = load_data(entry.data, split="test", **entry.data_options)
        model = create(name, train, seed=seed, **entry.params)
        if steps is None or entry.quick_steps == 0:  # families fitted without steps (KDE) keep 0
            steps = entry.quick_steps if quick else entry.steps
        t0 = time.perf_counter()
        run = genzoo.train(model, train, out=run_dir, steps=steps, seed=seed, progress=progress, **entry.train)
        fit_seconds = time.perf_counter() - t0
        n = eval_n or (min(len(test), QUICK_EVAL_N) if quick else len(test))
        result = genzoo.evaluate(run.model, test, n=n, seed=seed, train_data=train, artifacts_dir=run_dir)
        ckpt.write_json(run_dir / ckpt.METRICS, result)
        board_entry = entry_from_run(run_dir, name=label)
        if board_entry.train_seconds is None:  # no optimisation loop (KDE): the fit time
            board_entry.train_seconds = fit_seconds
        board_entry.figures.extend(_figures(run.model, test, label))
        return board_entry
    except Exception as exc:  # one family failing must not stop the tour: report it and go on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"tour: {label} failed: {type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})", file=sys.stderr)
        return Entry(name=label, model=name, data=entry.data, metrics={}, protocol={}, error=f"{type(exc).__name__}: {exc}")


def _figures(model, test, label: str) -> list[tuple[bytes, str]]:
    figs = []
    if model.latent and test.info.kind != "points":
        from genzoo.viz import interpolation_strip, png_bytes

        with torch.no_grad():
            strip = interpolation_strip(model, steps=8, generator=torch.Generator().manual_seed(0), info=test.info)
        png = strip if isinstance(strip, bytes) else png_bytes(strip)
        figs.append((png, f"{label}: latent interpolation"))
    return figs


def mode_figure(runs: list[tuple[str, Any, Any]]) -> bytes | None:
    """The 2-D mode-coverage figure: for each family run on a mixture, its samples over the mode
    centres, high-quality samples (within 3σ of a mode) in blue, the others in orange."""
    if not runs:
        return None
    fig, axes = panels(len(runs), max_cols=4, width=3.4, height=3.4)
    for ax, (label, samples, data) in zip(axes, runs):
        modes = np.asarray(data.extras["modes"], dtype=np.float64)
        sigma = float(data.extras["sigma"])
        x = samples.double().numpy()
        d = np.sqrt(((x[:, None, :] - modes[None]) ** 2).sum(-1)).min(1)
        hq = d <= 3 * sigma
        ax.scatter(x[~hq, 0], x[~hq, 1], s=3, c="#e67e22", alpha=0.5, linewidths=0, label="other")
        ax.scatter(x[hq, 0], x[hq, 1], s=3, c="#2e6bb0", alpha=0.7, linewidths=0, label="within 3σ")
        ax.scatter(modes[:, 0], modes[:, 1], marker="x", c="#c0392b", s=30, label="modes")
        ax.set_title(f"{label}: {hq.mean():.0%} high quality", fontsize=9)
        ax.set_aspect("equal")
        lim = np.abs(modes).max() * 1.6
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, loc="upper right", markerscale=3)
    return figure_png(fig)


def run_tour(
    out: str | Path = "runs/tour", *, quick: bool = False, only: list[str] | None = None, seed: int = 0,
    progress: bool = True, steps: int | None = None, eval_n: int | None = None,
) -> Path:
    """Run the tour; returns the path of its report (OUT/index.html; OUT/board.md beside it).
    `steps` and `eval_n` override every family's budget and evaluation size (for smoke tests)."""
    out = Path(out)
    todo = plan(only, quick=quick)
    if not todo:
        raise GenzooError("the tour has nothing to run (no registered family lists tour data)")
    out.mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []
    mixtures: list[tuple[str, Any, Any]] = []
    t_start = time.perf_counter()
    for i, (name, entry) in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {name} on {entry.data} ({'quick' if quick else 'full'} budget)", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        board_entry = run_one(name, entry, out, quick=quick, seed=seed, progress=progress, steps=steps, eval_n=eval_n)
        entries.append(board_entry)
        status = "failed" if board_entry.error else "done"
        print(f"    {status} in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        if not board_entry.error and entry.data in ("ring8", "grid25"):
            model = genzoo.load(out / "runs" / f"{name}-{entry.data}")
            data = load_data(entry.data, split="test", **entry.data_options)
            with torch.no_grad():
                samples = model.sample(2000, generator=torch.Generator().manual_seed(seed))
            mixtures.append((board_entry.name, samples.float().cpu(), data))
    total = time.perf_counter() - t_start
    extra = []
    fig = mode_figure(mixtures)
    if fig is not None:
        extra.append(_section("Mode coverage on 2-D mixtures", _figure(fig, "mode coverage", "2,000 samples per family; red crosses: the mixture's modes")))
    intro = (
        f"{'Quick' if quick else 'Full'} tour: {len(todo)} runs of {len({n for n, _ in todo})} families in {total / 60:.1f} min "
        f"on {torch.get_num_threads()} CPU threads (genzoo {genzoo.__version__}). Each run directory under runs/ holds its "
        "config, weights, log, samples and metrics; `genzoo report` on one gives its full page."
    )
    write_board(entries, out / "board.md", title="genzoo tour")
    return write_board(entries, out / "index.html", title="genzoo tour", intro=intro, extra_sections=extra)
