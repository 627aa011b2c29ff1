"""Diffusion benchmarks: ddpm on mnist at a fixed CPU budget, and genzoo against
denoising-diffusion-pytorch on the same U-Net and schedule.

    python benchmarks/bench_ddpm.py                         # both parts (about an hour on 2 cores)
    python benchmarks/bench_ddpm.py --parts mnist --reuse   # score an existing run again
    python benchmarks/bench_ddpm.py --parts tour            # the tour entry's budget (about 40 minutes)

mnist   `create("ddpm", mnist, conditional=True)` with every other option at its default (U-Net
        32-64-64 with attention at 7×7, T = 1000 linear, ε-prediction, label dropout 0.1; batch
        128, Adam 1e-3 with cosine decay, EMA 0.999) trained for a wall-clock budget
        (`train.time_limit`, default 20 minutes, two threads; the step count is calibrated so that
        the cosine decay ends with the budget). Then, on the 1,000 held-out digits with
        `genzoo.evaluate` in genzoo's LeNet feature space (500 samples against 500 real, and the
        A/B noise floor of real against real): the DDIM quality/speed curve at 10, 25, 50, 100 and
        1,000 steps with η = 0 (deterministic) and at 10 … 100 with η = 1, and the ancestral
        1,000-step chain (Fréchet distance, precision, recall, density, coverage, seconds per
        sample), classifier-free guidance at s = 0, 1, 2, 4 (DDIM 50, η = 1), and
        the variational bound in bits/dim (`nll`, null label, 100 stratified timesteps per digit).
        Figures: benchmarks/figures/ddpm-mnist-*.png.
tour    the full tour's mnist entry at its budget (at most 10 minutes of training on 2 cores): the
        conditional ddpm trained as the entry was (batch 128, 1,800 steps, cosine decay), at a
        constant rate (the EMA does the averaging), and at batch 64 and a constant rate for 3,000,
        3,600 (the entry now) and 4,400 steps; each scored like the tour (1,000 held-out digits: 500
        samples against 500 real) with the samplers of --tour-samplers, so that the sampler is chosen
        by measurement.
speed   one U-Net — denoising-diffusion-pytorch's `Unet(dim=32, dim_mults=(1, 2, 2))` — trained on
        mnist with the same linear schedule (T = 1000), ε-prediction, batch, Adam and data by
        `genzoo.train` (the network plugged into genzoo's ddpm) and by that library's
        `GaussianDiffusion` in a plain loop (its `Trainer` needs image folders, torchvision and
        accelerate, so it is left out). Alternated rounds, median steps/s. Then sampling time of
        64 images: genzoo DDIM-50 against the same model's 1000-step ancestral chain, and each
        library's DDIM-50 and 1000-step sampler. denoising-diffusion-pytorch comes with the bench extra
        (`make bench`); torchvision, which it imports for its Trainer only, is replaced by an empty
        module when no build of it matches the installed torch.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import sys
import time
import types
from pathlib import Path

import torch

import genzoo
from genzoo.models.base import hole_mask
from genzoo.viz import image_grid, inpainting_grid, png_bytes

FIGURES = Path(__file__).parent / "figures"
CURVE = tuple(
    ("ddim", n, eta) for eta in (0.0, 1.0) for n in (10, 25, 50, 100, 1000) if n < 1000 or eta == 0
) + (("ddpm", 1000, 0.0),)
GUIDANCE = (0.0, 1.0, 2.0, 4.0)


def machine() -> str:
    return (
        f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, torch "
        f"{torch.__version__}, "
        f"{datetime.date.today()}"
    )


def _write_png(path: Path, data: bytes) -> None:
    FIGURES.mkdir(exist_ok=True)
    path.write_bytes(data)


# --- mnist -------------------------------------------------------------------------------------
def _calibrate(train: genzoo.datasets.Dataset, steps: int = 30) -> float:
    """Training steps per second of the default conditional ddpm on mnist (after 5 warm-up steps)."""
    model = genzoo.models.create("ddpm", train, seed=1, conditional=True)
    genzoo.train(model, train, steps=5, progress=False, sample_grid=False)
    t0 = time.perf_counter()
    genzoo.train(model, train, steps=steps, progress=False, sample_grid=False)
    return steps / (time.perf_counter() - t0)


def _scores(result: dict) -> dict:
    m = result["metrics"]
    out = {"s_per_sample": result["sample_seconds_per_1000"] / 1000}
    for name, keys in (
        ("fd", ("fd", "floor")),
        ("pr", ("precision", "recall")),
        ("dc", ("density", "coverage")),
    ):
        for k in keys:
            if k in m.get(name, {}):
                out[f"{name}_{k}" if k == "floor" else k] = m[name][k]
    return out


def part_mnist(seconds: float, out: Path, reuse: bool, n_eval: int = 1000, curve=CURVE) -> dict:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    train = genzoo.datasets.load("mnist", split="train")
    test = genzoo.datasets.load("mnist", split="test")
    if reuse and (out / "model.safetensors").exists():
        model = genzoo.load(out)
        last = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
        steps, took = last["step"], last.get("time")
    else:
        rate = _calibrate(train)
        steps = int(rate * seconds * 0.97)
        model = genzoo.models.create("ddpm", train, seed=0, conditional=True)
        t0 = time.perf_counter()
        shutil.rmtree(out, ignore_errors=True)
        run = genzoo.train(model, train, out=out, steps=steps, time_limit=seconds, progress=False)
        took, steps, model = time.perf_counter() - t0, run.step, run.model
    model.eval()
    results: dict = {
        "n_eval": n_eval,
        "steps": steps,
        "train_seconds": took,
        "params": model.num_parameters(),
        "curve": [],
        "guidance": [],
    }
    for sampler, n, eta in curve:
        model.config.sampler, model.config.sample_steps, model.config.eta = sampler, n, eta
        r = genzoo.evaluate(model, test, metrics=["fd", "pr", "dc"], n=n_eval, seed=0)
        results["curve"].append({"sampler": sampler, "steps": n, "eta": eta, **_scores(r)})
        print(f"  {sampler}-{n} η={eta}: {results['curve'][-1]}", file=sys.stderr, flush=True)
    model.config.sampler, model.config.sample_steps, model.config.eta = "ddim", 50, 1.0
    for s in GUIDANCE:
        model.config.guidance = s
        if s == 1.0:
            row = _find(results["curve"], "ddim", 50, 1.0)
        else:
            row = _scores(genzoo.evaluate(model, test, metrics=["fd", "pr", "dc"], n=n_eval, seed=0))
        results["guidance"].append(
            {"guidance": s, **{k: v for k, v in row.items() if k not in ("sampler", "steps", "eta")}}
        )
        print(f"  guidance {s}: {results['guidance'][-1]}", file=sys.stderr, flush=True)
    model.config.guidance = 1.0
    t0 = time.perf_counter()
    nll = genzoo.evaluate(model, test, metrics=["nll"], n=n_eval, seed=0)["metrics"]["nll"]
    results["bound"] = {**nll, "seconds": time.perf_counter() - t0}
    # figures: samples by class at s = 1 and s = 3, inpainting, a denoising trajectory
    labels = torch.arange(10).repeat_interleave(8)
    for s in (1.0, 3.0):
        x = model.sample(
            80,
            generator=torch.Generator().manual_seed(0),
            label=labels,
            guidance=s,
            sampler="ddim",
            steps=50,
            eta=1.0,
        )
        _write_png(FIGURES / f"ddpm-mnist-guidance-{s:g}.png", png_bytes(image_grid(x, model.info, nrow=8)))
    x = test.x[:8]
    mask = hole_mask("bottom-half", (1, 28, 28))
    for r in (1, 5):
        filled = model.inpaint(
            x, mask, generator=torch.Generator().manual_seed(0), sampler="ddpm", steps=250, resample=r
        )
        _write_png(
            FIGURES / f"ddpm-mnist-inpaint-r{r}.png", png_bytes(inpainting_grid(x, mask, filled, model.info))
        )
    from genzoo.viz.plots import trajectory_figure

    _write_png(
        FIGURES / "ddpm-mnist-trajectory.png",
        trajectory_figure(model, generator=torch.Generator().manual_seed(0)),
    )
    (out / "bench.json").write_text(json.dumps(results, indent=1))
    _write_png(FIGURES / "ddpm-mnist-ddim-curve.png", curve_figure(results))
    print_mnist(results, seconds)
    return results


def curve_figure(r: dict) -> bytes:
    """Fréchet distance and seconds per sample against DDIM steps, the ancestral chain as a line."""
    from genzoo.pictures import figure_png
    from genzoo.viz.plots import panels

    fig, (ax,) = panels(1, max_cols=1, width=6.0, height=3.6)
    chain = _find(r["curve"], "ddpm", 1000)
    for eta, colour in ((0.0, "#1f6feb"), (1.0, "#1a7f37")):
        rows = [c for c in r["curve"] if c["sampler"] == "ddim" and c["eta"] == eta]
        ax.plot(
            [c["steps"] for c in rows],
            [c["fd"] for c in rows],
            "o-",
            color=colour,
            label=f"DDIM η = {eta:g}: Fréchet distance",
        )
    ax.axhline(chain["fd"], color="#1a7f37", ls="--", lw=1, label=f"ancestral chain, {chain['steps']} steps")
    ax.axhline(chain["fd_floor"], color="#8a96a3", ls=":", lw=1, label="noise floor (real against real)")
    ax.set_xscale("log")
    ax.set_xlabel("sampling steps")
    ax.set_ylabel("Fréchet distance (LeNet features)")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    ddim = [c for c in r["curve"] if c["sampler"] == "ddim" and c["eta"] == 0.0]
    right.plot(
        [c["steps"] for c in ddim],
        [c["s_per_sample"] for c in ddim],
        "s-",
        color="#d1242f",
        label="seconds per sample (η = 0)",
    )
    right.set_yscale("log")
    right.set_ylabel("seconds per sample", color="#d1242f")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper center")
    ax.set_title("ddpm on mnist: DDIM quality and speed")
    return figure_png(fig)


def _find(curve: list[dict], sampler: str, steps: int, eta: float = 0.0) -> dict:
    return next(
        c
        for c in curve
        if c["sampler"] == sampler and c["steps"] == steps and (sampler == "ddpm" or c["eta"] == eta)
    )


def print_mnist(r: dict, seconds: float) -> None:
    print(
        f"\n### mnist: conditional ddpm (U-Net, {r['params']:,} parameters), {r['steps']} steps in "
        f"{seconds / 60:.0f} min of training\n"
    )
    floor = r["curve"][0].get("fd_floor")
    half = r["n_eval"] // 2
    print(
        f"{half} samples against {half} held-out digits, LeNet features (Fréchet distance noise floor, real "
        f"A against real B: {floor:.3g}).\n"
    )
    print(
        "| sampler | η | steps | s/sample | Fréchet distance | precision | recall | density | coverage |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for c in r["curve"]:
        eta = f"{c['eta']:g}" if c["sampler"] == "ddim" else "—"
        print(
            f"| {c['sampler']} | {eta} | {c['steps']} | {c['s_per_sample']:.3f} | {c['fd']:.3g} | "
            f"{c['precision']:.3f} | {c['recall']:.3f} | "
            f"{c['density']:.3f} | {c['coverage']:.3f} |"
        )
    chain = _find(r["curve"], "ddpm", 1000)
    print()
    for eta in (0.0, 1.0):
        d50 = _find(r["curve"], "ddim", 50, eta)
        print(
            f"DDIM-50 (η = {eta:g}) against the 1000-step ancestral chain: "
            f"{chain['s_per_sample'] / d50['s_per_sample']:.1f}× faster, "
            f"Fréchet distance {d50['fd']:.3g} against {chain['fd']:.3g} "
            f"({100 * (d50['fd'] / chain['fd'] - 1):+.0f} %)."
        )
    print("\nClassifier-free guidance (DDIM 50 with η = 1, labels drawn from the training frequencies):\n")
    print(
        "| s | Fréchet distance | precision | recall | density | coverage | s/sample |\n"
        "|---:|---:|---:|---:|---:|---:|---:|"
    )
    for g in r["guidance"]:
        print(
            f"| {g['guidance']:g} | {g['fd']:.3g} | {g['precision']:.3f} | {g['recall']:.3f} | "
            f"{g['density']:.3f} | {g['coverage']:.3f} | {g['s_per_sample']:.3f} |"
        )
    b = r["bound"]
    print(
        f"\nVariational bound (null label, {r['n_eval']:,} held-out digits, 100 stratified timesteps each): "
        f"{b['bits_per_dim']:.3f} bits/dim ({b['nats']:.1f} ± {b['std_err_nats']:.1f} nats), "
        f"{b['seconds']:.0f} s.\n"
    )
    print("![DDIM curve](benchmarks/figures/ddpm-mnist-ddim-curve.png)\n")
    print(
        "![s = 1](benchmarks/figures/ddpm-mnist-guidance-1.png) "
        "![s = 3](benchmarks/figures/ddpm-mnist-guidance-3.png)\n"
    )
    print(
        "![replacement](benchmarks/figures/ddpm-mnist-inpaint-r1.png) "
        "![RePaint r = 5](benchmarks/figures/ddpm-mnist-inpaint-r5.png)"
    )


# --- speed -------------------------------------------------------------------------------------
def import_reference():
    """denoising_diffusion_pytorch's Unet and GaussianDiffusion (torchvision stubbed if unusable)."""
    try:
        import torchvision  # noqa: F401
    except Exception:  # no build matching this torch: the library uses it for its Trainer only
        for name in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[name]
        stub = types.ModuleType("torchvision")
        stub.transforms, stub.utils = (
            types.ModuleType("torchvision.transforms"),
            types.ModuleType("torchvision.utils"),
        )
        sys.modules.update(
            {"torchvision": stub, "torchvision.transforms": stub.transforms, "torchvision.utils": stub.utils}
        )
    from denoising_diffusion_pytorch import GaussianDiffusion, Unet

    return Unet, GaussianDiffusion


