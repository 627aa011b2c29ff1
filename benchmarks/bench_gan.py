"""GAN benchmarks: mode coverage per loss on ring8 and grid25, sample quality per loss on mnist at one
CPU budget, and a DCGAN trained by genzoo against a plain reference loop.

    python benchmarks/bench_gan.py                      # all three parts (about 25 minutes on 2 cores)
    python benchmarks/bench_gan.py --parts speed --steps 200

modes   `genzoo.train(create("gan", data, loss=L), data)` with nothing else given: each loss with the
        default budget of point data (20,000 steps, batch 256, EMA 0.999; k = 5 and λ = 0.1 for the
        Wasserstein losses), seed 0; 2,500 samples scored with `mode_coverage` (VEEGAN/PacGAN: a
        sample is high quality within 3σ of a mode; a mode is covered by one such sample). Runs go two
        at a time, one thread each. Figure: benchmarks/figures/gan-modes-DATA.png.
mnist   the DCGAN-style conv GAN (`arch=conv`, channels 64-128, z of 64) per loss, each given the same
        wall-clock budget (`train.time_limit`), scored by `genzoo.evaluate` on 1,000 held-out digits
        in genzoo's LeNet feature space (precision, recall, density, coverage, Fréchet distance, with
        the A/B noise floor). Grids: benchmarks/figures/gan-mnist-LOSS.png.
fields  `arch=fcn` (fully convolutional generator, patch critic, wgan-gp) on 64×64 gravel patches
        of `textures` for a wall-clock budget, then two 256×256 samples beside real patches:
        benchmarks/figures/gan-fcn-gravel.png.
remedies  the conv GAN on grey mnist with the small-data remedies one at a time (`--screen`):
        a 120 s screen of each alone at the old defaults (channels 64-128, batch 128), the width and
        batch with batch norm (120 s), the tour's candidates at a fixed 16,000 steps, and changes to
        the entry at its 20,000 steps (a cosine decay; DiffAugment's translation alone; z of 16); each run
        scored by `genzoo.evaluate` on the 1,000 test digits (FD, recognisable share, class TV,
        precision, recall), grids in benchmarks/figures/gan-remedy-LABEL.png; `--seeds` repeats
        the tour's entry (its own steps and options) per seed.
cgan    the conditional GAN on digits at the quick tour's budget (3,000 steps), per seed: the tour's entry
        (wgan-gp, EMA 0.999) against the non-saturating entry it replaced, with and without EMA; FD,
        recognisable share, precision and recall (the issue's target: recall ≥ 0.6 on 3 seeds).
speed   the same conv GAN (non-saturating, batch 64, Adam 2e-4 β = (0.5, 0.999)) trained by
        `genzoo.train` and by a plain PyTorch loop written here in the manner of the PyTorch DCGAN
        example, on the same networks, data and optimiser; alternated rounds, median steps/s.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

import genzoo
from genzoo.viz import save_samples

FIGURES = Path(__file__).parent / "figures"
LOSSES = ("minimax", "non-saturating", "wgan", "wgan-gp")


def machine() -> str:
    return (
        f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
        f"torch {torch.__version__}, "
        f"{datetime.date.today()}"
    )


# --- modes -------------------------------------------------------------------------------------
def _modes_job(args: tuple[str, str, int]) -> dict:
    data_name, loss, seed = args
    torch.set_num_threads(1)
    from genzoo.metrics.samples import mode_coverage

    data = genzoo.datasets.load(data_name, split="train")
    model = genzoo.models.create("gan", data, seed=seed, loss=loss)
    t0 = time.perf_counter()
    run = genzoo.train(model, data, seed=seed, progress=False)
    seconds = time.perf_counter() - t0
    s = run.model.sample(2500, generator=torch.Generator().manual_seed(1))
    r = mode_coverage(s.numpy(), data.extras["modes"].numpy(), data.extras["sigma"])
    return {
        "data": data_name,
        "loss": loss,
        "seed": seed,
        "steps": run.step,
        "seconds": seconds,
        "samples": s,
        **r,
    }


def modes_figure(data_name: str, rows: list[dict]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    data = genzoo.datasets.load(data_name, split="test")
    modes = data.extras["modes"]
    fig = Figure(figsize=(3.2 * len(rows), 3.4), layout="constrained")
    for i, r in enumerate(rows):
        ax = fig.add_subplot(1, len(rows), i + 1)
        ax.scatter(*data.x[:2000].T, s=2, c="0.75", linewidths=0, label="data")
        ax.scatter(*r["samples"][:2000].T, s=2, c="C0", linewidths=0, alpha=0.6, label="samples")
        ax.scatter(*modes.T, s=12, c="C3", marker="x", label="modes")
        lim = float(modes.abs().max()) + 1
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
        ax.set_title(
            f"{r['loss']}: {r['modes_covered']}/{len(modes)} modes, {100 * r['high_quality_rate']:.0f} % HQ",
            fontsize=9,
        )
    FIGURES.mkdir(exist_ok=True)
    path = FIGURES / f"gan-modes-{data_name}.png"
    fig.savefig(path, dpi=90)
    return path


def part_modes(seeds: list[int], datasets: list[str], losses: list[str]) -> None:
    jobs = [(d, loss, s) for d in datasets for loss in losses for s in seeds]
    with mp.get_context("spawn").Pool(2) as pool:
        results = pool.map(_modes_job, jobs, chunksize=1)
    print(
        f"\n### Mode coverage per loss, default budget of point data (seeds {', '.join(map(str, seeds))})\n"
    )
    print(
        "| data | loss | steps | train s | modes covered | high-quality samples |\n"
        "|---|---|---:|---:|---:|---:|"
    )
    for r in results:
        k = len(r["counts"])
        print(
            f"| {r['data']} (seed {r['seed']}) | {r['loss']} | {r['steps']} | {r['seconds']:.0f} | "
            f"{r['modes_covered']}/{k} | {100 * r['high_quality_rate']:.1f} % |"
        )
    for d in datasets:
        if len(losses) < len(LOSSES):
            continue  # the figures show every loss side by side
        path = modes_figure(d, [r for r in results if r["data"] == d and r["seed"] == seeds[0]])
        print(f"\n![{d}]({path.relative_to(Path(__file__).parent.parent)})")


# --- mnist -------------------------------------------------------------------------------------
CONV = dict(arch="conv", channels=(64, 128), latent_dim=64)


def _mnist_job(args: tuple[str, float]) -> dict:
    loss, seconds = args
    torch.set_num_threads(1)
    train = genzoo.datasets.load("mnist", split="train")
    test = genzoo.datasets.load("mnist", split="test")
    model = genzoo.models.create("gan", train, seed=0, loss=loss, **CONV)
    with tempfile.TemporaryDirectory() as out:
        run = genzoo.train(
            model, train, out=out, steps=10**6, time_limit=seconds, progress=False, sample_grid=False
        )
        result = genzoo.evaluate(run.model, test, metrics=["fd", "pr", "dc"], n=1000, seed=0)
    x = run.model.sample(64, generator=torch.Generator().manual_seed(0))
    FIGURES.mkdir(exist_ok=True)
    save_samples(x, train.info, FIGURES / f"gan-mnist-{loss}.png")
    return {"loss": loss, "steps": run.step, "metrics": result["metrics"]}


def flatten(metrics: dict) -> dict[str, tuple[float, float | None]]:
    """{metric.key: (value, noise floor)} from genzoo.evaluate's metrics, skipping timings and lists."""
    out = {}
    for name, d in metrics.items():
        values = {
            k: v
            for k, v in d.items()
            if isinstance(v, int | float) and k not in ("seconds", "k") and not k.endswith("floor")
        }
        for k, v in values.items():
            floor = d.get(f"{k}_floor", d.get("floor") if len(values) == 1 else None)
            out[f"{name}.{k}"] = (v, floor)
    return out


