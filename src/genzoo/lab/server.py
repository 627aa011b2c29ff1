"""The lab's server: the standard library's threading HTTP server (no dependency, nothing to
download; a page, three assets, one stream and one command route do not need more), the page's
snapshots streamed as Server-Sent Events (one-way, as the stream is; the browser reconnects by
itself), commands as JSON POSTs.

Safe by default: it binds to 127.0.0.1; every request and the stream need the session's random
token (in the URL, as Jupyter's); the Host header must name the loopback address and the port
(a web page that rebinds a domain name to 127.0.0.1 is refused); a command's values are checked by
the session, and a bad one is a message, not a crash. One thread trains and draws; the request
threads only read the latest snapshot, so a slow or vanished client never holds training back.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from genzoo.errors import GenzooError
from genzoo.lab import export
from genzoo.lab.session import Session

FPS = 20.0  # snapshots per second while training
KEEPALIVE = 10.0  # seconds between comments on an idle stream
MAX_BODY = 2 * 1024 * 1024  # bytes of a command
ASSETS = {"lab.js": "text/javascript", "lab.css": "text/css"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Broadcast:
    """The latest snapshot and a counter; streams wait for the counter to move."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seq = 0
        self.data = ""
        self.version = -1
        self.session = ""

    def publish(self, data: str, version: int, session: str) -> None:
        with self.cond:
            self.seq += 1
            self.data, self.version, self.session = data, version, session
            self.cond.notify_all()

    def wait(self, seq: int, timeout: float) -> tuple[int, str, int, str]:
        with self.cond:
            self.cond.wait_for(lambda: self.seq != seq, timeout=timeout)
            return self.seq, self.data, self.version, self.session


