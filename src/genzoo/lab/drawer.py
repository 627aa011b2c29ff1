"""The lab's pictures drawn in a second process, so that training keeps the server's process to
itself: on two cores, drawing in a thread beside training takes a share of its time (the two
threads' Python takes turns under one interpreter lock), drawing in a process runs beside it.

The run's pictures' copy of the model (views.Drawing.view) lives in shared memory; it is sent to
the drawing process once per run (torch.multiprocessing passes its tensors by their shared
memory, not by value), and for each picture the server copies the weights into it and sends the
frame's few words. The copy is written only while the drawing process is idle (one picture in
flight at a time), so it never reads half-copied weights. The drawing process sends back the
picture as JSON text; it ignores Ctrl-C (the server stops it) and ends when the server's end of
the pipe closes. Messages go between these two processes only: nothing is read from a file.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import torch
import torch.multiprocessing as mp

START_TIMEOUT = 60.0  # seconds the process may take to start (import torch) before it is given up


class Drawer:
    """The server's end: `ask` for a picture of a session, `collect` it when it is done."""

    def __init__(self, threads: int = 1) -> None:
        context = mp.get_context("spawn")  # a fresh interpreter: no copy of the server's threads
        self.conn, child = context.Pipe()
        self.proc = context.Process(target=serve, args=(child, threads), name="genzoo-lab-draw", daemon=True)
        self.proc.start()
        child.close()
        self.started = time.perf_counter()
        self.ready = False  # the process has started and answered
        self.failed: str | None = None  # why it cannot draw (then the server draws itself)
        self.drawing: Any = None  # the Drawing (of one run) that the process holds
        self.pending: dict[str, Any] | None = None  # the head of the picture in flight

    @property
    def usable(self) -> bool:
        return self.ready and self.failed is None

    @property
    def busy(self) -> bool:
        return self.pending is not None

    def poll(self, timeout: float = 0.0) -> tuple[dict[str, Any], dict[str, Any] | None, str] | None:
        """A finished picture — (the head it was asked with, its known-truth figures or None, its
        JSON text without the head) — or None. Marks the drawer failed if the process
        has died or never started; a picture that failed to draw raises RuntimeError."""
        if self.failed is not None:
            return None
        try:
            if not self.conn.poll(timeout):
                if not self.proc.is_alive():
                    self._fail(f"the drawing process ended (exit code {self.proc.exitcode})")
                elif not self.ready and time.perf_counter() - self.started > START_TIMEOUT:
                    self._fail("the drawing process did not start")
                return None
            kind, *rest = self.conn.recv()
        except (EOFError, OSError) as exc:
            self._fail(f"the drawing process went away ({exc})")
            return None
        if kind == "ready":
            self.ready = True
            return None
        head = self.pending or {}
        self.pending = None
        if kind == "error":
            raise RuntimeError(rest[0])
        return head, rest[1], rest[0]

    def ask(self, session: Any) -> None:
        """Ask for a picture of the session as it stands (its weights copied now)."""
        head, metrics, drawing = session.copy_view()
        if drawing is not self.drawing:
            self.conn.send(("build", drawing))
            self.drawing = drawing
        self.conn.send(("draw", metrics))
        self.pending = head

    def _fail(self, why: str) -> None:
        self.failed, self.pending = why, None

    def close(self) -> None:
        if self.ready:
            try:
                self.conn.send(("stop",))
            except (OSError, ValueError):
                pass
            self.proc.join(timeout=2)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout=2)
        self.conn.close()


def serve(conn: Any, threads: int) -> None:
    """The drawing process: build a run's Drawing, draw it on request, until told to stop or the
    server goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    torch.set_num_threads(max(1, threads))
    drawing = None
    conn.send(("ready",))
    while True:
        try:
            kind, *rest = conn.recv()
        except (EOFError, OSError):
            return
        if kind == "stop":
            return
        if kind == "build":
            drawing = rest[0]
            continue
        try:
            picture = drawing.picture(rest[0])
            conn.send(("picture", json.dumps(picture, allow_nan=False), picture.get("metrics")))
        except Exception as exc:  # noqa: BLE001 - shown on the page, the process goes on
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