def part_mnist(seconds: float) -> None:
    with mp.get_context("spawn").Pool(2) as pool:
        results = pool.map(_mnist_job, [(loss, seconds) for loss in LOSSES], chunksize=1)
    print(
        f"\n### mnist: conv GAN per loss, {seconds:.0f} s of training each (one thread), "
        f"1,000 held-out digits\n"
    )
    print("Each cell: the model's value (the A/B noise floor of real against real).\n")
    flat = [flatten(r["metrics"]) for r in results]
    keys = sorted({k for f in flat for k in f})
    print("| loss | steps | " + " | ".join(keys) + " |\n|---|---:|" + "---:|" * len(keys))
    for r, f in zip(results, flat):
        cells = [
            f"{f[k][0]:.3g}" + ("" if f[k][1] is None else f" ({f[k][1]:.3g})") if k in f else "—"
            for k in keys
        ]
        print(f"| {r['loss']} | {r['steps']} | " + " | ".join(cells) + " |")
    print("\n" + " ".join(f"![{loss}](benchmarks/figures/gan-mnist-{loss}.png)" for loss in LOSSES))


# --- fields ------------------------------------------------------------------------------------
def part_fields(seconds: float) -> None:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    data = genzoo.datasets.load("textures", split="train", patch=64, n=400, exclude=(0, 1))  # gravel only
    model = genzoo.models.create("gan", data, seed=0, arch="fcn", channels=(32, 64), loss="wgan-gp")
    run = genzoo.train(
        model, data, steps=10**6, time_limit=seconds, batch_size=32, progress=False, sample_grid=False
    )
    big = run.model.sample(2, generator=torch.Generator().manual_seed(0), size=256)
    real = data.x[:16]
    FIGURES.mkdir(exist_ok=True)
    path = FIGURES / "gan-fcn-gravel.png"
    save_samples(real, data.info, FIGURES / "gan-fcn-gravel-real.png")
    info = genzoo.datasets.DataInfo("gravel-256", "image", (1, 256, 256), (0.0, 1.0))
    save_samples(big, info, path)
    print(f"\n### Fields of any size: fcn GAN on 64×64 gravel patches, {run.step} steps in {seconds:.0f} s\n")
    print(
        f"![two 256×256 samples]({path.relative_to(Path(__file__).parent.parent)}) "
        "![real 64×64 patches](benchmarks/figures/gan-fcn-gravel-real.png)"
    )


