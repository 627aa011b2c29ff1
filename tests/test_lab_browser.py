"""`genzoo lab` opened in a real browser (headless Chromium, driven as in test_report_browser.py).

One `genzoo lab` process (the command line, as a user starts it, on a free port) and one page for
the module; the tests run in order on the same session, as a user would: the page loads from the
lab alone, play changes the picture and a GAN covers ring8's 8 modes, a reload keeps the session,
step and "s" take one step each, a bad value is a message, the sliders reach the model, save
writes a run that loads, the critic and generator buttons take one half step each, every family
draws (its own plane, slider or legend shown), the export button writes a page of the run, an
exported page replays in the browser with no request, drawn points become the data, and Ctrl-C
stops the server cleanly. The tests that switch the model bring the GAN back for those after them.
Buttons, sliders, keys and drawing are real input events (Input.dispatchMouseEvent/KeyEvent);
every wait polls with its own time budget. Screenshots go to each test's tmp_path. A refused
command leaves its kept-alive connection usable for the next request.

tests/test_lab.py tests the session and the server without a browser.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import genzoo
from browser import DESKTOP, Page, check_screenshot, launch
from genzoo.lab import FAMILIES
from genzoo.training import checkpoint as ckpt

# Measured here (2 shared cores, Chromium drawing 20 pictures a second beside the training): the
# default GAN on ring8 first showed "8/8" modes covered 6-15 s after play (350-920 steps: the
# figure is computed once a second and comes and goes before it holds) in 11 runs; the lab alone,
# without a browser, 6.7 s. The budget is about three times the typical 10 s.
COVERAGE_BUDGET = 30.0
BUDGET = 10.0  # seconds for anything else the page or the server should do at once
START_BUDGET = 60.0  # the lab's first line: Python, torch and the first model

STEPCOUNT = "+document.getElementById('stepcount').textContent"
PLAYING = "document.getElementById('play').getAttribute('aria-pressed') === 'true'"
MESSAGE = (
    "(() => { const m = document.getElementById('message'); "
    "return {text: m.textContent, kind: m.className, shown: !m.hidden && m.checkVisibility()}; })()"
)
METRICS = (
    "Object.fromEntries([...document.querySelectorAll('#metrics tr')]"
    ".map(r => [r.cells[0].textContent, r.cells[1].textContent]))"
)
PLANE = "document.getElementById('plane').toDataURL()"
# the server's own state, read as a new page would read it: the first events of a fresh stream
SERVER_STATE = """(async () => {
  const token = new URLSearchParams(location.search).get('token');
  const r = await fetch('/events?token=' + encodeURIComponent(token));
  const reader = r.body.getReader(), text = new TextDecoder(), out = {};
  let buf = '';
  while (!(out.session && out.snapshot)) {
    const {value, done} = await reader.read();
    if (done) break;
    buf += text.decode(value, {stream: true});
    for (let i; (i = buf.indexOf('\\n\\n')) >= 0; buf = buf.slice(i + 2)) {
      const block = buf.slice(0, i), ev = /^event: (\\w+)$/m.exec(block), data = /^data: (.*)$/m.exec(block);
      if (ev && data) out[ev[1]] = JSON.parse(data[1]);
    }
  }
  reader.cancel();
  return out;
})()"""


class LabProcess:
    """`genzoo lab` running as a subprocess: its address, token and files."""

    def __init__(self, proc: subprocess.Popen, url: str, save_dir: Path, stderr: Path) -> None:
        self.proc, self.url, self.save_dir, self.stderr = proc, url, save_dir, stderr
        m = re.fullmatch(r"(http://127\.0\.0\.1:(\d+)/)\?token=([\w-]+)", url)
        assert m, f"the lab printed an unexpected address: {url!r}"
        self.origin, self.port, self.token = m.group(1), int(m.group(2)), m.group(3)


def ctrl_c_as_in_a_terminal() -> None:
    """In the child: SIGINT as a terminal's process has it. A command started in the background of a
    script (`bash .ci/run &`) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("lab")
    save_dir, stderr = home / "runs", home / "stderr.txt"
    argv = [sys.executable, "-m", "genzoo.cli", "lab", "--no-browser", "--port", "0", "--threads", "1"]
    argv += ["--model", "gan", "--data", "ring8", "--seed", "0", "--save-dir", str(save_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    with open(stderr, "w") as err:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=err, text=True, env=env, preexec_fn=ctrl_c_as_in_a_terminal
        )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        try:
            first = lines.get(timeout=START_BUDGET)
        except queue.Empty:
            pytest.fail(f"genzoo lab printed no address within {START_BUDGET:g} s: {stderr.read_text()}")
        assert first.startswith("genzoo lab: http://"), f"{first!r}; stderr: {stderr.read_text()}"
        yield LabProcess(proc, first.split(": ", 1)[1].strip(), save_dir, stderr)
    finally:
        if proc.poll() is None:  # the last test stops it with Ctrl-C; after a failure, this does
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def page(lab, tmp_path_factory):
    """The lab's page (its address with the token), once the session has arrived from the server
    and a picture with the known-truth figures has been drawn."""
    with launch(tmp_path_factory.mktemp("chromium")) as browser:
        p = browser.open(lab.url, DESKTOP)
        p.wait_for(
            "document.querySelectorAll('#controls .control').length > 0 "
            "&& document.querySelectorAll('#metrics tr').length > 0",
            BUDGET,
            "the session's controls and a first picture",
        )
        watch_console(p)
        yield p


def message(page: Page, pattern: str, kind: str = "info") -> re.Match:
    """Wait for the message box to show a message of this kind matching `pattern`."""
    got = page.wait_for(
        f"(m => m.shown && m.kind === {json.dumps(kind)} && new RegExp({json.dumps(pattern)}).test(m.text)"
        f" && m)({MESSAGE})",
        BUDGET,
        f"a message ({kind}) matching {pattern!r}",
        show=MESSAGE,
    )
    return re.search(pattern, got["text"])


def step_count(page: Page) -> int:
    return page.js(STEPCOUNT)


def pause(page: Page) -> int:
    """Press the play button to pause; the step count once it has stopped moving."""
    page.wait_for(PLAYING, BUDGET, "the play button showing a playing session")
    page.click("#play")
    page.wait_for(f"!({PLAYING})", BUDGET, "the play button showing a paused session")
    message(page, "^paused$")
    last, steady = step_count(page), time.monotonic()
    deadline = steady + BUDGET
    while time.monotonic() - steady < 0.5:  # the pictures already on their way come in
        assert time.monotonic() < deadline, "the step count still moves after pause"
        time.sleep(0.05)
        now = step_count(page)
        if now != last:
            last, steady = now, time.monotonic()
    return last


def halt(page: Page) -> None:
    """Press the play button to pause, and wait for the server's answer (not for the pictures on
    their way, as `pause` does)."""
    page.click("#play")
    page.wait_for(f"!({PLAYING})", BUDGET, "the play button showing a paused session")
    message(page, "^paused$")


def server_state(page: Page) -> dict[str, Any]:
    return page.js(SERVER_STATE)


def control(state: dict[str, Any], key: str) -> Any:
    session = state["session"]
    controls = session["models"][session["model"]]["controls"]
    return next(c["value"] for c in controls if c["key"] == key)


def server_agrees(page: Page, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    """The server's state once `check(state)` holds: the command's answer comes before the
    training thread publishes the state it made (within a picture's time)."""
    deadline = time.monotonic() + BUDGET
    while not check(state := server_state(page)):
        assert time.monotonic() < deadline, f"the server's state never showed {what}: {state['session']}"
        time.sleep(0.05)
    return state


def ink(page: Page) -> dict[str, int] | None:
    """The box around the plane's non-white pixels (backing-store px), and the plane's size."""
    return page.js("""(() => { const c = document.getElementById('plane'), g = c.getContext('2d');
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let x0 = 1e9, x1 = -1, y0 = 1e9, y1 = -1;
      for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
        const o = 4 * (y * c.width + x);
        if (d[o] < 240 || d[o + 1] < 240 || d[o + 2] < 240) {
          x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
      }
      return x1 < 0 ? null : {x0, x1, y0, y1, w: c.width, h: c.height}; })()""")


# a family's own marks on the page, all set from the pictures it draws (a session event sets none
# of them): its heat map's label, the latent plane, the noise-level slider, the code legend
LOOK = """(() => { const $ = id => document.getElementById(id), seen = id => $(id).checkVisibility();
  return {model: $('model-name').textContent, step: +$('stepcount').textContent,
          latent: seen('latent'), noise: seen('noise'), codes: seen('codes'),
          critic: seen('step-critic'), generator: seen('step-generator'),
          heat: $('heat-label').textContent, latentHeat: $('latent-heat-label').textContent,
          hint: $('latent-hint').textContent}; })()"""
# what a picture of this family alone shows (`l`: LOOK): the last family's is not taken for it
OWN = {
    "gan": "l.heat.startsWith('critic D(x)') && !l.codes && !l.latent && !l.noise",
    "vae": "l.latent && l.hint.includes('ellipses') && l.latentHeat === ''",
    "aae": "l.latent && l.latentHeat === 'code discriminator D(z)'",
    "ddpm": "l.noise",
    "kde": "l.heat.startsWith('density (scaled)')",
    "infogan": "l.codes && l.heat.startsWith('critic D(x)')",
}
LEGEND = (  # the loss chart's legend: each term's latest value ("–" where the last step sent none)
    "Object.fromEntries([...document.querySelectorAll('#legend .term')]"
    ".map(e => [e.children[1].textContent, e.children[2].textContent]))"
)
PHASED = ("gan", "infogan")  # the families whose step has phases: the critic and generator buttons
LOCAL = ("file:", "data:", "about:")  # all that an exported page may load: itself
TYPE_AHEAD = 1.1  # s: a select joins the letters typed within a second into one word to find
last_typed = {"model": 0.0}


def watch_console(page: Page) -> None:
    """Report the page's console and log to the browser's events (what it logged before comes too)."""
    page.browser.call("Runtime.enable", page.session)
    page.browser.call("Log.enable", page.session)


def console_errors(page: Page, since: int = 0) -> list[str]:
    """The page's errors among the browser's events from number `since` on (watch_console): an
    uncaught exception, console.error, and the browser's own error entries (a resource that did
    not load, a request the content security policy refused)."""
    out = []
    for ev in page.browser.events[since:]:
        method, params = ev.get("method"), ev.get("params", {})
        if ev.get("sessionId") != page.session:
            continue
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            out.append(details.get("exception", {}).get("description") or details["text"])
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            out.append(params["entry"]["text"])
    return out


def choose_model(page: Page, family: str) -> None:
    """Choose `family` in the model select from the keyboard, as a user can: the select focused and
    the family's first letter typed (each family's is its own); the server answers "FAMILY: ..."
    and the page shows the family's session."""
    wait = last_typed["model"] + TYPE_AHEAD - time.monotonic()
    if wait > 0:  # a letter typed within a second of the last would be read as the word's next one
        time.sleep(wait)
    page.js("document.getElementById('model').focus()")
    page.press(family[0], f"Key{family[0].upper()}", ord(family[0].upper()), family[0])
    last_typed["model"] = time.monotonic()
    page.js("document.getElementById('model').blur()")
    message(page, f"^{family}: ")
    page.wait_for(
        f"document.getElementById('model').value === '{family}' "
        f"&& document.getElementById('model-name').textContent === '{family}'",
        BUDGET,
        f"the page showing the {family}'s session",
        show="document.getElementById('model-name').textContent",
    )


def steady_plane(page: Page) -> str:
    """The plane's picture once it has held still for 0.2 s (paused: the pictures already on their
    way come in first)."""
    deadline = time.monotonic() + BUDGET
    last = page.js(PLANE)
    while True:
        time.sleep(0.2)
        now = page.js(PLANE)
        if now == last:
            return now
        assert time.monotonic() < deadline, "the plane still changes while paused"
        last = now


def replay_data(html: str) -> dict[str, Any]:
    """The recording an exported page holds (`window.GENZOO_REPLAY = {...};`)."""
    start = html.index("window.GENZOO_REPLAY = ") + len("window.GENZOO_REPLAY = ")
    return json.loads(html[start : html.index(";</script>", start)].replace("<\\/", "</"))


# --- the tests, in the order a user goes ---------------------------------------------------------
def test_the_page_loads_from_the_lab(lab, page, tmp_path):
    """The page, its script and style and its stream come from the lab's own address; the session
    fills the selects and the controls (a slider and an editable readout per number)."""
    assert page.js("document.title") == "genzoo lab"
    assert page.js("document.getElementById('model').value") == "gan"
    assert page.js("document.getElementById('data').value") == "ring8"
    for key in ("lr", "width", "depth", "batch_size"):
        assert page.js(f"document.getElementById('control-{key}')?.type") == "range"
        assert page.js(f"document.getElementById('control-{key}-value')?.type") == "number"
    assert page.js("document.getElementById('control-loss')?.value") == "non-saturating"
    assert page.js("document.getElementById('layer-real')?.checked") is True
    asked = {u.split("?")[0] for u in page.requests()}
    assert {lab.origin, f"{lab.origin}static/lab.js", f"{lab.origin}static/lab.css"} <= asked
    assert f"{lab.origin}events" in asked
    check_screenshot(page.screenshot(tmp_path / "lab-loaded.png"), DESKTOP)


def test_a_request_without_the_token_is_refused(lab, page):
    """From the page itself (its origin, its Host header): the stream, the page and its style
    without the token, or with a wrong one, are 403; the same requests with it are answered.
    (A command without the token is 403 too: tests/test_lab.py, and see the next test.)"""
    statuses = page.js("""(async () => {
      const token = new URLSearchParams(location.search).get('token');
      const get = u => fetch(u).then(r => r.status);
      const ctl = new AbortController(), stream = await fetch('/events?token=' + token, {signal: ctl.signal});
      ctl.abort();
      return {stream: await get('/events'), page: await get('/'), wrong: await get('/?token=x' + token),
              css: await get('/static/lab.css'), streamWith: stream.status,
              pageWith: await get('/?token=' + token), cssWith: await get('/static/lab.css?token=' + token)};
    })()""")
    assert statuses == {
        "stream": 403,
        "page": 403,
        "wrong": 403,
        "css": 403,
        "streamWith": 200,
        "pageWith": 200,
        "cssWith": 200,
    }


def test_a_refused_command_leaves_the_connection_usable(lab):
    """A browser keeps connections alive and sends its next request on the same one (fetch can't
    say otherwise): after a command refused for want of the token, a good request on that
    connection must still be answered. Raw HTTP/1.1 on one socket, as the browser's pool does it
    (not from the page: a spoiled connection in its pool would break the tests after this one)."""
    host, body = f"127.0.0.1:{lab.port}", b'{"action": "pause"}'
    with socket.create_connection(("127.0.0.1", lab.port), timeout=BUDGET) as sock:
        sock.sendall(
            f"POST /command HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
            + f"GET /?token={lab.token} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    statuses = re.findall(rb"^HTTP/1\.1 (\d+)", reply, re.MULTILINE)
    assert statuses == [b"403", b"200"], reply[-300:]


def test_play_changes_the_picture_and_a_gan_covers_ring8(lab, page, tmp_path):
    """Paused, the picture holds still; play (a click on the button) trains, the picture changes,
    and the default GAN on ring8 (seed 0) shows 8/8 modes covered within COVERAGE_BUDGET."""
    assert step_count(page) == 0 and not page.js(PLAYING)
    page.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    before = page.js(PLANE)
    time.sleep(0.3)
    assert page.js(PLANE) == before, "the picture changes while paused"
    assert page.js(METRICS)["modes covered"] != "8/8"  # untrained: not yet
    page.click("#play")
    t0 = time.monotonic()
    page.wait_for(PLAYING, BUDGET, "the play button showing play")
    page.wait_for(f"{STEPCOUNT} > 0", BUDGET, "training steps")
    page.wait_for(f"{PLANE} !== {json.dumps(before)}", BUDGET, "a new picture")
    page.wait_for(
        f"{METRICS}['modes covered'] === '8/8'",
        COVERAGE_BUDGET,
        "8/8 modes covered",
        show=f"[{METRICS}, {STEPCOUNT}]",
    )
    print(f"8/8 modes covered after {time.monotonic() - t0:.1f} s, step {step_count(page)}")
    check_screenshot(page.screenshot(tmp_path / "lab-8-modes.png"), DESKTOP)


def test_a_reload_during_training_keeps_the_session(lab, page):
    """A reload while training (a new page, a new stream) finds the session where it was: the
    step count goes on from there, not from 0, still playing; the server has not stopped."""
    if not page.js(PLAYING):
        page.click("#play")
    page.wait_for(f"{STEPCOUNT} >= 50", BUDGET, "some training")
    before = step_count(page)
    page.reload()
    first = page.wait_for(f"{STEPCOUNT} || null", BUDGET, "a step count after the reload")
    assert first >= before, f"after the reload the session is at step {first}, before it was at {before}"
    page.wait_for(PLAYING, BUDGET, "the reloaded page showing the session playing")
    page.wait_for(f"{STEPCOUNT} > {first}", BUDGET, "training going on after the reload")
    assert page.js("document.getElementById('model').value") == "gan"
    assert lab.proc.poll() is None


def test_step_and_s_take_exactly_one_step(lab, page):
    """Paused, each click on the step button and each "s" key press takes one training step: the
    step count moves by one, the message says the step, and no more steps follow."""
    start = pause(page)
    for n in range(start + 1, start + 4):
        page.click("#step")
        message(page, f"^step {n}$")
        page.wait_for(f"{STEPCOUNT} === {n}", BUDGET, f"step {n} shown", show=STEPCOUNT)
    for n in range(start + 4, start + 6):
        page.press("s", "KeyS", 83, "s")
        message(page, f"^step {n}$")
        page.wait_for(f"{STEPCOUNT} === {n}", BUDGET, f"step {n} shown", show=STEPCOUNT)
    time.sleep(0.5)
    assert step_count(page) == start + 5 and not page.js(PLAYING)
    assert server_state(page)["snapshot"]["step"] == start + 5


def test_a_bad_control_value_is_a_message_and_training_goes_on(lab, page, tmp_path):
    """A learning rate typed out of its range is an error message naming the range; the readout
    goes back to the value in force, and training goes on when play is pressed."""
    if page.js(PLAYING):
        pause(page)
    lr = page.js("document.getElementById('control-lr-value').value")
    page.type_into("#control-lr-value", "5")
    message(page, r"^learning rate: expected a number in \[1e-05, 0\.1\], got 5(\.0)?$", "error")
    page.screenshot(tmp_path / "lab-bad-value.png")
    page.wait_for(
        f"document.getElementById('control-lr-value').value === {json.dumps(lr)}",
        BUDGET,
        "the readout back at the learning rate in force",
        show="document.getElementById('control-lr-value').value",
    )
    assert control(server_state(page), "lr") == pytest.approx(float(lr))
    before = step_count(page)
    page.click("#play")
    page.wait_for(f"{STEPCOUNT} > {before + 20}", BUDGET, "training after the bad value", show=STEPCOUNT)
    pause(page)


def test_sliders_reach_the_model(lab, page):
    """The learning rate's slider (clicked, then moved with the arrow key) and the hidden width's
    typed readout reach the server's session: the message says so and a fresh stream's session
    holds the new values; the width rebuilds the model at step 0."""
    page.click("#control-lr")
    first = float(page.js("document.getElementById('control-lr-value').value"))
    assert first != pytest.approx(5e-4)
    found = message(page, r"^learning rate (\S+) from the next step$")
    assert float(found.group(1)) == pytest.approx(first, rel=1e-3)
    page.press("ArrowRight", "ArrowRight", 39)
    lr = float(page.js("document.getElementById('control-lr-value').value"))
    assert lr > first
    message(page, rf"^learning rate {re.escape(f'{lr:g}')} from the next step$")
    server_agrees(page, lambda state: control(state, "lr") == pytest.approx(lr, rel=1e-6), f"lr {lr}")

    page.type_into("#control-width-value", "32")
    message(page, "^hidden width 32: new weights, step 0$")
    page.wait_for(f"{STEPCOUNT} === 0", BUDGET, "step 0 after the new width", show=STEPCOUNT)
    state = server_agrees(page, lambda state: control(state, "width") == 32, "width 32")
    assert control(state, "lr") == pytest.approx(lr, rel=1e-6) and state["snapshot"]["step"] == 0
    assert page.js("document.getElementById('control-width').value") == "32"


def test_save_writes_a_run_that_loads(lab, page):
    """The save button writes a run directory under --save-dir whose config.json holds the
    session's options (the width and learning rate set above) and step; genzoo.load rebuilds the
    model and samples from it, and the training state's weights are the session's: from the page's
    fixed noise they draw the server's latest picture."""
    if page.js(PLAYING):
        pause(page)
    start = step_count(page)
    for n in (start + 1, start + 2):
        page.click("#step")
        page.wait_for(f"{STEPCOUNT} === {n}", BUDGET, f"step {n}")
    page.click("#save")
    found = message(page, r"^saved to (.+) \(genzoo evaluate (.+)\)$")
    run = Path(found.group(1))
    assert found.group(2) == found.group(1) and run.parent == lab.save_dir
    for name in (ckpt.CONFIG, ckpt.WEIGHTS, ckpt.STATE, ckpt.SAMPLES):
        assert (run / name).is_file(), f"{run}: no {name}"
    config = json.loads((run / ckpt.CONFIG).read_text())
    width = int(page.js("document.getElementById('control-width-value').value"))
    depth = int(page.js("document.getElementById('control-depth-value').value"))
    lr = float(page.js("document.getElementById('control-lr-value').value"))
    assert config["model"]["name"] == "gan" and config["data"]["name"] == "ring8"
    assert config["model"]["params"]["hidden"] == [width] * depth
    assert config["train"]["steps"] == start + 2 and config["train"]["lr"] == pytest.approx(lr, rel=1e-6)

    model = genzoo.load(run)  # the weights to sample from: the EMA of the weights (config train.ema)
    noise = torch.Generator().manual_seed(0)
    with torch.no_grad():
        samples = model.sample(500, generator=noise).reshape(500, 2)
    assert samples.shape == (500, 2) and torch.isfinite(samples).all()
    # the trained weights themselves, in the training state, are the session's: from the page's
    # fixed noise they give the server's latest picture (its points rounded to 4 decimals)
    state = ckpt.load_state(run / ckpt.STATE)
    assert int(state["step"]) == start + 2
    model.load_state_dict(state["model"])
    shown = server_state(page)["snapshot"]
    assert shown["step"] == start + 2
    with torch.no_grad():
        samples = model.sample(500, generator=torch.Generator().manual_seed(0)).reshape(500, 2)
    assert torch.allclose(samples.double(), torch.tensor(shown["fake"], dtype=torch.float64), atol=2e-4)


def test_a_critic_step_and_a_generator_step_take_one_step_each(lab, page):
    """Paused, the GAN's "critic step" and "generator step" buttons each take one step, a half of a
    training step: the step count moves by one, the message names the half, and the server's
    latest picture carries that half's losses alone (the critic's d_loss without the generator's
    g_loss, then g_loss alone); the chart's legend shows a dash for the half not taken. (Hidden
    for a family without phases, and shown again for the GAN: the next test.)"""
    if page.js(PLAYING):
        pause(page)
    since = len(page.browser.events)
    look = page.js(LOOK)
    assert look["critic"] and look["generator"], f"the GAN's half-step buttons are not shown: {look}"
    start = step_count(page)
    for n, phase, other in ((start + 1, "critic", "g_loss"), (start + 2, "generator", "d_loss")):
        page.click(f"#step-{phase}")
        message(page, f"^step {n}: the {phase} alone$")
        page.wait_for(f"{STEPCOUNT} === {n}", BUDGET, f"step {n} shown", show=STEPCOUNT)
        state = server_agrees(page, lambda state, n=n: state["snapshot"]["step"] == n, f"step {n}")
        losses = state["snapshot"]["losses"]
        if phase == "critic":
            assert "d_loss" in losses and "g_loss" not in losses, f"a critic step's losses: {losses}"
        else:
            assert set(losses) == {"g_loss"}, f"a generator step's losses: {losses}"
        assert all(isinstance(v, float) for v in losses.values()), losses
        legend = page.wait_for(
            f"(t => t[{json.dumps(other)}] === '–' && t)({LEGEND})",
            BUDGET,
            f"a dash for {other} in the legend after the {phase} step",
            show=LEGEND,
        )
        taken = "d_loss" if phase == "critic" else "g_loss"
        assert re.fullmatch(r"-?[\d.]+(e[-+]\d+)?", legend[taken]), f"the legend after the {phase}: {legend}"
    assert not page.js(PLAYING) and server_state(page)["snapshot"]["step"] == start + 2
    assert console_errors(page, since) == []


def test_every_family_draws_in_the_browser(lab, page, tmp_path):
    """Each family, chosen in the model select from the keyboard, draws on the page: a picture of
    that family arrives (its own mark: the GAN's critic D(x), the VAE's latent plane with its σ
    ellipses, the AAE's latent plane with its code discriminator, the DDPM's noise-level slider, the
    KDE's density, the InfoGAN's code legend) at step 0, the plane changes, and only that family's
    element is shown: the latent plane for vae and aae, the noise slider for ddpm, the code legend
    for infogan, the critic and generator buttons for gan and infogan. Play trains it and changes
    the picture again (the KDE is fitted, not trained: play says so and stays off); the DDPM's
    noise slider, clicked at its middle, noises the picture. No console error; a screenshot each.
    The GAN comes last: the session is a GAN again for the tests after this one. Each family is
    paused before the next is chosen: chosen while one plays, the new model can be handed a chunk
    of the old one's steps by the training thread, which dies of it when the new one is the KDE."""
    since = len(page.browser.events)
    assert len({f[0] for f in FAMILIES}) == len(FAMILIES), "choose_model types each family's first letter"
    for family in [f for f in FAMILIES if f != "gan"] + ["gan"]:
        if page.js(PLAYING):
            halt(page)
        before = page.js(PLANE)
        choose_model(page, family)
        look = page.wait_for(
            f"(l => l.model === '{family}' && ({OWN[family]}) && l)({LOOK})",
            BUDGET,
            f"a picture of the {family}",
            show=LOOK,
        )
        page.wait_for(f"{PLANE} !== {json.dumps(before)}", BUDGET, f"the plane redrawn for the {family}")
        assert look["step"] == 0, f"the {family} at step {look['step']}, not 0: not a new model"
        shown = {k: look[k] for k in ("latent", "noise", "codes", "critic", "generator")}
        assert shown == {
            "latent": family in ("vae", "aae"),
            "noise": family == "ddpm",
            "codes": family == "infogan",
            "critic": family in PHASED,
            "generator": family in PHASED,
        }, f"{family}: {look}"
        if family == "infogan":
            categories = int(page.js("document.getElementById('control-categories-value').value"))
            swatches = page.js("document.querySelectorAll('#codes i').length")
            assert swatches == categories, f"{swatches} colours in the legend of {categories} codes"
        page.wait_for(f"!({PLAYING})", BUDGET, f"the {family} paused")
        if family == "ddpm":
            still = steady_plane(page)
            noise = (
                "(n => ({value: +n.value, max: +n.max, t: document.getElementById('noise-out').textContent}))"
            )
            noise += "(document.getElementById('noise'))"
            clean = page.js(noise)
            assert (
                clean["max"] >= 2 and clean["value"] == clean["max"] and clean["t"] == "t = 0 · ᾱ = 1.00"
            ), clean
            page.click("#noise")
            moved = page.wait_for(
                f"(n => n.value < n.max && n.t !== {json.dumps(clean['t'])} && n)({noise})",
                BUDGET,
                "the noise slider and its readout moved",
                show=noise,
            )
            assert abs(moved["value"] - moved["max"] / 2) <= 1, f"a click at the middle: {moved}"
            level = re.fullmatch(r"t = (\d+) · ᾱ = ([\d.]+)", moved["t"])
            assert level, moved
            timesteps = int(page.js("document.getElementById('control-timesteps-value').value"))
            assert 0 < int(level[1]) < timesteps and 0 < float(level[2]) < 1, moved
            page.wait_for(
                f"{PLANE} !== {json.dumps(still)}", BUDGET, "the plane noised to the slider's level"
            )
        if family == "kde":  # the bandwidth follows its slider while the mouse still holds it
            still = page.js(PLANE)
            x, y = page.centre("#control-bandwidth")
            width = page.js("document.getElementById('control-bandwidth').getBoundingClientRect().width")
            page.mouse("mouseMoved", x, y)
            page.mouse("mousePressed", x, y, 1, button="left", clickCount=1)
            for dx in (0.1, 0.2, 0.3):
                page.mouse("mouseMoved", x + dx * width, y, 1, button="left")
            live = server_agrees(page, lambda state: control(state, "bandwidth") > 0.25, "a wider bandwidth")
            page.wait_for(f"{PLANE} !== {json.dumps(still)}", BUDGET, "the density redrawn while dragging")
            page.mouse("mouseReleased", x + 0.3 * width, y, 0, button="left", clickCount=1)
            assert control(live, "bandwidth") > 0.25
            message(page, r"^bandwidth \S+: new weights, step 0$")  # the release's own command answered
        still = page.js(PLANE)
        page.click("#play")
        if family == "kde":
            message(page, "^kde is fitted, not trained")
            page.wait_for(f"!({PLAYING})", BUDGET, "the play button back off for the kde")
        else:
            page.wait_for(f"{STEPCOUNT} > 0", BUDGET, f"the {family} training", show=STEPCOUNT)
            page.wait_for(f"{PLANE} !== {json.dumps(still)}", BUDGET, f"the {family}'s picture moving")
        check_screenshot(page.screenshot(tmp_path / f"lab-{family}.png"), DESKTOP)
        assert console_errors(page, since) == [], family
    assert page.js(PLAYING)
    halt(page)


def test_the_export_button_writes_a_page_of_the_run(lab, page):
    """While the lab plays, the export button writes the run so far as one page under --save-dir:
    the message names it and the pictures recorded, and the page holds them as
    window.GENZOO_REPLAY (the GAN's current run, its steps in order)."""
    if not page.js(PLAYING):
        page.click("#play")
    page.wait_for(PLAYING, BUDGET, "the play button showing play")
    start = step_count(page)
    page.wait_for(f"{STEPCOUNT} >= {start + 100}", BUDGET, "training", show=STEPCOUNT)
    page.click("#export")
    found = message(page, r"^exported (\d+) pictures? to (.+) \(opens without a server\)$")
    n, path = int(found.group(1)), Path(found.group(2))
    assert path.parent == lab.save_dir and path.name.startswith("lab-gan-ring8-") and path.suffix == ".html"
    html = path.read_text(encoding="utf-8")
    assert "window.GENZOO_REPLAY = " in html
    data = replay_data(html)
    steps = [f["step"] for f in data["frames"]]
    assert len(steps) == n >= 2 and data["session"]["model"] == "gan", (n, steps)
    assert steps == sorted(set(steps)) and steps[-1] >= steps[0] + 100, steps
    assert len({f["run"] for f in data["frames"]}) == 1, "frames of more than one run"
    halt(page)


def test_an_exported_page_replays_offline(page, tmp_path, capsys):
    """`genzoo lab --export FILE.html` (a VAE, 200 steps, 10 pictures) opened from the disk in a
    new tab: it asks nothing of the network (every request file:, data: or about:; one refused by
    its content security policy would be a console error) and logs no error; the banner says it is
    a replay, the frame slider has the recorded frames, the VAE's latent plane is shown, play walks
    through every frame in order to the last step and changes the plane, and dragging the frame
    slider back to its start shows step 0 and the first picture again. (The error check can fail:
    an error thrown and a request refused at the end are seen.)"""
    from genzoo.cli import main

    out = tmp_path / "vae.html"
    assert (
        main(["lab", "--export", str(out), *"--steps 200 --frames 10 --model vae --threads 1".split()]) == 0
    )
    found = re.search(r"^genzoo lab: (\d+) pictures of vae on ring8 in (.+)$", capsys.readouterr().out, re.M)
    assert found and Path(found.group(2)) == out, found
    steps = [f["step"] for f in replay_data(out.read_text(encoding="utf-8"))["frames"]]
    n = int(found.group(1))
    assert len(steps) == n == 11 and steps[0] == 0 and steps[-1] == 200, steps

    replay = page.browser.open(out, DESKTOP)
    target = page.browser.call("Target.getTargetInfo", replay.session)["targetInfo"]["targetId"]
    try:
        watch_console(replay)
        frame_out = "document.getElementById('frame-out').textContent"
        banner = replay.js("(b => b.checkVisibility() && b.textContent)(document.getElementById('banner'))")
        assert banner and "replay" in banner, f"the banner: {banner!r}"
        slider = replay.js(
            "(f => [f.checkVisibility(), +f.min, +f.max, +f.value])(document.getElementById('frame'))"
        )
        assert slider == [True, 0, n - 1, 0], f"the frame slider (shown, min, max, value): {slider}"
        assert replay.js(frame_out) == f"frame 1 / {n} · step 0" and replay.js(STEPCOUNT) == 0
        assert replay.js("document.getElementById('latent').checkVisibility()"), "no latent plane for the vae"
        assert replay.js("(m => m.value === 'vae' && m.disabled)(document.getElementById('model'))")
        replay.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        first = replay.js(PLANE)
        replay.js(f"""window.seen = [];   // every frame the readout shows, in order
          new MutationObserver(() => window.seen.push({frame_out})).observe(
            document.getElementById('frame-out'), {{childList: true, characterData: true, subtree: true}})""")
        replay.click("#play")
        last = f"frame {n} / {n} · step {steps[-1]}"
        replay.wait_for(
            f"{frame_out} === {json.dumps(last)} && !({PLAYING})",
            BUDGET,
            "the replay played to its last frame and stopped",
            show=frame_out,
        )
        assert replay.js("window.seen") == [f"frame {i + 1} / {n} · step {steps[i]}" for i in range(1, n)]
        assert replay.js(STEPCOUNT) == steps[-1]
        replay.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        assert replay.js(PLANE) != first, "the plane did not change over the replay"
        check_screenshot(replay.screenshot(tmp_path / "replay-end.png"), DESKTOP)

        left, right, y = replay.js(
            "(r => [r.left, r.right, r.top + r.height / 2])"
            "(document.getElementById('frame').getBoundingClientRect())"
        )
        # the thumb (at the right end after play) dragged past the slider's left end
        replay.drag([(right - 5 - (right - left + 20) * k / 6, y) for k in range(7)])
        replay.wait_for(
            f"{frame_out} === 'frame 1 / {n} · step 0' && {STEPCOUNT} === 0 && "
            "document.getElementById('frame').value === '0'",
            BUDGET,
            "the replay back at its first frame",
            show=f"[{frame_out}, {STEPCOUNT}]",
        )
        replay.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        assert replay.js(PLANE) == first, "the first frame's picture is not the one shown at the start"

        asked = replay.requests()
        assert out.resolve().as_uri() in asked, f"the request log lacks the page's own load: {asked}"
        assert [u for u in asked if not u.startswith(LOCAL)] == [], f"network requests: {asked}"
        assert console_errors(replay) == []
        replay.js(
            "setTimeout(() => { throw new Error('probe'); }); fetch('http://127.0.0.1:1/').catch(() => null)"
        )
        deadline = time.monotonic() + BUDGET
        while True:
            errors = console_errors(replay)
            if any("Error: probe" in e for e in errors) and any(
                "Content Security Policy" in e for e in errors
            ):
                break
            assert time.monotonic() < deadline, f"the probe's error and refused request not seen: {errors}"
            time.sleep(0.05)
    finally:
        page.browser.call("Target.closeTarget", targetId=target)


def test_drawn_points_become_the_data(lab, page, tmp_path):
    """In draw mode a drag across the plane (mouse pressed, moved, released) adds points along the
    stroke; on release they become the data: the data select shows "drawn", the server's session
    holds the points (a horizontal stroke: all at one height), and the plane's real points are
    redrawn as that line."""
    for name in page.js("[...document.querySelectorAll('#layers input')].map(i => i.id)"):
        if name != "layer-real":
            page.click(f"#{name}")  # the data's points alone on the plane
    assert page.js("[...document.querySelectorAll('#layers input:checked')].map(i => i.id)") == ["layer-real"]
    page.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    before, ring = page.js(PLANE), ink(page)
    assert ring and ring["y1"] - ring["y0"] > ring["h"] / 3  # ring8: a ring, tall on the plane
    page.click("#draw")
    assert page.js("document.getElementById('draw').getAttribute('aria-pressed')") == "true"
    box = page.js(
        "(r => [r.left, r.top, r.width, r.height])(document.getElementById('plane').getBoundingClientRect())"
    )
    left, top, width, height = box
    y = top + 0.3 * height
    page.drag([(left + width * (0.2 + 0.06 * i), y) for i in range(11)])
    found = message(page, r"^(\d+) drawn points are the data now$")
    n = int(found.group(1))
    assert n >= 20, f"a stroke across 60 % of the plane gave {n} points"
    page.wait_for("document.getElementById('data').value === 'drawn'", BUDGET, "the data select at drawn")
    state = server_state(page)["session"]
    assert state["data"] == "drawn" and len(state["real"]) == n
    ys = [p[1] for p in state["real"]]
    xs = [p[0] for p in state["real"]]
    assert max(ys) - min(ys) < 1e-3 and max(xs) - min(xs) > 0.5 * (state["bounds"][1] - state["bounds"][0])
    page.click("#draw")  # out of draw mode: the stroke's own marks are not drawn
    page.wait_for(f"{PLANE} !== {json.dumps(before)}", BUDGET, "the plane redrawn with the drawn data")
    line = ink(page)
    assert line, "nothing on the plane"
    assert line["y1"] - line["y0"] < 12, f"the drawn data are not one line: {line}"
    assert abs((line["y0"] + line["y1"]) / 2 - line["h"] / 2) < 12 and line["x1"] - line["x0"] > line["w"] / 2
    check_screenshot(page.screenshot(tmp_path / "lab-drawn.png"), DESKTOP)


def test_only_the_lab_was_asked_and_ctrl_c_stops_it(lab, page):
    """Every request the page made in this module went to the lab's own address (no CDN, nothing
    else); Ctrl-C (SIGINT) stops the lab at once with exit status 0, and the page says it lost
    the connection."""
    asked = page.requests()
    assert len(asked) > 10 and any("/command?token=" in u for u in asked)
    elsewhere = [u for u in asked if not u.startswith(lab.origin)]
    assert elsewhere == [], f"requests that left the lab: {elsewhere}"
    lab.proc.send_signal(signal.SIGINT)
    try:
        status = lab.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"genzoo lab still runs 5 s after Ctrl-C: {lab.stderr.read_text()}")
    err = lab.stderr.read_text()
    assert status == 0 and "genzoo lab: stopped" in err and "Traceback" not in err, err
    message(page, "^disconnected", "error")
