"""VAE benchmarks: trainer overhead against a bare loop, quality at a 2-minute budget, and pythae.

    python benchmarks/bench_vae.py                 # all three parts (about 6 minutes on 2 cores)
    python benchmarks/bench_vae.py --parts overhead,peers --steps 300

The model everywhere is the MLP VAE 784-400-20 with a Bernoulli decoder, batch 128, Adam 1e-3,
on `mnist` (4,000 training digits) with dynamic binarisation. Every part runs side by side in
one process, alternating the contenders so that drift of the machine hits both alike.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import platform
import shutil
import statistics
import tempfile
import time

import torch
from torch import nn
from torch.nn import functional as F

import genzoo

VAE_ARGS = dict(arch="mlp", hidden=(400,), latent_dim=20, likelihood="bernoulli")


def machine() -> str:
    return (
        f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), {datetime.date.today()}"
    )


# --- the bare loop: the whole VAE in 20 lines, no genzoo ------------------------------------
class BareVAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc, self.mu, self.logvar = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.dec = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        rec = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return (rec + kl).mean()


def bare_loop(x: torch.Tensor, steps: int, seed: int = 0) -> float:
    """Steps/s of a plain PyTorch loop: shuffle, dynamic binarisation, forward, backward, Adam."""
    torch.manual_seed(seed)
    model = BareVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm, pos = torch.randperm(len(x)), 0
    t0 = time.perf_counter()
    for _ in range(steps):
        if pos + 128 > len(x):
            perm, pos = torch.randperm(len(x)), 0
        batch = torch.bernoulli(x[perm[pos : pos + 128]])
        pos += 128
        loss = model(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        float(loss.detach())  # the same per-step sync a logger does
    return steps / (time.perf_counter() - t0)


def bare_loop_genzoo_model(data: genzoo.datasets.Dataset, steps: int, seed: int = 0) -> float:
    """The same bare loop around genzoo's VAE module: isolates the trainer's own overhead."""
    model = genzoo.models.create("vae", data, seed=seed, **VAE_ARGS)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = data.x
    perm, pos = torch.randperm(len(x)), 0
    t0 = time.perf_counter()
    for _ in range(steps):
        if pos + 128 > len(x):
            perm, pos = torch.randperm(len(x)), 0
        batch = {"x": torch.bernoulli(x[perm[pos : pos + 128]])}
        pos += 128
        loss = model.loss(batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        float(loss.detach())
    return steps / (time.perf_counter() - t0)


def genzoo_loop(data: genzoo.datasets.Dataset, steps: int, seed: int = 0, device: str = "cpu") -> float:
    """Steps/s of genzoo.train (in memory, no checkpoints inside the timed window: a checkpoint
    is written only at the end, and its time is included)."""
    model = genzoo.models.create("vae", data, seed=seed, **VAE_ARGS)
    out = tempfile.mkdtemp(prefix="genzoo-bench-")
    try:
        t0 = time.perf_counter()
        genzoo.train(
            model,
            data,
            out=out,
            steps=steps,
            batch_size=128,
            lr=1e-3,
            seed=seed,
            progress=False,
            sample_grid=False,
            log_every=10,
            device=device,
        )
        return steps / (time.perf_counter() - t0)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def pythae_vae():
    """pythae's VAE on the same network as genzoo's: MLP 784-400-20 encoder and mirrored decoder
    (sigmoid output), binary cross-entropy reconstruction loss."""
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Enc(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.h, self.mu, self.lv = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)

        def forward(self, x):
            h = F.relu(self.h(x.reshape(len(x), -1)))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.lv(h))

    class Dec(BaseDecoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).reshape(len(z), 1, 28, 28))

    cfg = VAEConfig(input_dim=(1, 28, 28), latent_dim=20, reconstruction_loss="bce")
    return VAE(cfg, encoder=Enc(), decoder=Dec())


def pythae_loop(x: torch.Tensor, epochs: int, device: str = "cpu") -> float:
    """Steps/s of pythae's TrainingPipeline on the same VAE (custom 784-400-20 MLP nets, BCE)."""
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    model = pythae_vae()
    out = tempfile.mkdtemp(prefix="pythae-bench-")
    train_cfg = BaseTrainerConfig(
        output_dir=out,
        num_epochs=epochs,
        per_device_train_batch_size=128,
        learning_rate=1e-3,
        steps_saving=None,
        no_cuda=device != "cuda",
    )
    data = torch.bernoulli(
        x.reshape(-1, 1, 28, 28), generator=torch.Generator().manual_seed(0)
    )  # pythae takes fixed arrays
    steps = epochs * -(-len(x) // 128)
    logging.disable(logging.WARNING)  # pythae logs every epoch through handlers bound at import
    try:
        with (
            open(os.devnull, "w") as devnull,
            contextlib.redirect_stdout(devnull),
            contextlib.redirect_stderr(devnull),
        ):
            t0 = time.perf_counter()
            TrainingPipeline(training_config=train_cfg, model=model)(train_data=data.numpy())
            dt = time.perf_counter() - t0
    finally:
        logging.disable(logging.NOTSET)
        shutil.rmtree(out, ignore_errors=True)
    return steps / dt


def part_overhead(data, steps: int, rounds: int) -> None:
    rates: dict[str, list[float]] = {
        "bare loop (own VAE)": [],
        "bare loop (genzoo VAE module)": [],
        "genzoo.train": [],
    }
    for r in range(rounds):
        rates["bare loop (own VAE)"].append(bare_loop(data.x.flatten(1), steps, seed=r))
        rates["bare loop (genzoo VAE module)"].append(bare_loop_genzoo_model(data, steps, seed=r))
        rates["genzoo.train"].append(genzoo_loop(data, steps, seed=r))
    ref = statistics.median(rates["bare loop (own VAE)"])
    print(
        f"\n### Trainer overhead: MLP VAE 784-400-20, batch 128, {steps} steps × {rounds} rounds (median)\n"
    )
    print("| loop | steps/s | ratio to bare loop |\n|---|---:|---:|")
    for name, values in rates.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.1f} | {med / ref:.3f} |")