# --- speed -------------------------------------------------------------------------------------
def reference_step(model: genzoo.models.GenerativeModel, x: torch.Tensor, batch: int) -> Callable[[], None]:
    """One step per call of a plain loop written as the PyTorch DCGAN example's: shuffle; one batch
    of fakes G(z); a discriminator step on the real batch and the detached fakes; a generator step
    with −log D(G(z)) on the same fakes. Adam 2e-4, β = (0.5, 0.999). The model's own networks,
    so the architecture is the same; torch's global RNG draws z and the order."""
    g, d = model.generator, model.critic
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    perm, pos = torch.randperm(len(x)), 0

    def step() -> None:
        nonlocal perm, pos
        if pos + batch > len(x):
            perm, pos = torch.randperm(len(x)), 0
        real = x[perm[pos : pos + batch]]
        pos += batch
        fake = torch.sigmoid(g(torch.randn(batch, model.latent_dim, device=x.device)))
        d.zero_grad()
        d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake.detach())).mean()
        d_loss.backward()
        opt_d.step()
        g.zero_grad()
        g_loss = F.softplus(-d(fake)).mean()
        g_loss.backward()
        opt_g.step()

    return step


def reference_loop(model: genzoo.models.GenerativeModel, x: torch.Tensor, steps: int, batch: int) -> float:
    """Steps/s of :func:`reference_step` for `steps` steps."""
    step = reference_step(model, x, batch)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if x.is_cuda:
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def genzoo_loop(data: genzoo.datasets.Dataset, steps: int, batch: int) -> float:
    model = genzoo.models.create("gan", data, seed=0, loss="non-saturating", **CONV)
    t0 = time.perf_counter()
    genzoo.train(model, data, steps=steps, batch_size=batch, lr=2e-4, betas=(0.5, 0.999), progress=False)
    return steps / (time.perf_counter() - t0)


def part_speed(steps: int, rounds: int, batch: int) -> None:
    data = genzoo.datasets.load("mnist", split="train")
    speeds: dict[str, list[float]] = {"reference loop": [], "genzoo.train": []}
    for r in range(rounds):  # alternate who goes first, so that drift of the machine hits both alike
        model = genzoo.models.create("gan", data, seed=0, loss="non-saturating", **CONV)
        order = ["reference loop", "genzoo.train"][:: 1 if r % 2 == 0 else -1]
        for name in order:
            run = (
                reference_loop(model, data.x, steps, batch)
                if name == "reference loop"
                else genzoo_loop(data, steps, batch)
            )
            speeds[name].append(run)
    ref = statistics.median(speeds["reference loop"])
    print(
        f"\n### DCGAN speed: conv GAN 64-128, z 64, batch {batch}, {steps} steps × {rounds} rounds (median)\n"
    )
    print("| loop | steps/s | ratio to reference |\n|---|---:|---:|")
    for name, values in speeds.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.1f} | {med / ref:.3f} |")