class _Plugged(torch.nn.Module):
    """Their U-Net as genzoo ddpm's network: forward(x_t, t) with integer t."""

    def __init__(self, unet: torch.nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t)


def part_speed(steps: int, rounds: int, batch: int) -> dict:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    Unet, GaussianDiffusion = import_reference()

    train = genzoo.datasets.load("mnist", split="train")

    def unet() -> torch.nn.Module:
        torch.manual_seed(0)
        return Unet(dim=32, dim_mults=(1, 2, 2), channels=1)

    def genzoo_model():
        m = genzoo.models.create(
            "ddpm", train, seed=0, timesteps=1000, schedule="linear", channels=(8,), attention=()
        )
        net = _Plugged(unet())
        m.net, m.time_mlp = net, torch.nn.Identity()
        m.forward = lambda x_t, t, y=None: net(x_t, t)  # their network sees the integer timestep
        return m

    def theirs():
        return GaussianDiffusion(
            unet(),
            image_size=28,
            timesteps=1000,
            sampling_timesteps=1000,
            beta_schedule="linear",
            objective="pred_noise",
            auto_normalize=True,
        )

    def run_genzoo(n: int) -> float:
        m = genzoo_model()
        t0 = time.perf_counter()
        genzoo.train(
            m,
            train,
            steps=n,
            batch_size=batch,
            lr=1e-4,
            ema=None,
            schedule="constant",
            progress=False,
            sample_grid=False,
        )
        return n / (time.perf_counter() - t0)

    def run_theirs(n: int) -> float:
        d = theirs()
        opt = torch.optim.Adam(d.parameters(), lr=1e-4)
        g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        order = torch.randperm(len(train), generator=g)
        pos = 0
        for _ in range(n):
            if pos + batch > len(order):
                order, pos = torch.randperm(len(train), generator=g), 0
            x = train.x[order[pos : pos + batch]]
            pos += batch
            loss = d(x)  # normalises [0, 1] → [−1, 1], draws t and ε, MSE on ε
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return n / (time.perf_counter() - t0)

    params = sum(p.numel() for p in unet().parameters())
    run_genzoo(3), run_theirs(3)  # warm-up
    ours, ref = [], []
    for _ in range(rounds):
        ours.append(run_genzoo(steps))
        ref.append(run_theirs(steps))
    out = {
        "params": params,
        "genzoo_steps_s": statistics.median(ours),
        "ref_steps_s": statistics.median(ref),
        "rounds": rounds,
        "steps": steps,
        "batch": batch,
    }
    # sampling: 64 images, DDIM-50 and the 1000-step chain, each library
    m, d = genzoo_model().eval(), theirs().eval()
    times = {}
    with torch.no_grad():
        for label, fn in (
            (
                "genzoo ddim-50",
                lambda: m.sample(64, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=50),
            ),
            (
                "genzoo ddpm-1000",
                lambda: m.sample(64, generator=torch.Generator().manual_seed(0), sampler="ddpm"),
            ),
            ("reference ddim-50", lambda: _ref_sample(GaussianDiffusion, unet, 50)),
            ("reference ddpm-1000", lambda: d.sample(batch_size=64)),
        ):
            t0 = time.perf_counter()
            fn()
            times[label] = time.perf_counter() - t0
            print(f"  {label}: {times[label]:.1f} s", file=sys.stderr, flush=True)
    out["sampling_s"] = times
    out["ref_version"] = importlib.metadata.version("denoising-diffusion-pytorch")
    print_speed(out)
    return out