def part_quality(data, test, seconds: float, k: int) -> None:
    model = genzoo.models.create("vae", data, seed=0, iwae_k=k, **VAE_ARGS)
    out = tempfile.mkdtemp(prefix="genzoo-bench-")
    try:
        t0 = time.perf_counter()
        run = genzoo.train(
            model,
            data,
            out=out,
            steps=10**7,
            time_limit=seconds,
            batch_size=128,
            lr=1e-3,
            seed=0,
            progress=False,
            sample_grid=False,
            checkpoint_every=10**7,
        )
        dt = time.perf_counter() - t0
        # dynamic binarisation → evaluation thresholds at 0.5: the statically binarised test split
        t1 = time.perf_counter()
        nll = genzoo.evaluate(run.model, test, metrics=["nll"], seed=0)["metrics"]["nll"]
        t_eval = time.perf_counter() - t1
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"\n### Quality at a budget: {seconds:.0f} s of training ({run.step} steps, {dt:.1f} s wall)\n")
    print(
        f"test NLL (IWAE, K = {k}, {nll['n']} statically binarised test digits): "
        f"**{nll['nats']:.2f} ± {nll['std_err_nats']:.2f} nats** "
        f"({nll['bits_per_dim']:.4f} bits/dim; evaluation {t_eval:.1f} s)"
    )


def part_peers(data, steps: int, rounds: int) -> None:
    try:
        import pythae  # noqa: F401
    except ImportError:
        print("\n(pythae is not installed: `pip install -e .[bench]`; peer comparison skipped)")
        return
    epochs = max(1, round(steps / (len(data) // 128 + 1)))
    rates = {"genzoo.train": [], "pythae TrainingPipeline": []}
    for r in range(rounds):
        rates["genzoo.train"].append(genzoo_loop(data, epochs * -(-len(data) // 128), seed=r))
        rates["pythae TrainingPipeline"].append(pythae_loop(data.x.flatten(1), epochs))
    g = statistics.median(rates["genzoo.train"])
    print(f"\n### Peer: pythae 0.1.2, the same VAE, {epochs} epochs × {rounds} rounds (median)\n")
    print("| trainer | steps/s | genzoo / peer |\n|---|---:|---:|")
    for name, values in rates.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.1f} | {g / med:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="overhead,quality,peers")
    p.add_argument("--steps", type=int, default=500, help="steps per timed round (overhead, peers)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=120.0, help="training budget for the quality part")
    p.add_argument("--k", type=int, default=1000, help="importance samples for the test NLL")
    args = p.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    data = genzoo.datasets.load("mnist", split="train", binarize="dynamic")
    test = genzoo.datasets.load("mnist", split="test", binarize="dynamic")
    print(f"# genzoo VAE benchmarks\n\nmachine: {machine()}")
    parts = set(args.parts.split(","))
    if "overhead" in parts:
        part_overhead(data, args.steps, args.rounds)
    if "peers" in parts:
        part_peers(data, args.steps, args.rounds)
    if "quality" in parts:
        part_quality(data, test, args.seconds, args.k)


if __name__ == "__main__":
    main()
