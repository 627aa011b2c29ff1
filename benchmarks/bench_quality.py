"""Time to quality against the peers: genzoo's default for a family and that family's best-known
peer, each given the same wall-clock budget, the same data and the same evaluation, at three budgets.

    python benchmarks/bench_quality.py  # every family at 30, 75 and 150 s (about 40 minutes on 2 cores)
    python benchmarks/bench_quality.py --families vae,dcgan --budgets 60,120 --seeds 0,1
    python benchmarks/bench_quality.py --families vae --pythae-sampler gmm
    python benchmarks/bench_quality.py --quick  # a smoke run of every path (2 and 3 s, n 300; about a minute)

For each family, seed and budget, genzoo and the peer train one after the other, each stopping
when its budget of training-loop time runs out (the clock is read after every step: genzoo's by
`train.time_limit`, a peer's by this script), alternating who goes first (genzoo at the first
budget, the peer at the second, ...), so that drift of the machine hits both alike. Before the
first budget each side trains once for 5 s, untimed (imports, allocator, thread pools). What
genzoo's call does after its loop — the vae fits the code distribution it samples from (about 8 s
on 2 cores) — is inside the budget: the warm-up measures it, and the loop's time limit is the
budget less that ("s in all" shows each call's whole time). pythae's GaussianMixtureSampler
(--pythae-sampler gmm) fits its mixture after its loop, outside the budget.

vae     genzoo: the tour's mnist entry of `vae` (MLP 784-400-20, Bernoulli decoder, batch 128, Adam
        1e-3, dynamic binarisation) | pythae's VAE on the same network (bench_vae.pythae_vae: BCE)
        trained by its TrainingPipeline at pythae's default trainer settings (BaseTrainerConfig:
        batch 64, Adam 1e-4); a pythae callback stops it when the budget runs out, and the weights
        it has then are scored (not the best-on-train copy pythae keeps per epoch). pythae takes a
        Dataset, so it gets the same digits binarised afresh at every draw, as genzoo's batches are.
        Both sample the decoder's mean (Bernoulli probabilities): genzoo from its default code
        distribution (a Gaussian, mixture or KDE, chosen by held-out likelihood, fitted to the
        posterior means of the training digits), pythae from the prior by its default
        NormalSampler, or with --pythae-sampler gmm by its GaussianMixtureSampler (10 components
        fitted to the codes of the same training digits), the nearest it has to genzoo's.
ddpm    genzoo: the tour's mnist entry of `ddpm` made unconditional, as the peer is (the entry is
        class-conditional; U-Net 32-64-64 with attention at 7×7, T 1000 linear, ε; batch 64, Adam
        1e-3 at a constant rate, EMA 0.999) | denoising-
        diffusion-pytorch's `Unet(dim=32, dim_mults=(1, 2, 2), channels=1)` (its default mults
        (1, 2, 4, 8) do not divide 28) in `GaussianDiffusion` at the package's defaults (T 1000,
        sigmoid schedule, v-prediction, unconditional), trained by its `Trainer`'s loop at the
        Trainer's defaults (batch 16, Adam 1e-4 β = (0.9, 0.99), gradient norm clipped at 1, EMA
        0.995 every 10 steps, the EMA model sampled); the Trainer itself needs an image folder and
        torchvision, so its loop is written out here, without its horizontal flips (wrong for
        digits). Both sample with DDIM, the same number of steps (--ddim-steps, default 50: the
        entry's) and by default the same η, the entry's (1: chosen by measurement for genzoo's
        model, BENCHMARKS.md "Diffusion"); --peer-eta sets the peer's alone (its package's default
        is 0). The peer's U-Net costs 0.010 s per image and step on one thread against genzoo's
        0.0014, so its 500 samples at 50 steps take about 4 minutes per evaluation.
dcgan   genzoo: the tour's mnist entry of `gan` (conv 32-64, batch norm in the generator, spectral
        norm in the critic, non-saturating, batch 64, Adam 2e-4 β = (0.5, 0.9), EMA 0.999) | the
        PyTorch DCGAN example's loop (bench_gan.reference_step: Adam 2e-4, β = (0.5, 0.999), batch
        64 as the example's default) on bench_suite's DCGAN-style networks (conv 64-128, z 64, no
        batch norm, genzoo's initialisation; torchgan and the example's own 64×64 networks need
        torchvision, which does not import here).

Budgets and schedules: the three entries and every peer keep a constant learning rate, so they get a
step count they cannot reach and the clock stops them. An entry whose schedule depends on the total
steps (a cosine decay; the DDPM entry had one until 2026-12-06) is fitted to the budget instead: its
untimed warm-up measures genzoo's steps per second, and each budget's run is given 97 % of the steps
that fit, so that the decay ends with the budget (the clock still stops it if the machine slows down).
The peers have no schedule to fit.

Evaluation, the same for both sides: `genzoo.evaluate` with fd, recognisable and pr on the first
--n (1,000) mnist test digits (loaded with the entry's data options), train_data the entry's
training set: n/2 samples against n/2 held-out digits in genzoo's LeNet feature space, with the
noise floor of real against real (--quick: n = 300, as FD needs more samples than its 128
features, and genzoo's vae fits its code distribution to 500 digits, not 4,000). A peer's samples
reach it through `Sampler`, the smallest object evaluate scores (eval() and sample(n,
generator=...)), as (n, 1, 28, 28) in [0, 1].

Prints Markdown: per family a table of FD, recognisable share, precision/recall and steps against
minutes, and whether the target holds (genzoo's FD lower than the peer's at every budget and at
most 0.8 × the peer's at the largest; the median over seeds where several are given), computed.
Writes the curves to benchmarks/figures/quality-curves.png (--quick: a temporary folder).

Run time: training, 2 × the budgets' sum per family and seed (25.5 minutes at the defaults); about
10 minutes of evaluation, most of it the DDPM peer's sampling (500 samples × 50 steps, 3 times);
about 3 of warm-ups: about 40 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import bench_ddpm  # noqa: E402
import bench_gan  # noqa: E402
import bench_suite  # noqa: E402
import bench_vae  # noqa: E402
import genzoo  # noqa: E402
from genzoo.models import MODELS  # noqa: E402
from genzoo.models.base import TourEntry  # noqa: E402

FIGURE = HERE / "figures" / "quality-curves.png"
METRICS = ["fd", "recognisable", "pr"]
TARGET = 0.8  # genzoo's FD at most this share of the peer's at the largest budget
NEVER = 10**7  # a step count the clock, not the count, ends
CALIBRATED = 0.97  # share of the measured steps per budget given to a schedule that depends on the total


@dataclass(frozen=True)
class Size:
    """The sizes of one run (full or quick)."""

    budgets: tuple[float, ...] = (30.0, 75.0, 150.0)  # seconds of training per side
    n: int = 1000  # held-out digits scored (n/2 samples)
    warmup: float = 5.0  # seconds of each side's untimed first run (and genzoo's rate measurement); 0: none
    ddim_steps: int = 50
    vae_fit_examples: int | None = (
        None  # genzoo's vae: digits its code distribution is fitted to (None: its default)
    )


FULL = Size()
# no warm-up (the first budget measures the rate); the code distribution on 500 digits: its fit on 4,000
# takes 5–100 s
QUICK = Size(budgets=(2.0, 3.0), n=300, warmup=0.0, ddim_steps=5, vae_fit_examples=500)


@dataclass
class Trained:
    """One side after one budget: what evaluate scores, the steps reached and the loop's seconds."""

    sampler: Any
    steps: int
    seconds: float


