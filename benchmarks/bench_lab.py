"""genzoo lab: pictures per second and training speed while the page watches, against the same
family trained by genzoo.train (the CLI's loop) on the same data, options and thread count.

For each family: genzoo.train for a fixed number of steps (steps/s of its loop); then a lab session
with the same options, playing for --seconds while one client reads the stream (the snapshots it
receives per second, and the steps the session advanced per second of wall time, pictures
included) — with the pictures drawn by the drawing process (the lab's default) and, side by side,
drawn in the server's training thread between the steps (as before the drawing process, and as the
lab does while that process starts). Target (issue 24): ≥ 20 snapshots/s and ≥ 80 % of the CLI's
steps/s.

    python benchmarks/bench_lab.py                   # 5 families, 3 × 20 s each way (about 12 minutes)
    python benchmarks/bench_lab.py --quick           # a smoke run: 2 s each
    python benchmarks/bench_lab.py --part coverage   # the defaults on ring8 (about 7 minutes)
    python benchmarks/bench_lab.py --part defaults   # why those defaults (about 3 minutes)
    python benchmarks/bench_lab.py --part pictures   # what one picture costs (under a minute)

`--part coverage`: what a first-time user sees of each family's defaults (the session the page
starts, ring8, seeds 0-2): the step at which the pictures' samples first cover the 8 modes (the
page's "modes covered", from the same 500 samples), and the figures at 1,000, 3,000 and 6,000
steps. No server: the session alone, the figures after every 100 steps.

`--part defaults`: the settings that ddpm's and the AAE's defaults were chosen from, seed 0, the
same figures at 1,500, 3,000 and 6,000 steps.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import torch

import genzoo
from genzoo.lab.server import Lab
from genzoo.lab.session import Session


def cli_rate(session: Session, steps: int) -> float:
    """Steps per second of genzoo.train on the session's model options and data (no checkpoints)."""
    params, train = session.options()
    model = genzoo.models.create(session.family, session.data, seed=0, **params)
    opts = {**train, "steps": steps, "progress": False, "sample_grid": False}
    genzoo.train(model, session.data, **{**opts, "steps": 20})  # warm-up
    model = genzoo.models.create(session.family, session.data, seed=0, **params)
    t0 = time.perf_counter()
    genzoo.train(model, session.data, **opts)
    return steps / (time.perf_counter() - t0)


CLIENT = r"""
import http.client, json, socket, sys, threading, time
port, token, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
waits, done = [], threading.Event()


def commands():  # a command twice a second, on its own thread: how long until it is answered
    while not done.wait(0.5):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = json.dumps({"action": "speed", "value": 100})
        asked = time.perf_counter()
        conn.request("POST", f"/command?token={token}", body, {"Content-Type": "application/json"})
        conn.getresponse().read()
        waits.append(time.perf_counter() - asked)
        conn.close()


sock = socket.create_connection(("127.0.0.1", port), timeout=10)
sock.sendall(f"GET /events?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
buf, count, t0, started = b"", 0, None, time.perf_counter()
while True:
    buf += sock.recv(1 << 20)
    end = buf.rfind(b"\n\n")
    if end >= 0:
        if t0 is not None:
            count += buf[: end + 2].count(b"event: snapshot\n")
        buf = buf[end + 2 :]
    now = time.perf_counter()
    if t0 is None and now - started >= 1.0:
        t0 = now
        threading.Thread(target=commands, daemon=True).start()
    if t0 is not None and now - t0 >= seconds:
        break
done.set()
print(count / (now - t0), " ".join(f"{1000 * w:.1f}" for w in waits))
"""


def lab_rates(family: str, seconds: float, draw_process: bool) -> tuple[float, float, list[float]]:
    """(snapshots per second that a client in another process receives, training steps per second
    of wall time, the times in ms until each command the client sends twice a second is answered)
    of a playing lab; the first second (the first pictures) is left out."""
    import subprocess
    import sys

    lab = Lab(Session(family, "ring8"), port=0, draw_process=draw_process)
    lab.start()
    try:
        t0 = time.perf_counter()
        while draw_process and not (lab.drawer.usable or lab.drawer.failed):
            time.sleep(0.05)  # the drawing process has started (the training thread polls it)
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("the drawing process did not start")
        if draw_process and lab.drawer.failed:
            raise RuntimeError(lab.drawer.failed)
        lab.command({"action": "play"})
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT, str(lab.port), lab.token, str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        step0, t0 = lab.session.trainer.step, time.perf_counter()
        time.sleep(seconds)
        steps, elapsed = lab.session.trainer.step - step0, time.perf_counter() - t0
        fps, *waits = map(float, client.communicate(timeout=60)[0].split())
    finally:
        lab.stop()
    return fps, steps / elapsed, waits


def coverage(families: list[str], seeds: list[int], last: int) -> None:
    marks = (1000, 3000, last)
    print(
        "| family | seed | first 8/8 at step | "
        + " | ".join(f"step {m:,}: modes, high quality" for m in marks)
        + " |"
    )
    print("|---|---:|---:|" + "---|" * len(marks))
    for family in families:
        for seed in seeds:
            session = Session(family, "ring8", seed=seed)
            first, cells = None, []
            while session.trainer.step < last:
                session.train_steps(100)
                session.metrics_at = -float("inf")  # the figures now
                metrics = session.snapshot()["metrics"]
                if first is None and metrics["modes covered"] == "8/8":
                    first = session.trainer.step
                if session.trainer.step in marks:
                    cells.append(f"{metrics['modes covered']}, {metrics['high quality']:.2f}")
            print(f"| {family} | {seed} | {first or f'> {last:,}'} | " + " | ".join(cells) + " |", flush=True)


