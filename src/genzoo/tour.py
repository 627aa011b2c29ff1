"""The tour — the main job: every registered family trained on its natural bundled data with a
laptop budget, scored by the one metric suite, and gathered into one self-contained report.

A family lists its datasets and budgets in its `tour` class attribute, so the tour grows as
families register. A family that fails is reported in the page and the tour goes on.

A tour takes minutes to an hour, so it says where it is and keeps what it has done:

- every progress line (or bar) of an entry carries the time left for the whole tour (`Clock`);
- OUT/index.html and OUT/board.md are rewritten after each entry: the finished ones, and those
  still to run;
- OUT/tour.json records what each entry was run with and how it ended, so the same command run
  again keeps the entries finished with the same parameters, continues an interrupted training
  from its checkpoint, and runs the rest (``overwrite=True`` starts over).
"""

from __future__ import annotations

import html
import json
import shutil
import statistics
import sys
import time
import traceback
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.data import load as load_data
from genzoo.errors import GenzooError
from genzoo.metrics import evaluate as evaluate_run
from genzoo.models import MODELS, create
from genzoo.models.base import TourEntry
from genzoo.pictures import figure_png
from genzoo.progress import Snapshot, duration
from genzoo.progress import scope as progress_scope
from genzoo.progress import waiting as progress_waiting
from genzoo.threads import set_threads
from genzoo.training import checkpoint as ckpt
from genzoo.training.trainer import train as train_model
from genzoo.version import __version__
from genzoo.viz.board import Entry, entry_from_run, render_markdown, write_board
from genzoo.viz.gallery import real_tiles
from genzoo.viz.page import figure, section
from genzoo.viz.plots import panels
from genzoo.viz.report import wall_time

QUICK_EVAL_N = 1000
STATE = "tour.json"  # in OUT: what each entry was run with, and how it ended
STATE_FORMAT = 1
TIMES = "tour_times.json"  # package data: seconds per entry measured on a reference quick tour
MIXTURES = ("ring8", "grid25")  # 2-D mixtures with known modes: the mode-coverage figure
MODE_SAMPLES = 2000


def plan(only: list[str] | None = None, *, quick: bool = False) -> list[tuple[str, TourEntry]]:
    """(family, entry) pairs the tour will run, in registry order; `only` keeps those families,
    `quick` leaves out the entries only the full tour can afford."""
    if only:
        for name in only:
            MODELS.get(name)  # unknown names: one line with the closest valid ones
    return [
        (name, entry)
        for name in MODELS.names()
        if not only or name in only
        for entry in MODELS.get(name).tour
        if entry.quick or not quick
    ]


def run_key(name: str, entry: TourEntry) -> str:
    """The entry's run directory under OUT/runs/, and its key in tour.json."""
    return f"{name}-{entry.data}"


def _label(name: str, entry: TourEntry) -> str:
    return f"{name} on {entry.data}"


def entry_steps(entry: TourEntry, *, quick: bool, steps: int | None = None) -> int:
    """Training steps of an entry: `steps` overrides its budget, except for the families fitted
    without steps (quick_steps 0, e.g. KDE), which keep 0."""
    if steps is None or entry.quick_steps == 0:
        return entry.quick_steps if quick else entry.steps
    return steps


def run_params(
    entry: TourEntry, *, quick: bool, seed: int, steps: int | None, eval_n: int | None
) -> dict[str, Any]:
    """What an entry is run with, as tour.json records it (plain JSON values): a finished entry
    is kept, and an interrupted one continued, only when this is unchanged."""
    params = {
        "budget": "quick" if quick else "full",
        "steps": entry_steps(entry, quick=quick, steps=steps),
        "steps_override": steps,
        "seed": seed,
        "eval_n": eval_n,
        "genzoo_version": __version__,
        "entry": {
            "data_options": entry.data_options,
            "params": entry.params,
            "train": entry.train_options(quick=quick),
        },
    }
    return json.loads(json.dumps(params, default=str))  # tuples → lists, as they read back


