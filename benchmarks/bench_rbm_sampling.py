"""Where the RBM's poor samples come from: the sampler or the model? The rbm of the full tour (6,000
PCD steps on dynamically binarised mnist, seed 0) sampled by block Gibbs from its visible biases for
1,000 steps (the default) and 10,000, by annealing from the data's pixel means (the AIS schedule,
1,000 and 3,000 steps), and by Gibbs chains started at training digits; each scored on the 1,000
test digits (FD, recognisable share, class histogram and its total-variation distance to the data's,
precision, recall, copy rate).

    python benchmarks/bench_rbm_sampling.py                    # both parts, about 10 minutes on 2 cores
    python benchmarks/bench_rbm_sampling.py --parts samplers   # the samplers only, about 5 minutes
    python benchmarks/bench_rbm_sampling.py --parts training   # PCD's learning-rate schedule and chains

`--parts training`: the rbm (and the dbn) trained for 6,000 steps at a constant learning rate (the
family's default) and with a cosine decay to 0, with 100 and 500 persistent chains, the dbn's top
layer by CD-1 (the default) or by persistent CD (`persistent=true`); each sampled
the default way (1,000 Gibbs steps) and scored alike; `--seeds` repeats them.

A sampler that mixed better would reach the model's own distribution; if that distribution favours
one class, better sampling makes the class histogram worse, not better.
"""

from __future__ import annotations

import datetime
import os
import platform
import time

import torch

import genzoo
from genzoo.metrics import evaluate
from genzoo.models.rbm import _bernoulli, ais_schedule


def score(model, test, train, label: str, fn) -> None:
    orig = model.sample
    model.sample = lambda n, generator=None, **kw: fn(n, generator)
    t = time.time()
    r = evaluate(model, test, metrics=["fd", "recognisable", "pr", "memorization"], n=1000, train_data=train)[
        "metrics"
    ]
    model.sample = orig
    rec = r["recognisable"]
    hist = " ".join(f"{v:.2f}" for v in rec["class_share"])
    print(
        f"| {label} | {r['fd']['fd']:.1f} | {rec['share']:.3f} | {rec['class_tv']:.3f} | {hist} "
        f"| {r['pr']['precision']:.3f} "
        f"| {r['pr']['recall']:.3f} | {r['memorization']['copy_rate']:.3f} | {time.time() - t:.0f} |",
        flush=True,
    )


TRAINING = {  # label: (family, model options, training options)
    "rbm, constant lr (the default)": ("rbm", {}, {}),
    "rbm, cosine decay": ("rbm", {}, {"schedule": "cosine"}),
    "rbm, 500 chains": ("rbm", {"chains": 500}, {}),
    "rbm, 500 chains, cosine decay": ("rbm", {"chains": 500}, {"schedule": "cosine"}),
    "dbn, constant lr (the default)": ("dbn", {}, {}),
    "dbn, cosine decay": ("dbn", {}, {"schedule": "cosine"}),
    "dbn, persistent top layer": ("dbn", {"persistent": True}, {}),
    "dbn, persistent top layer, cosine decay (the tour's entry)": (
        "dbn",
        {"persistent": True},
        {"schedule": "cosine"},
    ),
}


def part_training(seeds: list[int]) -> None:
    train = genzoo.datasets.load("mnist", split="train", binarize="dynamic")
    test = genzoo.datasets.load("mnist", split="test", binarize="dynamic")
    print(
        "\n| training | seed | s | FD (floor 54.9) | recognisable (floor 0.977) | class TV "
        "| class shares 0-9 | precision | recall | copy rate | s |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for label, (family, params, options) in TRAINING.items():
        for seed in seeds:
            model = genzoo.models.create(family, train, seed=seed, **params)
            t0 = time.time()
            run = genzoo.train(
                model, train, steps=6000, seed=seed, progress=False, sample_grid=False, **options
            )
            seconds = time.time() - t0
            run.model.eval()
            default = run.model.sample  # the default sampler, held before score() swaps the attribute
            score(
                run.model,
                test,
                train,
                f"{label} | {seed} | {seconds:.0f}",
                lambda n, g, f=default: f(n, generator=g),
            )


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="samplers,training", help="samplers, training")
    p.add_argument("--seeds", default="0")
    args = p.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{datetime.date.today()}"
    )
    if "training" in args.parts.split(","):
        part_training([int(v) for v in args.seeds.split(",")])
    if "samplers" not in args.parts.split(","):
        return
    train = genzoo.datasets.load("mnist", split="train", binarize="dynamic")
    test = genzoo.datasets.load("mnist", split="test", binarize="dynamic")
    model = genzoo.models.create("rbm", train, seed=0)
    genzoo.train(model, train, steps=6000, seed=0, progress=False, sample_grid=False)
    model.eval()
    layer, shape = model.rbm, model.info.shape

    print(
        "\n| sampler | FD (floor 54.9) | recognisable (floor 0.977) | class TV | class shares 0-9 "
        "| precision | recall | copy rate | s |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|")

    @torch.no_grad()
    def gibbs(
        n: int, g: torch.Generator | None, steps: int, start: torch.Tensor | None = None
    ) -> torch.Tensor:
        v = layer.draw_visible(layer.b.expand(n, -1), g) if start is None else start
        for _ in range(steps):
            v = layer.gibbs_step(v, g)
        return v.reshape(n, *shape)

    @torch.no_grad()
    def annealed(n: int, g: torch.Generator | None, steps: int, extra: int = 0) -> torch.Tensor:
        """From the data's pixel means (β = 0) to the RBM (β = 1) on the AIS schedule, then `extra`
        Gibbs steps."""
        base = torch.logit(train.x.flatten(1).mean(0).clamp(1e-3, 1 - 1e-3)).to(layer.W)
        beta = ais_schedule(steps).tolist()
        v = layer.draw_visible(base.expand(n, -1), g)
        for i in range(1, steps + 1):
            h = _bernoulli(torch.sigmoid(beta[i] * layer.hidden_input(v)), g)
            v = layer.draw_visible(beta[i] * layer.visible_logits(h) + (1 - beta[i]) * base, g)
        for _ in range(extra):
            v = layer.gibbs_step(v, g)
        return v.reshape(n, *shape)

    score(model, test, train, "gibbs 1000 from biases (current)", lambda n, g: gibbs(n, g, 1000))
    score(model, test, train, "gibbs 10000 from biases", lambda n, g: gibbs(n, g, 10000))
    score(model, test, train, "annealed 1000", lambda n, g: annealed(n, g, 1000))
    score(model, test, train, "annealed 3000 + 100 gibbs", lambda n, g: annealed(n, g, 3000, 100))
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(5))
    score(
        model,
        test,
        train,
        "gibbs 1000 from train data",
        lambda n, g: gibbs(n, g, 1000, train.tensors()[idx[:n]].flatten(1)),
    )
    score(
        model,
        test,
        train,
        "gibbs 10000 from train data",
        lambda n, g: gibbs(n, g, 10000, train.tensors()[idx[:n]].flatten(1)),
    )


if __name__ == "__main__":
    main()
