"""genzoo lab: the session (a family training a step at a time on genzoo's own trainer, its checked
controls, its pictures) and the server (the token, the Host check, the stream, commands, clients
that come and go)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from pathlib import Path

import pytest
import torch

import genzoo
from genzoo.errors import GenzooError
from genzoo.lab.server import Lab
from genzoo.lab.session import CHART, CONTROLS, LAYERS, Session
from genzoo.training.trainer import TrainConfig, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


def small(family: str, data: str = "ring8") -> Session:
    s = Session(family, data)
    if "width" in s.values[family]:
        s.command({"action": "set", "key": "width", "value": 16})
    return s


# --- the session -------------------------------------------------------------------------------
def test_advance_takes_the_steps_fit_takes():
    """Trainer.begin/advance, which the lab drives, give the weights fit() gives for as many steps
    (without EMA, whose average fit() swaps in at the end)."""
    data = genzoo.datasets.load("ring8", n=256)
    opts = {
        "steps": 5,
        "seed": 0,
        "threads": 1,
        "progress": False,
        "sample_grid": False,
        "batch_size": 32,
        "ema": 0,
    }
    fitted = genzoo.train(genzoo.models.create("gan", data, seed=0, hidden=(16,)), data, **opts)
    model = genzoo.models.create("gan", data, seed=0, hidden=(16,))
    trainer = Trainer(model, data, genzoo.config.build(TrainConfig, {**model.default_train, **opts}), None)
    trainer.begin()
    for _ in range(5):
        trainer.advance()
    assert trainer.step == 5
    a, b = fitted.model.state_dict(), model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_one_step_is_one_step_and_a_bad_value_changes_nothing():
    s = small("gan")
    before = {k: v.clone() for k, v in s.model.state_dict().items()}
    assert s.command({"action": "step"}) == "step 1" and s.trainer.step == 1
    assert s.command({"action": "step"}) == "step 2"
    after_two = {k: v.clone() for k, v in s.model.state_dict().items()}
    assert any(not torch.equal(before[k], after_two[k]) for k in before)
    for cmd, message in [
        (
            {"action": "set", "key": "lr", "value": 5.0},
            r"learning rate: expected a number in \[1e-05, 0.1\], got 5.0",
        ),
        ({"action": "set", "key": "lr", "value": "fast"}, "learning rate: expected a number, got 'fast'"),
        ({"action": "set", "key": "loss", "value": "hinge"}, "loss: expected one of minimax, non-saturating"),
        ({"action": "set", "key": "depth", "value": 2.5}, "hidden layers: expected an integer"),
        ({"action": "set", "key": "beta", "value": 1}, "gan has no control 'beta'"),
        ({"action": "fly"}, "unknown action 'fly'"),
        ({"action": "points", "points": [[0, 0]]}, "expected 2 to 20,000 finite"),
        ({"action": "speed", "value": 0}, r"speed: expected a number in \[1, 100\]"),
    ]:
        with pytest.raises(GenzooError, match=message):
            s.command(cmd)
    assert s.trainer.step == 2 and all(torch.equal(after_two[k], v) for k, v in s.model.state_dict().items())


def test_a_learning_rate_reaches_the_optimisers_and_options_rebuild_the_model(tmp_path):
    s = small("gan")
    base = [g["lr"] for o in s.trainer.optimizers for g in o.param_groups]
    s.command({"action": "set", "key": "lr", "value": 1e-3})
    s.command({"action": "set", "key": "lr", "value": 2e-3})  # a second change, from the first
    s.command({"action": "step"})
    now = [g["lr"] for o in s.trainer.optimizers for g in o.param_groups]
    assert now == pytest.approx([lr * 2e-3 / 5e-4 for lr in base])  # the critic's own scale kept
    config = json.loads((s.save(tmp_path / "run") / "config.json").read_text())
    assert config["train"]["lr"] == 2e-3 and config["train"]["ema"] in (0, None)  # saved as drawn
    s.command({"action": "set", "key": "latent_dim", "value": 3})
    assert s.trainer.step == 0 and s.model.latent_shape() == (3,)


@pytest.mark.parametrize("family", sorted(CONTROLS))
def test_every_family_draws_its_layers(family):
    s = small(family)
    if s.model.trainable:
        s.train_steps(3)
    snap = s.snapshot()
    json.dumps(snap, allow_nan=False)  # what the stream sends
    assert len(s.session_info()["real"]) == len(snap["fake"]) == 500  # the data with the session
    assert snap["metrics"]["modes covered"].endswith("/8")
    assert list(snap["losses"]) == [k for k in CHART[family] if k in s.losses]  # the charted terms, each once
    assert all(k in s.losses for k in CHART[family] if (k, family) != ("gp", "gan"))  # none misnamed
    layers = set(LAYERS[family])
    assert ("heat" in snap) == ("heat" in layers) and ("grid" in snap) == ("grid" in layers)
    assert ("arrows" in snap) == ("arrows" in layers) and ("latent" in snap) == ("posterior" in layers)
    assert ("paths" in snap) == ("trajectories" in layers) and ("codes" in snap) == (family == "infogan")
    if "heat" in layers:
        heat = snap["heat"]
        assert (
            len(heat["values"]) == heat["nx"] * heat["ny"]
            and 0 <= min(heat["values"]) <= max(heat["values"]) <= 1
        )
    if "grid" in layers:
        assert len(snap["grid"]) == 22 and all(len(line) == 25 for line in snap["grid"])
    if "arrows" in layers:
        longest = max((dx * dx + dy * dy) ** 0.5 for _, _, dx, dy in snap["arrows"])
        assert longest == pytest.approx(0.06 * (snap["bounds"][1] - snap["bounds"][0]), rel=1e-3)


def test_the_pictures_are_the_models_own():
    """What the page draws is the model's: an InfoGAN's samples are model.sample's with the
    categories of their codes, a DDPM's reverse paths end at its samples and start at its noise
    level, an autoencoder's latent plane holds its posterior means and its decoder's values."""
    from genzoo.lab import views

    seeded = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    s = small("infogan")
    s.train_steps(3)
    fake, codes = views.coded_samples(s.model, 64)
    inputs = s.model.sample_inputs(64, generator=seeded())
    assert torch.equal(fake, s.model.sample(64, generator=seeded()))
    k = s.model.config.categories
    assert k == 8 and codes == inputs[:, 2 : 2 + k].argmax(1).tolist() and len(set(codes)) > 1

    s = small("ddpm")
    s.train_steps(3)
    final, paths = views.reverse_paths(s.model, 64, 10)
    assert torch.equal(final, views.samples(s.model, 64))
    frames = torch.tensor(paths["frames"])
    assert frames.shape == (11, 10, 2) and torch.allclose(frames[-1], final[:10], atol=1e-4)
    ts = [level["t"] for level in paths["levels"]]
    assert ts[0] == s.model.config.timesteps and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    first, last = paths["levels"][0]["alpha_bar"], paths["levels"][-1]["alpha_bar"]
    assert first == round(float(s.model.schedule.alpha_bar[-1]), 6) and last == 1.0  # ᾱ_T by its schedule

    for family in ("vae", "aae"):
        s = small(family)
        s.train_steps(3)
        x = s.real[:5]
        plane = views.latent_plane(s.model, x, 7)
        encoded = torch.tensor(plane["encoded"])
        mu = s.model.posterior(x)[0] if family == "vae" else s.model.encode(x)
        assert torch.allclose(encoded[:, :2], mu, atol=1e-4) and len(plane["prior"]) == 7
        assert (encoded[:, 2:] > 0).all() if family == "vae" else (encoded[:, 2:] == 0).all()
        n, (z0, z1, _, _) = plane["decoded"]["n"], plane["bounds"]
        corners = s.model.decode(torch.tensor([[z0, z0], [z1, z0], [z1, z1]]))  # row by row from the bottom
        decoded = torch.tensor(plane["decoded"]["points"])[[0, n - 1, n * n - 1]]
        assert torch.allclose(decoded, corners, atol=1e-4)
        assert (plane["heat"] is None) == (family == "vae")


def test_a_critic_step_and_a_generator_step_move_one_network_each():
    """The GAN's one-critic-step and one-generator-step buttons: each is one step, and moves
    that network's weights alone (StepContext.phase); a family without phases refuses them."""
    s = small("gan")

    def moved():
        now = {k: v.clone() for k, v in s.model.state_dict().items()}
        out = {k.split(".")[0] for k in now if not torch.equal(now[k], before[k])}
        return out, now

    before = {k: v.clone() for k, v in s.model.state_dict().items()}
    assert s.command({"action": "step", "phase": "critic"}) == "step 1: the critic alone"
    changed, before = moved()
    assert changed == {"critic"} and "d_loss" in s.losses and "g_loss" not in s.losses
    assert s.command({"action": "step", "phase": "generator"}) == "step 2: the generator alone"
    changed, before = moved()
    assert changed == {"generator"} and set(s.losses) == {"g_loss"}
    with pytest.raises(GenzooError, match="model 'gan' has no training phase 'both'"):
        s.command({"action": "step", "phase": "both"})
    with pytest.raises(GenzooError, match=r"model 'vae' has no training phase 'critic' \(it has none\)"):
        small("vae").command({"action": "step", "phase": "critic"})
    assert s.trainer.step == 2


