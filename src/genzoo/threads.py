"""How many CPU threads torch's operators use (its intra-op thread count).

torch starts one thread per core. On a small machine that another process also uses, that is the
worst choice: the operators split their work into equal parts and wait for the slowest, so a
thread that shares its core with a busy process holds every step back (measured on 2 cores,
`genzoo train gan --data ring8`: alone 127 steps/s with 2 threads and 77 with 1; beside one busy
process 27 with 2 and 57 with 1). And for small networks one thread often beats two even alone.

So genzoo chooses. Training times a few steps at each count on a copy of the model
(`Tuner`, the trainer's "auto"), and again when the rate changes; every other command
takes the cores that other processes leave free (`by_load`). ``--threads N`` fixes N.

The count can change the bits of a result: operators that split a sum over threads (convolutions,
large reductions) add in another order. A seeded run is bit-identical for a given thread count.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


def cpu_count() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup (container) quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(float(quota) / float(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def _cpu_times() -> dict[str, tuple[int, int]] | None:
    """(busy, total) clock ticks per CPU from /proc/stat (Linux), or None."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        name, *rest = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in rest[:8]]
            idle = ticks[3] + ticks[4]  # idle + iowait
            out[name] = (sum(ticks) - idle, sum(ticks))
    return out


def busy_cores(interval: float = 0.1) -> float:
    """How many of this process's cores other processes keep busy, measured over `interval` seconds
    (/proc/stat, less this process's own CPU time; the 1-minute load average where there is none)."""
    try:
        mine = {f"cpu{i}" for i in os.sched_getaffinity(0)}
    except (AttributeError, OSError):
        mine = None
    before, own0 = _cpu_times(), time.process_time()
    if before is None:
        try:
            return max(0.0, os.getloadavg()[0] - 1.0)  # the load average counts this process too
        except OSError:
            return 0.0
    time.sleep(interval)
    after, own1 = _cpu_times(), time.process_time()
    busy = total = 0
    for cpu, (b1, t1) in (after or {}).items():
        if cpu in before and (mine is None or cpu in mine):
            busy += b1 - before[cpu][0]
            total += t1 - before[cpu][1]
    if total <= 0:
        return 0.0
    cores = len(mine) if mine else len(after or {})
    return max(0.0, busy / total * cores - (own1 - own0) / interval)


_LOAD: list[tuple[float, int]] = []  # (when, count): the last measurement, reused for LOAD_TTL seconds
LOAD_TTL = 2.0


def by_load(interval: float = 0.1) -> int:
    """A thread count for work whose steps cannot be timed in advance (sampling, evaluation): the
    cores that other processes leave free, at least 1. A measurement is reused for LOAD_TTL
    seconds (a script that trains many small models in a row measures the load once)."""
    now = time.monotonic()
    if _LOAD and now - _LOAD[-1][0] < LOAD_TTL:
        return _LOAD[-1][1]
    n = cpu_count()
    count = max(1, min(n, round(n - busy_cores(interval))))
    _LOAD[:] = [(time.monotonic(), count)]
    return count


