"""Autoencoder family benchmarks on mnist (grey), all at the same CPU budget per model.

    python benchmarks/bench_autoencoders.py                  # about 10 minutes on 2 cores
    python benchmarks/bench_autoencoders.py --seconds 20     # a quicker look

1. Each variant trained for `--seconds` of wall time: steps/s, test-split reconstruction MSE and
   BCE per image, and the sample metrics of the suite for its Gaussian-code sampling (FD,
   precision/recall, density/coverage, with the noise floor). The conv and MLP autoencoders use
   the same code size (32).
2. Novelty detection: `ae` trained without one digit class; the ROC AUC of its reconstruction
   error for held-out digits of that class against the other test digits.
3. Denoising: test digits with Gaussian noise σ = 0.5; PSNR of the noisy input, of a plain
   autoencoder's reconstruction and of a denoising autoencoder's (trained with σ = 0.5).
4. Sampling (`--parts sampling`): the five autoencoders of the tour at the full tour's budget (its
   steps and options), for `--seeds`: the code density `auto` chose and what its samples score
   (FD and recognisable share with their floors, precision, recall, copy rate), beside the same
   trained model sampling from a single full-covariance Gaussian on its codes (the old default),
   and the decoder's own bound: the reconstructions of held-out digits, scored alike. The vae
   (binarised mnist) too: its density fitted to the posterior means beside its prior N(0, I).
5. AE ≡ PCA (`--parts pca`, on digits): the linear autoencoder trained with its default options
   for the default 1,000 steps, and with the family's shared lr 1e-3 and batch 128, for seeds 0–4
   and code sizes 2, 5, 10: the largest principal angle between the decoder's column space and the
   leading principal subspace of the centred training data, and the wall time.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import time

import torch

import genzoo
from genzoo.metrics.recon import auroc

VARIANTS = {
    "ae (mlp)": ("ae", {"arch": "mlp", "code_dim": 32}),
    "ae (conv)": ("ae", {"arch": "conv", "code_dim": 32}),
    "dae (gaussian σ=0.3)": ("dae", {"code_dim": 32}),
    "sparse-ae (kl)": ("sparse-ae", {"code_dim": 32}),
    "contractive-ae": ("contractive-ae", {"code_dim": 32}),
    "stacked-ae (256,64,32)": ("stacked-ae", {"layers": (256, 64, 32)}),
}


def machine() -> str:
    return (
        f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {datetime.date.today()}"
    )


STAGED = {"stacked-ae"}  # schedules that need the run's total steps: a step budget, not a time limit


def train_for(name: str, params: dict, data, seconds: float):
    """Train for `seconds` of wall time. A staged model (its stages are fractions of the total
    steps) gets the step count that a 200-step calibration run says fits in `seconds`."""
    if name in STAGED:
        probe = genzoo.models.create(name, data, seed=0, **params)
        t0 = time.perf_counter()
        genzoo.train(probe, data, steps=200, seed=0, progress=False, sample_grid=False)
        steps = max(1, round(seconds * 200 / (time.perf_counter() - t0)))
        budget = {"steps": steps}
    else:
        budget = {"steps": 10**7, "time_limit": seconds}
    model = genzoo.models.create(name, data, seed=0, **params)
    t0 = time.perf_counter()
    run = genzoo.train(model, data, seed=0, progress=False, sample_grid=False, **budget)
    return run, run.step / (time.perf_counter() - t0)


def recon_errors(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image squared error and binary cross-entropy (nats) of the reconstructions."""
    with torch.no_grad():
        rec = torch.cat([model.reconstruct(c) for c in torch.split(x, 500)]).clamp(1e-6, 1 - 1e-6)
    mse = ((rec - x) ** 2).flatten(1).sum(1)
    bce = -(x * rec.log() + (1 - x) * (1 - rec).log()).flatten(1).sum(1)
    return mse, bce


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over images of 10 log10(1 / MSE) for values in [0, 1]."""
    mse = ((a.clamp(0, 1) - b) ** 2).flatten(1).mean(1)
    return float((10 * torch.log10(1 / mse)).mean())


def part_variants(train, test, seconds: float, only: set[str] | None = None) -> None:
    print(f"\n### Variants at {seconds:.0f} s of training each (mnist, grey; test split, 1,000 digits)\n")
    print(
        "| model | steps/s | recon MSE / image | recon BCE / image (nats) | FD (floor) "
        "| precision | recall | density | coverage |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    x = test.tensors()
    for label, (name, params) in VARIANTS.items():
        if only and name not in only:
            continue
        run, rate = train_for(name, params, train, seconds)
        mse, bce = recon_errors(run.model, x)
        m = genzoo.evaluate(run.model, test, metrics=["fd", "pr", "dc"], seed=0)["metrics"]
        print(
            f"| {label} | {rate:.0f} | {mse.mean():.2f} | {bce.mean():.1f} "
            f"| {m['fd']['fd']:.1f} ({m['fd']['floor']:.1f}) "
            f"| {m['pr']['precision']:.3f} | {m['pr']['recall']:.3f} "
            f"| {m['dc']['density']:.3f} | {m['dc']['coverage']:.3f} |",
            flush=True,
        )


SAMPLED = ("ae", "dae", "sparse-ae", "contractive-ae", "stacked-ae", "vae")


def _score(model, test, train) -> dict:
    m = genzoo.evaluate(
        model, test, metrics=["fd", "recognisable", "pr", "memorization"], seed=0, train_data=train
    )["metrics"]
    return {
        "fd": m["fd"]["fd"],
        "fd_floor": m["fd"]["floor"],
        "rec": m["recognisable"]["share"],
        "rec_floor": m["recognisable"]["floor"],
        "precision": m["pr"]["precision"],
        "recall": m["pr"]["recall"],
        "copy": m["memorization"]["copy_rate"],
    }


def _row(name: str, seed: int, how: str, r: dict, seconds: str = "") -> None:
    print(
        f"| {name} | {seed} | {how} | {seconds} | {r['fd']:.1f} ({r['fd_floor']:.1f}) "
        f"| {r['rec']:.3f} ({r['rec_floor']:.3f}) "
        f"| {r['precision']:.3f} | {r['recall']:.3f} | {r['copy']:.3f} |",
        flush=True,
    )


def _with_density(model, kind: str, data) -> None:
    """Swap the model's code density for a fresh one of `kind`, fitted to the same codes."""
    from genzoo.models.codes import CodeDistribution

    attr = "codes" if hasattr(model, "codes") else "code_distribution"
    old = getattr(model, attr)
    setattr(model, attr, CodeDistribution(old.means.shape[1], kind, points=old.points))
    model.refresh(data)