VARIANTS = {  # family: [(label, the page's commands), ...], the lab's default first
    "ddpm": [
        ("T = 200, linear (default)", []),
        ("T = 1,000, linear (the family's default)", [("timesteps", 1000)]),
        ("T = 100, linear", [("timesteps", 100)]),
        ("T = 200, cosine", [("schedule", "cosine")]),
    ],
    "aae": [
        ("mixture of 8, σ = 0.05 (default)", []),
        ("mixture of 8, σ = 0.15", [("prior_std", 0.15)]),
        ("mixture of 8, σ = 0.5", [("prior_std", 0.5)]),
        ("N(0, I)", [("prior", "gaussian")]),
    ],
}


def defaults(last: int) -> None:
    marks = (last // 4, last // 2, last)
    heads = " | ".join(f"step {m:,}: modes, high quality" for m in marks)
    print(f"| family | setting | {heads} | ᾱ_T |")
    print("|---|---|" + "---|" * len(marks) + "---:|")
    for family, variants in VARIANTS.items():
        for label, sets in variants:
            session = Session(family, "ring8", seed=0)
            for key, value in sets:
                session.command({"action": "set", "key": key, "value": value})
            cells = []
            for mark in marks:
                session.train_steps(mark - session.trainer.step)
                session.metrics_at = -float("inf")
                metrics = session.snapshot()["metrics"]
                cells.append(f"{metrics['modes covered']}, {metrics['high quality']:.2f}")
            schedule = getattr(session.model, "schedule", None)
            alpha = f"{float(schedule.alpha_bar[-1]):.2g}" if schedule is not None else ""
            print(f"| {family} | {label} | " + " | ".join(cells) + f" | {alpha} |", flush=True)


def pictures(families: list[str], repeats: int) -> None:
    """Median ms of one picture (Drawing.picture and its JSON) per family after 200 steps, of its
    known-truth figures, and of the MMD with the median heuristic the figures used before."""
    import json

    from genzoo.lab import views
    from genzoo.metrics.samples import mmd

    def median_ms(fn, *args) -> float:
        fn(*args)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - t0)
        return 1000 * statistics.median(times)

    def picture(drawing) -> str:
        return json.dumps(drawing.picture(False))

    print("| family | picture, ms | known-truth figures, ms | MMD² with the median heuristic, ms |")
    print("|---|---:|---:|---:|")
    for family in families:
        session = Session(family, "ring8")
        if session.model.trainable:
            session.train_steps(200)
        _, _, drawing = session.copy_view()
        fake = views.samples(drawing.view, 500)
        real, fake64 = drawing.truth["real"].numpy(), fake.double().numpy()
        cells = [
            median_ms(picture, drawing),
            median_ms(views.known_truth, drawing.truth, fake),
            median_ms(mmd, real, fake64),
        ]
        print(f"| {family} | " + " | ".join(f"{c:.1f}" for c in cells) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", default="gan,vae,aae,ddpm,infogan")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=3, help="lab measurements per family (the median is kept)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2 s, one repeat")
    ap.add_argument("--switch", type=float, default=None, help="sys.setswitchinterval (experiment)")
    ap.add_argument("--part", choices=("speed", "coverage", "defaults", "pictures"), default="speed")
    ap.add_argument("--seeds", default="0,1,2", help="coverage: the seeds")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.repeats = 2.0, 1
    torch.set_num_threads(1)
    if args.switch:
        import sys

        sys.setswitchinterval(args.switch)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{datetime.date.today()}; one training thread (the lab's default)\n"
    )
    if args.part == "pictures":
        pictures(["gan", "vae", "aae", "ddpm", "kde", "infogan"], 5 if args.quick else 30)
        return
    if args.part == "defaults":
        defaults(600 if args.quick else 6000)
        return
    if args.part == "coverage":
        last = 600 if args.quick else 6000
        coverage(args.families.split(","), [int(s) for s in args.seeds.split(",")], last)
        return
    print(
        "| family | CLI steps/s | lab steps/s, drawing process (share of the CLI's) | snapshots/s "
        "| command answered, ms (median / 95th percentile / longest) "
        "| lab steps/s, drawn in the training thread | snapshots/s | command answered, ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for family in args.families.split(","):
        session = Session(family, "ring8")
        cli = cli_rate(session, 100 if args.quick else 2000)
        cells = [family, f"{cli:.0f}"]
        for draw_process in (True, False):
            runs = [lab_rates(family, args.seconds, draw_process) for _ in range(args.repeats)]
            fps = statistics.median(r[0] for r in runs)
            rate = statistics.median(r[1] for r in runs)
            waits = sorted(w for r in runs for w in r[2])
            p95 = waits[int(0.95 * (len(waits) - 1))]
            waits = f"{statistics.median(waits):.0f} / {p95:.0f} / {waits[-1]:.0f}"
            cells += [f"{rate:.0f} ({100 * rate / cli:.0f} %)", f"{fps:.1f}", waits]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