C32 = {"channels": (32, 64)}
REMEDIES = {  # label: (model options, training options, budget: seconds or steps)
    "none (the old defaults)": ({}, {}, ("seconds", 120)),
    "EMA of the weights, 0.999": ({}, {"ema": 0.999}, ("seconds", 120)),
    "batch norm in the generator": ({"batch_norm": True}, {}, ("seconds", 120)),
    "DiffAugment (translation, cutout)": ({"augment": "translation,cutout"}, {}, ("seconds", 120)),
    "R1, γ = 1": ({"r1": 1.0}, {}, ("seconds", 120)),
    "spectral norm in the critic": ({"spectral_norm": True}, {}, ("seconds", 120)),
    "two time scales (critic 4e-4, generator 1e-4)": (
        {"critic_lr_scale": 4.0},
        {"lr": 1e-4},
        ("seconds", 120),
    ),
    "bn, 64-128, batch 64": ({"batch_norm": True}, {"batch_size": 64}, ("seconds", 120)),
    "bn, 32-64, batch 64": ({"batch_norm": True, **C32}, {"batch_size": 64}, ("seconds", 120)),
    "bn, 32-64, batch 64, 16k": ({"batch_norm": True, **C32}, {"batch_size": 64}, ("steps", 16000)),
    "+ spectral norm + EMA, 16k": (
        {"batch_norm": True, "spectral_norm": True, **C32},
        {"batch_size": 64, "ema": 0.999},
        ("steps", 16000),
    ),
    "+ spectral norm + EMA, nearest upsampling, 16k": (
        {"batch_norm": True, "spectral_norm": True, "upsample": "nearest", **C32},
        {"batch_size": 64, "ema": 0.999},
        ("steps", 16000),
    ),
    "+ spectral norm + EMA, lr 5e-4, 16k": (
        {"batch_norm": True, "spectral_norm": True, **C32},
        {"batch_size": 64, "ema": 0.999, "lr": 5e-4},
        ("steps", 16000),
    ),
    "+ spectral norm + EMA + DiffAugment, 16k": (
        {"batch_norm": True, "spectral_norm": True, "augment": "translation,cutout", **C32},
        {"batch_size": 64, "ema": 0.999},
        ("steps", 16000),
    ),
    "the entry, 20k, cosine decay": (
        {"batch_norm": True, "spectral_norm": True, **C32},
        {"batch_size": 64, "ema": 0.999, "schedule": "cosine"},
        ("steps", 20000),
    ),
    "the entry, 20k, DiffAugment (translation)": (
        {"batch_norm": True, "spectral_norm": True, "augment": "translation", **C32},
        {"batch_size": 64, "ema": 0.999},
        ("steps", 20000),
    ),
    "the entry, 20k, z of 16": (
        {"batch_norm": True, "spectral_norm": True, "latent_dim": 16, **C32},
        {"batch_size": 64, "ema": 0.999},
        ("steps", 20000),
    ),
}


def _remedy_run(label: str, params: dict, train_kw: dict, budget: tuple[str, int], seed: int) -> None:
    train = genzoo.datasets.load("mnist", split="train", binarize="none")
    test = genzoo.datasets.load("mnist", split="test", binarize="none")
    model = genzoo.models.create("gan", train, seed=seed, **{"arch": "conv", **params})
    kind, amount = budget
    limit = {"steps": 10**7, "time_limit": amount} if kind == "seconds" else {"steps": amount}
    t0 = time.perf_counter()
    run = genzoo.train(model, train, seed=seed, progress=False, sample_grid=False, **limit, **train_kw)
    seconds = time.perf_counter() - t0
    m = genzoo.evaluate(run.model, test, metrics=["fd", "recognisable", "pr"], n=1000, train_data=train)[
        "metrics"
    ]
    r = m["recognisable"]
    print(
        f"| {label} | {seed} | {run.step} | {seconds:.0f} | {m['fd']['fd']:.1f} | {r['share']:.3f} "
        f"| {r['class_tv']:.3f} "
        f"| {m['pr']['precision']:.3f} | {m['pr']['recall']:.3f} |",
        flush=True,
    )
    FIGURES.mkdir(exist_ok=True)
    slug = "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")
    save_samples(
        run.model.sample(64, generator=torch.Generator().manual_seed(0)),
        test.info,
        FIGURES / f"gan-remedy-{slug}-s{seed}.png",
    )