def _reconstructions(model, test):
    """The model with its code sampler replaced by the codes of held-out half B (what evaluate compares
    with half A)."""
    x = test.tensors()
    with torch.no_grad():
        codes = model.encode(x[len(x) // 2 :])
    density = model.codes if hasattr(model, "codes") else model.code_distribution
    density.sample = lambda n, generator=None: codes[
        :n
    ]  # what sample() decodes, whichever way it draws codes
    return model


def part_sampling(seeds: list[int], only: set[str] | None = None) -> None:
    from genzoo.models import MODELS

    print(
        "\n### Sampling at the full tour's budget: the code density chosen by held-out likelihood "
        "(mnist: grey; binarised for the vae)\n"
    )
    print(
        "| model | seed | codes sampled from | train s | FD (floor) | recognisable (floor) "
        "| precision | recall | copy rate |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for name in SAMPLED:
        if only and name not in only:
            continue
        entry = MODELS.get(name).tour[0]
        train = genzoo.datasets.load("mnist", split="train", **entry.data_options)
        test = genzoo.datasets.load("mnist", split="test", **entry.data_options)
        for seed in seeds:
            model = genzoo.models.create(name, train, seed=seed, **entry.params)
            t0 = time.perf_counter()
            run = genzoo.train(
                model, train, steps=entry.steps, seed=seed, progress=False, sample_grid=False, **entry.train
            )
            seconds = f"{time.perf_counter() - t0:.0f}"
            model = run.model
            density = (model.codes if hasattr(model, "codes") else model.code_distribution).describe()
            _row(name, seed, f"auto: {density}", _score(model, test, train), seconds)
            if name == "vae":
                prior = copy.deepcopy(model)
                prior.code_distribution = None  # code_distribution=prior: z ~ N(0, I)
                _row(name, seed, "the prior N(0, I)", _score(prior, test, train))
            _with_density(model, "gaussian", train)
            _row(name, seed, "one full-covariance Gaussian", _score(model, test, train))
            _row(
                name,
                seed,
                "held-out codes (reconstructions)",
                _score(_reconstructions(model, test), test, train),
            )


def part_novelty(test, seconds: float, digit: int) -> None:
    train = genzoo.datasets.load("mnist", split="train", exclude=str(digit))
    run, _ = train_for("ae", {"arch": "mlp", "code_dim": 32}, train, seconds)
    x = test.tensors()
    with torch.no_grad():
        scores = torch.cat([run.model.anomaly_score(c) for c in torch.split(x, 500)])
    held = test.y == digit
    auc = auroc(scores[~held], scores[held])
    print(f"\n### Novelty detection: `ae` trained without the digit {digit} ({seconds:.0f} s)\n")
    print(
        f"ROC AUC of the reconstruction error, {int(held.sum())} test digits {digit} "
        f"against the other {int((~held).sum())}: **{auc:.3f}**"
    )


def part_denoising(train, test, seconds: float, sigma: float) -> None:
    x = test.tensors()
    noisy = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    plain, _ = train_for("ae", {"arch": "mlp", "code_dim": 32}, train, seconds)
    dae, _ = train_for("dae", {"code_dim": 32, "noise": "gaussian", "sigma": sigma}, train, seconds)
    with torch.no_grad():
        out_plain = torch.cat([plain.model.reconstruct(c) for c in torch.split(noisy, 500)])
        out_dae = torch.cat([dae.model.reconstruct(c) for c in torch.split(noisy, 500)])
    print(f"\n### Denoising: test digits + Gaussian noise σ = {sigma} ({seconds:.0f} s of training each)\n")
    print("| input to the metric | PSNR (dB) against the clean digits |\n|---|---:|")
    print(f"| the noisy digits (clipped to [0, 1]) | {psnr(noisy, x):.2f} |")
    print(f"| plain `ae` reconstruction | {psnr(out_plain, x):.2f} |")
    print(f"| `dae` (σ = {sigma}) reconstruction | {psnr(out_dae, x):.2f} |")


def largest_angle(model, data) -> float:
    """Degrees between the decoder's column space and the principal subspace of the same size."""
    import numpy as np
    from scipy.linalg import subspace_angles

    x = data.tensors().flatten(1).double().numpy()
    basis = model.decoder_basis().detach().double().cpu().numpy()
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    return float(np.degrees(subspace_angles(basis, vt[: basis.shape[1]].T)).max())


def part_pca(seeds: range = range(5), code_dims: tuple[int, ...] = (2, 5, 10)) -> None:
    data = genzoo.datasets.load("digits", split="train")
    print("\n## AE ≡ PCA: largest principal angle after the default 1,000 steps (digits)\n")
    print("| training | code_dim | angle, seeds 0–4 (degrees) | worst | wall time per run (s, median) |")
    print("|---|---:|---|---:|---:|")
    for label, options in (
        ("defaults (full batch, Adam 1e-2)", {}),
        ("lr 1e-3, batch 128 (the family's)", {"lr": 1e-3, "batch_size": 128}),
    ):
        for d in code_dims:
            angles, times = [], []
            for seed in seeds:
                model = genzoo.models.create("ae", data, seed=seed, arch="linear", code_dim=d)
                t0 = time.perf_counter()
                run = genzoo.train(model, data, seed=seed, progress=False, **options)
                times.append(time.perf_counter() - t0)
                assert run.step == 1000
                angles.append(largest_angle(run.model, data))
            shown = ", ".join(f"{a:.4g}" for a in angles)
            print(
                f"| {label} | {d} | {shown} | {max(angles):.4g} | {sorted(times)[len(times) // 2]:.2f} |",
                flush=True,
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="training budget per model")
    p.add_argument("--parts", default="variants,sampling,novelty,denoising,pca")
    p.add_argument("--digit", type=int, default=7, help="the class left out for novelty detection")
    p.add_argument("--only", help="comma-separated model names for the variants and sampling parts")
    p.add_argument("--seeds", default="0", help="comma-separated seeds for the sampling part")
    args = p.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    train = genzoo.datasets.load("mnist", split="train")
    test = genzoo.datasets.load("mnist", split="test")
    print(f"# genzoo autoencoder benchmarks\n\nmachine: {machine()}")
    parts = set(args.parts.split(","))
    if "variants" in parts:
        part_variants(train, test, args.seconds, set(args.only.split(",")) if args.only else None)
    if "sampling" in parts:
        part_sampling(
            [int(v) for v in args.seeds.split(",")], set(args.only.split(",")) if args.only else None
        )
    if "novelty" in parts:
        part_novelty(test, args.seconds, args.digit)
    if "denoising" in parts:
        part_denoising(train, test, args.seconds, 0.5)
    if "pca" in parts:
        part_pca()


if __name__ == "__main__":
    main()
