"""Progress of long work, with an estimate of the time left, on a terminal or not.

On a terminal a `Progress` is a tqdm bar. Elsewhere — a pipe, a log file, CI, ``make demo |
tee`` — a bar is invisible or a mess of carriage returns, so it writes one plain line every
`interval` seconds (10 s; ``GENZOO_PROGRESS_INTERVAL`` overrides it) and a final line::

    vae: step 1200/5000 (24 %), 41 steps/s, about 1 min 33 s left

Work that counts no steps (an evaluation) gets the same from `waiting`: the time spent
and the time left by an expected duration.

Work that runs other work (the tour) adds its own words without the inner work knowing it:
inside ``with progress.scope(label, extra)`` every report shows `label` in place of its own
name and appends ``extra(snapshot)`` — e.g. the time left for the whole tour.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TextIO

INTERVAL_ENV = "GENZOO_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0  # seconds between two lines when the output is not a terminal


@dataclass(frozen=True)
class Snapshot:
    """Where a piece of work stands: `done` of `total` units after `elapsed` seconds; `rate` in
    units per second and `left` in seconds (None until a unit has been timed)."""

    done: int
    total: int
    elapsed: float
    rate: float | None
    left: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 1.0


@dataclass(frozen=True)
class _Scope:
    label: str
    extra: Callable[[Snapshot], str] | None


_SCOPE: ContextVar[_Scope | None] = ContextVar("genzoo_progress_scope", default=None)


@contextlib.contextmanager
def scope(label: str, extra: Callable[[Snapshot], str] | None = None) -> Iterator[None]:
    """Within the block, every Progress is named `label` and appends `extra(snapshot)` (a short
    text, or "" for nothing) to its line or its bar."""
    token = _SCOPE.set(_Scope(label, extra))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def duration(seconds: float) -> str:
    """A duration as a person reads it: '45 s', '1 min 33 s', '12 min', '2 h 5 min'."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 600:
        return f"{s // 60} min {s % 60} s"
    m = round(seconds / 60)
    return f"{m} min" if m < 60 else f"{m // 60} h {m % 60} min"


def interval_from_env(default: float = DEFAULT_INTERVAL) -> float:
    """The seconds between two progress lines: GENZOO_PROGRESS_INTERVAL if it is a number ≥ 0."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, ""))
    except ValueError:
        return default
    return value if value >= 0 else default


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """Reports `total` units of work: a tqdm bar on a terminal, periodic lines elsewhere, nothing
    when not `enabled` (``train.progress=False``, or a rank other than 0).

    Used like a tqdm bar: ``update(n)``, ``set_postfix(key=value)``, ``close()``."""

    def __init__(
        self,
        total: int,
        *,
        initial: int = 0,
        desc: str = "",
        unit: str = "step",
        enabled: bool = True,
        interval: float | None = None,
        stream: TextIO | None = None,
        brief: bool = False,
    ) -> None:
        """`brief`: work that is often over in a moment (sampling pixel by pixel inside a checkpoint)
        writes its final line only if it wrote a periodic one, and its bar does not stay."""
        context = _SCOPE.get()
        self.brief, self.wrote = brief, False
        self.total, self.done, self.start = total, initial, initial
        self.desc = context.label if context else desc
        self.extra = context.extra if context else None
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval_from_env() if interval is None else interval
        self.postfix: dict[str, Any] = {}
        self.t0 = self.t_line = time.perf_counter()
        self.closed = False
        self.bar = self._bar(initial) if enabled and _is_terminal(self.stream) else None
        self.lines = enabled and self.bar is None
        self.t_extra = -float("inf")

    def _bar(self, initial: int) -> Any:
        from tqdm.auto import tqdm

        return tqdm(
            total=self.total,
            initial=initial,
            desc=self.desc,
            unit=self.unit,
            dynamic_ncols=True,
            file=self.stream,
            leave=not self.brief,
        )

    # --- the tqdm-like surface ----------------------------------------------------------------
    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.bar is not None:
            if self.extra is not None and now - self.t_extra >= 1.0:  # the outer estimate, once a second
                self.t_extra = now
                self._refresh_postfix()
            self.bar.update(n)
        elif self.lines and now - self.t_line >= self.interval:
            self.t_line, self.wrote = now, True
            self._write(self.line())

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        """Values shown after the bar (on a terminal only: the lines keep to the estimate)."""
        self.postfix.update(values)
        if self.bar is not None:
            self._refresh_postfix(refresh)

    def close(self) -> None:
        """End the bar, or write the final line: what was done, in how long."""
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        elif self.lines and (self.wrote or not self.brief):
            self._write(self.final_line())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- the estimate -------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Position, rate (units timed in this session over its time) and time left."""
        elapsed = time.perf_counter() - self.t0
        timed = self.done - self.start
        rate = timed / elapsed if timed > 0 and elapsed > 0 else None
        left = max(0, self.total - self.done) / rate if rate else None
        return Snapshot(self.done, self.total, elapsed, rate, left)

    def line(self) -> str:
        """`desc: step 1200/5000 (24 %), 41 steps/s, about 1 min 33 s left[; extra]`."""
        snap = self.snapshot()
        parts = [f"{self.unit} {snap.done}/{snap.total} ({100 * snap.fraction:.0f} %)"]
        if snap.rate is not None:
            parts.append(self._rate(snap.rate))
        parts.append(
            f"about {duration(snap.left)} left" if snap.left is not None else "estimating the time left"
        )
        return self._with_extra(", ".join(parts), snap)

    def final_line(self) -> str:
        """`desc: 5000 steps in 2 min 3 s (41 steps/s)`; a resumed run's `steps 1201–5000 in …`; or
        where it stopped short of the total."""
        snap = self.snapshot()
        timed = snap.done - self.start
        if snap.done < snap.total:
            what = f"stopped at {self.unit} {snap.done}/{snap.total}"
        else:
            what = f"{self.unit}s {self.start + 1}–{snap.done}" if self.start else f"{snap.done} {self.unit}s"
        text = f"{what} in {duration(snap.elapsed)}"
        if snap.rate is not None and timed > 0:
            text += f" ({self._rate(snap.rate)})"
        return self._with_extra(text, snap)

    def _rate(self, rate: float) -> str:
        if rate >= 1:  # 41.2, 993, 1070 steps/s
            return f"{rate:.3g} {self.unit}s/s" if rate < 100 else f"{rate:.0f} {self.unit}s/s"
        return f"{1 / rate:.3g} s/{self.unit}"

    def _with_extra(self, text: str, snap: Snapshot) -> str:
        extra = self.extra(snap) if self.extra is not None else ""
        head = f"{self.desc}: " if self.desc else ""
        return head + text + (f"; {extra}" if extra else "")

    def _refresh_postfix(self, refresh: bool = False) -> None:
        values = {k: str(v) for k, v in self.postfix.items()}
        if self.extra is not None:
            extra = self.extra(self.snapshot())
            if extra:
                values["_"] = extra
        text = ", ".join(v if k == "_" else f"{k}={v}" for k, v in values.items())
        self.bar.set_postfix_str(text, refresh=refresh)

    def _write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