def _ref_sample(GaussianDiffusion, unet, n_steps: int) -> torch.Tensor:
    d = GaussianDiffusion(
        unet(),
        image_size=28,
        timesteps=1000,
        sampling_timesteps=n_steps,
        beta_schedule="linear",
        objective="pred_noise",
        ddim_sampling_eta=0.0,
    ).eval()
    return d.sample(batch_size=64)


def print_speed(r: dict) -> None:
    print(
        f"\n### Against denoising-diffusion-pytorch {r['ref_version']}: one U-Net ({r['params']:,} "
        f"parameters), one schedule\n"
    )
    print(
        f"Training: batch {r['batch']}, {r['steps']} steps per round, median of {r['rounds']} alternated "
        f"rounds.\n"
    )
    print("| | genzoo | denoising-diffusion-pytorch | ratio |\n|---|---:|---:|---:|")
    g, ref = r["genzoo_steps_s"], r["ref_steps_s"]
    print(f"| training steps/s | {g:.2f} | {ref:.2f} | {g / ref:.2f} |")
    s = r["sampling_s"]
    print(
        f"| DDIM-50, 64 images (s) | {s['genzoo ddim-50']:.1f} | {s['reference ddim-50']:.1f} | "
        f"{s['reference ddim-50'] / s['genzoo ddim-50']:.2f} |"
    )
    print(
        f"| 1000-step chain, 64 images (s) | {s['genzoo ddpm-1000']:.1f} | {s['reference ddpm-1000']:.1f} | "
        f"{s['reference ddpm-1000'] / s['genzoo ddpm-1000']:.2f} |"
    )
    print(
        f"\nRatios > 1: genzoo faster. genzoo's DDIM-50 against its 1000-step chain: "
        f"{s['genzoo ddpm-1000'] / s['genzoo ddim-50']:.1f}× faster."
    )


