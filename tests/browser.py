"""Headless Chromium for the tests that open pages in a real browser (the HTML report and the
leaderboards in test_report_browser.py, the lab in test_lab_browser.py).

The browser is driven over `--remote-debugging-pipe` (NUL-separated JSON on file descriptors
3 and 4), so the tests need no driver package and open no port. Chromium comes from the system's
packages (`apt-get install chromium`, or GENZOO_CHROMIUM names a binary); without it the tests
that use it fail, they do not skip.

Imported by the test modules as `browser` (pytest puts tests/, which is not a package, on sys.path).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
TIMEOUT = 30.0
# events not kept in Browser.events: a page's streamed data (Server-Sent Events, response bodies
# arriving), which no test reads and which would pile up by the megabyte while a stream runs
DROPPED = frozenset({"Network.eventSourceMessageReceived", "Network.dataReceived"})


def chromium_binary() -> str:
    for name in (
        os.environ.get("GENZOO_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ):
        path = name and shutil.which(name)
        if path:
            return path
    pytest.fail(
        "headless Chromium is needed to open the report and the lab in a browser: `apt-get install chromium` "
        "(or set GENZOO_CHROMIUM to a Chromium/Chrome binary)",
        pytrace=False,
    )


class Browser:
    """Chromium spoken to over the DevTools pipe: `call` sends a command and waits for its answer;
    events (method, params, sessionId) pile up in `events`."""

    def __init__(self, binary: str, profile: Path, log: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self.log = log

        def child_fds() -> (
            None
        ):  # in the child, before exec: the pipe's ends as descriptors 3 (in) and 4 (out)
            fd_in, fd_out = (
                fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10),
                fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10),
            )
            os.dup2(fd_in, 3)
            os.dup2(fd_out, 4)

        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                [binary, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                preexec_fn=child_fds,
                close_fds=False,  # Python's descriptors are not inheritable anyway; 3 and 4 must survive
                start_new_session=True,  # its own process group: closed as one in `close`
            )
        os.close(to_child_r)
        os.close(from_child_w)
        self._next = 0
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self._answers.put({"id": None, "closed": True})
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg:
                    self._answers.put(msg)
                elif msg.get("method") not in DROPPED:
                    with self._lock:
                        self.events.append(msg)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        except BrokenPipeError:
            raise AssertionError(
                f"Chromium is not running (exit status {self.proc.poll()}){self._tail()}"
            ) from None
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                answer = self._answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"Chromium did not answer {method} within {TIMEOUT:.0f} s{self._tail()}"
                ) from None
            if answer.get("closed"):
                raise AssertionError(f"Chromium closed the DevTools pipe during {method}{self._tail()}")
            if answer["id"] == self._next:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def wait_event(self, method: str, session: str, since: int) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with self._lock:
                for ev in self.events[since:]:
                    if ev.get("method") == method and ev.get("sessionId") == session:
                        return ev
            time.sleep(0.02)
        raise AssertionError(f"no {method} within {TIMEOUT:.0f} s{self._tail()}")

    def _tail(self) -> str:
        text = self.log.read_text(errors="replace").strip() if self.log.is_file() else ""
        return f"; Chromium's log ends:\n{text[-2000:]}" if text else ""

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self._answers = queue.Queue()
                    self._next += 1
                    os.write(
                        self._to_child,
                        json.dumps({"id": self._next, "method": "Browser.close", "params": {}}).encode()
                        + b"\0",
                    )
                    self.proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        finally:
            for sig in (
                signal.SIGTERM,
                signal.SIGKILL,
            ):  # the renderers and helpers too: the group we started
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=5)
                    time.sleep(0.2)
                except subprocess.TimeoutExpired:
                    continue
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass

    # --- one page -------------------------------------------------------------------------------
    def open(self, path: Path | str, metrics: dict[str, Any]) -> Page:
        """A new tab showing `path` (a file, or a URL given as a string), loaded: its load event
        fired, its fonts ready and its images decoded. The Network and Page domains are on."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, session)
        self.call("Network.enable", session)
        self.call("Page.enable", session)
        page.resize(metrics)
        since = len(self.events)
        url = path if isinstance(path, str) else path.resolve().as_uri()
        self.call("Page.navigate", session, url=url)
        self.wait_event("Page.loadEventFired", session, since)
        page.js(
            "document.fonts.ready.then(() => "
            "Promise.all([...document.images].map(i => i.decode().catch(() => null))))"
        )
        return page


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser, self.session = browser, session

    def js(self, expression: str) -> Any:
        out = self.browser.call(
            "Runtime.evaluate", self.session, expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in out:
            raise AssertionError(f"{expression!r} raised {out['exceptionDetails']}")
        return out["result"].get("value")

    def resize(self, metrics: dict[str, Any]) -> None:
        self.browser.call("Emulation.setDeviceMetricsOverride", self.session, **metrics)
        self.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # laid out again

    def requests(self) -> list[str]:
        with self.browser._lock:
            return [
                ev["params"]["request"]["url"]
                for ev in self.browser.events
                if ev.get("sessionId") == self.session and ev.get("method") == "Network.requestWillBeSent"
            ]

    def screenshot(self, path: Path, full: bool = False) -> Image.Image:
        data = self.browser.call(
            "Page.captureScreenshot", self.session, format="png", captureBeyondViewport=full
        )["data"]
        path.write_bytes(base64.b64decode(data))
        image = Image.open(io.BytesIO(path.read_bytes()))
        image.load()
        return image

    def reload(self) -> None:
        """Reload the page (as F5 does) and wait for its load event."""
        since = len(self.browser.events)
        self.browser.call("Page.reload", self.session)
        self.browser.wait_event("Page.loadEventFired", self.session, since)

    def wait_for(self, expression: str, budget: float, what: str, show: str | None = None) -> Any:
        """Evaluate `expression` every 50 ms until it is truthy and return its value; after `budget`
        seconds, fail saying `what` did not happen (and what `show` evaluates to then)."""
        deadline = time.monotonic() + budget
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                seen = f"; {show} = {self.js(show)!r}" if show else ""
                raise AssertionError(f"{what}: not within {budget:g} s{seen}")
            time.sleep(0.05)

    # --- input as a user gives it: mouse and keyboard events through the browser's input pipeline
    def centre(self, selector: str) -> tuple[float, float]:
        """The centre of the element, scrolled into view, in CSS px of the viewport; the element
        must be the one a click there lands on (nothing drawn over it)."""
        found = self.js(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null;
            e.scrollIntoView({{block: 'center', inline: 'center'}});
            const r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
            const hit = document.elementFromPoint(x, y);
            return [x, y, hit === e || e.contains(hit), hit ? hit.outerHTML.slice(0, 80) : null]; }})()""")
        assert found, f"no element {selector}"
        x, y, on_top, hit = found
        assert on_top, f"a click at the centre of {selector} lands on {hit}"
        return x, y

    def mouse(self, kind: str, x: float, y: float, buttons: int = 0, **extra: Any) -> None:
        self.browser.call(
            "Input.dispatchMouseEvent", self.session, type=kind, x=x, y=y, buttons=buttons, **extra
        )

    def click(self, selector: str) -> None:
        """A left click at the element's centre: moved there, pressed, released."""
        x, y = self.centre(selector)
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, 1, button="left", clickCount=1)
        self.mouse("mouseReleased", x, y, 0, button="left", clickCount=1)

    def drag(self, points: list[tuple[float, float]]) -> None:
        """Press the left button at the first point, move through the others, release at the last."""
        (x, y), *rest = points
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, 1, button="left", clickCount=1)
        for x, y in rest:
            self.mouse("mouseMoved", x, y, 1, button="left")
        self.mouse("mouseReleased", x, y, 0, button="left", clickCount=1)

    def press(self, key: str, code: str, keycode: int, text: str | None = None) -> None:
        """A key pressed and released (`text`: the character it types, if any)."""
        down: dict[str, Any] = {"key": key, "code": code, "windowsVirtualKeyCode": keycode}
        if text is not None:
            down["text"] = text
        self.browser.call("Input.dispatchKeyEvent", self.session, type="keyDown", **down)
        self.browser.call(
            "Input.dispatchKeyEvent",
            self.session,
            type="keyUp",
            key=key,
            code=code,
            windowsVirtualKeyCode=keycode,
        )

    def type_into(self, selector: str, text: str) -> None:
        """Click the input, select what it holds, type `text` over it and press Enter."""
        self.click(selector)
        self.js(f"document.querySelector({json.dumps(selector)}).select()")
        self.browser.call("Input.insertText", self.session, text=text)
        self.press("Enter", "Enter", 13, "\r")


def check_screenshot(image: Image.Image, metrics: dict[str, Any]) -> None:
    scale = metrics["deviceScaleFactor"]
    assert (
        image.format == "PNG"
        and image.width == metrics["width"] * scale
        and image.height >= metrics["height"] * scale // 2
    )
    colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50, f"a near-blank screenshot ({len(colours)} colours)"


@contextlib.contextmanager
def launch(home: Path) -> Iterator[Browser]:
    """A headless Chromium with its profile and log under `home`, closed (its whole process group)
    on the way out."""
    b = Browser(chromium_binary(), home / "profile", home / "chromium.log")
    try:
        assert b.call("Browser.getVersion")["product"], "Chromium did not report its version"
        yield b
    finally:
        b.close()