# --- the state file --------------------------------------------------------------------------
class TourState:
    """OUT/tour.json, rewritten atomically at each change::

    {"format": 1, "entries": {"vae-mnist": {"run": {<run_params>}, "status": "started" | "done" | "failed",
                                            "seconds": {"train": …, "evaluate": …, "total": …},
                                            "error": null}}}
    """

    def __init__(self, path: Path, entries: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = path
        self.entries = entries or {}

    @classmethod
    def load(cls, path: Path) -> TourState:
        """The state in `path`; none (every entry to run) where it is missing or unreadable."""
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError):
            print(f"tour: {path} is not readable; every entry starts over", file=sys.stderr)
            return cls(path)
        entries = doc.get("entries") if isinstance(doc, dict) and doc.get("format") == STATE_FORMAT else None
        if not isinstance(entries, dict):
            return cls(path)
        return cls(path, {k: v for k, v in entries.items() if isinstance(v, dict)})

    def status(self, key: str, run: dict[str, Any]) -> str | None:
        """How the entry ended when last run with these parameters (None: never, or with others)."""
        record = self.entries.get(key)
        return record.get("status") if record and record.get("run") == run else None

    def seconds(self, key: str) -> dict[str, float]:
        """The seconds the entry took ("train", "evaluate", "total"), those that are numbers."""
        seconds = self.entries.get(key, {}).get("seconds")
        if not isinstance(seconds, dict):
            return {}
        return {
            k: float(v) for k, v in seconds.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }

    def record(
        self,
        key: str,
        run: dict[str, Any],
        status: str,
        seconds: dict[str, float] | None = None,
        error: str | None = None,
    ) -> None:
        self.entries[key] = {"run": run, "status": status, "seconds": seconds or {}, "error": error}
        ckpt.write_json(self.path, {"format": STATE_FORMAT, "entries": self.entries})


