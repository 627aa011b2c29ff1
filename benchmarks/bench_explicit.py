"""Explicit-density benchmarks: NLL on binarised mnist, the RBM against scikit-learn, and
autoregressive sampling speed.

    python benchmarks/bench_explicit.py                    # all parts (about 35 minutes on 2 cores)
    python benchmarks/bench_explicit.py --parts nll --seconds 120

nll       each of fvsbn, pixelcnn, gated-pixelcnn, pixelrnn, rbm, vae and vqvae, with its default
          options, trained on the 4,000 mnist training digits binarised dynamically (a fresh
          Bernoulli draw per batch) for the same wall-clock budget (`--seconds`, default 150 s,
          two threads; steps calibrated from 30 timed steps, then `train.time_limit`), then
          `genzoo.evaluate(..., metrics=["nll"])` on the 1,000 held-out digits binarised once
          stochastically (each pixel 1 with probability its grey level, `genzoo.datasets.binarize`;
          what the test split with binarize=dynamic holds), as the papers' binarised MNIST:
          the exact NLL (autoregressive models), the AIS estimate (rbm: 10,000 intermediate
          distributions, 100 runs), the IWAE estimate (vae, K = 1,000) and the bound (vqvae), in
          nats, with the training and evaluation times. Samples: benchmarks/figures/explicit-samples.png.
rbm       genzoo's rbm against scikit-learn's BernoulliRBM on the same 4,000 digits binarised at
          0.5, in one run: 500 hidden units, batch 100, learning rate 0.1, persistent CD-1 with
          one chain per batch row, no momentum, no weight decay (scikit-learn's algorithm), the
          same number of epochs (`--epochs`, default 10). Seconds per epoch (median of alternated
          rounds), the pseudo-likelihood scikit-learn reports (its `score_samples`, mean over the
          training digits, the same flipped pixels for both models) and the AIS test NLL of each.
          Then an rbm with classifier=true (`--classifier-steps`; its defaults, and CD-1 at lr 0.05)
          and its test accuracy.
sampling  64 images of 28×28 from pixelcnn, gated-pixelcnn and pixelrnn (default options): the
          window sampler (only the rows that reach the next pixel; the Row LSTM's cached row states)
          against the whole image through the network for every pixel, the same samples.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

import genzoo
from genzoo.viz import image_grid, png_bytes

sys.path.insert(0, str(Path(__file__).parent))
from bench_ddpm import FIGURES, machine  # noqa: E402

MODELS = ("fvsbn", "pixelcnn", "gated-pixelcnn", "pixelrnn", "rbm", "vae", "vqvae")


THREADS = min(2, os.cpu_count() or 1)  # fixed, not genzoo's automatic choice: the same count in every row


def _data():
    train = genzoo.datasets.load("mnist", split="train", binarize="dynamic")
    test = genzoo.datasets.load("mnist", split="test", binarize="dynamic")
    return train, test


def _calibrate(name: str, train, steps: int = 30) -> float:
    model = genzoo.models.create(name, train, seed=1)
    genzoo.train(model, train, steps=3, progress=False, sample_grid=False, threads=THREADS)
    t0 = time.perf_counter()
    genzoo.train(model, train, steps=steps, progress=False, sample_grid=False, threads=THREADS)
    return steps / (time.perf_counter() - t0)


def part_nll(seconds: float, out: Path, models: list[str]) -> dict:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    train, test = _data()
    results = {}
    grids = []
    for name in models:
        rate = _calibrate(name, train)
        steps = max(10, int(rate * seconds * 0.97))
        model = genzoo.models.create(name, train, seed=0)
        t0 = time.perf_counter()
        run = genzoo.train(
            model, train, out=out / name, steps=steps, time_limit=seconds, progress=False, threads=THREADS
        )
        took = time.perf_counter() - t0
        model = run.model.eval()
        t0 = time.perf_counter()
        r = genzoo.evaluate(model, test, metrics=["nll"], n=1000, seed=0)
        eval_s = time.perf_counter() - t0
        with torch.no_grad():
            grids.append(model.sample(16, generator=torch.Generator().manual_seed(0)).float().cpu())
        nll = r["metrics"]["nll"]
        results[name] = {
            "steps": run.step,
            "train_seconds": took,
            "eval_seconds": eval_s,
            "params": model.num_parameters(),
            "nats": nll["nats"],
            "std_err": nll["std_err_nats"],
            "bits_per_dim": nll["bits_per_dim"],
            "kind": nll["kind"],
        }
        print(f"  {name}: {results[name]}", file=sys.stderr, flush=True)
    FIGURES.mkdir(exist_ok=True)
    (FIGURES / "explicit-samples.png").write_bytes(
        png_bytes(image_grid(torch.cat(grids), train.info, nrow=16))
    )
    return results


def part_rbm(epochs: int, rounds: int) -> dict:
    from sklearn.neural_network import BernoulliRBM

    from genzoo.models.rbm import load_sklearn

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    train = genzoo.datasets.load("mnist", split="train", binarize="static")
    test = genzoo.datasets.load("mnist", split="test", binarize="static")
    x = train.tensors().flatten(1)
    xn = x.numpy().astype(np.float64)
    batch, hidden, lr = 100, 500, 0.1
    steps = epochs * len(x) // batch
    times: dict[str, list[float]] = {"genzoo": [], "sklearn": []}
    ours = theirs = None
    for r in range(rounds):
        t0 = time.perf_counter()
        theirs = BernoulliRBM(
            n_components=hidden, learning_rate=lr, batch_size=batch, n_iter=epochs, random_state=r
        ).fit(xn)
        times["sklearn"].append((time.perf_counter() - t0) / epochs)
        model = genzoo.models.create(
            "rbm", train, seed=r, hidden=hidden, persistent=True, chains=batch, momentum=0.0, weight_decay=0.0
        )
        t0 = time.perf_counter()
        ours = genzoo.train(
            model, train, steps=steps, batch_size=batch, lr=lr, progress=False, sample_grid=False
        ).model
        times["genzoo"].append((time.perf_counter() - t0) / epochs)
    rng_index = torch.from_numpy(np.random.RandomState(0).randint(0, x.shape[1], len(x)))
    twin = genzoo.models.create("rbm", train, seed=0, hidden=hidden)
    load_sklearn(twin, theirs)
    out: dict = {"epochs": epochs, "rounds": rounds, "hidden": hidden, "batch": batch, "lr": lr}
    for label, model in (("genzoo", ours), ("sklearn", twin)):
        pl = float(model.pseudo_likelihood_at(x, rng_index).mean())
        ais = model.log_partition_ais(generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            nll = float(model.marginal_free_energy(test.tensors()).mean()) + ais["log_z"]
        out[label] = {
            "s_per_epoch": statistics.median(times[label]),
            "pseudo_likelihood": pl,
            "test_nll_ais": nll,
            "log_z": ais["log_z"],
            "log_z_low": ais["log_z_low"],
            "log_z_high": ais["log_z_high"],
        }
    # scikit-learn's own score_samples on its own model, as a check of the shared computation
    out["sklearn"]["score_samples"] = float(np.mean(theirs.score_samples(xn)))
    print(f"  rbm vs sklearn: {out}", file=sys.stderr, flush=True)
    return out


def part_classifier(steps: int) -> dict:
    """An rbm with classifier=true (500 hidden) on the dynamically binarised training digits, at its
    defaults (persistent CD, lr 0.01) and with CD-1 at lr 0.05; test accuracy of the lowest free
    energy over the 10 labels."""
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    train, test = _data()
    out = {}
    for label, params, lr in (
        ("defaults (PCD, lr 0.01)", {}, None),
        ("CD-1, lr 0.05", {"persistent": False}, 0.05),
    ):
        model = genzoo.models.create("rbm", train, seed=0, classifier=True, **params)
        t0 = time.perf_counter()
        model = genzoo.train(
            model, train, steps=steps, progress=False, sample_grid=False, **({"lr": lr} if lr else {})
        ).model
        took = time.perf_counter() - t0
        r = genzoo.evaluate(model, test, metrics=["classify"], n=1000, seed=0)["metrics"]["classify"]
        out[label] = {"steps": steps, "train_seconds": took, **r}
        print(f"  rbm classifier {label}: {out[label]}", file=sys.stderr, flush=True)
    return out


def part_sampling(n: int = 64) -> dict:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    train, _ = _data()
    out = {}
    for name in ("pixelcnn", "gated-pixelcnn", "pixelrnn"):
        model = genzoo.models.create(name, train, seed=0).eval()
        row = {}
        for window in (True, False):
            t0 = time.perf_counter()
            x = model.sample(n, generator=torch.Generator().manual_seed(0), window=window)
            row["window" if window else "full"] = time.perf_counter() - t0
            row.setdefault("samples", []).append(x)
        row["same"] = bool(torch.equal(*row.pop("samples")))
        row["speedup"] = row["full"] / row["window"]
        out[name] = row
        print(f"  sampling {name}: {row}", file=sys.stderr, flush=True)
    return out


def print_tables(r: dict) -> None:
    if "nll" in r:
        print("\n| model | likelihood | NLL (nats) | bits/dim | steps | train (s) | eval (s) | params |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for name, v in r["nll"].items():
            se = f" ± {v['std_err']:.2f}" if v.get("std_err") else ""
            print(
                f"| {name} | {v['kind']} | {v['nats']:.2f}{se} | {v['bits_per_dim']:.4f} | {v['steps']} | "
                f"{v['train_seconds']:.0f} | {v['eval_seconds']:.0f} | {v['params']:,} |"
            )
    if "rbm" in r:
        g, s = r["rbm"]["genzoo"], r["rbm"]["sklearn"]
        print(
            f"\nrbm vs scikit-learn BernoulliRBM ({r['rbm']['epochs']} epochs, {r['rbm']['hidden']} hidden):"
        )
        print("| | s/epoch | pseudo-likelihood | test NLL (AIS) |\n|---|---:|---:|---:|")
        for label, v in (("genzoo", g), ("scikit-learn", s)):
            print(
                f"| {label} | {v['s_per_epoch']:.3f} | {v['pseudo_likelihood']:.2f} | "
                f"{v['test_nll_ais']:.2f} |"
            )
        print(
            f"speed ratio (sklearn / genzoo s per epoch): {s['s_per_epoch'] / g['s_per_epoch']:.2f}; "
            f"sklearn's own score_samples: {s['score_samples']:.2f}"
        )
    for label, c in r.get("classifier", {}).items():
        print(
            f"\nrbm classifier, {label} ({c['steps']} steps, {c['train_seconds']:.0f} s): test accuracy "
            f"{c['accuracy']:.3f} ± {c['std_err']:.3f} on {c['n']} digits"
        )
    if "sampling" in r:
        print("\n| model | window (s) | full (s) | speed-up | same samples |\n|---|---:|---:|---:|---|")
        for name, v in r["sampling"].items():
            print(f"| {name} | {v['window']:.1f} | {v['full']:.1f} | {v['speedup']:.1f}× | {v['same']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--parts", default="nll,rbm,sampling", help="nll, rbm, sampling, table (reprint from the json)"
    )
    ap.add_argument("--seconds", type=float, default=150.0, help="nll: training budget per model (s)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--epochs", type=int, default=10, help="rbm: epochs")
    ap.add_argument("--rounds", type=int, default=2, help="rbm: alternated timing rounds")
    ap.add_argument(
        "--classifier-steps", type=int, default=4000, help="rbm: training steps of the classifier rbm"
    )
    ap.add_argument("--out", default="runs/bench-explicit", help="run directories and bench.json")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    path = out / "bench.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    print(f"Machine: {machine()}")
    if "nll" in parts:
        results.setdefault("nll", {}).update(part_nll(args.seconds, out, args.models.split(",")))
    if "rbm" in parts:
        results["rbm"] = part_rbm(args.epochs, args.rounds)
    if "rbm" in parts:
        results["classifier"] = part_classifier(args.classifier_steps)
    if "sampling" in parts:
        results["sampling"] = part_sampling()
    results["machine"] = machine()
    path.write_text(json.dumps(results, indent=1))
    print_tables(results)


if __name__ == "__main__":
    main()
