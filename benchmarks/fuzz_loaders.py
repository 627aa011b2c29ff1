"""Fuzz genzoo's readers of user files with atheris: any exception but GenzooError is a finding.

    pip install atheris            # not a genzoo dependency; imported only here
    python benchmarks/fuzz_loaders.py --target all --seconds 120
    python benchmarks/fuzz_loaders.py --target npy --runs 20000

Targets (each starts from a small corpus of valid inputs, which atheris mutates):

    toml    genzoo.config.read_toml on the bytes of a config file
    sets    genzoo.config.parse_sets on `--set` strings, then build() of the train/data options
    run     genzoo.training.checkpoint.read_config on a run directory's config.json, then the
            dataset name and options it names (genzoo.data.resolved_options: parsed, not loaded)
    npy     genzoo.datasets.load("npy:FILE") on the bytes of a .npy (or .npz) file
    image   genzoo.datasets.load("folder:DIR") on a folder holding one fuzzed .png
    points  genzoo.geostat.latent.read_points_csv, then check_points on a 16×16 grid (--points FILE.csv)
    mask    the CLI's --mask reader on a fuzzed .npy, .npz or .png (by the file's first bytes)
    weights a run's model.safetensors (no checksums.json, as a file handed over), then the model built on it
    state   a run's train_state.pt (no checksums.json), loaded as --resume does and restored into a trainer
    board   a run's metrics.json and log.jsonl (the input split at its first NUL byte) read by
            `genzoo compare` (its Markdown table) and `genzoo report` (metrics table, training summary)

Findings are not fatal: each distinct (target, exception type, last frame) is printed once with
its input saved under --findings; the run goes on until --runs inputs or --seconds have passed,
then prints the number of inputs tried and the findings.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from pathlib import Path

TARGETS = ("toml", "sets", "run", "npy", "image", "points", "mask", "weights", "state", "board")


def _seeds(target: str) -> list[bytes]:
    """Valid inputs to start from."""
    import numpy as np

    if target == "toml":
        return [
            b'[model]\nlatent_dim = 16\nhidden = [32, 64]\n[data]\nname = "mnist"\nbinarize = "static"\n'
            b"[train]\nlr = 1e-3\nsteps = 100\nema = 0.999\n",
            b"[data]\nrange = [-1.0, 1.0]\nexclude = [3, 5]\nlabels = false\n",
        ]
    if target == "sets":
        return [
            b"train.lr=0.001\x00train.steps=10\x00data.binarize=dynamic\x00latent_dim=16",
            b"data.range=-1,1\x00data.exclude=3,5\x00train.seed=7\x00data.labels=no",
        ]
    if target == "run":
        cfg = {
            "model": {"name": "vae", "params": {"latent_dim": 4}},
            "data": {
                "name": "folder:/nonexistent",
                "split": "train",
                "options": {"binarize": "none", "size": 8},
            },
            "data_info": {"name": "mnist", "kind": "image", "shape": [1, 8, 8], "value_range": [0.0, 1.0]},
            "train": {"steps": 30, "lr": 0.001},
        }
        return [
            json.dumps(cfg).encode(),
            json.dumps({**cfg, "data": {"name": "npz:x.npz", "options": {"range": [-1, 1]}}}).encode(),
        ]
    if target == "npy":
        out = []
        for arr in (
            np.arange(12, dtype=np.uint8).reshape(3, 2, 2),
            np.ones((4, 2), np.float32),
            np.zeros((2, 1, 3, 3)),
        ):
            buf = io.BytesIO()
            np.save(buf, arr)
            out.append(buf.getvalue())
        buf = io.BytesIO()
        np.savez(buf, x=np.ones((4, 2, 2), np.float32), y=np.arange(4))
        out.append(buf.getvalue())
        return out
    if target == "image":
        from PIL import Image

        out = []
        rng = np.random.default_rng(0)
        for mode, fmt in (
            ("L", "PNG"),
            ("RGB", "PNG"),
            ("RGBA", "PNG"),
            ("P", "PNG"),
            ("RGB", "JPEG"),
            ("L", "JPEG"),
        ):
            arr = rng.integers(0, 256, (6, 5) if mode in ("L", "P") else (6, 5, len(mode)), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(arr).convert(mode).save(buf, fmt)
            out.append(buf.getvalue())
        buf = io.BytesIO()
        Image.fromarray((np.arange(30, dtype=np.uint16) * 2000).reshape(6, 5)).save(buf, "PNG")  # I;16
        out.append(buf.getvalue())
        return out
    if target == "points":
        return [
            b"row,col,value\n1,2,0.5\n3,4,-1\n15,0,2e-3\n",
            b" value , Row,col , name\n1.5, 2, 3, a\n\n-0.25,0,  7 ,b\n",
        ]
    if target == "mask":
        from PIL import Image

        mask = np.zeros((8, 8), bool)
        mask[2:5] = True
        out = []
        for save in (
            lambda b: np.save(b, mask),
            lambda b: np.save(b, mask.astype(np.float32)),
            lambda b: np.savez(b, mask=mask),
            lambda b: Image.fromarray(mask.astype(np.uint8) * 255).save(b, "PNG"),
        ):
            buf = io.BytesIO()
            save(buf)
            out.append(buf.getvalue())
        return out
    if target in ("weights", "state"):
        from genzoo.training import checkpoint as ckpt

        run = _small_run()
        return [(run / (ckpt.WEIGHTS if target == "weights" else ckpt.STATE)).read_bytes()]
    if target == "board":
        metrics = {
            "data": "digits",
            "split": "test",
            "n": 360,
            "n_real": 360,
            "n_fake": 360,
            "features": "pixels",
            "seed": 0,
            "sample_seconds_per_1000": 0.12,
            "metrics": {
                "fid": {"value": 12.5, "floor": 3.25},
                "precision": 0.8,
                "recall": 0.7,
                "nll": {"nats": 21.5, "kind": "exact"},
                "mmd": {"skipped": "needs features"},
            },
        }
        log = [
            {"step": 10, "loss": 1.5, "time": 0.5, "steps_per_s": 20.0},
            {"step": 20, "loss": 1.25, "kl": 0.5, "time": 1.0},
        ]
        return [json.dumps(metrics).encode() + b"\x00" + "\n".join(json.dumps(r) for r in log).encode()]
    raise ValueError(target)


_SMALL_RUN: Path | None = None


def _small_run() -> Path:
    """A tiny trained run (an autoencoder on digits, 2 steps): its files are the weights and state seeds."""
    global _SMALL_RUN
    if _SMALL_RUN is None:
        from genzoo.cli import main as genzoo_main

        _SMALL_RUN = Path(tempfile.mkdtemp(prefix="genzoo-fuzz-run-")) / "run"
        code = genzoo_main(
            [
                "train",
                "ae",
                "--data",
                "digits",
                "--steps",
                "2",
                "--out",
                str(_SMALL_RUN),
                "--quiet",
                "--set",
                "hidden=8",
                "--set",
                "code_dim=2",
                "--set",
                "train.sample_grid=false",
            ]
        )
        assert code == 0, "the seed run did not train"
    return _SMALL_RUN


def _bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


class Fuzzer:
    def __init__(self, target: str, runs: int, seconds: float, findings: Path) -> None:
        self.target, self.runs, self.seconds, self.findings_dir = target, runs, seconds, findings
        self.tried = 0
        self.start = time.monotonic()
        self.findings: dict[tuple[str, str], int] = {}
        self.work = Path(tempfile.mkdtemp(prefix=f"genzoo-fuzz-{target}-"))
        (self.work / "run").mkdir()
        (self.work / "images").mkdir()
        self.trainer = None  # the state target's, built on its first input

    # --- one input per target -------------------------------------------------------------
    def toml(self, data: bytes) -> None:
        from genzoo.config import read_toml

        path = self.work / "c.toml"
        path.write_bytes(data)
        read_toml(path)

    def sets(self, data: bytes) -> None:
        from genzoo.config import build, parse_sets
        from genzoo.data.files import FolderOptions
        from genzoo.training.trainer import TrainConfig

        items = data.decode("utf-8", "replace").split("\x00")
        sets = parse_sets(items)
        build(TrainConfig, sets.get("train", {}), section="train")
        build(FolderOptions, sets.get("data", {}), section="data")

    def run(self, data: bytes) -> None:
        from genzoo.data import resolved_options
        from genzoo.errors import GenzooError
        from genzoo.training.checkpoint import CONFIG, read_config

        (self.work / "run" / CONFIG).write_bytes(data)
        cfg = read_config(self.work / "run")
        d = cfg.get("data")
        if d is None:
            raise GenzooError(
                "no data section"
            )  # not a finding: the CLI says the run was trained on in-memory data
        resolved_options(
            d["name"], **(d.get("options") or {})
        )  # read_config checked the shape, as the CLI relies on

    def npy(self, data: bytes) -> None:
        from genzoo.data import load

        path = self.work / "a.npy"
        path.write_bytes(data)
        load(f"npy:{path}", split="all")

    def image(self, data: bytes) -> None:
        from genzoo.data import load

        path = self.work / "images" / "img.png"
        path.write_bytes(data)
        load(f"folder:{self.work / 'images'}", split="all", size=4 if len(data) % 2 else 0)

    def points(self, data: bytes) -> None:
        from genzoo.geostat.latent import check_points, read_points_csv

        path = self.work / "points.csv"
        path.write_bytes(data)
        check_points(*read_points_csv(path), (16, 16))

    def mask(self, data: bytes) -> None:
        from genzoo.cli.condition import read_mask

        suffix = ".npz" if data.startswith(b"PK") else ".png" if data.startswith(b"\x89PNG") else ".npy"
        path = self.work / f"mask{suffix}"
        path.write_bytes(data)
        read_mask(str(path), None)  # a file: the model is only needed for the named holes

    def weights(self, data: bytes) -> None:
        from genzoo.training import checkpoint as ckpt

        run = _small_run()
        (run / ckpt.CHECKSUMS).unlink(missing_ok=True)
        (run / ckpt.WEIGHTS).write_bytes(data)
        ckpt.load(run)

    def state(self, data: bytes) -> None:
        from genzoo.training import checkpoint as ckpt

        run = _small_run()
        if self.trainer is None:
            from genzoo.config import build
            from genzoo.data import load
            from genzoo.training.trainer import TrainConfig, Trainer

            cfg = ckpt.read_config(run)
            train = {k: v for k, v in cfg["train"].items() if k in TrainConfig.__dataclass_fields__}
            data_set = load(cfg["data"]["name"], split="train", **cfg["data"]["options"])
            self.trainer = Trainer(
                ckpt.build_model(cfg), data_set, build(TrainConfig, train, section="train"), run
            )
            self.trainer._setup(False)
        (run / ckpt.CHECKSUMS).unlink(missing_ok=True)
        (run / ckpt.STATE).write_bytes(data)
        self.trainer._restore(ckpt.load_state(run / ckpt.STATE))

    def board(self, data: bytes) -> None:
        from genzoo.training.checkpoint import LOG, METRICS, read_log
        from genzoo.viz import report
        from genzoo.viz.board import entry_from_run, render_html, render_markdown
        from genzoo.viz.plots import loss_terms

        run = self.work / "board"
        if not (run / "config.json").exists():
            run.mkdir(exist_ok=True)
            (run / "config.json").write_text(
                json.dumps(
                    {
                        "model": {"name": "vae", "params": {}},
                        "data": {"name": "digits", "split": "train", "options": {}},
                        "data_info": {
                            "name": "digits",
                            "kind": "image",
                            "shape": [1, 8, 8],
                            "value_range": [0.0, 1.0],
                        },
                    }
                )
            )
        metrics, _, log = data.partition(b"\x00")
        (run / METRICS).write_bytes(metrics)
        (run / LOG).write_bytes(log)
        entry = entry_from_run(run)
        render_markdown([entry, entry])
        if len(data) % 8 == 0:  # the HTML board draws a figure per metric: slower, so one input in eight
            render_html([entry, entry])
        scores, notes = report._read_metrics(run)
        report._metrics_section(scores, notes.get("metrics"))
        records = read_log(run)
        report.wall_time(records)
        loss_terms(records)

    # --- the harness ------------------------------------------------------------------------
    def __call__(self, data: bytes) -> None:
        from genzoo.errors import GenzooError

        self.tried += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(self, self.target)(data)
        except GenzooError as exc:
            if "\n" in str(exc):
                self._finding(data, "GenzooError with a line break", repr(str(exc)[:200]))
        except Exception as exc:  # noqa: BLE001 - anything else is what we are looking for
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            self._finding(
                data, f"{type(exc).__name__} at {where}", str(exc).splitlines()[0][:200] if str(exc) else ""
            )
        if self.tried >= self.runs or time.monotonic() - self.start >= self.seconds:
            self.report()
            os._exit(0)  # libFuzzer's loop has no other way out

    def _finding(self, data: bytes, kind: str, message: str) -> None:
        key = (kind, message[:60])
        n = self.findings.get(key, 0)
        self.findings[key] = n + 1
        if n == 0:
            self.findings_dir.mkdir(parents=True, exist_ok=True)
            name = self.findings_dir / f"{self.target}-{len(self.findings)}.bin"
            name.write_bytes(data)
            print(f"FINDING {self.target}: {kind}: {message} (input saved as {name})", flush=True)

    def report(self) -> None:
        secs = time.monotonic() - self.start
        total = sum(self.findings.values())
        print(
            f"{self.target}: {self.tried} inputs tried in {secs:.0f} s, "
            f"{len(self.findings)} distinct findings ({total} inputs)",
            flush=True,
        )
        for (kind, message), n in self.findings.items():
            print(f"  {n:6d}x {kind}: {message}", flush=True)


def fuzz_one(target: str, runs: int, seconds: float, findings: Path, extra: list[str]) -> None:
    try:
        import atheris
    except ImportError:
        sys.exit("fuzz_loaders.py needs atheris (pip install atheris); it is not a genzoo dependency")
    with atheris.instrument_imports(
        include=["genzoo", "tomllib", "PIL", "numpy.lib.format", "zipfile", "csv"]
    ):
        import genzoo.cli  # noqa: F401
        import genzoo.config  # noqa: F401
        import genzoo.data  # noqa: F401
        import genzoo.geostat.latent  # noqa: F401
        import genzoo.training.checkpoint  # noqa: F401
        import genzoo.viz.board  # noqa: F401
        import genzoo.viz.report  # noqa: F401
    corpus = Path(tempfile.mkdtemp(prefix=f"genzoo-corpus-{target}-"))
    seeds = _seeds(target)
    if target == "image":
        seeds += [_bomb_png(100_000, 100_000), _bomb_png(9000, 9000), b""]
    for i, seed in enumerate(seeds):
        (corpus / f"seed{i}").write_bytes(seed)
    fuzzer = Fuzzer(target, runs, seconds, findings)
    atheris.Setup([sys.argv[0], "-rss_limit_mb=4096", "-max_len=65536", *extra, str(corpus)], fuzzer)
    atheris.Fuzz()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="all", choices=(*TARGETS, "all"))
    ap.add_argument("--runs", type=int, default=20_000, help="inputs per target (default 20000)")
    ap.add_argument("--seconds", type=float, default=120.0, help="time limit per target (default 120)")
    ap.add_argument("--findings", default="fuzz-findings", help="folder for the inputs of the findings")
    ap.add_argument("libfuzzer", nargs="*", help="extra libFuzzer flags after --, e.g. -- -seed=1")
    args = ap.parse_args()
    if args.runs < 1 or not args.seconds > 0:
        ap.error("--runs and --seconds must be positive")
    if args.target != "all":
        fuzz_one(args.target, args.runs, args.seconds, Path(args.findings), args.libfuzzer)
        return
    import subprocess

    for target in TARGETS:  # one process per target: libFuzzer runs once per process
        cmd = [
            sys.executable,
            __file__,
            "--target",
            target,
            "--runs",
            str(args.runs),
            "--seconds",
            str(args.seconds),
            "--findings",
            args.findings,
            *(["--", *args.libfuzzer] if args.libfuzzer else []),
        ]
        subprocess.run(cmd, check=False)


if __name__ == "__main__":
    main()