# --- the estimate of the time left -------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """An entry's expected seconds on the reference machine: training (for the steps it runs now),
    evaluation (for the examples it scores now) and the rest (data, model, checkpoints, figures)."""

    train: float
    evaluate: float
    other: float

    @property
    def total(self) -> float:
        return self.train + self.evaluate + self.other


def reference_times() -> dict[str, dict[str, float]]:
    """tour_times.json's entries: {run key: {"steps", "train", "n", "test_n", "evaluate", "other"}}
    (seconds measured on a quick tour); {} where the file is missing or damaged."""
    try:
        doc = json.loads(resources.files("genzoo").joinpath(TIMES).read_text(encoding="utf-8"))
        entries = doc["entries"]
        return {
            k: t
            for k, t in entries.items()
            if all(isinstance(t.get(f), (int, float)) for f in ("steps", "train", "evaluate", "other"))
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _per_step(t: dict[str, float]) -> float:
    return t["train"] / t["steps"] if t.get("steps") else 0.0


def _typical(table: dict[str, dict[str, float]]) -> dict[str, float]:
    """The median entry (seconds per step, evaluation, rest), for an entry the table lacks."""
    known = list(table.values())
    if not known:
        return {"steps": 1, "train": 0.05, "evaluate": 20.0, "other": 5.0}
    return {
        "steps": 1,
        "train": statistics.median(_per_step(t) for t in known),
        "evaluate": statistics.median(t["evaluate"] for t in known),
        "other": statistics.median(t["other"] for t in known),
    }


def reference(
    key: str, steps: int, *, quick: bool, eval_n: int | None, table: dict[str, dict[str, float]]
) -> Reference:
    """An entry's `Reference`: its measured seconds, training scaled by steps and evaluation
    by the number of examples scored; an entry the table lacks gets the median of the others."""
    t = table.get(key) or _typical(table)
    n_ref = t.get("n")
    test_n = t.get("test_n") or n_ref
    n = eval_n or (test_n and (min(test_n, QUICK_EVAL_N) if quick else test_n))
    evaluate = t["evaluate"] * n / n_ref if n and n_ref else t["evaluate"]
    return Reference(train=_per_step(t) * steps, evaluate=evaluate, other=t["other"])


class Clock:
    """The tour's estimate of the time left.

    Each entry has reference seconds R (`reference`). This machine's speed is
    ρ = Σ w·observed / Σ w·expected over what this session has run — the finished entries, and the
    current entry's training so far (its steps timed against the reference seconds per step) — with
    weights w = 2^(−a / HALF_LIFE), a the reference seconds of work done since: the speed now counts
    most, since a shared machine's load comes and goes. Time left = the current entry's (its
    training's own estimate from its rate, then ρ × its evaluation and the rest) + ρ × Σ R over the
    entries still to run."""

    HALF_LIFE = 120.0  # reference seconds

    def __init__(self, refs: dict[str, Reference]) -> None:
        self.refs = refs
        self.pending = list(refs)
        self.timed: list[
            tuple[float, float]
        ] = []  # (observed, reference) seconds of each entry finished here
        self.current: str | None = None
        self.t_start = self.t_trained = 0.0
        self.trained = False
        self.loop_seconds: float | None = None  # the current entry's optimisation loop, once done

    def skip(self, key: str) -> None:
        """An entry kept from an earlier tour: nothing left to do for it."""
        self.pending.remove(key)

    def start(self, key: str) -> None:
        self.pending.remove(key)
        self.current, self.trained, self.t_start = key, False, time.perf_counter()

    def train_done(self, loop_seconds: float | None) -> None:
        """The current entry's training ended; `loop_seconds`: its optimisation loop (log.jsonl's time)."""
        self.trained, self.t_trained, self.loop_seconds = True, time.perf_counter(), loop_seconds

    def finish(self, seconds: float, ok: bool) -> None:
        """The current entry ended after `seconds`; a failed one says nothing of the machine's speed."""
        if ok and self.current is not None:
            self.timed.append((seconds, self.refs[self.current].total))
        self.current = None

    def speed(self, snap: Snapshot | None = None) -> float:
        """ρ: observed over reference seconds, recent work weighted most (1 before anything is timed)."""
        pairs = [*self.timed, *self._current_timing(snap)]
        observed = expected = since = 0.0
        for obs, ref in reversed(pairs):
            w = 0.5 ** (since / self.HALF_LIFE)
            observed, expected, since = observed + w * obs, expected + w * ref, since + ref
        return observed / expected if expected > 0 else 1.0

    def _current_timing(self, snap: Snapshot | None) -> list[tuple[float, float]]:
        """The current entry's training as (observed, reference) seconds, where it has been timed."""
        ref = self.refs[self.current] if self.current is not None else None
        if ref is None or ref.train <= 0:
            return []
        if self.trained:
            return [(self.loop_seconds, ref.train)] if self.loop_seconds else []
        if snap is not None and snap.rate and snap.total:
            return [(snap.elapsed, ref.train * snap.rate * snap.elapsed / snap.total)]
        return []

    def current_left(self, snap: Snapshot | None = None) -> float:
        if self.current is None:
            return 0.0
        ref, rho, now = self.refs[self.current], self.speed(snap), time.perf_counter()
        if self.trained:
            return max(0.0, rho * (ref.evaluate + ref.other) - (now - self.t_trained))
        if snap is not None and snap.left is not None:
            return snap.left + rho * (ref.evaluate + ref.other)
        return max(0.0, rho * ref.total - (now - self.t_start))

    def left(self, snap: Snapshot | None = None) -> float:
        """Seconds left for the whole tour."""
        return self.current_left(snap) + self.speed(snap) * sum(self.refs[k].total for k in self.pending)

    def describe(self, snap: Snapshot | None = None) -> str:
        """The tour's part of a progress line (see genzoo.progress.scope)."""
        return f"tour: about {duration(self.left(snap))} left"