@contextlib.contextmanager
def waiting(
    what: str,
    expected: float | None = None,
    *,
    enabled: bool = True,
    interval: float | None = None,
    stream: TextIO | None = None,
) -> Iterator[None]:
    """Progress for work that counts no steps (an evaluation): while the block runs, a thread
    reports the time spent and, given `expected` seconds, the time left by that estimate — off a
    terminal a line every `interval` seconds (``[3/6] ddpm on mnist: evaluating, 40 s so far, about
    1 min 5 s left; ...``), on one a bar that counts the seconds."""
    if not enabled:
        yield
        return
    context, stream = _SCOPE.get(), stream if stream is not None else sys.stderr
    head = f"{context.label}: {what}" if context else what
    extra = context.extra if context else None
    total = max(1, round(expected)) if expected else None
    every = max(0.05, interval_from_env() if interval is None else interval)  # a thread: never a busy loop
    bar = _seconds_bar(head, total, stream) if _is_terminal(stream) else None
    stop = threading.Event()

    def tick() -> None:
        t0 = time.perf_counter()
        while not stop.wait(1.0 if bar is not None else every):
            spent = time.perf_counter() - t0
            left = max(0.0, total - spent) if total else None
            tail = (
                extra(Snapshot(min(round(spent), total or 0), total or 0, spent, 1.0, left)) if extra else ""
            )
            if bar is not None:
                bar.set_postfix_str(tail, refresh=False)
                bar.update(1)
                continue
            text = f"{head}, {duration(spent)} so far" + (f", about {duration(left)} left" if left else "")
            print(text + (f"; {tail}" if tail else ""), file=stream, flush=True)

    thread = threading.Thread(target=tick, name="genzoo-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if bar is not None:
            bar.close()


def _seconds_bar(desc: str, total: int | None, stream: TextIO) -> Any:
    """A bar that counts seconds: `desc:  40%|████      | 00:04 of about 10 s, <postfix>`."""
    from tqdm.auto import tqdm

    form = "{l_bar}{bar}| {elapsed} of about {total} s{postfix}" if total else "{desc}: {elapsed}{postfix}"
    return tqdm(total=total, desc=desc, unit="s", dynamic_ncols=True, file=stream, bar_format=form)
