"""The comparison suite: every family against its best-known peer, side by side, as ratios with their spread.

    python benchmarks/bench_suite.py            # the figures (about 12 minutes on 2 cores)
    python benchmarks/bench_suite.py --quick    # a smoke run of every comparison (tiny sizes; not figures)
    python benchmarks/bench_suite.py --only vae,rbm --repeats 3
    python benchmarks/bench_suite.py --only vae,dcgan,ddpm,ddim --device cuda   # both sides on a GPU
    make bench                                  # this suite, then every other benchmark
    make bench QUICK=1                          # = --quick (also `make bench-quick`); CI runs it

Each row is one workload run by genzoo and by the peer with the same architecture, batch,
optimiser and data, timed in this process R times, alternating who goes first (so drift of the
machine hits both alike). The ratio of a repeat is peer time / genzoo time for the same work
(> 1: genzoo faster); a row reports the median ratio and its range [min, max] over the R
repeats, and the median times. Rows:

    vae       MLP VAE 784-400-20, Bernoulli decoder, batch 128, Adam 1e-3, mnist
              genzoo.train | pythae TrainingPipeline
    dcgan     conv GAN 64-128 (DCGAN-style), z 64, non-saturating, batch 64, Adam 2e-4 (0.5, 0.999)
              genzoo.train | the PyTorch DCGAN example's loop on the same networks (torchgan 0.1.0
              imports torchvision, and torchvision 0.28.0, the release for torch 2.13, fails to
              import against the CPU build here: "operator torchvision::nms does not exist"; so a
              well-known reference loop it is)
    dcgan-nchw   the same, genzoo with train.channels_last=off: what the NHWC layout gains
    ddpm      denoising-diffusion-pytorch's Unet(dim 32, mults 1-2-2) in both, linear schedule,
              T 1000, ε-prediction, batch 64, Adam 1e-4   genzoo.train | GaussianDiffusion in a loop
    ddim      64 images by DDIM-50 with that network, in the layout genzoo.train returns and a
              loaded run has (channels-last)                           genzoo | GaussianDiffusion.sample
    rbm       Bernoulli RBM 784-500, PCD-1, lr 0.1, batch 100, SGD     genzoo.train | sklearn BernoulliRBM.fit
    kde       Gaussian KDE, 4,000 mnist centres, log p of 1,000 digits  genzoo | sklearn KernelDensity
    kde-2d    the same on ring8, 10,000 centres in 2-D
    fft       Matérn ν=1, a=10 field on a 1000² grid (set-up included)  genzoo fft | GSTools RandMeth
    spde      the same, genzoo spde (Chebyshev) | gstlearn simulateSPDE (its own mesh)

Then the share of the machine's peak: the fp32 matrix-multiply rate measured in the same run
(benchmarks/bench_peak.py) and each family's training-step FLOP rate as a share of it.

Prints Markdown; with --out, also writes the tables (suite.md) and the raw timings (suite.json)
there (the full run: benchmarks/figures/). Exits non-zero if any comparison failed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import io
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import genzoo  # noqa: E402
from genzoo.training.checkpoint import use_channels_last  # noqa: E402

CONV_GAN = dict(arch="conv", channels=(64, 128), latent_dim=64)


@dataclass
class Size:
    """The workload sizes of one run of the suite (full or quick)."""

    repeats: int = 5
    vae_n: int | None = None  # training digits (None: all 4,000)
    vae_epochs: int = 8
    gan_steps: int = 200
    gan_batch: int = 64
    ddpm_steps: int = 10
    ddpm_batch: int = 64
    ddpm_dim: int = 32
    ddim_images: int = 64
    ddim_steps: int = 50
    rbm_n: int | None = None
    rbm_hidden: int = 500
    rbm_epochs: int = 2
    kde_train: int = 4000
    kde_test: int = 1000
    kde2_train: int = 10_000
    grid: int = 1000
    peak_steps: int = 20
    peak_only: tuple[str, ...] = ()


FULL = Size()
QUICK = Size(
    repeats=2,
    vae_n=512,
    vae_epochs=1,
    gan_steps=4,
    gan_batch=16,
    ddpm_steps=1,
    ddpm_batch=4,
    ddpm_dim=8,
    ddim_images=2,
    ddim_steps=3,
    rbm_n=400,
    rbm_hidden=32,
    rbm_epochs=1,
    kde_train=500,
    kde_test=100,
    kde2_train=1000,
    grid=64,
    peak_steps=2,
    peak_only=("vae", "gan", "ddpm"),
)


@dataclass
class Row:
    name: str
    workload: str
    peer: str
    unit: str
    ours: list[float] = field(default_factory=list)  # seconds per unit, one per repeat
    theirs: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def ratios(self) -> list[float]:
        return [t / o for o, t in zip(self.ours, self.theirs)]

    def summary(self) -> dict[str, Any]:
        if self.error:
            return {"name": self.name, "error": self.error}
        r = self.ratios
        return {
            "name": self.name,
            "workload": self.workload,
            "peer": self.peer,
            "unit": self.unit,
            "genzoo": statistics.median(self.ours),
            "peer_time": statistics.median(self.theirs),
            "ratio": statistics.median(r),
            "ratio_min": min(r),
            "ratio_max": max(r),
            "repeats": len(r),
            "genzoo_all": self.ours,
            "peer_all": self.theirs,
        }


def side_by_side(
    row: Row, ours: Callable[[], float], theirs: Callable[[], float], repeats: int, warm: bool = True
) -> Row:
    """Time `ours` and `theirs` (each returns its seconds per unit of the same work) `repeats` times,
    alternating who goes first; one untimed warm-up each first (imports, allocator, thread pools)."""
    if warm:
        ours(), theirs()
    for r in range(repeats):
        if r % 2 == 0:
            row.ours.append(ours())
            row.theirs.append(theirs())
        else:
            row.theirs.append(theirs())
            row.ours.append(ours())
        print(
            f"  {row.name} {r + 1}/{repeats}: genzoo {row.ours[-1]:.4g} s, peer {row.theirs[-1]:.4g} s, "
            f"ratio {row.theirs[-1] / row.ours[-1]:.2f}",
            file=sys.stderr,
            flush=True,
        )
    return row


@contextlib.contextmanager
def quiet():
    """Silence a peer's own printing and logging while it is timed."""
    import logging

    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(logging.NOTSET)