@dataclass
class Result:
    family: str
    budget: float
    seed: int
    side: str  # "genzoo" | "peer"
    steps: int
    seconds: float  # the training loop's, the budget's clock
    # the whole training call's: set-up, the loop and what follows it (genzoo's vae: fitting its code
    # distribution)
    wall: float
    metrics: dict[str, Any]

    @property
    def fd(self) -> float:
        return self.metrics["fd"]["fd"]

    @property
    def share(self) -> float:
        return self.metrics["recognisable"]["share"]


@dataclass
class Family:
    """A family's two sides: `ours` and `theirs` train for (data, seconds, seed) and return Trained."""

    name: str
    model: str  # genzoo's registry name
    peer: str
    ours_label: str
    ours: Callable[[genzoo.datasets.Dataset, float, int], Trained] = field(repr=False)
    theirs: Callable[[genzoo.datasets.Dataset, float, int], Trained] = field(repr=False)


class Sampler:
    """A peer's sampler as `genzoo.evaluate` takes a model: eval() and sample(n, generator=). The
    peer draws from the global RNG, seeded here from the generator evaluate passes (and restored
    after); draws in chunks, clamped to the data's range [0, 1], shaped (n, 1, 28, 28)."""

    name = "peer"

    def __init__(self, draw: Callable[[int], torch.Tensor], chunk: int = 128) -> None:
        self.draw, self.chunk = draw, chunk

    def eval(self) -> Sampler:
        return self

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]), torch.no_grad(), bench_suite.quiet():
            torch.manual_seed(generator.initial_seed() if generator is not None else 0)
            parts = [self.draw(min(self.chunk, n - i)) for i in range(0, n, self.chunk)]
        return torch.cat(parts).float().reshape(n, 1, 28, 28).clamp(0.0, 1.0)