# --- the tour's budget --------------------------------------------------------------------------
TOUR_CONFIGS = {
    "cosine-b128": {"steps": 1800, "batch_size": 128, "schedule": "cosine"},  # the entry before 2026-12-06
    "constant-b128": {"steps": 1800, "batch_size": 128, "schedule": "constant"},
    "constant-b64-3000": {"steps": 3000, "batch_size": 64, "schedule": "constant"},
    "constant-b64": {"steps": 3600, "batch_size": 64, "schedule": "constant"},  # the entry now
    "constant-b64-4400": {"steps": 4400, "batch_size": 64, "schedule": "constant"},
}
TOUR_SAMPLERS = (("ddim", 50, 0.0), ("ddim", 100, 0.0), ("ddim", 50, 1.0), ("ddim", 100, 1.0))


def part_tour(out: Path, configs: list[str], samplers, n_eval: int = 1000, seed: int = 0) -> list[dict]:
    """Each configuration of TOUR_CONFIGS trained once (seed `seed`) and scored with each sampler."""
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    train = genzoo.datasets.load("mnist", split="train")
    test = genzoo.datasets.load("mnist", split="test")
    rows = []
    for name in configs:
        options = dict(TOUR_CONFIGS[name])
        model = genzoo.models.create("ddpm", train, seed=seed, conditional=True)
        run_dir = out / name
        shutil.rmtree(run_dir, ignore_errors=True)
        t0 = time.perf_counter()
        run = genzoo.train(model, train, out=run_dir, progress=False, sample_grid=False, seed=seed, **options)
        took = time.perf_counter() - t0
        model = run.model.eval()
        for sampler, n, eta in samplers:
            model.config.sampler, model.config.sample_steps, model.config.eta = sampler, n, eta
            r = genzoo.evaluate(model, test, metrics=["fd", "recognisable", "pr"], n=n_eval, seed=0)
            m = r["metrics"]
            rows.append(
                {
                    "config": name,
                    **options,
                    "train_seconds": round(took, 1),
                    "sampler": sampler,
                    "sample_steps": n,
                    "eta": eta,
                    "fd": m["fd"]["fd"],
                    "fd_floor": m["fd"]["floor"],
                    "recognisable": m["recognisable"]["share"],
                    "precision": m["pr"]["precision"],
                    "recall": m["pr"]["recall"],
                    "s_per_sample": r["sample_seconds_per_1000"] / 1000,
                }
            )
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    (out / "tour.json").write_text(json.dumps(rows, indent=1))
    print("| training | steps | train s | sampler | FD | recognisable | precision | recall | s/sample |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        label = f"{r['sampler']}-{r['sample_steps']}" + (
            f" η = {r['eta']:g}" if r["sampler"] == "ddim" else ""
        )
        print(
            f"| {r['config']} | {r['steps']} | {r['train_seconds']:.0f} | {label} | {r['fd']:.1f} | "
            f"{r['recognisable']:.3f} | "
            f"{r['precision']:.3f} | {r['recall']:.3f} | {r['s_per_sample']:.3f} |"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="speed,mnist")
    ap.add_argument("--seconds", type=float, default=1200.0, help="mnist: training budget (s)")
    ap.add_argument("--out", default="runs/bench-ddpm-mnist", help="mnist: the run directory")
    ap.add_argument(
        "--reuse", action="store_true", help="mnist: score the run in --out instead of training again"
    )
    ap.add_argument(
        "--n-eval", type=int, default=1000, help="mnist: held-out digits to score with (half as many samples)"
    )
    ap.add_argument(
        "--curve",
        default=",".join(f"{a}:{b}:{c:g}" for a, b, c in CURVE),
        help="mnist: sampler:steps:eta to score",
    )
    ap.add_argument(
        "--tour-configs", default=",".join(TOUR_CONFIGS), help=f"tour: among {', '.join(TOUR_CONFIGS)}"
    )
    ap.add_argument(
        "--tour-samplers",
        default=",".join(f"{a}:{b}:{c:g}" for a, b, c in TOUR_SAMPLERS),
        help="tour: sampler:steps:eta",
    )
    ap.add_argument("--seed", type=int, default=0, help="tour: the seed of the models and their training")
    ap.add_argument("--steps", type=int, default=50, help="speed: training steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    parts = args.parts.split(",")
    print(f"Machine: {machine()}")
    if "speed" in parts:
        part_speed(args.steps, args.rounds, args.batch)
    if "table" in parts:  # the tables and the curve again, from the run's bench.json
        results = json.loads((Path(args.out) / "bench.json").read_text())
        _write_png(FIGURES / "ddpm-mnist-ddim-curve.png", curve_figure(results))
        print_mnist(results, args.seconds)
    if "tour" in parts:
        samplers = [
            (c.split(":")[0], int(c.split(":")[1]), float(c.split(":")[2]))
            for c in args.tour_samplers.split(",")
        ]
        part_tour(
            Path(args.out).with_name("bench-ddpm-tour"),
            args.tour_configs.split(","),
            samplers,
            args.n_eval,
            args.seed,
        )
    if "mnist" in parts:
        curve = [
            (c.split(":")[0], int(c.split(":")[1]), float(c.split(":")[2])) for c in args.curve.split(",")
        ]
        part_mnist(args.seconds, Path(args.out), args.reuse, args.n_eval, curve)


if __name__ == "__main__":
    main()