def measured_times(out: str | Path) -> dict[str, dict[str, float]]:
    """tour_times.json's entries from a finished tour in `out`: how the shipped reference is made.
    "train" is the optimisation loop alone (log.jsonl's time), so that it scales with the steps;
    set-up, the last checkpoint and the pages go to "other"; "n" is the number of examples scored."""
    out = Path(out)
    state, table = TourState.load(out / STATE), {}
    entries = {run_key(n, e): e for n, e in plan()}
    for key, record in state.entries.items():
        seconds, entry, run_dir = state.seconds(key), entries.get(key), out / "runs" / key
        if record.get("status") != "done" or entry is None or not {"evaluate", "total"} <= seconds.keys():
            continue
        records = ckpt.read_log(run_dir)
        train = wall_time(records) or 0.0
        table[key] = {
            "steps": records[-1]["step"] if records else 0,
            "train": round(train, 2),
            "n": json.loads((run_dir / ckpt.METRICS).read_text())["n"],
            "test_n": len(load_data(entry.data, split="test", **entry.data_options)),
            "evaluate": round(seconds["evaluate"], 2),
            "other": round(max(0.0, seconds["total"] - train - seconds["evaluate"]), 2),
        }
    return table


def make_clock(
    todo: list[tuple[str, TourEntry]], *, quick: bool, steps: int | None, eval_n: int | None
) -> Clock:
    """The `Clock` of a tour: each entry's reference for the steps and examples it runs now."""
    table = reference_times()
    refs = {
        run_key(name, entry): reference(
            run_key(name, entry),
            entry_steps(entry, quick=quick, steps=steps),
            quick=quick,
            eval_n=eval_n,
            table=table,
        )
        for name, entry in todo
    }
    return Clock(refs)


# --- one entry ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One entry's result: its board row, the seconds it took ("train", "evaluate", "total") and,
    on a 2-D mixture, samples for the mode figure."""

    entry: Entry
    seconds: dict[str, float]
    samples: torch.Tensor | None = None


def run_one(
    name: str,
    entry: TourEntry,
    out: Path,
    *,
    quick: bool,
    seed: int = 0,
    progress: bool = True,
    steps: int | None = None,
    eval_n: int | None = None,
    resume: bool = False,
    clock: Clock | None = None,
    threads: int | None = None,
) -> Outcome:
    """Train, evaluate and describe one family on one dataset; errors become a failed entry.
    `resume` continues the run directory's interrupted training from its checkpoint where it can;
    `threads` fixes torch's thread count (None: training times the counts, evaluation takes the
    free cores)."""
    run_dir = out / "runs" / run_key(name, entry)
    label = _label(name, entry)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        train = load_data(entry.data, split="train", **entry.data_options)
        test = load_data(entry.data, split="test", **entry.data_options)
        n_steps = entry_steps(entry, quick=quick, steps=steps)
        t_fit = time.perf_counter()
        run = _fit(
            name,
            entry,
            run_dir,
            train,
            steps=n_steps,
            seed=seed,
            progress=progress,
            resume=resume,
            threads=threads,
            quick=quick,
        )
        seconds["train"] = time.perf_counter() - t_fit
        n = eval_n or (min(len(test), QUICK_EVAL_N) if quick else len(test))
        if clock is not None:
            clock.train_done(run.log[-1].get("time") if run.log else None)
            _say(
                f"    evaluating on {n} examples (about {duration(clock.current_left())}); {clock.describe()}"
            )
        t1 = time.perf_counter()
        set_threads("auto" if threads is None else threads)
        with progress_waiting(
            "evaluating", clock.current_left() if clock is not None else None, enabled=progress
        ):
            result = evaluate_run(run.model, test, n=n, seed=seed, train_data=train, artifacts_dir=run_dir)
        ckpt.write_json(run_dir / ckpt.METRICS, result)
        seconds["evaluate"] = time.perf_counter() - t1
        board_entry, samples = describe(
            run_dir, entry, label, seed=seed, test=test, fit_seconds=seconds["train"]
        )
    except Exception as exc:  # one family failing must not stop the tour: report it and go on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        _say(
            f"tour: {label} failed: {type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"
        )
        seconds["total"] = time.perf_counter() - t0
        error = f"{type(exc).__name__}: {exc}"
        failed = Entry(
            name=label,
            model=name,
            data=entry.data,
            metrics={},
            protocol={},
            error=error,
            data_options=dict(entry.data_options),
        )
        return Outcome(failed, seconds)
    seconds["total"] = time.perf_counter() - t0
    return Outcome(board_entry, seconds, samples)


def _fit(
    name: str,
    entry: TourEntry,
    run_dir: Path,
    train: Any,
    *,
    steps: int,
    seed: int,
    progress: bool,
    resume: bool,
    threads: int | None = None,
    quick: bool = True,
) -> Any:
    """Train the entry into `run_dir` with the quick or the full tour's training options and return
    the run: continue its checkpoint where `resume` and it fits, else start over in an emptied directory."""
    options = dict(steps=steps, seed=seed, progress=progress, **entry.train_options(quick=quick))
    if threads is not None:
        options["threads"] = threads
    if resume and (run_dir / ckpt.STATE).is_file():
        try:
            return train_model(
                create(name, train, seed=seed, **entry.params), train, out=run_dir, resume=True, **options
            )
        except GenzooError as exc:  # a damaged or foreign checkpoint: this entry starts over
            _say(f"    cannot continue from {run_dir / ckpt.STATE} ({exc}); starting it over")
    if run_dir.exists():
        shutil.rmtree(run_dir)
    return train_model(create(name, train, seed=seed, **entry.params), train, out=run_dir, **options)


def describe(
    run_dir: Path,
    entry: TourEntry,
    label: str,
    *,
    seed: int,
    model: Any = None,
    test: Any = None,
    fit_seconds: float | None = None,
) -> tuple[Entry, torch.Tensor | None]:
    """A finished entry's board row, read from its run directory, with its figures (the latent
    interpolation strip) and, on a 2-D mixture, samples for the mode figure. The model defaults
    to the run's saved one, so a kept entry is drawn exactly as when it was run."""
    board_entry = entry_from_run(run_dir, name=label)
    if board_entry.train_seconds is None:  # no optimisation loop (KDE): the fit time
        board_entry.train_seconds = fit_seconds
    model = model if model is not None else ckpt.load(run_dir)
    test = test if test is not None else load_data(entry.data, split="test", **entry.data_options)
    board_entry.figures.extend(_figures(model, test, label))
    samples = None
    if entry.data in MIXTURES:
        with torch.no_grad():
            samples = model.sample(MODE_SAMPLES, generator=torch.Generator().manual_seed(seed)).float().cpu()
    return board_entry, samples