def run_for(seconds: float, step: Callable[[], object]) -> tuple[int, float]:
    """Call `step` until `seconds` have passed, reading the clock after each step as
    `train.time_limit` does: (steps, seconds)."""
    steps, t0 = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return steps, elapsed


# --- genzoo's side: the tour entry, the budget in seconds ------------------------------------------
def mnist_entry(model: str) -> TourEntry:
    return next(e for e in MODELS.get(model).tour if e.data == "mnist")


def genzoo_side(model: str, threads: int, params: dict[str, Any] | None = None) -> Callable[..., Trained]:
    """Train `model`'s mnist tour entry (its data options, params and train options, `params` on top)
    for a wall-clock budget. Where the schedule depends on the total steps, the first call (the
    warm-up) measures steps/s, and later calls get the steps that fit, so that the schedule ends
    with the budget."""
    entry = mnist_entry(model)
    params = {**entry.params, **(params or {})}
    options = {**MODELS.get(model).default_train, **entry.train}
    scheduled = options.get("schedule", "constant") != "constant"
    rate: list[float] = []
    after: list[
        float
    ] = []  # seconds the call spends after its loop (the vae's code fit), from the first call

    def train_for(train: genzoo.datasets.Dataset, seed: int, **limit: Any) -> genzoo.Run:
        return genzoo.train(
            genzoo.models.create(model, train, seed=seed, **params),
            train,
            seed=seed,
            threads=threads,
            progress=False,
            sample_grid=False,
            **limit,
            **entry.train,
        )

    def fit(train: genzoo.datasets.Dataset, seconds: float, seed: int) -> Trained:
        if scheduled and not rate:
            train_for(train, seed, steps=2)  # one-time costs out of the measured rate
        loop = (
            max(0.5, seconds - after[0]) if after else seconds
        )  # the work after the loop is inside the budget
        steps = int(rate[0] * loop * CALIBRATED) if scheduled and rate else NEVER
        t0 = time.perf_counter()
        run = train_for(train, seed, steps=max(1, steps), time_limit=loop)
        took = run.log[-1]["time"]
        if not rate:
            rate.append(run.step / took)
            after.append(time.perf_counter() - t0 - took)
        return Trained(run.model, run.step, took)

    return fit


# --- the peers ------------------------------------------------------------------------------------
def pythae_side(sampler_kind: str) -> Callable[..., Trained]:
    """pythae's VAE by its TrainingPipeline at its default trainer settings, stopped by a callback;
    sampled by its NormalSampler (the prior) or, with "gmm", its GaussianMixtureSampler (10
    components fitted to the codes of the training digits after the loop, as genzoo's vae fits
    its code distribution)."""

    def fit(train: genzoo.datasets.Dataset, seconds: float, seed: int) -> Trained:
        model, steps, took = _pythae_train(train, seconds, seed)
        model.eval()
        if sampler_kind == "normal":
            from pythae.samplers import NormalSampler

            normal = NormalSampler(model)
            return Trained(
                Sampler(lambda k: normal.sample(num_samples=k, batch_size=k, return_gen=True)), steps, took
            )
        from pythae.samplers import GaussianMixtureSampler

        gmm = GaussianMixtureSampler(model)
        with bench_suite.quiet():
            gmm.fit(train.tensors())  # the fixed binarisation genzoo's vae fits its code distribution to

        def draw(k: int) -> torch.Tensor:
            gmm.gmm.random_state = int(
                torch.randint(2**31 - 1, ())
            )  # sklearn's draw, from the seeded torch RNG
            return gmm.sample(num_samples=k, batch_size=k, return_gen=True)

        return Trained(Sampler(draw), steps, took)

    return fit


