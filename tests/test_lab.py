"""genzoo lab: the session (a family training a step at a time on genzoo's own trainer, its checked
controls, its pictures) and the server (the token, the Host check, the stream, commands, clients
that come and go)."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
import torch

import genzoo
from genzoo.errors import GenzooError
from genzoo.lab.server import Lab
from genzoo.lab.session import CONTROLS, Session
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


def test_a_learning_rate_reaches_the_optimisers_and_options_rebuild_the_model():
    s = small("gan")
    base = [g["lr"] for o in s.trainer.optimizers for g in o.param_groups]
    s.command({"action": "set", "key": "lr", "value": 1e-3})
    s.command({"action": "step"})
    now = [g["lr"] for o in s.trainer.optimizers for g in o.param_groups]
    assert now == pytest.approx([lr * 1e-3 / 5e-4 for lr in base])  # the critic's own scale kept
    s.command({"action": "set", "key": "latent_dim", "value": 3})
    assert s.trainer.step == 0 and s.model.latent_shape() == (3,)


@pytest.mark.parametrize("family", sorted(CONTROLS))
def test_every_family_draws_its_layers(family):
    s = small(family)
    if s.model.trainable:
        s.train_steps(3)
    snap = s.snapshot()
    json.dumps(snap)  # what the stream sends
    assert len(s.session_info()["real"]) == len(snap["fake"]) == 500  # the data with the session
    assert snap["metrics"]["modes covered"].endswith("/8")
    if family in ("gan", "kde"):
        heat = snap["heat"]
        assert (
            len(heat["values"]) == heat["nx"] * heat["ny"]
            and 0 <= min(heat["values"]) <= max(heat["values"]) <= 1
        )
    if family in ("gan", "vae"):
        assert len(snap["grid"]) == 22 and all(len(line) == 25 for line in snap["grid"])
    if family == "gan":
        longest = max((dx * dx + dy * dy) ** 0.5 for _, _, dx, dy in snap["arrows"])
        assert longest == pytest.approx(0.06 * (snap["bounds"][1] - snap["bounds"][0]), rel=1e-3)


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


def events(lab, n, timeout=10.0):
    """The first n events of the stream, as (name, data) pairs."""
    sock = socket.create_connection(("127.0.0.1", lab.port), timeout=timeout)
    sock.sendall(f"GET /events?token={lab.token} HTTP/1.1\r\nHost: 127.0.0.1:{lab.port}\r\n\r\n".encode())
    buf, out, t0 = b"", [], time.time()
    while len(out) < n and time.time() - t0 < timeout:
        buf += sock.recv(65536)
        while b"\n\n" in buf and len(out) < n:
            block, buf = buf.split(b"\n\n", 1)
            lines = dict(line.split(": ", 1) for line in block.decode().splitlines() if ": " in line)
            if "event" in lines:
                out.append((lines["event"], json.loads(lines["data"])))
    sock.close()
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
    first = events(lab, 2)
    assert [name for name, _ in first] == ["session", "snapshot"] and first[0][1]["model"] == "gan"
    t0 = time.time()  # the picture after the step is drawn within a moment
    while events(lab, 2)[1][1]["step"] != 1:
        assert time.time() - t0 < 5, "the stream never showed step 1"
        time.sleep(0.05)


def test_clients_that_leave_or_come_together_do_not_stop_the_lab(lab):
    request(lab, "POST", "/command", {"action": "play"})
    for _ in range(3):  # a tab closed mid-stream, again and again
        sock = socket.create_connection(("127.0.0.1", lab.port), timeout=5)
        sock.sendall(f"GET /events?token={lab.token} HTTP/1.1\r\nHost: 127.0.0.1:{lab.port}\r\n\r\n".encode())
        sock.recv(100)
        sock.close()
    a, b = events(lab, 4), events(lab, 4)  # two tabs
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