def _figures(model: Any, test: Any, label: str) -> list[tuple[bytes, str]]:
    figs = []
    if model.latent and test.info.kind != "points":
        from genzoo.viz import interpolation_strip, png_bytes

        with torch.no_grad():
            strip = interpolation_strip(
                model, steps=8, generator=torch.Generator().manual_seed(0), info=test.info
            )
        png = strip if isinstance(strip, bytes) else png_bytes(strip)
        figs.append((png, f"{label}: latent interpolation"))
    return figs


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def mode_figure(runs: list[tuple[str, Any, Any]]) -> bytes | None:
    """The 2-D mode-coverage figure: one panel per family run on a mixture (see `draw_modes`)."""
    if not runs:
        return None
    from matplotlib.lines import Line2D

    fig, axes = panels(len(runs), max_cols=4, width=3.4, height=3.4)
    for ax, (label, samples, data) in zip(axes, runs):
        draw_modes(ax, label, samples, data)
    handles, _ = axes[0].get_legend_handles_labels()
    ring = Line2D(
        [],
        [],
        marker="o",
        linestyle="",
        markerfacecolor="none",
        markeredgecolor="#c0392b",
        markersize=3,
        label="3σ around a mode",
    )
    axes[0].legend(handles=[*handles, ring], fontsize=7, loc="upper right", markerscale=2)
    return figure_png(fig)