def _pythae_train(train: genzoo.datasets.Dataset, seconds: float, seed: int) -> tuple[Any, int, float]:
    """(the trained VAE, steps, the loop's seconds): batch 64, Adam 1e-4 (BaseTrainerConfig's
    defaults), the digits binarised at every draw; the loop's clock starts at on_train_begin."""
    from pythae.data.datasets import BaseDataset, DatasetOutput
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    class Binarised(BaseDataset):
        """The grey digits, each binarised afresh when drawn (genzoo's dynamic binarisation)."""

        def __getitem__(self, index):
            return DatasetOutput(data=torch.bernoulli(self.data[index]), labels=self.labels[index])

    class OutOfTime(Exception):
        pass

    class Clock(TrainingCallback):
        def __init__(self) -> None:
            self.steps, self.t0, self.seconds = 0, 0.0, 0.0

        def on_train_begin(self, training_config, **kwargs) -> None:
            self.t0 = time.perf_counter()

        def on_train_step_end(self, training_config, **kwargs) -> None:
            self.steps += 1
            self.seconds = time.perf_counter() - self.t0
            if self.seconds >= seconds:
                raise OutOfTime

    model, clock = bench_vae.pythae_vae(), Clock()
    out = tempfile.mkdtemp(prefix="pythae-quality-")
    config = BaseTrainerConfig(
        output_dir=out, num_epochs=NEVER, seed=seed, no_cuda=True
    )  # batch 64, Adam 1e-4: its defaults
    x = train.x.float()
    try:
        with bench_suite.quiet():
            TrainingPipeline(training_config=config, model=model)(
                train_data=Binarised(x, torch.zeros(len(x))), callbacks=[clock]
            )
    except OutOfTime:
        pass
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return model, clock.steps, clock.seconds