class Lab:
    """A session, its training thread and its HTTP server."""

    def __init__(
        self, session: Session, *, host: str = "127.0.0.1", port: int = 0, save_dir: str | Path = "runs"
    ) -> None:
        self.session = session
        self.token = secrets.token_urlsafe(24)
        self.save_dir = Path(save_dir)
        self.broadcast = Broadcast()
        self.dirty = threading.Event()
        self.dirty.set()
        self.message: str | None = None
        self.stopping = threading.Event()
        try:
            self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as exc:  # a port in use, an address this machine does not have
            raise GenzooError(f"the lab cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        # the Host header names the loopback address (DNS rebinding is refused); a server asked to
        # listen on another address (--host) is reached by other names, and the token alone guards it
        self.loopback = host in LOOPBACK
        self.allowed_hosts = {f"{h}:{self.port}" for h in ("127.0.0.1", "localhost", "[::1]")}
        self.draw_time = 0.0  # seconds a picture takes, smoothed
        self.step_time = 0.01  # seconds a training step takes, smoothed
        self.session_json: tuple[Any, dict[str, Any], str] = (None, {}, "")
        self.recording = export.Recording()  # the current run's pictures, for the export button
        self.trainer = threading.Thread(target=self._train, name="genzoo-lab-train", daemon=True)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    def start(self) -> None:
        self.trainer.start()
        threading.Thread(target=self.httpd.serve_forever, name="genzoo-lab-http", daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        self.dirty.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.trainer.join(timeout=10)

    # --- the training thread --------------------------------------------------------------------
    def _train(self) -> None:
        """Train and draw in turn on one thread: FPS pictures a second while playing, the time
        between them spent training (`speed` steps per picture at most: slow motion); while
        paused, a picture after each command. (A second thread drawing from a copy of the weights
        was slower on 2 cores: the two threads' Python fights over the interpreter lock.)"""
        s = self.session
        counted, since = 0, time.perf_counter()
        frame = since  # when the next picture is due: on a fixed clock, so that late ones catch up
        while not self.stopping.is_set():
            start = time.perf_counter()
            if not s.playing:
                counted, since = 0, start
                if not self.dirty.wait(timeout=0.5):
                    continue
            elif start - since >= 1.0:  # steps per second of wall time, the pictures' included
                s.rate, counted, since = counted / (start - since), 0, start
            frame = max(frame + 1.0 / FPS, start - 1.0 / FPS) if s.playing else start + 1.0 / FPS
            due, taken = frame - self.draw_time, 0
            try:
                while s.playing and taken < s.speed and (taken == 0 or time.perf_counter() < due):
                    # in chunks that fill half the time left, by the steps' own pace
                    left = due - time.perf_counter()
                    chunk = max(1, min(s.speed - taken, int(0.5 * left / self.step_time)))
                    t0 = time.perf_counter()
                    s.train_steps(chunk)
                    self.step_time = 0.8 * self.step_time + 0.2 * (time.perf_counter() - t0) / chunk
                    taken += chunk
            except GenzooError as exc:
                self.message = str(exc)
            counted += taken
            self.dirty.clear()
            t0 = time.perf_counter()
            self._publish()
            self.draw_time = 0.8 * self.draw_time + 0.2 * (time.perf_counter() - t0)
            rest = frame - time.perf_counter()
            if rest > 0 and s.playing and taken >= s.speed:
                time.sleep(rest)  # slow motion: the steps of this picture are taken

    def _publish(self) -> None:
        s = self.session
        try:
            snap = s.snapshot()
        except Exception as exc:  # noqa: BLE001 - a drawing failure is shown, not fatal to the server
            snap = {"step": s.trainer.step, "playing": False, "message": f"cannot draw the model: {exc}"}
            s.playing = False
        if self.message is not None:
            snap["message"], self.message = self.message, None
        key = (s.version, s.seed, s.speed, repr(s.values[s.family]))
        if self.session_json[0] != key:  # the session's description, again only after a change
            info = s.session_info()
            self.session_json = (key, info, json.dumps(info))
        self.recording.add(snap.get("run"), self.session_json[1], snap)
        self.broadcast.publish(json.dumps(snap), s.version, self.session_json[2])

    def command(self, cmd: Any) -> str:
        """A command of the page; "save" writes the session as a run directory under save_dir,
        "export" the current run's recording as a page that replays it without a server."""
        action = cmd.get("action") if isinstance(cmd, dict) else None
        if action in ("save", "export"):
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out = self.save_dir / f"lab-{self.session.family}-{self.session.data_name}-{stamp}"
            if action == "save":
                path = self.session.save(out)
                return f"saved to {path} (genzoo evaluate {path})"
            if not self.recording.frames:
                raise GenzooError("nothing to export yet: press play first")
            self.save_dir.mkdir(parents=True, exist_ok=True)
            path = export.write(self.recording, out.with_suffix(".html"))
            return f"exported {export.count(self.recording)} to {path} (opens without a server)"
        try:
            return self.session.command(cmd)
        finally:
            self.dirty.set()


def _handler(lab: Lab) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "genzoo-lab"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

        def _allowed(self) -> bool:
            query = parse_qs(urlsplit(self.path).query)
            token = (query.get("token") or [""])[0]
            if lab.loopback and self.headers.get("Host", "") not in lab.allowed_hosts:
                self._send(HTTPStatus.FORBIDDEN, b"host not allowed\n", "text/plain")
                return False
            if not hmac.compare_digest(token.encode(), lab.token.encode()):
                self._send(HTTPStatus.FORBIDDEN, b"a valid token is required\n", "text/plain")
                return False
            return True

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            if not self._allowed():
                return
            path = urlsplit(self.path).path
            static = resources.files("genzoo.lab") / "static"
            if path == "/":
                page = (static / "index.html").read_text(encoding="utf-8").replace("{{TOKEN}}", lab.token)
                self._send(HTTPStatus.OK, page.encode(), "text/html")
            elif path.startswith("/static/") and path[len("/static/") :] in ASSETS:
                name = path[len("/static/") :]
                self._send(HTTPStatus.OK, (static / name).read_bytes(), ASSETS[name])
            elif path == "/events":
                self._stream()
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            if not self._allowed():
                return
            if urlsplit(self.path).path != "/command":
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._reply(
                    HTTPStatus.BAD_REQUEST, {"ok": False, "error": "a command is a JSON body of at most 2 MB"}
                )
                return
            try:
                cmd = json.loads(self.rfile.read(length))
                message = lab.command(cmd)
            except (ValueError, GenzooError) as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"ok": False, "error": str(exc).splitlines()[0][:300]})
                return
            self._reply(HTTPStatus.OK, {"ok": True, "message": message})

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _stream(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            seq, version = 0, None  # 0: nothing published yet
            try:
                while not lab.stopping.is_set():
                    new, data, ver, session = lab.broadcast.wait(seq, KEEPALIVE)
                    if new == seq:
                        self.wfile.write(b": keep-alive\n\n")
                    else:
                        if ver != version:
                            self.wfile.write(f"event: session\ndata: {session}\n\n".encode())
                            version = ver
                        self.wfile.write(f"event: snapshot\ndata: {data}\n\n".encode())
                        seq = new
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
                return  # the page went away: its thread ends, the session goes on

    return Handler


def serve(
    model: str = "gan",
    data: str = "ring8",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    browser: bool = True,
    threads: int = 1,
    save_dir: str | Path = "runs",
) -> None:
    """`genzoo lab`: serve a session until Ctrl-C."""
    import sys
    import webbrowser

    lab = Lab(Session(model, data, seed=seed, threads=threads), host=host, port=port, save_dir=save_dir)
    if host not in LOOPBACK:
        print(
            f"genzoo: warning: the lab listens on {host}: anyone who can reach it and has the token "
            "can drive it",
            file=sys.stderr,
        )
    lab.start()
    print(f"genzoo lab: {lab.url}\n(Ctrl-C stops it)", flush=True)
    if browser:
        webbrowser.open(lab.url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("genzoo lab: stopped", file=sys.stderr)
    finally:
        lab.stop()
