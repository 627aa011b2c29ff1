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
from genzoo.lab.drawer import Drawer
from genzoo.lab.session import Session

FPS = 20.0  # snapshots per second while training
KEEPALIVE = 10.0  # seconds between comments on an idle stream
HISTORY = 300  # the losses of the last pictures, sent to a page that opens (as many as its chart holds)
MAX_BODY = 2 * 1024 * 1024  # bytes of a command
ASSETS = {"lab.js": "text/javascript", "lab.css": "text/css"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Broadcast:
    """The latest snapshot, the session's latest description and its count, the chart up to that
    snapshot, and a counter of snapshots; streams wait for the counter to move. The four are
    published and read together, so a page that opens gets a chart that ends at its first picture."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seq = 0
        self.data = ""
        self.described = -1
        self.session = ""
        self.history = ""

    def publish(self, data: str, described: int, session: str, history: str) -> None:
        with self.cond:
            self.seq += 1
            self.data, self.described, self.session, self.history = data, described, session, history
            self.cond.notify_all()

    def wait(self, seq: int, timeout: float) -> tuple[int, str, int, str, str]:
        with self.cond:
            self.cond.wait_for(lambda: self.seq != seq, timeout=timeout)
            return self.seq, self.data, self.described, self.session, self.history


class Lab:
    """A session, its training thread and its HTTP server."""

    def __init__(
        self,
        session: Session,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        save_dir: str | Path = "runs",
        draw_process: bool = True,
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
        self.step_time = 0.01  # seconds a training step takes, smoothed
        self.draw_process = draw_process
        self.drawer: Drawer | None = None
        self.session_json: tuple[Any, dict[str, Any], str] = (None, {}, "")
        self.metrics: tuple[Any, dict[str, Any] | None] = (None, None)  # (run, its last known-truth figures)
        self.history: tuple[Any, tuple[dict[str, Any], ...]] = (None, ())  # (run, its last steps' losses)
        self.described = 0  # counts the session's descriptions: a stream sends a new one when it moves
        self.recording = export.Recording()  # the current run's pictures, for the export button
        self.trainer = threading.Thread(target=self._train, name="genzoo-lab-train", daemon=True)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    def start(self) -> None:
        if self.draw_process:
            self.drawer = Drawer(self.session.threads)
        self.trainer.start()
        threading.Thread(target=self.httpd.serve_forever, name="genzoo-lab-http", daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        self.dirty.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.trainer.join(timeout=10)
        if self.drawer is not None:
            self.drawer.close()

    # --- the training thread --------------------------------------------------------------------
    def _train(self) -> None:
        """Train, and ask for FPS pictures a second on a fixed clock (late ones catch up), one in
        flight at a time: drawn by the drawing process beside training, or — before it has
        started, or without one — in this thread between the steps. The steps between two
        pictures are taken in chunks that fill half the time left, by the steps' own pace, at most
        `speed` of them (slow motion). While paused: a picture after each command."""
        s = self.session
        counted, since = 0, time.perf_counter()
        due, taken = since, 0  # when the next picture is asked for; steps since the last one was
        while not self.stopping.is_set():
            self._collect()
            now = time.perf_counter()
            if not s.playing:
                counted, since, taken, s.rate = 0, now, 0, 0.0
                if self._drawing():
                    self._collect(0.05)
                elif self.dirty.wait(timeout=0.5):
                    self.dirty.clear()
                    self._ask()
                    due = time.perf_counter() + 1.0 / FPS
                continue
            if now - since >= 1.0:  # steps per second of wall time, the pictures' included
                s.rate, counted, since = counted / (now - since), 0, now
            if now >= due and not self._drawing():
                self._ask()
                due, taken = max(due, now - 1.0 / FPS) + 1.0 / FPS, 0
                continue
            if taken >= s.speed:  # slow motion: the steps of this picture are taken
                wait = min(max(due - now, 0.0), 0.01)
                if self._drawing():
                    self._collect(wait)
                else:
                    time.sleep(wait)
                continue
            chunk = max(1, min(s.speed - taken, int(0.5 * (due - now) / self.step_time)))
            t0 = time.perf_counter()
            try:
                chunk = s.train_steps(chunk, run=s.run)  # none if a command paused or rebuilt it since
            except Exception as exc:  # noqa: BLE001 - shown on the page; the lab goes on
                s.playing = False
                self.message = str(exc) if isinstance(exc, GenzooError) else f"{type(exc).__name__}: {exc}"
                self.dirty.set()
                continue
            if chunk:
                self.step_time = 0.8 * self.step_time + 0.2 * (time.perf_counter() - t0) / chunk
            taken += chunk
            counted += chunk

    def _drawing(self) -> bool:
        return self.drawer is not None and self.drawer.busy

    def _ask(self) -> None:
        """A picture of the session now: asked of the drawing process, or drawn here."""
        s = self.session
        if self.drawer is not None and self.drawer.usable:
            self.drawer.ask(s)
            return
        try:
            head, metrics, drawing = s.copy_view()
            picture = drawing.picture(metrics)
            text = json.dumps(picture, allow_nan=False)
        except Exception as exc:  # noqa: BLE001 - a drawing failure is shown, not fatal to the server
            self._failed(exc)
            return
        self._publish(head, picture.get("metrics"), text)

    def _collect(self, timeout: float = 0.0) -> None:
        """Publish the drawing process's picture if it is done (waiting up to `timeout` for it)."""
        if self.drawer is None or self.drawer.failed is not None:
            return
        try:
            done = self.drawer.poll(timeout)
        except RuntimeError as exc:
            self._failed(exc)
            return
        if done is None:
            return
        head, metrics, picture = done
        if head["run"] != self.session.run:  # drawn from weights a reset has since replaced
            self.dirty.set()
            return
        self._publish(head, metrics, picture)

    def _failed(self, exc: BaseException) -> None:
        s = self.session
        s.playing = False
        head = {"run": s.run, "step": s.trainer.step, "playing": False}
        self._publish(head, None, json.dumps({"message": f"cannot draw the model: {exc}"}), drawn=False)

    def _publish(
        self, head: dict[str, Any], metrics: dict[str, Any] | None, picture: str, drawn: bool = True
    ) -> None:
        """Send a frame — its head and its picture, JSON text — to every stream, with the session's
        description after a change, and record it (the export button's recording)."""
        s = self.session
        if self.message is not None:
            head, self.message = {**head, "message": self.message}, None
        if metrics is not None:
            self.metrics = (head["run"], metrics)
        elif self.metrics[0] == head["run"]:  # the run's last figures: a page that opens now shows them
            head = {**head, "metrics": self.metrics[1]}
        text = json.dumps(head)[:-1] + ", " + picture[1:] if picture != "{}" else json.dumps(head)
        key = (s.run, s.speed, repr(s.values[s.family]))  # a new run: new family, data, seed or options
        if self.session_json[0] != key:  # the session's description, again only after a change
            info = s.session_info()
            self.session_json = (key, info, json.dumps(info))
            self.described += 1
        if drawn:
            self.recording.add(head["run"], self.session_json[1], head["step"], text, metrics)
            run, points = self.history
            if run != head["run"]:
                run, points = head["run"], ()
            if not points or points[-1]["step"] != head["step"]:  # replaced whole: streams read it as it is
                point = {"step": head["step"], "losses": head["losses"]}
                self.history = (run, (*points[-(HISTORY - 1) :], point))
        run, points = self.history
        history = json.dumps({"run": run, "points": points})
        self.broadcast.publish(text, self.described, self.session_json[2], history)

    def _unused(self, suffix: str) -> Path:
        """save_dir/lab-FAMILY-DATA-STAMP[-k]SUFFIX, a name not yet taken (two saves in a second)."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = f"lab-{self.session.family}-{self.session.data_name}-{stamp}"
        for k in range(1, 10_000):
            out = self.save_dir / f"{base}{'' if k == 1 else f'-{k}'}{suffix}"
            if not out.exists():
                return out
        raise GenzooError(f"no free name for {base} in {self.save_dir}")

    def command(self, cmd: Any) -> str:
        """A command of the page; "save" writes the session as a run directory under save_dir,
        "export" the current run's recording as a page that replays it without a server."""
        action = cmd.get("action") if isinstance(cmd, dict) else None
        if action in ("save", "export"):
            out = self._unused(".html" if action == "export" else "")
            if action == "save":
                path = self.session.save(out)
                return f"saved to {path} (genzoo evaluate {path})"
            recording = self.recording.copy()
            if not recording.frames:
                raise GenzooError("nothing to export yet: press play first")
            self.save_dir.mkdir(parents=True, exist_ok=True)
            path = export.write(recording, out)
            return f"exported {export.count(recording)} to {path} (opens without a server)"
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

        def parse_request(self) -> bool:  # each request of a kept-alive connection: its body unread
            self._read: bytes | None | bool = False
            return super().parse_request()

        def _body(self) -> bytes | None:
            """The request's body, read once (None: longer than MAX_BODY, left unread)."""
            if self._read is False:
                length = int(self.headers.get("Content-Length") or 0)
                self._read = self.rfile.read(length) if 0 <= length <= MAX_BODY else None
            return self._read

        def _send(self, status: int, body: bytes, kind: str) -> None:
            # a refused request's body is read and dropped, so that the connection serves the next
            # request (a browser sends it on the same one); one too long to read closes it
            if status >= 400 and self._body() is None:
                self.close_connection = True
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
            if self.close_connection:
                self.send_header("Connection", "close")
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
            body = self._body()
            if not body:
                self._reply(
                    HTTPStatus.BAD_REQUEST, {"ok": False, "error": "a command is a JSON body of at most 2 MB"}
                )
                return
            try:
                cmd = json.loads(body)
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
            seq, described = 0, None  # 0: nothing published yet
            try:
                while not lab.stopping.is_set():
                    new, data, count, session, history = lab.broadcast.wait(seq, KEEPALIVE)
                    if new == seq:
                        self.wfile.write(b": keep-alive\n\n")
                    else:
                        if count != described:  # the session's description changed (or the stream is new)
                            self.wfile.write(f"event: session\ndata: {session}\n\n".encode())
                            if described is None:  # a page that opens (or reloads): the chart so far
                                self.wfile.write(f"event: history\ndata: {history}\n\n".encode())
                            described = count
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
        while True:  # short sleeps: a Ctrl-C the kernel hands to another thread is seen within 0.2 s
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("genzoo lab: stopped", file=sys.stderr)
    finally:
        lab.stop()