def ddpm_peer(ddim_steps: int, eta: float) -> Callable[..., Trained]:
    """denoising-diffusion-pytorch: GaussianDiffusion at its defaults, the Trainer's loop and defaults;
    sampled by DDIM with `ddim_steps` steps and η = `eta`."""

    def fit(train: genzoo.datasets.Dataset, seconds: float, seed: int) -> Trained:
        Unet, GaussianDiffusion = bench_ddpm.import_reference()
        from ema_pytorch import EMA

        torch.manual_seed(seed)
        diffusion = GaussianDiffusion(
            Unet(dim=32, dim_mults=(1, 2, 2), channels=1),
            image_size=28,
            sampling_timesteps=ddim_steps,
            ddim_sampling_eta=eta,
        )
        opt = torch.optim.Adam(diffusion.parameters(), lr=1e-4, betas=(0.9, 0.99))
        ema = EMA(diffusion, beta=0.995, update_every=10)
        x, batch, g = train.x.float(), 16, torch.Generator().manual_seed(seed)
        order, pos = torch.randperm(len(x), generator=g), 0

        def step() -> None:
            nonlocal order, pos
            if pos + batch > len(order):
                order, pos = torch.randperm(len(x), generator=g), 0
            loss = diffusion(x[order[pos : pos + batch]])  # [0, 1] → [−1, 1], t and ε drawn, v-loss
            pos += batch
            loss.item()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(diffusion.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
            ema.update()

        diffusion.train()
        steps, took = run_for(seconds, step)
        model = ema.ema_model.eval()
        return Trained(Sampler(lambda k: model.sample(batch_size=k)), steps, took)

    return fit


def dcgan_peer(train: genzoo.datasets.Dataset, seconds: float, seed: int) -> Trained:
    """The PyTorch DCGAN example's loop on bench_suite's DCGAN-style networks, batch 64."""
    model = genzoo.models.create("gan", train, seed=seed, loss="non-saturating", **bench_suite.CONV_GAN)
    torch.manual_seed(seed)
    steps, took = run_for(seconds, bench_gan.reference_step(model, train.x.float(), 64))
    return Trained(model, steps, took)  # its sample(): sigmoid(G(z)), the fakes the loop trains on


def families(
    size: Size, threads: int, pythae_sampler: str = "normal", peer_eta: float | None = None
) -> dict[str, Family]:
    version = importlib.metadata.version
    eta = float(mnist_entry("ddpm").params.get("eta", 0.0))  # genzoo's: the entry's
    peer_eta = eta if peer_eta is None else peer_eta
    return {
        "vae": Family(
            "vae",
            "vae",
            f"pythae {version('pythae')} VAE (TrainingPipeline, its defaults, "
            f"{'NormalSampler' if pythae_sampler == 'normal' else 'GaussianMixtureSampler'})",
            "genzoo vae, tour entry",
            genzoo_side(
                "vae", threads, {"fit_examples": size.vae_fit_examples} if size.vae_fit_examples else None
            ),
            pythae_side(pythae_sampler),
        ),
        "ddpm": Family(
            "ddpm",
            "ddpm",
            f"denoising-diffusion-pytorch {version('denoising-diffusion-pytorch')} (its defaults, "
            f"DDIM-{size.ddim_steps}, η = {peer_eta:g})",
            f"genzoo ddpm, tour entry, DDIM-{size.ddim_steps}, η = {eta:g}",
            genzoo_side("ddpm", threads, {"sample_steps": size.ddim_steps, "conditional": False}),
            ddpm_peer(size.ddim_steps, peer_eta),
        ),
        "dcgan": Family(
            "dcgan",
            "gan",
            "the PyTorch DCGAN example's loop",
            "genzoo gan, tour entry",
            genzoo_side("gan", threads),
            dcgan_peer,
        ),
    }


# --- the run --------------------------------------------------------------------------------------
def score(
    trained: Trained, test: genzoo.datasets.Dataset, train: genzoo.datasets.Dataset, n: int, seed: int
) -> dict[str, Any]:
    return genzoo.evaluate(trained.sampler, test, metrics=METRICS, n=n, seed=seed, train_data=train)[
        "metrics"
    ]


def run_family(fam: Family, size: Size, seeds: list[int]) -> list[Result]:
    entry = mnist_entry(fam.model)
    train = genzoo.datasets.load("mnist", split="train", **entry.data_options)
    test = genzoo.datasets.load("mnist", split="test", **entry.data_options)
    sides = {"genzoo": fam.ours, "peer": fam.theirs}
    for name, side in (
        sides.items() if size.warmup else ()
    ):  # untimed: imports, allocator, thread pools; genzoo's steps/s
        t0 = time.perf_counter()
        side(train, size.warmup, seeds[0])
        print(f"  {fam.name} warm-up {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    results, k = [], 0
    for seed in seeds:
        for budget in size.budgets:
            order = ["genzoo", "peer"] if k % 2 == 0 else ["peer", "genzoo"]
            k += 1
            for name in order:
                t0 = time.perf_counter()
                trained = sides[name](train, budget, seed)
                wall, t0 = time.perf_counter() - t0, time.perf_counter()
                metrics = score(trained, test, train, size.n, seed)
                r = Result(fam.name, budget, seed, name, trained.steps, trained.seconds, wall, metrics)
                results.append(r)
                print(
                    f"  {fam.name} {budget:g} s seed {seed} {name}: {r.steps} steps in {r.seconds:.1f} s "
                    f"({wall:.1f} s in all), FD {r.fd:.4g}, "
                    f"recognisable {r.share:.3f} (evaluation {time.perf_counter() - t0:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    return results


def _median(results: list[Result], side: str, budget: float) -> float:
    return statistics.median(r.fd for r in results if r.side == side and r.budget == budget)


def target(results: list[Result]) -> tuple[bool, str]:
    """Whether genzoo's FD is below the peer's at every budget and ≤ TARGET × it at the largest."""
    budgets = sorted({r.budget for r in results})
    ratios = {b: _median(results, "genzoo", b) / _median(results, "peer", b) for b in budgets}
    lower = [b for b in budgets if ratios[b] >= 1.0]
    last = ratios[budgets[-1]]
    holds = not lower and last <= TARGET
    why = (
        f"FD ratio genzoo/peer {', '.join(f'{ratios[b]:.2f}' for b in budgets)} "
        f"at {', '.join(f'{b / 60:.3g}' for b in budgets)} min"
        f"""; {
            "lower at every budget"
            if not lower
            else "not lower at " + ", ".join(f"{b / 60:.3g} min" for b in lower)
        }"""
        f"; {last:.2f} {'≤' if last <= TARGET else '>'} {TARGET} at the largest"
    )
    return holds, why


def _pr(m: dict[str, Any]) -> str:
    return f"{m['pr']['precision']:.2f} / {m['pr']['recall']:.2f}"


def markdown(fam: Family, results: list[Result], size: Size) -> str:
    by = {(r.budget, r.seed, r.side): r for r in results}
    first = results[0].metrics
    out = [
        f"\n### {fam.name}: {fam.ours_label} against {fam.peer}\n",
        "| budget (min) | seed | genzoo FD | peer FD | ratio | genzoo recognisable | peer recognisable "
        "| genzoo P / R | peer P / R "
        "| steps genzoo / peer | s in all genzoo / peer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for budget in size.budgets:
        for seed in sorted({r.seed for r in results}):
            ours, theirs = by[(budget, seed, "genzoo")], by[(budget, seed, "peer")]
            out.append(
                f"| {budget / 60:.3g} | {seed} | {ours.fd:.4g} | {theirs.fd:.4g} "
                f"| **{ours.fd / theirs.fd:.2f}** "
                f"| {ours.share:.3f} | {theirs.share:.3f} | {_pr(ours.metrics)} | {_pr(theirs.metrics)} "
                f"| {ours.steps:,} / {theirs.steps:,} | "
                f"{ours.wall:.0f} / {theirs.wall:.0f} |"
            )
    holds, why = target(results)
    out += [
        "",
        f"Noise floor (real against real, {size.n // 2} digits each): FD {first['fd']['floor']:.3g}, "
        f"recognisable share {first['recognisable']['floor']:.3f}, "
        f"precision / recall {first['pr']['precision_floor']:.2f} / {first['pr']['recall_floor']:.2f}.",
        f"Target (FD lower at every budget, ≤ {TARGET} × the peer's at the largest): "
        f"**{'holds' if holds else 'does not hold'}** ({why}).",
    ]
    return "\n".join(out)


def figure(done: dict[str, tuple[Family, list[Result]]], path: Path) -> None:
    """Per family, FD and recognisable share against minutes, genzoo and the peer, the floor dashed."""
    from genzoo.atomic import atomic_write
    from genzoo.pictures import figure_png
    from genzoo.viz.plots import panels

    fig, axes = panels(2 * len(done), max_cols=2, width=4.4, height=3.0)
    for i, (fam, results) in enumerate(done.values()):
        budgets = sorted({r.budget for r in results})
        for ax, (key, label) in zip(
            axes[2 * i : 2 * i + 2],
            (("fd", "Fréchet distance (LeNet)"), ("recognisable", "recognisable share")),
        ):
            value = (lambda r: r.fd) if key == "fd" else (lambda r: r.share)
            for side, colour, name in (
                ("genzoo", "#1f6feb", "genzoo"),
                ("peer", "#d1242f", fam.peer.split(" (")[0]),
            ):
                rows = [r for r in results if r.side == side]
                ax.plot(
                    [r.budget / 60 for r in rows],
                    [value(r) for r in rows],
                    "o",
                    color=colour,
                    alpha=0.35,
                    ms=4,
                )
                ax.plot(
                    [b / 60 for b in budgets],
                    [statistics.median(value(r) for r in rows if r.budget == b) for b in budgets],
                    "o-",
                    color=colour,
                    label=name,
                )
            ax.axhline(
                results[0].metrics[key]["floor"],
                color="#8a96a3",
                ls="--",
                lw=1,
                label="noise floor (real against real)",
            )
            if key == "fd":
                ax.set_yscale("log")
            ax.set_xticks([b / 60 for b in budgets], [f"{b / 60:.3g}" for b in budgets])
            ax.set(
                xlabel="training budget (minutes)", ylabel=label, title=f"{fam.name}: {label.split(' (')[0]}"
            )
            ax.legend(fontsize=7)
    atomic_write(path, lambda p: p.write_bytes(figure_png(fig)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", default="vae,ddpm,dcgan")
    ap.add_argument(
        "--budgets",
        default=None,
        help="seconds of training per side, comma-separated (default 30,75,150; --quick 2,3)",
    )
    ap.add_argument("--seeds", default="0")
    ap.add_argument(
        "--n", type=int, default=None, help="held-out digits scored, n/2 samples (default 1000; --quick 300)"
    )
    ap.add_argument(
        "--ddim-steps",
        type=int,
        default=None,
        help="ddpm: DDIM steps of both samplers (default 50; --quick 5)",
    )
    ap.add_argument(
        "--peer-eta", type=float, default=None, help="ddpm: the peer's DDIM η (default: genzoo's entry's)"
    )
    ap.add_argument(
        "--pythae-sampler",
        choices=("normal", "gmm"),
        default="normal",
        help="vae: the peer's sampler, its default NormalSampler (the prior) or its GaussianMixtureSampler",
    )
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of every path: budgets 2 and 3 s, n 300 (not figures)",
    )
    ap.add_argument(
        "--out",
        default=None,
        help=f"the figure (default {FIGURE.relative_to(HERE.parent)}; --quick: a temporary folder)",
    )
    args = ap.parse_args(argv)
    base = QUICK if args.quick else FULL
    size = Size(
        budgets=tuple(float(b) for b in args.budgets.split(",")) if args.budgets else base.budgets,
        n=args.n or base.n,
        warmup=base.warmup,
        ddim_steps=args.ddim_steps or base.ddim_steps,
        vae_fit_examples=base.vae_fit_examples,
    )
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(args.threads)
    table = families(size, args.threads, args.pythae_sampler, args.peer_eta)
    wanted = [f for f in args.families.split(",") if f]
    unknown = [f for f in wanted if f not in table]
    if unknown:
        ap.error(f"unknown families {unknown}; choose from {', '.join(table)}")
    print(
        f"<!-- python benchmarks/bench_quality.py {' '.join(argv if argv is not None else sys.argv[1:])} "
        f"— {bench_suite.machine()} -->"
    )
    if args.quick:
        print("\n**Quick smoke run: budgets of seconds, tiny evaluation; not figures.**")
    print(
        f"\nEach side trains for the same wall-clock budget "
        f"({', '.join(f'{b:g}' for b in size.budgets)} s of training loop, one "
        f"after the other, {args.threads} threads), then `genzoo.evaluate` scores {size.n // 2} samples "
        f"against {size.n // 2} held-out "
        "mnist digits (LeNet features). Ratio = genzoo FD / peer FD (< 1: genzoo better); "
        "P / R = precision / recall; "
        "s in all = the whole training call: set-up, the loop, and what follows it "
        "(genzoo's vae fits its code distribution "
        "after the loop, inside its budget: its loop gets the budget less that fit's time, "
        "measured in the warm-up)."
    )
    t0, done, failed = time.perf_counter(), {}, []
    for name in wanted:
        fam = table[name]
        print(f"{name} ...", file=sys.stderr, flush=True)
        try:
            results = run_family(fam, size, seeds)
        except Exception as exc:  # a failed family is reported and fails the run, the others go on
            traceback.print_exc()
            failed.append(name)
            print(
                f"\n### {name}: failed: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else ''}"
            )
            continue
        done[name] = (fam, results)
        print(markdown(fam, results, size), flush=True)
    if done:
        print("\n| family | target holds |\n|---|---|")
        for fam, results in done.values():
            print(f"| {fam.name} | {'yes' if target(results)[0] else 'no'} |")
        path = (
            Path(args.out)
            if args.out
            else (Path(tempfile.mkdtemp(prefix="bench-quality-")) / FIGURE.name if args.quick else FIGURE)
        )
        figure(done, path)
        shown = path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path
        print(f"\n![FD and recognisable share against minutes]({shown})")
    print(f"quality: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