def test_the_generator_arrows_point_down_the_generator_loss():
    """A small move along the drawn arrows lowers the generator's loss (the gradient, by finite
    differences)."""
    from genzoo.lab import views
    from genzoo.models.gan.losses import generator_loss

    s = small("gan")
    s.train_steps(20)
    arrows = torch.tensor(views.generator_arrows(s.model, 50, s.bounds), dtype=torch.float32)
    x, d = arrows[:, :2], arrows[:, 2:]
    with torch.no_grad():
        loss = lambda p: float(generator_loss(s.model.config.loss, s.model.critic(p)).sum())  # noqa: E731
        assert loss(x + 1e-3 * d) < loss(x) < loss(x - 1e-3 * d)


def test_the_true_density_is_shown_where_it_is_known():
    """ring8 and grid25 are mixtures of N(μ_k, σ²I) with known μ_k and σ: the session sends them (the
    page draws each component's 1σ-3σ circles) and a "truth" layer; moons has no such density."""
    from genzoo.data.toy import GRID25_MODES, RING8_MODES

    for data, modes in (("ring8", RING8_MODES), ("grid25", GRID25_MODES)):
        session = Session("kde", data)
        info = session.session_info()
        assert torch.allclose(torch.tensor(info["truth"]["modes"]), modes, atol=1e-4)
        assert info["truth"]["sigma"] == session.data.extras["sigma"] and "truth" in info["layers"]
    info = Session("kde", "moons").session_info()
    assert info["truth"] is None and "truth" not in info["layers"]