def from_environment() -> int | None:
    """The count a user or a launcher fixed in the environment (OMP_NUM_THREADS, which torchrun sets
    to 1 for several processes per machine), or None."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None


def resolve(threads: int | str | None) -> int:
    """A CLI's --threads value (a count, or None/"auto") as a count, applied to torch: auto is
    OMP_NUM_THREADS where set, else the cores other processes leave free."""
    n = (from_environment() or by_load()) if threads in (None, "auto") else int(threads)
    torch.set_num_threads(n)
    return n


def set_threads(threads: int | str | None = "auto") -> int:
    """Set torch's intra-op thread count for the work that follows in Python (sampling, simulating,
    evaluating) and return it: a count, or "auto" as the commands do it. Training chooses its own
    (`train.threads`). On a machine that other processes use, auto can be many times faster."""
    return resolve(threads)


def candidates(n: int | None = None) -> list[int]:
    """Counts worth timing on n cores: 1, 2, 4, ... and n itself."""
    n = n or cpu_count()
    out, c = [], 1
    while c < n:
        out.append(c)
        c *= 2
    return [*out, n]


@dataclass
class Probe:
    """One timing of the step at each thread count: median seconds per step."""

    seconds: dict[int, float]
    steps: int
    took: float

    @property
    def best(self) -> int:
        """The fastest count; a smaller one within 3 % of it wins (it leaves cores to others)."""
        fastest = min(self.seconds.values())
        return min(c for c, s in self.seconds.items() if s <= 1.03 * fastest)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps_per_s": {str(c): round(1.0 / s, 3) for c, s in sorted(self.seconds.items())},
            "probe_steps": self.steps,
            "probe_seconds": round(self.took, 3),
        }


def probe(
    step: Callable[[], None],
    counts: list[int],
    *,
    budget: float,
    min_rounds: int | None = None,
    warm: dict[int, float] | None = None,
) -> Probe:
    """Time `step` at each thread count, alternating counts round by round (so a change of load
    hits every count alike), after one warm-up step each (`warm`: counts already warmed, with that
    step's seconds); each timing covers enough steps to last ~20 ms. A count more than 8× slower
    than the best in its warm-up, or twice as slow after a round, is dropped (beside busy processes
    one count can be 50× slower than another: no need to time it again). The probe ends when one
    count is left, or after `min_rounds` rounds (3; 2 for steps of 50 ms or more) once `budget`
    seconds are spent. Restores torch's count."""
    old = torch.get_num_threads()
    start = time.perf_counter()
    warm = dict(warm or {})
    steps = 0
    try:
        for c in counts:  # warm-up: first calls allocate, pick kernels, fill caches
            if c in warm:
                continue
            torch.set_num_threads(c)
            t0 = time.perf_counter()
            step()
            warm[c] = time.perf_counter() - t0
            steps += 1
        first = min(warm.values())
        group = max(1, int(0.02 / max(first, 1e-6)))
        min_rounds = min_rounds if min_rounds is not None else (3 if first < 0.05 else 2)
        left = [c for c in counts if warm[c] <= 8.0 * first]  # a count that collapsed at once is out
        times: dict[int, list[float]] = {c: [] for c in counts}
        rounds = 0
        while len(left) > 1 and (rounds < min_rounds or time.perf_counter() - start < budget) and rounds < 50:
            for c in left if rounds % 2 == 0 else left[::-1]:
                torch.set_num_threads(c)
                t0 = time.perf_counter()
                for _ in range(group):
                    step()
                times[c].append((time.perf_counter() - t0) / group)
                steps += group
            rounds += 1
            fastest = min(statistics.median(times[c]) for c in left)
            left = [c for c in left if statistics.median(times[c]) <= 2.0 * fastest]
    finally:
        torch.set_num_threads(old)
    # counts never timed after the warm-up keep their warm-up time (an over-estimate, and > 4× the best)
    measured = {c: statistics.median(times[c]) if times[c] else warm[c] for c in counts}
    return Probe(measured, steps, time.perf_counter() - start)


@dataclass
class Tuner:
    """The trainer's automatic thread count: probe at the start, then watch the seconds per step
    and probe again when their median over `window` seconds of steps moves by more than
    `tolerance` (×) from what the chosen count gave — the machine's load changed — or after
    `period` seconds in any case (a load that went away need not change the current count's
    rate much). At most one probe per `cooldown` seconds of training."""

    tolerance: float = 1.25
    window: float = 3.0
    cooldown: float = 30.0
    period: float = 120.0
    reference: float | None = None  # seconds per step of real training at the current count
    _acc: list[float] = field(default_factory=list)
    _total: float = 0.0  # sum of _acc: a step costs O(1), however many steps a window holds
    _since: float = 0.0

    def reset(self) -> None:
        self.reference, self._acc, self._total, self._since = None, [], 0.0, 0.0

    def observe(self, seconds: float) -> bool:
        """Record one training step's duration; True when it is time to probe again."""
        self._acc.append(seconds)
        self._total += seconds
        self._since += seconds
        if self._total < self.window:
            return False
        rate = statistics.median(self._acc)
        self._acc, self._total = [], 0.0
        if self.reference is None:
            self.reference = rate
            return False
        off = rate / self.reference
        moved = not 1 / self.tolerance <= off <= self.tolerance
        return self._since >= self.period or (self._since >= self.cooldown and moved)
