"""A lab session recorded and replayed without a server (`genzoo lab --export FILE.html`, or the
page's export button): `Recording` keeps the snapshots of one run, evenly over its steps and at
most `max_frames` of them; `page` writes them with the lab's own page, style and script as one
self-contained HTML file — no server, no request to anywhere (its content security policy allows
none) — that plays the run back with play, pause, step and a slider over its frames, for a course's
web page or a notebook."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from genzoo.atomic import atomic_write

MAX_FRAMES = 200
DROPPED = ("playing", "steps_per_second", "message")  # a live page's; a replay has its own
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "connect-src 'none'"
)


class Recording:
    """The snapshots of one run (Session.run): one every `every` steps, `every` doubling (every
    other frame dropped) whenever more than `max_frames` are kept; a frame skipped for its step
    passes its known-truth figures on to the next one kept. Frames are kept as the JSON text the
    stream sent (not as Python objects: a few hundred frames of points would be millions of
    objects for the garbage collector to walk, a pause of a tenth of a second in the pictures)."""

    def __init__(self, max_frames: int = MAX_FRAMES) -> None:
        if max_frames < 2:
            raise ValueError("a recording keeps at least two frames")
        self.max_frames = max_frames
        self.run: Any = None
        self.session: dict[str, Any] | None = None
        self.frames: list[tuple[int, str, dict[str, Any] | None]] = []  # (step, snapshot, metrics)
        self.every = 1
        self.metrics: dict[str, Any] | None = None

    def add(
        self, run: Any, session: dict[str, Any], step: Any, text: str, metrics: dict[str, Any] | None
    ) -> None:
        """Record the snapshot `text` (JSON) of run `run` at `step`, with its known-truth figures if
        it has them (a new run starts the recording again; a step that is not an int, a frame with
        nothing to draw, is not kept)."""
        if run != self.run:
            self.run, self.frames, self.every, self.metrics = run, [], 1, None
        self.session = session
        if metrics:
            self.metrics = metrics
        if not self.wants(run, step) or not isinstance(step, int):
            return
        self.frames.append((step, text, self.metrics))
        self.metrics = None
        if len(self.frames) > self.max_frames:
            self.frames = self.frames[::2]
            self.every *= 2

    def wants(self, run: Any, step: Any) -> bool:
        """Whether a snapshot of `run` at `step` would be kept."""
        if run != self.run or not self.frames:
            return True
        return isinstance(step, int) and step - self.frames[-1][0] >= self.every

    def data(self) -> dict[str, Any]:
        """{"session": the session's description, "frames": the snapshots, each with the known-truth
        figures passed on to it (or None), without what only a live page needs}."""
        frames = []
        for _, text, metrics in self.frames:
            frame = {k: v for k, v in json.loads(text).items() if k not in DROPPED}
            frame["metrics"] = metrics
            frames.append(frame)
        return {"session": self.session, "frames": frames}

    def copy(self) -> Recording:
        """The recording as it stands (the training thread goes on adding to this one)."""
        out = Recording(self.max_frames)
        out.run, out.session, out.frames, out.every = self.run, self.session, list(self.frames), self.every
        return out


def count(recording: Recording) -> str:
    n = len(recording.frames)
    return f"{n} picture{'' if n == 1 else 's'}"


def page(recording: Recording) -> str:
    """The recording as one HTML page: the lab's page with its style and script inline and the
    frames as `window.GENZOO_REPLAY`."""
    if not recording.frames or recording.session is None:
        raise ValueError("nothing recorded yet")
    static = resources.files("genzoo.lab") / "static"
    html = (static / "index.html").read_text(encoding="utf-8")
    css = (static / "lab.css").read_text(encoding="utf-8")
    js = (static / "lab.js").read_text(encoding="utf-8")
    data = json.dumps(recording.data(), separators=(",", ":"), allow_nan=False)
    script = f"<script>window.GENZOO_REPLAY = {_inline(data)};</script>\n<script>\n{_inline(js)}\n</script>\n"
    parts = {
        '<meta charset="utf-8">': f'<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" '
        f'content="{CSP}">',
        '<link rel="stylesheet" href="/static/lab.css?token={{TOKEN}}">': f"<style>\n{css}\n</style>",
        '<script src="/static/lab.js?token={{TOKEN}}" defer></script>\n': "",
        "</body>": script + "</body>",
    }
    for old, new in parts.items():
        if html.count(old) != 1:
            raise RuntimeError(f"the lab's index.html no longer has {old!r} once")
        html = html.replace(old, new)
    return html


def _inline(text: str) -> str:
    """Text safe inside a <script> element: no "</" that could close it."""
    return text.replace("</", "<\\/")


def record(session: Any, steps: int, *, frames: int = 100, progress: bool = True) -> Recording:
    """`steps` training steps of a lab session (genzoo.lab.session.Session) from where it stands,
    recorded: a snapshot, with its known-truth figures, every steps/frames steps (one for a model
    fitted without steps). Progress with the time left goes to stderr."""
    from genzoo.progress import Progress

    rec = Recording(max_frames=frames + 1)
    info = session.session_info()

    def snap() -> None:
        session.metrics_at = -float("inf")  # every frame with its known-truth figures
        frame = session.snapshot()
        rec.add(session.run, info, frame["step"], json.dumps(frame, allow_nan=False), frame.get("metrics"))

    snap()
    if not session.model.trainable:
        return rec
    chunk, done = max(1, steps // frames), 0
    bar = Progress(steps, desc=f"lab {session.family}", enabled=progress)
    try:
        while done < steps:
            n = min(chunk, steps - done)
            session.train_steps(n)
            done += n
            snap()
            bar.update(n)
    finally:
        bar.close()
    return rec


def write(recording: Recording, out: str | Path) -> Path:
    """Write the page to `out` (through a temporary name)."""
    out = Path(out)
    text = page(recording)
    atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return out