def test_drawn_points_are_the_data_and_a_saved_session_is_a_run(tmp_path):
    s = small("vae")
    s.command({"action": "points", "points": [[0, 0], [1, 1], [2, 0.5], [0.5, 2]]})
    assert s.data_name == "drawn" and len(s.data) == 4 and s.trainer.step == 0
    s.command({"action": "data", "name": "moons"})
    s.train_steps(4)
    path = s.save(tmp_path / "run")
    model = genzoo.load(path)
    assert model.name == "vae" and json.loads((path / "config.json").read_text())["train"]["steps"] == 4
    assert (path / "samples.png").is_file()


# --- the server ------------------------------------------------------------------------------------
@pytest.fixture
def lab():
    lab = Lab(small("gan"), port=0)
    lab.start()
    yield lab
    lab.stop()


def request(lab, method, path, body=None, host=None, token=True):
    conn = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=10)
    sep = "&" if "?" in path else "?"
    url = f"{path}{sep}token={lab.token}" if token else path
    headers = {"Host": host or f"127.0.0.1:{lab.port}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    payload = body if isinstance(body, bytes) or body is None else json.dumps(body)
    conn.request(method, url, body=payload, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def stream(lab, timeout=10.0):
    """The stream's events, as (name, data) pairs, as they come."""
    sock = socket.create_connection(("127.0.0.1", lab.port), timeout=timeout)
    sock.sendall(f"GET /events?token={lab.token} HTTP/1.1\r\nHost: 127.0.0.1:{lab.port}\r\n\r\n".encode())
    buf = b""
    try:
        while True:
            buf += sock.recv(65536)
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                lines = dict(line.split(": ", 1) for line in block.decode().splitlines() if ": " in line)
                if "event" in lines:
                    yield lines["event"], json.loads(lines["data"])
    finally:
        sock.close()


def events(lab, n, timeout=10.0):
    """The first n events of a new stream."""
    events = stream(lab, timeout)
    out = [next(events) for _ in range(n)]
    events.close()
    return out


def test_every_request_needs_the_token_and_a_loopback_host(lab):
    assert request(lab, "GET", "/", token=False)[0] == 403
    assert request(lab, "GET", "/?token=wrong", token=False)[0] == 403
    assert request(lab, "GET", "/events", token=False)[0] == 403
    assert request(lab, "POST", "/command", {"action": "step"}, token=False)[0] == 403
    assert request(lab, "GET", "/", host=f"evil.example:{lab.port}")[0] == 403  # DNS rebinding
    status, page = request(lab, "GET", "/")
    assert status == 200 and lab.token.encode() in page and b"{{TOKEN}}" not in page
    for asset in ("lab.js", "lab.css"):
        assert request(lab, "GET", f"/static/{asset}")[0] == 200
    assert request(lab, "GET", "/static/../session.py")[0] == 404


def test_commands_answer_and_the_stream_shows_them(lab):
    status, body = request(lab, "POST", "/command", {"action": "step"})
    assert status == 200 and json.loads(body) == {"ok": True, "message": "step 1"}
    status, body = request(lab, "POST", "/command", {"action": "set", "key": "lr", "value": -1})
    assert status == 400 and json.loads(body)["error"].startswith("learning rate: expected a number in")
    assert request(lab, "POST", "/command", b"not json")[0] == 400
    first = events(lab, 3)
    assert [name for name, _ in first] == ["session", "history", "snapshot"] and first[0][1]["model"] == "gan"
    # a page that opens gets the chart so far: the losses of the steps drawn (here step 1, just taken)
    assert first[1][1]["points"][-1]["step"] <= first[2][1]["step"]
    tab = stream(lab)  # an open tab hears of another tab's change
    assert next(tab)[0] == "session"
    request(lab, "POST", "/command", {"action": "speed", "value": 7})
    t0 = time.time()
    while (event := next(tab)) and not (event[0] == "session" and event[1]["speed"] == 7):
        assert time.time() - t0 < 5, "the open stream never told of the new speed"
    tab.close()
    t0 = time.time()  # the picture after the step is drawn within a moment
    while (latest := events(lab, 3)[2][1])["step"] != 1:
        assert time.time() - t0 < 5, "the stream never showed step 1"
        time.sleep(0.05)
    # a page opened now shows the run's last known-truth figures (drawn with an earlier picture)
    assert latest["metrics"]["modes covered"].endswith("/8")


def test_clients_that_leave_or_come_together_do_not_stop_the_lab(lab):
    request(lab, "POST", "/command", {"action": "play"})
    for _ in range(3):  # a tab closed mid-stream, again and again
        sock = socket.create_connection(("127.0.0.1", lab.port), timeout=5)
        sock.sendall(f"GET /events?token={lab.token} HTTP/1.1\r\nHost: 127.0.0.1:{lab.port}\r\n\r\n".encode())
        sock.recv(100)
        sock.close()
    a, b = events(lab, 5), events(lab, 5)  # two tabs
    steps = [d["step"] for name, d in a + b if name == "snapshot"]
    assert len(steps) == 6 and max(steps) > 0
    request(lab, "POST", "/command", {"action": "pause"})
    assert lab.trainer.is_alive()


def test_a_port_in_use_is_one_line(capsys):
    from genzoo.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["lab", "--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}: Address already in use" in err


def test_the_drawing_process_draws_what_the_server_would():
    """The pictures drawn in the drawing process (from the weights copied into shared memory when
    asked) are the very JSON the server's own thread draws, for every family; a run's Drawing is
    sent once; the process ends when closed."""
    from genzoo.lab.drawer import Drawer

    drawer = Drawer(threads=1)
    try:
        t0 = time.time()
        while not drawer.ready:
            drawer.poll(0.1)
            assert drawer.failed is None and time.time() - t0 < 60, "the drawing process did not start"
        for family in CONTROLS:
            s = small(family)
            for _ in range(2):
                if s.model.trainable:
                    s.train_steps(3)
                drawer.ask(s)
                head, metrics, text = next(filter(None, (drawer.poll(0.1) for _ in range(300))))
                assert head["step"] == s.trainer.step and not drawer.busy
                assert text == json.dumps(s.drawing.picture(metrics), allow_nan=False), family
    finally:
        drawer.close()
    assert not drawer.proc.is_alive()


# --- recording and export ------------------------------------------------------------------------
def test_a_recording_keeps_frames_evenly_and_starts_again_with_a_new_run():
    from genzoo.lab.export import Recording

    rec = Recording(max_frames=8)
    for step in range(0, 100):
        metrics = {"m": step} if step == 63 else None
        rec.add(1, {"model": "gan"}, step, json.dumps({"step": step, "playing": True}), metrics)
    steps = [f["step"] for f in rec.data()["frames"]]
    # every step until 8 were kept, then every other one, ... : 0, 16, 32, ..., evenly over the run
    assert len(steps) <= 8 and steps[0] == 0 and len({b - a for a, b in zip(steps, steps[1:])}) == 1
    assert steps[-1] >= 100 - rec.every
    frames = rec.data()["frames"]
    assert [f["metrics"] for f in frames if f["metrics"]] == [{"m": 63}]  # passed on, not lost
    assert "playing" not in frames[0]  # a live page's, not a replay's
    rec.add(1, {}, None, '{"message": "diverged"}', None)  # nothing drawn: not kept
    rec.add(2, {"model": "vae"}, 0, '{"step": 0}', None)
    assert [f["step"] for f in rec.data()["frames"]] == [0] and rec.data()["session"] == {"model": "vae"}


def test_an_exported_page_holds_its_script_style_and_frames_and_asks_for_nothing(tmp_path, capsys):
    """`genzoo lab --export`: one file with the page's style and script inline, the frames as
    JSON that a "</script>" in the data cannot break out of, and a policy that allows no request."""
    from genzoo.cli import main
    from genzoo.lab import export

    out = tmp_path / "gan.html"
    assert main(["lab", "--export", str(out), "--steps", "20", "--frames", "4", "--model", "gan"]) == 0
    html = out.read_text()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html and "connect-src 'none'" in html
    assert not re.search(r"""(src|href)=["'](?!data:)""", html), "a reference to a file or a server"
    assert "{{TOKEN}}" not in html and "<style>" in html and "function connect" in html
    start = html.index("window.GENZOO_REPLAY = ") + len("window.GENZOO_REPLAY = ")
    data = json.loads(html[start : html.index(";</script>", start)].replace("<\\/", "</"))
    assert [f["step"] for f in data["frames"]] == [0, 5, 10, 15, 20] and data["session"]["model"] == "gan"
    assert all(f["metrics"]["modes covered"].endswith("/8") for f in data["frames"])

    rec = export.Recording()
    rec.add(0, {"model": "</script><script>alert(1)</script>"}, 0, '{"step": 0}', None)
    assert "</script><script>alert" not in export.page(rec)
    capsys.readouterr()
    assert main(["lab", "--export", str(tmp_path / "x.png")]) == 2
    assert "--export" in capsys.readouterr().err and not (tmp_path / "x.png").exists()
    assert main(["lab", "--steps", "5"]) == 2  # not a server's option: said, not ignored
    assert capsys.readouterr().err.count("\n") == 1


def test_the_export_button_writes_the_run_so_far(tmp_path):
    lab = Lab(small("kde"), port=0, save_dir=tmp_path)
    with pytest.raises(GenzooError, match="nothing to export yet"):
        lab.command({"action": "export"})
    lab._ask()
    saved = {lab.command({"action": "save"}).split()[2] for _ in range(2)}  # two in one second
    assert len(saved) == 2 and all(Path(p, "config.json").is_file() for p in saved)
    message = lab.command({"action": "export"})
    path = Path(re.search(r"^exported 1 picture to (\S+\.html) \(opens without a server\)$", message)[1])
    assert path.is_file() and path.parent == tmp_path and path.name.startswith("lab-kde-ring8-")
    lab.httpd.server_close()


def test_switching_the_model_while_it_trains_leaves_the_new_one_at_step_0():
    """A model switch while the old model trains: the training thread's next chunk, planned for the
    old model, is not taken on the new one (a KDE, which does not train, once killed the thread)."""
    lab = Lab(small("gan"), port=0, draw_process=False)
    lab.start()
    try:
        for name in ("kde", "vae", "kde", "vae", "kde", "vae"):
            lab.command({"action": "model", "name": "gan"})
            lab.command({"action": "play"})
            t0 = time.time()
            while lab.session.trainer.step < 3:
                assert time.time() - t0 < 10, "the gan did not train"
                time.sleep(0.01)
            lab.command({"action": "model", "name": name})
            time.sleep(0.1)
            assert lab.session.trainer.step == 0 and lab.trainer.is_alive(), name
    finally:
        lab.stop()


def test_ctrl_c_stops_the_lab_even_when_another_thread_receives_it(tmp_path):
    """The kernel may hand a Ctrl-C to any thread of the process; Python then raises it in the main
    thread only when that thread next runs. The lab's main thread waits in short sleeps, so a SIGINT
    delivered to its HTTP thread stops it at once (it waited in one-hour sleeps: the test's
    browser twin once saw the lab still running 5 s after Ctrl-C)."""
    import signal
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import signal, threading, time
        from genzoo.lab import server

        def poke():  # once the lab serves, a SIGINT to the HTTP thread alone
            while not any(t.name == "genzoo-lab-http" for t in threading.enumerate()):
                time.sleep(0.05)
            time.sleep(0.5)
            http = next(t for t in threading.enumerate() if t.name == "genzoo-lab-http")
            signal.pthread_kill(http.ident, signal.SIGINT)

        threading.Thread(target=poke, daemon=True).start()
        server.serve("gan", "ring8", browser=False, threads=1, save_dir={str(tmp_path)!r})
        """
    )
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored, as in a terminal
    )
    assert done.returncode == 0 and "genzoo lab: stopped" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert time.perf_counter() - t0 < 20  # not the hour of the old sleep
