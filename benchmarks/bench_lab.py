"""genzoo lab: pictures per second and training speed while the page watches, against the same
family trained by genzoo.train (the CLI's loop) on the same data, options and thread count.

For each family: genzoo.train for a fixed number of steps (steps/s of its loop); then a lab session
with the same options, playing for --seconds while one client reads the stream (the snapshots it
receives per second, and the steps the session advanced per second of wall time, pictures
included). Target (issue 24): ≥ 20 snapshots/s and ≥ 80 % of the CLI's steps/s.

    python benchmarks/bench_lab.py                 # gan, vae, ddpm; 20 s each (about 2 minutes)
    python benchmarks/bench_lab.py --quick         # a smoke run: 2 s each
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
import socket, sys, time
port, token, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
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
    if t0 is not None and now - t0 >= seconds:
        break
print(count / (now - t0))
"""


def lab_rates(family: str, seconds: float) -> tuple[float, float]:
    """(snapshots per second that a client in another process receives, training steps per second
    of wall time) of a playing lab; the first second (the first pictures) is left out."""
    import subprocess
    import sys

    lab = Lab(Session(family, "ring8"), port=0)
    lab.start()
    try:
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
        fps = float(client.communicate(timeout=60)[0])
    finally:
        lab.stop()
    return fps, steps / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", default="gan,vae,ddpm")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=3, help="lab measurements per family (the median is kept)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2 s, one repeat")
    ap.add_argument("--switch", type=float, default=None, help="sys.setswitchinterval (experiment)")
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
    print("| family | CLI steps/s | lab steps/s (share of the CLI's) | snapshots/s |")
    print("|---|---:|---:|---:|")
    for family in args.families.split(","):
        session = Session(family, "ring8")
        cli = cli_rate(session, 100 if args.quick else 2000)
        runs = [lab_rates(family, args.seconds) for _ in range(args.repeats)]
        fps = statistics.median(r[0] for r in runs)
        rate = statistics.median(r[1] for r in runs)
        print(f"| {family} | {cli:.0f} | {rate:.0f} ({100 * rate / cli:.0f} %) | {fps:.1f} |", flush=True)


if __name__ == "__main__":
    main()
