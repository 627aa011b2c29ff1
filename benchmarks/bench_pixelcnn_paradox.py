"""Why does the PixelCNN's likelihood look good while its samples do not? The tour's pixelcnn on
dynamically binarised mnist (seed 0) at the full tour's 400 steps, with twice the residual blocks
(a receptive field reaching 15 rows up instead of 9) at the same steps, and at 4× the steps; each
scored by `genzoo.evaluate` on the 1,000 test digits: exact NLL of one stochastic binarisation, FD,
recognisable share, class TV, precision, recall.

    python benchmarks/bench_pixelcnn_paradox.py        # about 10 minutes on 2 cores
"""

from __future__ import annotations

import datetime
import os
import platform
import time

import torch

import genzoo

RUNS = {  # label: (model options, steps)
    "the tour's (6 blocks), 400 steps": ({}, 400),
    "12 blocks, 400 steps": ({"blocks": 12}, 400),
    "6 blocks, 1,600 steps": ({}, 1600),
}


def main() -> None:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, {datetime.date.today()}\n")
    train = genzoo.datasets.load("mnist", split="train", binarize="dynamic")
    test = genzoo.datasets.load("mnist", split="test", binarize="dynamic")
    print("| pixelcnn | train s | NLL (nats) | FD (floor) | recognisable (floor) | class TV | precision | recall |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, (params, steps) in RUNS.items():
        model = genzoo.models.create("pixelcnn", train, seed=0, **params)
        t0 = time.perf_counter()
        run = genzoo.train(model, train, steps=steps, seed=0, progress=False, sample_grid=False)
        seconds = time.perf_counter() - t0
        m = genzoo.evaluate(run.model, test, metrics=["nll", "fd", "recognisable", "pr"], n=1000, train_data=train)["metrics"]
        r = m["recognisable"]
        print(f"| {label} | {seconds:.0f} | {m['nll']['nats']:.2f} | {m['fd']['fd']:.1f} ({m['fd']['floor']:.1f}) | {r['share']:.3f} "
              f"({r['floor']:.3f}) | {r['class_tv']:.3f} | {m['pr']['precision']:.3f} | {m['pr']['recall']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
