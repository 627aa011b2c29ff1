"""Why does the PixelCNN's likelihood look good while its samples do not? The tour's pixelcnn on
dynamically binarised mnist (seed 0) at the full tour's 400 steps, with twice the residual blocks
(a receptive field reaching 15 rows up instead of 9) at the same steps, at 4× the steps, and at 6×
with the learning rate decayed (cosine); then the fvsbn — the same chain rule with one logistic
regression per pixel — at 1,000 to 30,000 steps, to tell the budget from the model. Each scored by
`genzoo.evaluate` on the 1,000 test digits: exact NLL of one stochastic binarisation, FD,
recognisable share, class TV, precision, recall.

    python benchmarks/bench_pixelcnn_paradox.py  # about 25 minutes on 2 cores
    python benchmarks/bench_pixelcnn_paradox.py --only fvsbn  # rows whose label has "fvsbn" (about 5 min)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import torch

import genzoo

RUNS = {  # label: (model, model options, train options, steps)
    "pixelcnn, the tour's (6 blocks), 400 steps": ("pixelcnn", {}, {}, 400),
    "pixelcnn, 12 blocks, 400 steps": ("pixelcnn", {"blocks": 12}, {}, 400),
    "pixelcnn, 6 blocks, 1,600 steps": ("pixelcnn", {}, {}, 1600),
    "pixelcnn, 6 blocks, 2,400 steps, cosine decay": ("pixelcnn", {}, {"schedule": "cosine"}, 2400),
    "fvsbn, 1,000 steps": ("fvsbn", {}, {}, 1000),
    "fvsbn, 3,000 steps": ("fvsbn", {}, {}, 3000),
    "fvsbn, 10,000 steps": ("fvsbn", {}, {}, 10000),
    "fvsbn, 30,000 steps": ("fvsbn", {}, {}, 30000),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="run the rows whose label contains this text")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{datetime.date.today()}\n"
    )
    train = genzoo.datasets.load("mnist", split="train", binarize="dynamic")
    test = genzoo.datasets.load("mnist", split="test", binarize="dynamic")
    print(
        "| run | train s | NLL (nats) | FD (floor) | recognisable (floor) | class TV | precision | recall |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, (name, params, options, steps) in RUNS.items():
        if args.only not in label:
            continue
        model = genzoo.models.create(name, train, seed=0, **params)
        t0 = time.perf_counter()
        run = genzoo.train(model, train, steps=steps, seed=0, progress=False, sample_grid=False, **options)
        seconds = time.perf_counter() - t0
        m = genzoo.evaluate(
            run.model, test, metrics=["nll", "fd", "recognisable", "pr"], n=1000, train_data=train
        )["metrics"]
        r = m["recognisable"]
        print(
            f"| {label} | {seconds:.0f} | {m['nll']['nats']:.2f} "
            f"| {m['fd']['fd']:.1f} ({m['fd']['floor']:.1f}) "
            f"| {r['share']:.3f} ({r['floor']:.3f}) | {r['class_tv']:.3f} "
            f"| {m['pr']['precision']:.3f} | {m['pr']['recall']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