def part_remedies(screen: bool, seeds: list[int]) -> None:
    from genzoo.models import MODELS

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    print(
        "\n| remedy | seed | steps | wall s | FD | recognisable | class TV | precision | recall |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    if screen:
        for label, (params, train_kw, budget) in REMEDIES.items():
            _remedy_run(label, params, train_kw, budget, 0)
    entry = next(e for e in MODELS.get("gan").tour if e.data == "mnist")
    for seed in seeds:
        _remedy_run("the tour's entry", entry.params, entry.train, ("steps", entry.steps), seed)


# label: (model options, training options), on top of the tour entry's MLP 256-256, z 16, lr 1e-3, batch 64
CGAN_VARIANTS = {
    "non-saturating (the old entry)": ({"loss": "non-saturating"}, {"ema": None}),
    "non-saturating + EMA 0.999": ({"loss": "non-saturating"}, {"ema": 0.999}),
    "wgan-gp": ({"loss": "wgan-gp"}, {"ema": None}),
    "wgan-gp + EMA 0.999 (the entry)": ({"loss": "wgan-gp"}, {"ema": 0.999}),
}


def part_cgan(seeds: list[int]) -> None:
    from genzoo.models import MODELS

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    entry = MODELS.get("cgan").tour[0]
    train, test = genzoo.datasets.load("digits", split="train"), genzoo.datasets.load("digits", split="test")
    print(
        "\n| cgan on digits, 3,000 steps | seed | wall s | FD (floor) | recognisable (floor) "
        "| precision | recall (floor) |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    for label, (params, train_kw) in CGAN_VARIANTS.items():
        for seed in seeds:
            model = genzoo.models.create("cgan", train, seed=seed, **{**entry.params, **params})
            options = {k: v for k, v in {**entry.train, **train_kw}.items() if v is not None}
            t0 = time.perf_counter()
            run = genzoo.train(
                model, train, steps=entry.quick_steps, seed=seed, progress=False, sample_grid=False, **options
            )
            seconds = time.perf_counter() - t0
            m = genzoo.evaluate(run.model, test, metrics=["fd", "recognisable", "pr"], train_data=train)[
                "metrics"
            ]
            print(
                f"| {label} | {seed} | {seconds:.0f} | {m['fd']['fd']:.1f} ({m['fd']['floor']:.1f}) "
                f"| {m['recognisable']['share']:.3f} "
                f"({m['recognisable']['floor']:.3f}) | {m['pr']['precision']:.3f} | {m['pr']['recall']:.3f} "
                f"({m['pr']['recall_floor']:.3f}) |",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="speed,modes,mnist,fields,cgan,remedies")
    ap.add_argument("--field-seconds", type=float, default=300.0, help="fields: training budget")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--datasets", default="ring8,grid25", help="modes: the mixtures")
    ap.add_argument("--losses", default=",".join(LOSSES), help="modes: the losses")
    ap.add_argument("--seconds", type=float, default=240.0, help="mnist: training budget per loss")
    ap.add_argument("--steps", type=int, default=1000, help="speed: steps per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--screen", action="store_true", help="remedies: also the screen, one remedy at a time")
    args = ap.parse_args()
    parts = args.parts.split(",")
    print(f"Machine: {machine()}")
    if "speed" in parts:
        torch.set_num_threads(min(2, os.cpu_count() or 1))
        part_speed(args.steps, args.rounds, args.batch)
    if "modes" in parts:
        part_modes([int(s) for s in args.seeds.split(",")], args.datasets.split(","), args.losses.split(","))
    if "mnist" in parts:
        part_mnist(args.seconds)
    if "fields" in parts:
        part_fields(args.field_seconds)
    if "cgan" in parts:
        part_cgan([int(s) for s in args.seeds.split(",")])
    if "remedies" in parts:
        part_remedies(args.screen, [int(s) for s in args.seeds.split(",")])


if __name__ == "__main__":
    main()