DEVICE = "cpu"  # --device: the vae, dcgan, ddpm and ddim rows run both sides there


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _elapsed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    _sync()
    return time.perf_counter() - t0


def _train(model, data, **options) -> None:
    genzoo.train(model, data, progress=False, sample_grid=False, seed=0, device=DEVICE, **options)


def _on() -> str:
    """The workload's words for a device other than the CPU."""
    return "" if DEVICE == "cpu" else f", on {DEVICE}"


# --- the comparisons --------------------------------------------------------------------------------
def row_vae(s: Size) -> Row:
    import bench_vae

    importlib.import_module("pythae")
    data = genzoo.datasets.load("mnist", split="train", binarize="dynamic")
    if s.vae_n:
        data = data.subset(torch.arange(s.vae_n))
    steps = s.vae_epochs * -(-len(data) // 128)
    row = Row(
        "vae",
        f"MLP VAE 784-400-20, batch 128, Adam 1e-3, {len(data)} digits, "
        f"{s.vae_epochs} epochs ({steps} steps){_on()}",
        f"pythae {importlib.metadata.version('pythae')}",
        "s per step",
    )

    def ours() -> float:
        return 1.0 / bench_vae.genzoo_loop(data, steps, device=DEVICE)

    def theirs() -> float:
        with quiet():
            return 1.0 / bench_vae.pythae_loop(data.x.flatten(1), s.vae_epochs, device=DEVICE)

    return side_by_side(row, ours, theirs, s.repeats)


def _dcgan(s: Size, channels_last: str) -> Row:
    import bench_gan

    data = genzoo.datasets.load("mnist", split="train")
    name = "dcgan" if channels_last == "auto" else "dcgan-nchw"
    layout = "" if channels_last == "auto" else " (genzoo with channels_last=off)"
    row = Row(
        name,
        f"conv GAN 64-128, z 64, non-saturating, batch {s.gan_batch}, Adam 2e-4, {s.gan_steps} steps"
        f"{layout}{_on()}",
        "PyTorch DCGAN example's loop",
        "s per step",
    )

    def ours() -> float:
        model = genzoo.models.create("gan", data, seed=0, loss="non-saturating", **CONV_GAN)
        return (
            _elapsed(
                lambda: _train(
                    model,
                    data,
                    steps=s.gan_steps,
                    batch_size=s.gan_batch,
                    lr=2e-4,
                    betas=(0.5, 0.999),
                    channels_last=channels_last,
                )
            )
            / s.gan_steps
        )

    def theirs() -> float:
        model = genzoo.models.create("gan", data, seed=0, loss="non-saturating", **CONV_GAN)
        return 1.0 / bench_gan.reference_loop(model.to(DEVICE), data.x.to(DEVICE), s.gan_steps, s.gan_batch)

    return side_by_side(row, ours, theirs, s.repeats)


def row_dcgan(s: Size) -> Row:
    return _dcgan(s, "auto")


def row_dcgan_nchw(s: Size) -> Row:
    return _dcgan(s, "off")


def _ddpm_pair(s: Size):
    import bench_ddpm

    Unet, GaussianDiffusion = bench_ddpm.import_reference()
    train = genzoo.datasets.load("mnist", split="train")

    def unet() -> torch.nn.Module:
        torch.manual_seed(0)
        return Unet(dim=s.ddpm_dim, dim_mults=(1, 2, 2), channels=1)

    def ours():
        m = genzoo.models.create(
            "ddpm", train, seed=0, timesteps=1000, schedule="linear", channels=(8,), attention=()
        )
        net = bench_ddpm._Plugged(unet())
        m.net, m.time_mlp = net, torch.nn.Identity()
        m.forward = lambda x_t, t, y=None: net(x_t, t)  # their network sees the integer timestep
        return m

    def theirs(sampling_steps: int = 1000):
        return GaussianDiffusion(
            unet(),
            image_size=28,
            timesteps=1000,
            sampling_timesteps=sampling_steps,
            beta_schedule="linear",
            objective="pred_noise",
            auto_normalize=True,
            ddim_sampling_eta=0.0,
        )

    params = sum(p.numel() for p in unet().parameters())
    return train, ours, theirs, params


def row_ddpm(s: Size) -> Row:
    train, ours_model, their_model, params = _ddpm_pair(s)
    n, b = s.ddpm_steps, s.ddpm_batch
    row = Row(
        "ddpm",
        f"U-Net dim {s.ddpm_dim} (1-2-2, {params:,} parameters), T 1000, ε, batch {b}, Adam 1e-4, "
        f"{n} steps{_on()}",
        f"denoising-diffusion-pytorch {importlib.metadata.version('denoising-diffusion-pytorch')}",
        "s per step",
    )

    def ours() -> float:
        m = ours_model()
        return (
            _elapsed(lambda: _train(m, train, steps=n, batch_size=b, lr=1e-4, ema=None, schedule="constant"))
            / n
        )

    def theirs() -> float:
        d = their_model().to(DEVICE)
        x = train.x.to(DEVICE)
        opt = torch.optim.Adam(d.parameters(), lr=1e-4)
        g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        order, pos = torch.randperm(len(train), generator=g), 0
        for _ in range(n):
            if pos + b > len(order):
                order, pos = torch.randperm(len(train), generator=g), 0
            loss = d(x[order[pos : pos + b]])  # normalises [0, 1] → [−1, 1], draws t and ε, MSE on ε
            pos += b
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync()
        return (time.perf_counter() - t0) / n

    return side_by_side(row, ours, theirs, s.repeats)


def row_ddim(s: Size) -> Row:
    train, ours_model, their_model, params = _ddpm_pair(s)
    k, n = s.ddim_steps, s.ddim_images
    row = Row(
        "ddim",
        f"{n} images, DDIM-{k} (η = 0), the U-Net above ({params:,} parameters){_on()}",
        f"denoising-diffusion-pytorch {importlib.metadata.version('denoising-diffusion-pytorch')}",
        "s per batch",
    )
    m, d = ours_model().to(DEVICE).eval(), their_model(k).to(DEVICE).eval()
    if use_channels_last(
        "auto", m
    ):  # the layout in which genzoo.train returns and genzoo's load gives a conv model
        m.to(memory_format=torch.channels_last)

    def ours() -> float:
        with torch.no_grad():
            return _elapsed(
                lambda: m.sample(n, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=k)
            )

    def theirs() -> float:
        with torch.no_grad():
            return _elapsed(lambda: d.sample(batch_size=n))

    with quiet():  # the reference's sampler has its own progress bar
        return side_by_side(row, ours, theirs, s.repeats)


def row_rbm(s: Size) -> Row:
    from sklearn.neural_network import BernoulliRBM

    train = genzoo.datasets.load("mnist", split="train", binarize="static")
    if s.rbm_n:
        train = train.subset(torch.arange(s.rbm_n))
    xn = train.tensors().flatten(1).numpy().astype(np.float64)
    batch, lr, epochs = 100, 0.1, s.rbm_epochs
    steps = epochs * len(xn) // batch
    row = Row(
        "rbm",
        f"Bernoulli RBM 784-{s.rbm_hidden}, PCD-1, lr 0.1, batch 100, {len(xn)} digits, {epochs} epochs",
        f"scikit-learn {importlib.metadata.version('scikit-learn')} BernoulliRBM",
        "s per epoch",
    )

    def ours() -> float:
        model = genzoo.models.create(
            "rbm",
            train,
            seed=0,
            hidden=s.rbm_hidden,
            persistent=True,
            chains=batch,
            momentum=0.0,
            weight_decay=0.0,
        )
        return _elapsed(lambda: _train(model, train, steps=steps, batch_size=batch, lr=lr)) / epochs

    def theirs() -> float:
        return (
            _elapsed(
                lambda: BernoulliRBM(
                    n_components=s.rbm_hidden,
                    learning_rate=lr,
                    batch_size=batch,
                    n_iter=epochs,
                    random_state=0,
                ).fit(xn)
            )
            / epochs
        )

    return side_by_side(row, ours, theirs, s.repeats)


def _kde(name: str, d: int, n_train: int, n_test: int, s: Size) -> Row:
    from sklearn.neighbors import KernelDensity

    import bench_kde
    from genzoo.data.base import Dataset

    label, train, test, info = bench_kde.case(d, n_train, n_test)
    model = genzoo.models.create("kde", info)
    model.prepare(Dataset(torch.from_numpy(train).reshape(len(train), *info.shape), info))
    h = model.bandwidth.item()
    sk = KernelDensity(bandwidth=h).fit(train.astype(np.float64))
    queries, test64 = torch.from_numpy(test), test.astype(np.float64)
    exact = bench_kde.exact_log_density(test, train, h)
    err, _ = bench_kde.errors(model.log_prob(queries).numpy(), exact)
    if err > bench_kde.TOLERANCE * max(1.0, float(np.abs(exact).max())):
        raise AssertionError(f"{name}: genzoo's log-density is off the exact sum by {err:.3g}")
    row = Row(
        name,
        f"{label}: log p of {len(test)} queries, {len(train)} centres in {train.shape[1]}-D, "
        f"Scott's h = {h:.3g}",
        f"scikit-learn {importlib.metadata.version('scikit-learn')} KernelDensity",
        "s per call",
    )
    return side_by_side(
        row,
        lambda: _elapsed(lambda: model.log_prob(queries)),
        lambda: _elapsed(lambda: sk.score_samples(test64)),
        s.repeats,
    )


def row_kde(s: Size) -> Row:
    return _kde("kde", 784, s.kde_train, s.kde_test, s)


def row_kde_2d(s: Size) -> Row:
    return _kde("kde-2d", 2, s.kde2_train, s.kde_test, s)


def _field(name: str, method: str, peer: str, s: Size) -> Row:
    import bench_geostat_peers as peers
    from genzoo.geostat import covariance as C
    from genzoo.geostat.simulators import simulator

    a, nu, shape = 10.0, 1.0, (s.grid, s.grid)
    peers.set_threads(torch.get_num_threads())
    cov = C.Matern(range=a, nu=nu)
    version = peers.versions().get(peer.lower(), "")
    row = Row(
        name,
        f"one Matérn field (ν = 1, a = 10) on a {s.grid}² grid, set-up included",
        f"{peer} {version}".strip(),
        "s per field",
    )

    def ours() -> float:
        return _elapsed(
            lambda: simulator(method, cov, shape).sample(1, generator=torch.Generator().manual_seed(0))
        )

    def theirs() -> float:
        if peer == "GSTools":
            return _elapsed(lambda: peers.gstools_fields(a, nu, shape, 1, 1))
        return _elapsed(lambda: peers.gstlearn_spde(a, nu, shape, 1, 1))

    return side_by_side(row, ours, theirs, s.repeats)


def row_fft(s: Size) -> Row:
    return _field("fft", "fft", "GSTools", s)


def row_spde(s: Size) -> Row:
    return _field("spde", "spde", "gstlearn", s)


ROWS: dict[str, Callable[[Size], Row]] = {
    "vae": row_vae,
    "dcgan": row_dcgan,
    "dcgan-nchw": row_dcgan_nchw,
    "ddpm": row_ddpm,
    "ddim": row_ddim,
    "rbm": row_rbm,
    "kde": row_kde,
    "kde-2d": row_kde_2d,
    "fft": row_fft,
    "spde": row_spde,
}


def peak(s: Size) -> dict[str, Any]:
    import bench_peak
    from genzoo.models import MODELS

    gflops = bench_peak.peak_gflops(repeats=10 if s is FULL else 2)
    names = [n for n in (s.peak_only or MODELS.names()) if MODELS.get(n).trainable and MODELS.get(n).tour]
    rows = {}
    for name in names:
        rows[name] = bench_peak.family(name, s.peak_steps)
        print(f"  peak {name}: {rows[name]['gflops']:.1f} GFLOP/s", file=sys.stderr, flush=True)
    return {"peak_gflops": gflops, "rows": rows}


# --- output -----------------------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}, {datetime.date.today().isoformat()}"
    )