def draw_modes(ax: Any, label: str, samples: torch.Tensor, data: Any) -> None:
    """One panel: the samples over thin hollow circles of radius 3σ around the mixture's modes —
    high-quality samples (within 3σ of a mode) in blue, the others in orange. The circles are
    drawn first and below, so they never hide a sample."""
    from matplotlib.patches import Circle

    modes = np.asarray(data.extras["modes"], dtype=np.float64)
    sigma = float(data.extras["sigma"])
    x = samples.double().numpy()
    d = np.sqrt(((x[:, None, :] - modes[None]) ** 2).sum(-1)).min(1)
    hq = d <= 3 * sigma
    for m in modes:
        ax.add_patch(Circle(m, 3 * sigma, fill=False, edgecolor="#c0392b", linewidth=0.6, zorder=1))
    ax.scatter(x[~hq, 0], x[~hq, 1], s=3, c="#e67e22", alpha=0.5, linewidths=0, label="other", zorder=2)
    ax.scatter(x[hq, 0], x[hq, 1], s=3, c="#2e6bb0", alpha=0.7, linewidths=0, label="within 3σ", zorder=3)
    ax.set_title(f"{label}: {hq.mean():.0%} high quality", fontsize=9)
    ax.set_aspect("equal")
    lim = np.abs(modes).max() * 1.6
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.tick_params(labelsize=7)


# --- the pages ---------------------------------------------------------------------------------
def _where(counts: list[int]) -> str:
    """Where the tour ran, as the page's intro says it (the one place that says it): the CPU thread
    counts its runs trained with (each run's config.json says its own, and how it was chosen)."""
    if not counts:
        return "on the CPU"
    if len(set(counts)) == 1:
        return f"on {counts[0]} CPU thread{'' if counts[0] == 1 else 's'}"
    tally = ", ".join(
        f"{c} for {counts.count(c)} run{'' if counts.count(c) == 1 else 's'}" for c in sorted(set(counts))
    )
    return f"on CPU threads chosen per run ({tally})"


def _thread_counts(run_dirs: list[Path]) -> list[int]:
    """The thread count each run trained with, from its config.json (runs without one are left out)."""
    counts = []
    for run_dir in run_dirs:
        try:
            count = json.loads((run_dir / ckpt.CONFIG).read_text()).get("threads", {}).get("count")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(count, int) and not isinstance(count, bool):
            counts.append(count)
    return counts


def _intro(
    todo: list[tuple[str, TourEntry]],
    done: int,
    seconds: float,
    *,
    quick: bool,
    counts: list[int] | None = None,
) -> str:
    kind = "Quick" if quick else "Full"
    families = len({n for n, _ in todo})
    where = f"{_where(counts or [])} (genzoo {__version__})"
    tail = (
        "Each run directory under runs/ holds its config, weights, log, samples and metrics; "
        "`genzoo report` on one gives its full page."
    )
    if done == len(todo):
        return (
            f"{kind} tour: {len(todo)} runs of {families} families in {seconds / 60:.1f} min {where}. {tail}"
        )
    return (
        f"{kind} tour, in progress: {done} of {len(todo)} runs finished ({seconds / 60:.1f} min so far) "
        f"{where}; the {len(todo) - done} still to run are listed under “Still to run”. {tail}"
    )