def markdown(rows: list[Row], peak_result: dict[str, Any] | None, quick: bool) -> str:
    out = [f"<!-- python benchmarks/bench_suite.py{' --quick' if quick else ''} — {machine()} -->", ""]
    if quick:
        out += ["**Quick smoke run: tiny workloads, not figures.**", ""]
    out += [
        "| row | workload | peer | genzoo | peer | ratio (median) | spread [min, max] |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        if row.error:
            out.append(f"| {row.name} | failed: {row.error} | | | | | |")
            continue
        m = row.summary()
        out.append(
            f"| {row.name} | {row.workload} | {row.peer} | {m['genzoo']:.4g} {row.unit} | "
            f"{m['peer_time']:.4g} {row.unit} | "
            f"**{m['ratio']:.2f}** | [{m['ratio_min']:.2f}, {m['ratio_max']:.2f}] over {m['repeats']} |"
        )
    out += ["", "Ratio = peer time / genzoo time for the same work (> 1: genzoo faster)."]
    if peak_result:
        p = peak_result["peak_gflops"]
        out += [
            "",
            f"fp32 matrix-multiply peak (2048², measured in this run): **{p:.0f} GFLOP/s**",
            "",
            "| family | data | batch | GFLOP per step | ms per step | GFLOP/s | share of peak |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for name, r in sorted(peak_result["rows"].items(), key=lambda kv: -kv[1]["gflops"]):
            out.append(
                f"| {name} | {r['data']} | {r['batch']} | {r['gflop_per_step']:.3g} | "
                f"{r['ms_per_step']:.1f} | "
                f"{r['gflops']:.1f} | {100 * r['gflops'] / p:.1f} % |"
            )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--quick", action="store_true", help="a smoke run of every comparison: tiny sizes, 2 repeats"
    )
    ap.add_argument("--only", default="", help=f"comma-separated rows (of {', '.join(ROWS)}, peak)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument(
        "--device",
        default="cpu",
        choices=("cpu", "cuda"),
        help="where the vae, dcgan, ddpm and ddim rows run, genzoo and the peer alike (default cpu)",
    )
    ap.add_argument(
        "--out",
        default=None,
        help="folder for suite.md and suite.json (default: none for --quick, benchmarks/figures otherwise)",
    )
    args = ap.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    torch.set_num_threads(args.threads)
    size = QUICK if args.quick else FULL
    if args.repeats:
        size.repeats = args.repeats
    wanted = [w for w in args.only.split(",") if w] or [*ROWS, "peak"]
    unknown = [w for w in wanted if w not in ROWS and w != "peak"]
    if unknown:
        ap.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}, peak")
    t0 = time.perf_counter()
    rows: list[Row] = []
    for name in (w for w in wanted if w in ROWS):
        print(f"{name} ...", file=sys.stderr, flush=True)
        try:
            rows.append(ROWS[name](size))
        except Exception as exc:  # a failed comparison is reported and fails the run, the others go on
            traceback.print_exc()
            rows.append(Row(name, "", "", "", error=f"{type(exc).__name__}: {exc}".splitlines()[0][:200]))
    peak_result = None
    if "peak" in wanted:
        peak_result = peak(size)
    text = markdown(rows, peak_result, args.quick)
    print(text)
    print(f"suite: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    out = args.out if args.out is not None else (None if args.quick else str(HERE / "figures"))
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "suite.md").write_text(text)
        (folder / "suite.json").write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "quick": args.quick,
                    "device": DEVICE,
                    "rows": [r.summary() for r in rows],
                    "peak": peak_result,
                },
                indent=1,
            )
        )
    failed = [r.name for r in rows if r.error]
    if failed:
        print(f"failed comparisons: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