class Pages:
    """OUT/index.html and OUT/board.md (each written atomically) for the entries finished so far, in
    plan order, with a list of those still to run: the gallery of each dataset's held-out examples
    and the runs' samples, how to read it, one table per dataset (`genzoo.viz.board`). The
    mode figure is redrawn only when a mixture entry has been added, since the pages are
    rewritten after every entry."""

    def __init__(self, out: Path, todo: list[tuple[str, TourEntry]], *, quick: bool) -> None:
        self.out, self.todo, self.quick = out, todo, quick
        self._modes: tuple[tuple[str, ...], str | None] = ((), None)

    def write(self, rows: dict[str, Outcome], note: str = "") -> Path:
        """Rewrite both pages from `rows`; `note` goes above the entries still to run. Returns the HTML
        page."""
        entries = [rows[run_key(n, e)].entry for n, e in self.todo if run_key(n, e) in rows]
        pending = [_label(n, e) for n, e in self.todo if run_key(n, e) not in rows]
        extra = [s for s in (self._mode_section(rows), _pending_section(pending, note)) if s]
        seconds = sum(r.seconds.get("total", 0.0) for r in rows.values())
        md = render_markdown(entries, title="genzoo tour")
        if pending:
            md += (
                "\n## Still to run\n\n"
                + (f"{note}\n\n" if note else "")
                + "".join(f"- {p}\n" for p in pending)
            )
        ckpt.atomic_write(self.out / "board.md", lambda p: p.write_text(md, encoding="utf-8"))
        counts = _thread_counts(
            [self.out / "runs" / run_key(n, e) for n, e in self.todo if run_key(n, e) in rows]
        )
        intro = _intro(self.todo, len(entries), seconds, quick=self.quick, counts=counts)
        real = real_tiles([(e.data, e.data_options) for n, e in self.todo if run_key(n, e) in rows])
        return write_board(
            entries,
            self.out / "index.html",
            title="genzoo tour",
            intro=intro,
            extra_sections=extra,
            real=real,
        )

    def _mode_section(self, rows: dict[str, Outcome]) -> str | None:
        keys = tuple(
            run_key(n, e)
            for n, e in self.todo
            if run_key(n, e) in rows and rows[run_key(n, e)].samples is not None
        )
        if keys != self._modes[0]:
            runs = [
                (
                    rows[run_key(n, e)].entry.name,
                    rows[run_key(n, e)].samples,
                    load_data(e.data, split="test", **e.data_options),
                )
                for n, e in self.todo
                if run_key(n, e) in keys
            ]
            fig = mode_figure(runs)
            part = (
                None
                if fig is None
                else section(
                    "Mode coverage on 2-D mixtures",
                    figure(
                        fig,
                        "mode coverage",
                        "2,000 samples per family; red circles: 3σ around the mixture's modes",
                    ),
                )
            )
            self._modes = (keys, part)
        return self._modes[1]


def _pending_section(pending: list[str], note: str) -> str | None:
    if not pending:
        return None
    items = "".join(f"<li>{html.escape(p)}</li>" for p in pending)
    return section("Still to run", (f"<p>{html.escape(note)}</p>" if note else "") + f"<ul>{items}</ul>")


# --- the tour ----------------------------------------------------------------------------------
def run_tour(
    out: str | Path = "runs/tour",
    *,
    quick: bool = False,
    only: list[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    steps: int | None = None,
    eval_n: int | None = None,
    overwrite: bool = False,
    threads: int | None = None,
) -> Path:
    """Run the tour; returns the path of its report (OUT/index.html; OUT/board.md beside it).

    `steps` and `eval_n` override every family's budget and evaluation size (for smoke tests).
    A tour run again into the same `out` keeps the entries finished with the same parameters
    (OUT/tour.json) and continues from there; `overwrite` starts every entry over. A tour holds
    OUT's lock (`genzoo.training.checkpoint.run_lock`) while it runs."""
    out = Path(out)
    todo = plan(only, quick=quick)
    if not todo:
        raise GenzooError("the tour has nothing to run (no registered family lists tour data)")
    with ckpt.run_lock(out):  # one tour writes OUT at a time (a second is refused naming the first's pid)
        tour = Tour(
            out,
            todo,
            quick=quick,
            seed=seed,
            progress=progress,
            steps=steps,
            eval_n=eval_n,
            overwrite=overwrite,
            threads=threads,
        )
        _run(tour)
    return out / "index.html"


def _run(tour: Tour) -> None:
    """Keep what an earlier tour into OUT finished, then run the other entries in plan order."""
    out, todo = tour.out, tour.todo
    tour.keep_finished()
    tour.pages.write(tour.rows)
    for i, (name, entry) in enumerate(todo, 1):
        if run_key(name, entry) in tour.rows:
            continue
        try:
            tour.run_entry(i, name, entry)
        except KeyboardInterrupt:
            label = _label(name, entry)
            tour.pages.write(
                tour.rows,
                note=f"The tour was interrupted in {label}; the same command run again continues it.",
            )
            raise KeyboardInterrupt(
                f"the tour stopped in {label} with {len(tour.rows)} of {len(todo)} entries done "
                f"({out / 'index.html'} "
                "shows them); run the same command again to continue"
            ) from None


class Tour:
    """One tour into OUT: its plan, the parameters of each entry, the state file, the clock, the
    pages, and the rows finished so far."""

    def __init__(
        self,
        out: Path,
        todo: list[tuple[str, TourEntry]],
        *,
        quick: bool,
        seed: int,
        progress: bool,
        steps: int | None,
        eval_n: int | None,
        overwrite: bool,
        threads: int | None = None,
    ) -> None:
        self.out, self.todo = out, todo
        self.options = dict(
            quick=quick, seed=seed, progress=progress, steps=steps, eval_n=eval_n, threads=threads
        )
        self.state = TourState(out / STATE) if overwrite else TourState.load(out / STATE)
        self.params = {
            run_key(n, e): run_params(e, quick=quick, seed=seed, steps=steps, eval_n=eval_n) for n, e in todo
        }
        self.clock = make_clock(todo, quick=quick, steps=steps, eval_n=eval_n)
        self.pages = Pages(out, todo, quick=quick)
        self.rows: dict[str, Outcome] = {}

    def keep_finished(self) -> None:
        """Take in the entries an earlier tour into OUT finished with the same parameters, rebuilt
        from their run directories; print one line saying what is kept."""
        redo = 0
        for name, entry in self.todo:
            key = run_key(name, entry)
            if (
                self.state.status(key, self.params[key]) != "done"
                or not (self.out / "runs" / key / ckpt.METRICS).is_file()
            ):
                redo += self.state.entries.get(key, {}).get("status") == "done"
                continue
            seconds = self.state.seconds(key)
            try:
                row, samples = describe(
                    self.out / "runs" / key,
                    entry,
                    _label(name, entry),
                    seed=self.options["seed"],
                    fit_seconds=seconds.get("train"),
                )
            except Exception as exc:  # an unreadable run: it is run again
                _say(
                    f"tour: {_label(name, entry)} cannot be kept ({type(exc).__name__}: {exc}); "
                    f"running it again"
                )
                continue
            self.rows[key] = Outcome(row, seconds, samples)
            self.clock.skip(key)
        if self.rows or redo:
            other = f" ({redo} done with other parameters start over)" if redo else ""
            _say(
                f"continuing: {len(self.rows)} of {len(self.todo)} entries already done in "
                f"{self.out}{other}; --overwrite starts over"
            )

    def run_entry(self, i: int, name: str, entry: TourEntry) -> None:
        """Run one entry with its progress lines, then rewrite the pages and its record in tour.json."""
        key, label, n, run = (
            run_key(name, entry),
            _label(name, entry),
            len(self.todo),
            self.params[run_key(name, entry)],
        )
        resume = self.state.status(key, run) == "started" and (self.out / "runs" / key / ckpt.STATE).is_file()
        self.clock.start(key)
        budget = f"{'quick' if self.options['quick'] else 'full'} budget" + (
            f", {run['steps']} steps" if run["steps"] else ""
        )
        _say(
            f"[{i}/{n}] {label} ({budget}){'; continuing its interrupted training' if resume else ''}; "
            f"{self.clock.describe()}"
        )
        self.state.record(key, run, "started")
        with progress_scope(f"[{i}/{n}] {label}", self.clock.describe):
            outcome = run_one(name, entry, self.out, resume=resume, clock=self.clock, **self.options)
        self.rows[key] = outcome
        t0 = time.perf_counter()
        self.pages.write(self.rows)
        outcome.seconds["pages"] = time.perf_counter() - t0
        outcome.seconds["total"] += outcome.seconds["pages"]
        failed = outcome.entry.error is not None
        self.clock.finish(outcome.seconds["total"], ok=not failed)
        self.state.record(key, run, "failed" if failed else "done", outcome.seconds, outcome.entry.error)
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in outcome.seconds.items() if k != "total")
        _say(
            f"    {'failed' if failed else 'done'} in {outcome.seconds['total']:.1f} s ({parts}); "
            f"{self.clock.describe()}"
        )
