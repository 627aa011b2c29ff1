"""Geostatistics: the classical simulators' speed against GSTools and gstlearn, their accuracy,
learned generators (fcn GAN, VAE) on `facies` and `grf` against the known truth, and conditioning.

    python benchmarks/bench_geostat.py                          # all parts (about 35 minutes on 2 cores)
    python benchmarks/bench_geostat.py --parts speed            # needs `pip install gstools gstlearn`
    python benchmarks/bench_geostat.py --parts accuracy,learned,condition --seconds 300

Parts (results merge into runs/bench-geostat/bench.json; `--parts table` reprints them):

speed3d    3-D blocks of 128³ and 256³ (see `part_speed3d`): fft against GSTools, spde against gstlearn's
           SPDE, and the peers' fidelity (variance, γ(1)) on 128³.
mps        Direct sampling (genzoo.geostat.mps) on `facies` against the fcn GAN of `learned` (if its run is
           there) and the fitted facies model: facies errors, time per realisation, wells honoured.
ds3d       Direct sampling's settings (neighbours, threshold) in 3-D on `facies3d` (see `part_ds3d`).
facies3d   The 3-D fcn GAN trained `--seconds` on `facies3d`, sampled at 16×64×64, against held-out blocks,
           beside the fitted facies model and the data's law; at 16×32×32 beside direct sampling; both
           conditioned on 4 wells (see `part_facies3d`).
accuracy3d 100 realisations of 3-D blocks per simulator and covariance (rotated, layered, compact,
           smooth): the worst |z| of the variogram along each axis (see `part_accuracy3d`).
speed      One covariance for all — Matérn ν = 1, a = 10 cells (gstlearn's SPDE needs an integer ν) —
           on square grids of 256², 512² and 1000², one realisation and 100, timed in this process with
           time.perf_counter, set-up included (FFT eigenvalues, Chebyshev coefficients, GSTools' modes,
           gstlearn's mesh and factorisation). genzoo `fft`, `spde` (tol 1e-5) and `spectral` (1000
           modes) with torch on 2 threads; GSTools `SRF` (RandMeth, 1000 modes; its Cython kernel is
           single-threaded); gstlearn `simulateSPDE` as shipped (its own finite-element mesh of step
           a·√(12ν)/18 ≈ 1.9 cells, interpolated onto the grid) and `simtub` (1000 turning bands), with
           OpenMP on 2 threads. Peer runs estimated above `--peer-budget` seconds are timed on 3
           realisations and scaled to 100 (marked "*"): their cost per realisation is constant.
accuracy   For each simulator and covariance, 200 realisations: the worst |z| over lags 1..16 along
           both axes of (mean γ̂ − γ)/SE, and z-tests of the marginal mean and variance at the centre
           node; for spde also the lattice model it simulates, and ‖p_K(S)w − f(S)w‖/‖f(S)w‖ against
           an eigendecomposition of the dense stencil on a 24² torus, by degree K.
learned    (= facies, grf) On `facies` (64×64 truncated-Gaussian images): an fcn GAN (three stages of
           32, 64, 128 channels, wgan-gp, nearest upsampling)
           trained for `--seconds`, sampled at 256×256; facies proportions, indicator variograms,
           connectivity and 3×3 pattern-histogram JS divergence against 500 held-out 64×64 images and
           the ANODI-style pattern scores, next to the truth drawn at 256×256 and the fitted
           `facies` model. On `grf` (32×32 Matérn ν = 1.5, a = 3): W₂ between the Gaussian moments
           of 1,000 generated fields and the true law, for a conv GAN and a conv VAE trained for
           `--seconds` and for every classical simulator fitted to the training fields; the floor
           is 1,000 held-out fields.
condition  20 wells (grid nodes and values of one held-out field): share honoured (|error| < 1e-6 for
           the exact methods; for facies codes, the rounded value equal to the well's), the mean
           pairwise RMS distance between 16 realisations (diversity; GAN outputs rounded to facies
           codes first) beside that of 16 unconditional ones; the fcn GAN of `learned` on `facies`
           by latent optimisation (1000 Adam steps) and by the inference network (fit once, then one
           forward pass), with time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import genzoo
from genzoo.geostat import covariance as C
from genzoo.geostat.simulators import SPDE, simulator

HERE = Path(__file__).parent
FIGURES = HERE / "figures"
OUT = Path("runs/bench-geostat")
RESULTS = OUT / "bench.json"
A, NU = 10.0, 1.0
GRIDS = (256, 512, 1000)
COUNTS = (1, 100)


def _merge(update: dict) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data.update(update)
    data["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    data["date"] = datetime.date.today().isoformat()
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(RESULTS)
    return data


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# --- speed -------------------------------------------------------------------------------------
def part_speed(peer_budget: float) -> dict:
    sys.path.insert(0, str(HERE))
    import bench_geostat_peers as peers

    torch.set_num_threads(2)
    peers.set_threads(2)
    conv = peers.check_conventions(A, NU)
    cov = C.Matern(range=A, nu=NU)
    rows: dict[str, dict[str, Any]] = {}

    def ours(method: str, shape, n, **kw):
        def run():
            sim = simulator(method, cov, shape, **kw)
            sim.sample(n, generator=torch.Generator().manual_seed(0))

        return run

    for size in GRIDS:
        shape = (size, size)
        # warm-up (imports, FFT plans) on a small grid, not timed
        ours("fft", (64, 64), 1)()
        ours("spde", (64, 64), 1)()
        for n in COUNTS:
            key = f"{size}²×{n}"
            r: dict[str, Any] = {}
            r["fft"] = _time(ours("fft", shape, n))
            r["spde"] = _time(ours("spde", shape, n))
            r["spectral"] = _time(ours("spectral", shape, n))
            for name, fn in (
                ("gstools", lambda k, shape=shape: peers.gstools_fields(A, NU, shape, k, 1)),
                ("gstlearn-spde", lambda k, shape=shape: peers.gstlearn_spde(A, NU, shape, k, 1)),
                ("gstlearn-tub", lambda k, shape=shape: peers.gstlearn_tub(A, NU, shape, k, 1, bands=1000)),
            ):
                one = rows.get(f"{size}²×1", {}).get(name, (None,))[0] if n > 1 else None
                if n > 1 and one is not None and one * n > peer_budget:
                    k = 3
                    t = _time(lambda fn=fn, k=k: fn(k))
                    r[name] = (t * n / k, "×")
                else:
                    r[name] = (_time(lambda fn=fn, n=n: fn(n)), "")
            rows[key] = r
            print(
                key,
                {k: (round(v, 3) if isinstance(v, float) else (round(v[0], 3), v[1])) for k, v in r.items()},
                flush=True,
            )
    sim = SPDE(cov, (1000, 1000))
    out = {
        "speed": {
            "rows": {
                k: {n: (list(v) if isinstance(v, tuple) else [v, ""]) for n, v in r.items()}
                for k, r in rows.items()
            },
            "conventions": conv,
            "versions": peers.versions(),
            "spde_degree": sim.degree,
            "spde_torus_1000": list(sim.torus),
            "cov": cov.describe(),
        }
    }
    return _merge(out)


# --- speed in 3-D --------------------------------------------------------------------------------
GRIDS3 = (128, 256)
COUNTS3 = (1, 10)
NUS3 = (0.5, 1.5)  # gstlearn's SPDE in 3-D needs an integer α = ν + 3/2


def _fidelity(x: np.ndarray, cov) -> dict[str, float]:
    """The mean within-block variance and γ̂(1) along columns over realisations (n, D, H, W), beside
    the model's γ(1) (the block variance is below the sill by the variance of a block's mean)."""
    g1 = 0.5 * np.mean((x[..., 1:] - x[..., :-1]) ** 2)
    return {
        "var": float(np.mean(x.var(axis=(1, 2, 3)))),
        "gamma1": float(g1),
        "model_gamma1": float(cov.variogram(torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))),
    }


def part_speed3d(peer_budget: float) -> dict:
    """3-D Matérn blocks, a = 10 cells, ν = 0.5 and 1.5, on 128³ and 256³, one realisation and ten,
    set-up included: genzoo fft, spde (its default DFT solver, and the Chebyshev recurrence for one
    realisation) and spectral (1000 modes, one realisation), GSTools RandMeth (1000 modes) and
    gstlearn's SPDE as shipped. A peer run estimated above `peer_budget` seconds is timed on a part
    and scaled (marked "*"): GSTools on one realisation of 64 layers (RandMeth costs the same per node),
    ten realisations of either peer from one (the cost per realisation is constant)."""
    sys.path.insert(0, str(HERE))
    import bench_geostat_peers as peers

    torch.set_num_threads(2)
    peers.set_threads(2)
    rows: dict[str, dict[str, Any]] = {}
    fidelity: dict[str, dict[str, Any]] = {}
    simulator("fft", C.Matern(range=A, nu=1.5), (16, 16, 16)).sample(1)  # warm-up, not timed
    for nu in NUS3:
        cov = C.Matern(range=A, nu=nu)
        for size in GRIDS3:
            shape = (size, size, size)
            for n in COUNTS3:
                key = f"ν={nu:g} {size}³×{n}"
                r: dict[str, Any] = {}
                kept: dict[str, np.ndarray] = {}

                def timed(name: str, draw, kept=kept) -> float:
                    t0 = time.perf_counter()
                    kept[name] = draw()
                    return time.perf_counter() - t0

                def ours(method: str, n=n, shape=shape, cov=cov, **kw):
                    sim = simulator(method, cov, shape, **kw)
                    return sim.sample(n, generator=torch.Generator().manual_seed(0))[:, 0].numpy()

                r["fft"] = (timed("fft", lambda: ours("fft")), "")
                r["spde"] = (timed("spde", lambda: ours("spde")), "")
                if n == 1:
                    r["spde-chebyshev"] = (
                        timed("spde-chebyshev", lambda: ours("spde", solver="chebyshev")),
                        "",
                    )
                    r["spectral"] = (timed("spectral", lambda: ours("spectral")), "")
                one = rows.get(f"ν={nu:g} {size}³×1", {})
                # GSTools: per node constant; gstlearn: per realisation constant
                if n == 1 and size >= 256:
                    part = (64, size, size)
                    t = timed("gstools-part", lambda nu=nu, part=part: peers.gstools_block(A, nu, part, 1, 1))
                    r["gstools"] = (t * size / 64, "*")
                elif n > 1 and one.get("gstools", (0,))[0] * n > peer_budget:
                    r["gstools"] = (one["gstools"][0] * n, "*")
                else:
                    r["gstools"] = (
                        timed(
                            "gstools", lambda nu=nu, n=n, shape=shape: peers.gstools_block(A, nu, shape, n, 1)
                        ),
                        "",
                    )
                if n > 1 and one.get("gstlearn-spde", (0,))[0] * n > peer_budget:
                    r["gstlearn-spde"] = (one["gstlearn-spde"][0] * n, "*")
                else:
                    r["gstlearn-spde"] = (
                        timed(
                            "gstlearn-spde",
                            lambda nu=nu, n=n, shape=shape: peers.gstlearn_spde_block(A, nu, shape, n, 1),
                        ),
                        "",
                    )
                if size == GRIDS3[0] and n == COUNTS3[-1]:
                    fidelity[f"ν={nu:g} {size}³"] = {k: _fidelity(v, cov) for k, v in kept.items()}
                rows[key] = r
                print(key, {k: (round(v[0], 3), v[1]) for k, v in r.items()}, flush=True)
                kept.clear()
    out = {
        "speed3d": {
            "rows": {k: {m: list(v) for m, v in r.items()} for k, r in rows.items()},
            "fidelity": fidelity,
            "versions": peers.versions(),
            "a": A,
        }
    }
    return _merge(out)


# --- accuracy ----------------------------------------------------------------------------------
def _zscores(x: torch.Tensor, gamma, lags: range) -> float:
    from genzoo.geostat.stats import grid_variogram

    worst = 0.0
    for direction, step in (("row", (1.0, 0.0)), ("col", (0.0, 1.0))):
        g = grid_variogram(x, max_lag=lags[-1], direction=direction).per_field[:, lags[0] - 1 :]
        want = torch.stack(
            [gamma(torch.tensor([k * step[0], k * step[1]], dtype=torch.float64)) for k in lags]
        )
        z = (g.mean(0) - want) / (g.std(0) / math.sqrt(len(g)))
        worst = max(worst, float(z.abs().max()))
    return worst


def _lattice_gamma(sim: SPDE):
    c = torch.fft.ifft2((1 + sim.symbol(sim.torus)) ** (-sim.alpha)).real
    c = c / c[0, 0] * sim.cov.sill
    return lambda lag: sim.cov.sill - c[int(lag[0]) % c.shape[0], int(lag[1]) % c.shape[1]]


def part_accuracy(n: int = 200) -> dict:
    torch.set_num_threads(2)
    covs = [
        C.Matern(range=4.0, nu=1.0),
        C.Exponential(range=6.0),
        C.Gaussian(range=5.0),
        C.Spherical(range=12.0),
        C.Cubic(range=10.0),
        C.Matern(range=4.0, nu=1.5, angle=30.0, ratio=0.5),
    ]
    lags = range(1, 17)
    rows = []
    for cov in covs:
        for method in ("cholesky", "fft", "spectral", "spde"):
            if method == "spde" and cov.name not in ("matern", "exponential"):
                continue
            shape = (40, 40) if method == "cholesky" else (64, 64)
            sim = simulator(method, cov, shape)
            x = sim.sample(n, generator=torch.Generator().manual_seed(1))
            v = x[:, 0, shape[0] // 2, shape[1] // 2].double()
            row = {
                "method": method,
                "cov": cov.describe(),
                "grid": f"{shape[0]}²",
                "z_model": _zscores(x, cov.variogram, lags),
                "z_mean": float(v.mean()) / math.sqrt(cov.variance / n),
                "z_var": (float(v.var()) - cov.variance) / math.sqrt(2 * cov.variance**2 / (n - 1)),
            }
            if method == "spde":
                row["z_lattice"] = _zscores(x, _lattice_gamma(sim), lags)
                row["degree"] = sim.degree
            rows.append(row)
            print(row, flush=True)
    # Chebyshev error against a dense solve
    cov = C.Matern(range=3.0, nu=1.0)
    sim = SPDE(cov, (16, 16), pad=8, tol=1e-10)
    m, k = sim.torus
    eye = torch.eye(m * k, dtype=torch.float64).reshape(m * k, m, k)
    dense = sim.apply_stencil(eye).reshape(m * k, m * k).T
    evals, evecs = torch.linalg.eigh(dense)
    w = torch.randn(m * k, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = evecs @ ((1 + evals) ** (-sim.alpha / 2) * (evecs.T @ w))
    cheb = {}
    for deg in sorted({d for d in (5, 10, 20, 40, 80) if d < sim.degree} | {sim.degree}):
        approx = sim.apply(w.reshape(1, m, k), degree=deg).reshape(-1)
        cheb[deg] = float((approx - exact).norm() / exact.norm())
    tol_degrees = {f"{t:g}": SPDE(cov, (16, 16), pad=8, tol=t).degree for t in (1e-3, 1e-5, 1e-8)}
    return _merge(
        {
            "accuracy": {
                "rows": rows,
                "n": n,
                "chebyshev": {
                    "cov": cov.describe(),
                    "torus": [m, k],
                    "errors": cheb,
                    "degree_for_tol": tol_degrees,
                },
            }
        }
    )


def _zscores3(x: torch.Tensor, gamma, lags: range) -> dict[str, float]:
    """The worst |z| of the mean variogram against `gamma` over `lags` along each axis of blocks."""
    from genzoo.geostat.stats import grid_variogram

    out = {}
    for axis, step in (("layer", (1.0, 0, 0)), ("row", (0, 1.0, 0)), ("col", (0, 0, 1.0))):
        g = grid_variogram(x, max_lag=lags[-1], direction=axis).per_field[:, lags[0] - 1 :]
        want = torch.stack([gamma(torch.tensor([k * v for v in step], dtype=torch.float64)) for k in lags])
        z = (g.mean(0) - want) / (g.std(0) / math.sqrt(len(g)))
        out[axis] = float(z.abs().max())
    return out


def part_accuracy3d(n: int = 100) -> dict:
    """100 realisations of 3-D blocks per generator and covariance (cholesky on 8×10×12, the others
    on 24×32×32): the worst |z| over lags 1..8 (1..6 for cholesky) along each axis of the mean
    variogram against the model's (spde: also against its lattice model)."""
    torch.set_num_threads(2)
    covs = [
        C.Matern(range=3.0, nu=1.5, angle=30.0, dip=20.0, ratio=0.6, ratio3=0.4),
        C.Exponential(range=4.0, ratio3=0.5),
        C.Spherical(range=8.0, sill=2.0),
        C.Gaussian(range=3.0, roll=30.0, ratio3=0.6),
    ]
    rows = []
    for cov in covs:
        for method in ("cholesky", "fft", "spectral", "spde"):
            if method == "spde" and cov.name not in ("matern", "exponential"):
                continue
            shape, lags = ((8, 10, 12), range(1, 7)) if method == "cholesky" else ((24, 32, 32), range(1, 9))
            sim = simulator(method, cov, shape)
            x = sim.sample(n, generator=torch.Generator().manual_seed(1))
            row = {"method": method, "cov": cov.describe(), "block": "×".join(map(str, shape))}
            row["z_model"] = _zscores3(x, cov.variogram, lags)
            if method == "spde":
                c = torch.fft.ifftn((1 + sim.symbol(sim.torus)) ** (-sim.alpha)).real
                c = c / c[0, 0, 0] * cov.sill

                def lattice(lag, c=c, sill=cov.sill):
                    return sill - c[tuple(int(v) % s for v, s in zip(lag, c.shape))]

                row["z_lattice"] = _zscores3(x, lattice, lags)
            rows.append(row)
            print(row, flush=True)
    return _merge({"accuracy3d": {"rows": rows, "n": n}})


# --- learned -----------------------------------------------------------------------------------
def _facies_scores(x: torch.Tensor, ref: torch.Tensor, k: int) -> dict:
    from genzoo.geostat.stats import facies_errors, pattern_scores
    from genzoo.metrics.fields import to_codes

    codes = to_codes(x, k)
    err = facies_errors(codes, ref, k=k, max_lag=24)
    sc = pattern_scores(codes, ref, size=3, k=k)
    share = torch.bincount(codes.long().reshape(-1), minlength=k).double() / codes.numel()
    return {**err, **sc, "proportions": share.tolist()}


def _train_gan(train: Any, params: dict, seconds: float, batch_size: int, name: str) -> tuple[Any, float]:
    """A GAN of `params` (seed 0) trained on `train` for `seconds`, its run in OUT/name: (run, seconds)."""
    gan = genzoo.models.create("gan", train, seed=0, **params)
    t0 = time.perf_counter()
    run = genzoo.train(
        gan,
        train,
        steps=10**6,
        time_limit=seconds,
        batch_size=batch_size,
        progress=False,
        sample_grid=False,
        out=OUT / name,
    )
    return run, time.perf_counter() - t0


def part_facies(seconds: float) -> dict:
    from genzoo.viz import save_samples

    torch.set_num_threads(2)
    FIGURES.mkdir(exist_ok=True)
    out: dict[str, Any] = {}
    # facies: fcn GAN at 64 → 256
    train = genzoo.datasets.load("facies", split="train")
    test = genzoo.datasets.load("facies", split="test")
    k = int(train.extras["categories"])
    ref = test.x[:500]
    params = {"arch": "fcn", "channels": (32, 64, 128), "loss": "wgan-gp", "upsample": "nearest"}
    run, gan_seconds = _train_gan(train, params, seconds, 32, "gan-facies")
    g = torch.Generator().manual_seed(0)
    gan_x = run.model.sample(100, generator=g, size=256)
    truth = train.extras["facies"](100, 256, torch.Generator().manual_seed(99))
    fac = genzoo.models.create("facies", train)
    genzoo.train(fac, train, progress=False, sample_grid=False)
    fac_x = fac.sample(100, generator=torch.Generator().manual_seed(1), size=256)
    out["facies"] = {
        "gan": {**_facies_scores(gan_x, ref, k), "steps": run.step, "seconds": gan_seconds},
        "truth": _facies_scores(truth, ref, k),
        "facies-model": {**_facies_scores(fac_x, ref, k), "fitted": fac.latent_params.tolist()},
        "held-out": _facies_scores(test.x[500:1000], ref, k),
        "true_proportions": list(train.extras["facies"].proportions),
    }
    info = genzoo.datasets.DataInfo("facies-256", "field", (1, 256, 256), (0.0, 1.0))
    save_samples(torch.cat([gan_x[:3].round(), truth[:3]]), info, FIGURES / "geostat-facies-gan-256.png")
    save_samples(test.x[:16], test.info, FIGURES / "geostat-facies-real-64.png")
    print(json.dumps(out["facies"], indent=1), flush=True)
    learned = json.loads(RESULTS.read_text()).get("learned", {}) if RESULTS.exists() else {}
    return _merge({"learned": {**learned, **out}})


def part_mps(realisations: int = 8) -> dict:
    """Direct sampling (Mariethoz et al. 2010) against the fcn GAN of `learned` (loaded from its run,
    if there is one) and the fitted `facies` model on `facies`: a 256² training image drawn from the
    data's recipe, `realisations` unconditional 256² realisations scored like the others against 500
    held-out images, time per realisation, and 20 wells of a held-out 256² image honoured."""
    from genzoo.geostat.mps import DirectSampling

    torch.set_num_threads(2)
    train = genzoo.datasets.load("facies", split="train")
    test = genzoo.datasets.load("facies", split="test")
    k = int(train.extras["categories"])
    ref = test.x[:500]
    recipe = train.extras["facies"]
    ti = recipe(1, 256, torch.Generator().manual_seed(98))[0, 0]
    ds = DirectSampling(ti, neighbours=30, threshold=0.05, fraction=0.3)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    ds_x = ds.sample(realisations, 256, generator=g)
    ds_seconds = (time.perf_counter() - t0) / realisations
    out: dict[str, Any] = {"ds": {**_facies_scores(ds_x, ref, k), "seconds_per_realisation": ds_seconds}}
    truth = recipe(100, 256, torch.Generator().manual_seed(99))
    out["truth"] = _facies_scores(truth, ref, k)
    out["held-out"] = _facies_scores(test.x[500:1000], ref, k)
    gan_run = OUT / "gan-facies"
    if (gan_run / "model.safetensors").exists():
        gan = genzoo.load(gan_run)
        t0 = time.perf_counter()
        gan_x = gan.sample(realisations, generator=torch.Generator().manual_seed(0), size=256)
        out["gan"] = {
            **_facies_scores(gan_x, ref, k),
            "seconds_per_realisation": (time.perf_counter() - t0) / realisations,
        }
    fac = genzoo.models.create("facies", train)
    genzoo.train(fac, train, progress=False, sample_grid=False)
    t0 = time.perf_counter()
    fac_x = fac.sample(realisations, generator=torch.Generator().manual_seed(1), size=256)
    out["facies-model"] = {
        **_facies_scores(fac_x, ref, k),
        "seconds_per_realisation": (time.perf_counter() - t0) / realisations,
    }
    # conditioning: 20 wells of a held-out 256² image
    field = recipe(1, 256, torch.Generator().manual_seed(97))[0, 0]
    rng = np.random.default_rng(0)
    flat = rng.choice(256 * 256, 20, replace=False)
    rows, cols = np.unravel_index(flat, (256, 256))
    pts = np.c_[rows, cols, field.numpy()[rows, cols]]
    t0 = time.perf_counter()
    cond = ds.sample(4, 256, points=pts, generator=torch.Generator().manual_seed(2))
    honoured = float((cond[:, 0, rows, cols] == torch.from_numpy(pts[:, 2])).double().mean())
    out["ds_conditioned"] = {"honoured": honoured, "seconds_per_realisation": (time.perf_counter() - t0) / 4}
    # 3-D: one 16 × 64 × 64 block of facies3d from a 32 × 96 × 96 training block (the 3-D defaults)
    block_ti = genzoo.datasets.load("facies3d", split="train", n=4, depth=32, size=96).x[0, 0]
    t0 = time.perf_counter()
    block = DirectSampling(block_ti, **DS3D).sample(
        1, (16, 64, 64), generator=torch.Generator().manual_seed(3)
    )
    out["ds3d"] = {
        "seconds_per_realisation": time.perf_counter() - t0,
        "proportion": float(block.mean()),
        "ti_proportion": float(block_ti.mean()),
    }
    print(json.dumps(out, indent=1), flush=True)
    return _merge({"mps": {**out, "realisations": realisations}})


def part_facies3d(seconds: float) -> dict:
    """The 3-D fcn GAN (Conv3d; the tour's parameters) trained for `seconds` on `facies3d` (16×32×32
    blocks), sampled at 16×64×64, against 50 held-out blocks: facies errors (variograms and
    connectivity along layers, rows and columns; patterns of the horizontal sections) beside the
    fitted facies model and the data's own law at the same size, and the held-out floor."""
    from genzoo.models.gan.gan import FACIES3D_PARAMS

    torch.set_num_threads(2)
    train = genzoo.datasets.load("facies3d", split="train")
    test = genzoo.datasets.load("facies3d", split="test")
    k = int(train.extras["categories"])
    ref = test.x[:50]  # the test split holds 100 blocks: 50 as the reference, 50 as the floor
    run, gan_seconds = _train_gan(train, FACIES3D_PARAMS, seconds, 8, "gan-facies3d")
    shape = (16, 64, 64)
    gan_x = run.model.sample(20, generator=torch.Generator().manual_seed(0), size=shape)
    fac = genzoo.models.create("facies", train)
    genzoo.train(fac, train, progress=False, sample_grid=False)
    fac_x = fac.sample(20, generator=torch.Generator().manual_seed(1), size=shape)
    truth = train.extras["facies"](20, shape, torch.Generator().manual_seed(99))

    def scores(x: torch.Tensor) -> dict:
        from genzoo.geostat.stats import facies_errors
        from genzoo.metrics.fields import to_codes

        return facies_errors(to_codes(x, k), ref, k=k)

    out: dict[str, Any] = {
        "gan": {**scores(gan_x), "steps": run.step, "seconds": gan_seconds},
        "facies-model": {**scores(fac_x), "fitted": fac.latent_cov.describe()},
        "truth": scores(truth),
        "held-out": scores(test.x[50:100]),
    }
    print(json.dumps(out, indent=1), flush=True)
    out["small"] = _facies3d_small(run.model, fac, test, scores)
    out["wells"] = _facies3d_wells(run.model, test)
    return _merge({"facies3d": out})


DS3D: dict[str, Any] = {}  # direct sampling's 3-D defaults (N = 16, t = 0; chosen by --parts ds3d)


def part_ds3d(blocks: int = 4, seeds: tuple[int, ...] = (3, 7)) -> dict:
    """Direct sampling's settings in 3-D: for each (neighbours N, threshold t), `blocks` blocks of
    16×32×32 from a 32×96×96 training block of `facies3d`'s recipe, per seed, scored against 50
    held-out blocks (facies errors, averaged over the seeds), with the seconds per block; the floor
    is groups of `blocks` held-out blocks scored alike (averaged over the groups)."""
    from genzoo.geostat.mps import DirectSampling
    from genzoo.geostat.stats import facies_errors
    from genzoo.metrics.fields import to_codes

    torch.set_num_threads(2)
    ti = genzoo.datasets.load("facies3d", split="train", n=4, depth=32, size=96).x[0, 0]
    test = genzoo.datasets.load("facies3d", split="test")
    ref = test.x[:50]
    shape = tuple(test.x.shape[2:])

    def mean_scores(groups: list) -> dict:
        rows = [facies_errors(to_codes(x, 2), ref, k=2) for x in groups]
        return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}

    out: dict[str, Any] = {"blocks": blocks, "seeds": list(seeds), "ti_proportion": float(ti.mean())}
    floor_groups = [test.x[i : i + blocks] for i in range(50, 50 + blocks * len(seeds), blocks)]
    out["held-out"] = mean_scores(floor_groups)
    rows = []
    for n, t in ((30, 0.05), (20, 0.0), (16, 0.0), (12, 0.0)):
        t0 = time.perf_counter()
        groups = [
            DirectSampling(ti, neighbours=n, threshold=t).sample(
                blocks, shape, generator=torch.Generator().manual_seed(seed)
            )
            for seed in seeds
        ]
        seconds = (time.perf_counter() - t0) / (blocks * len(seeds))
        row = {"neighbours": n, "threshold": t, **mean_scores(groups), "seconds_per_block": seconds}
        rows.append(row)
        print(row, flush=True)
    out["rows"] = rows
    return _merge({"ds3d": out})


def _facies3d_small(gan: Any, fac: Any, test: Any, scores: Any, n: int = 8) -> dict:
    """`n` blocks of the training size (16×32×32) from each generator — direct sampling (DS3D) on a
    32×96×96 training block drawn from the data's recipe, the GAN, the facies model — and `n` held-out
    blocks, scored alike against the 50 reference blocks, with the seconds per block."""
    from genzoo.geostat.mps import DirectSampling

    ti = genzoo.datasets.load("facies3d", split="train", n=4, depth=32, size=96).x[0, 0]
    shape = tuple(test.x.shape[2:])
    out: dict[str, Any] = {"n": n, "ti_proportion": float(ti.mean())}
    for name, draw in (
        ("ds", lambda g: DirectSampling(ti, **DS3D).sample(n, shape, generator=g)),
        ("gan", lambda g: gan.sample(n, generator=g)),
        ("facies-model", lambda g: fac.sample(n, generator=g)),
    ):
        t0 = time.perf_counter()
        x = draw(torch.Generator().manual_seed(4))
        out[name] = {**scores(x), "seconds_per_block": (time.perf_counter() - t0) / n}
        print(name, out[name], flush=True)
    out["held-out"] = scores(test.x[50 : 50 + n])
    return out


def _facies3d_wells(gan: Any, test: Any, wells: int = 4, n: int = 16) -> dict:
    """`wells` vertical wells (every layer) of the last held-out block: the GAN conditioned by its
    noise field (condition_points, 1,000 steps, `n` restarts) and 4 direct-sampling blocks
    conditioned on them: the share of data honoured, the diversity of the conditioned blocks
    against unconditional ones, and the seconds per block."""
    from genzoo.geostat.latent import condition_points
    from genzoo.geostat.latent import diversity as _diversity
    from genzoo.geostat.mps import DirectSampling

    block = test.x[-1, 0]
    d, h, w = block.shape
    g = torch.Generator().manual_seed(6)
    flat = torch.randperm(h * w, generator=g)[:wells]
    rows, cols = (flat // w).repeat_interleave(d), (flat % w).repeat_interleave(d)
    layers = torch.arange(d).repeat(wells)
    values = block[layers, rows, cols].double()
    un = gan.sample(n, generator=torch.Generator().manual_seed(0))
    chance = float((un[:, 0, layers, rows, cols].round() == values).double().mean())
    t0 = time.perf_counter()
    res = condition_points(
        gan, rows, cols, values, n=n, steps=1000, layers=layers, generator=torch.Generator().manual_seed(0)
    )
    out: dict[str, Any] = {
        "wells": wells,
        "data": len(values),
        "proportion_at_wells": float(values.mean()),
        "gan": {
            "honoured": float(res.honoured.mean()),
            "accepted": float(res.accepted.double().mean()),
            "unconditional_honoured": chance,
            "diversity": _diversity(res.x.round()),
            "diversity_unconditional": _diversity(un.round()),
            "seconds_per_block": (time.perf_counter() - t0) / n,
        },
    }
    ti = genzoo.datasets.load("facies3d", split="train", n=4, depth=32, size=96).x[0, 0]
    pts = torch.stack([layers.double(), rows.double(), cols.double(), values], 1).numpy()
    t0 = time.perf_counter()
    x = DirectSampling(ti, **DS3D).sample(
        4, (d, h, w), points=pts, generator=torch.Generator().manual_seed(5)
    )
    seconds = (time.perf_counter() - t0) / 4
    free = DirectSampling(ti, **DS3D).sample(4, (d, h, w), generator=torch.Generator().manual_seed(5))
    out["ds"] = {
        "honoured": float((x[:, 0, layers, rows, cols] == values).double().mean()),
        "diversity": _diversity(x),
        "diversity_unconditional": _diversity(free),
        "seconds_per_block": seconds,
    }
    print(json.dumps(out, indent=1), flush=True)
    return out


def part_grf(seconds: float) -> dict:
    torch.set_num_threads(2)
    out: dict[str, Any] = {}
    train = genzoo.datasets.load("grf", split="train")
    test = genzoo.datasets.load("grf", split="test")
    from genzoo.metrics.fields import gaussian_w2

    cov = train.extras["cov"]
    shape = tuple(train.info.shape[1:])
    sigma = C.covariance_matrix(cov, C.grid_points(shape)).numpy()
    mean = np.zeros(sigma.shape[0])
    nfake = len(test)
    scale = math.sqrt(float(np.trace(sigma)))
    w2: dict[str, Any] = {"floor (held-out)": gaussian_w2(test.x, mean, sigma) / scale}
    for name in ("cholesky", "fft", "spectral", "spde"):
        model = genzoo.models.create(name, train)
        genzoo.train(model, train, progress=False, sample_grid=False)
        x = model.sample(nfake, generator=torch.Generator().manual_seed(3))
        w2[name] = gaussian_w2(x, mean, sigma) / scale
    for name, params in (
        ("gan", {"arch": "conv", "loss": "wgan-gp"}),
        ("vae", {"arch": "conv", "latent_dim": 32}),
    ):
        model = genzoo.models.create(name, train, seed=0, **params)
        r = genzoo.train(model, train, steps=10**6, time_limit=seconds, progress=False, sample_grid=False)
        x = r.model.sample(nfake, generator=torch.Generator().manual_seed(3))
        w2[f"{name} ({r.step} steps)"] = gaussian_w2(x, mean, sigma) / scale
    out["grf"] = {"w2_relative": w2, "n": nfake, "cov": cov.describe(), "shape": list(shape)}
    print(json.dumps(out["grf"], indent=1), flush=True)
    learned = json.loads(RESULTS.read_text()).get("learned", {}) if RESULTS.exists() else {}
    return _merge({"learned": {**learned, **out}})


# --- conditioning ------------------------------------------------------------------------------
def part_condition() -> dict:
    from genzoo.geostat.latent import condition_points, fit_inference, points_operator
    from genzoo.geostat.latent import diversity as _diversity

    torch.set_num_threads(2)
    out: dict[str, Any] = {}
    g = torch.Generator().manual_seed(5)
    # exact methods on a 64×64 Matérn field
    cov = C.Matern(range=6.0, nu=1.5)
    shape = (64, 64)
    truth = genzoo.geostat.simulate("fft", cov, shape, 1, seed=123)[0, 0].double()
    idx = torch.randperm(64 * 64, generator=g)[:20]
    rows, cols = idx // 64, idx % 64
    values = truth[rows, cols]
    exact = {}
    for method in ("cholesky", "fft", "spectral", "spde"):
        t0 = time.perf_counter()
        x = genzoo.geostat.simulate(method, cov, shape, 16, seed=1, points=(rows, cols, values))
        dt = time.perf_counter() - t0
        err = (x[:, 0, rows, cols] - values).abs()
        un = genzoo.geostat.simulate(method, cov, shape, 16, seed=1)
        exact[method] = {
            "honoured": float((err < 1e-6).double().mean()),
            "max_error": float(err.max()),
            "diversity": _diversity(x),
            "diversity_unconditional": _diversity(un),
            "seconds": dt,
        }
    out["exact"] = exact
    print(json.dumps(exact, indent=1), flush=True)
    # the fcn GAN trained on facies (part learned) by latent optimisation and by the inference network
    path = OUT / "gan-facies"
    if (path / "model.safetensors").exists():
        model = genzoo.load(path)
        test = genzoo.datasets.load("facies", split="test")
        img = test.x[0, 0]
        idx = torch.randperm(64 * 64, generator=g)[:20]
        rows, cols = idx // 64, idx % 64
        values = img[rows, cols].double()
        t0 = time.perf_counter()
        res = condition_points(
            model, rows, cols, values, n=16, steps=1000, generator=torch.Generator().manual_seed(0)
        )
        opt_s = time.perf_counter() - t0
        un = model.sample(16, generator=torch.Generator().manual_seed(0))
        out["gan_latent"] = {
            "honoured": float(res.honoured.mean()),
            "accepted": float(res.accepted.double().mean()),
            "diversity": _diversity(res.x.round()),
            "diversity_unconditional": _diversity(un.round()),
            "seconds": opt_s,
        }
        t0 = time.perf_counter()
        post = fit_inference(
            model, points_operator(rows, cols), values, steps=1000, generator=torch.Generator().manual_seed(0)
        )
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        inf = post.sample(16, generator=torch.Generator().manual_seed(1))
        draw_s = time.perf_counter() - t0
        out["gan_inference"] = {
            "honoured": float(inf.honoured.mean()),
            "accepted": float(inf.accepted.double().mean()),
            "diversity": _diversity(inf.x.round()),
            "fit_seconds": fit_s,
            "seconds": draw_s,
        }
        print(json.dumps({k: out[k] for k in ("gan_latent", "gan_inference")}, indent=1), flush=True)
    return _merge({"condition": out})


# --- tables ------------------------------------------------------------------------------------
def print_tables(r: dict) -> None:
    print(f"\n<!-- {r.get('machine')}, {r.get('date')} -->")
    if "speed" in r:
        s = r["speed"]
        names = ["fft", "spde", "spectral", "gstools", "gstlearn-spde", "gstlearn-tub"]
        print(f"\n### Speed: {s['cov']}, seconds (set-up included)\n")
        print(
            "| grid × n | "
            + " | ".join(names)
            + " | GSTools / fft | gstlearn SPDE / fft | gstlearn SPDE / spde |"
        )
        print("|---|" + "---:|" * (len(names) + 3))
        for key, row in s["rows"].items():
            cells = [f"{row[n][0]:.3g}{'*' if row[n][1] else ''}" for n in names]
            ratios = [
                row["gstools"][0] / row["fft"][0],
                row["gstlearn-spde"][0] / row["fft"][0],
                row["gstlearn-spde"][0] / row["spde"][0],
            ]
            print(f"| {key} | " + " | ".join(cells) + " | " + " | ".join(f"{v:.1f}×" for v in ratios) + " |")
        print(
            f"\nspde: Chebyshev degree {s['spde_degree']}, torus {s['spde_torus_1000']} at 1000². "
            f"Versions: {s['versions']}. "
            f"Conventions (max |Δρ|): {s['conventions']}"
        )
    if "speed3d" in r:
        s3 = r["speed3d"]
        names = ["fft", "spde", "spde-chebyshev", "spectral", "gstools", "gstlearn-spde"]
        print(f"\n### Speed in 3-D: Matérn, a = {s3['a']:g} cells, seconds (set-up included)\n")
        print("| block × n | " + " | ".join(names) + " | GSTools / fft | gstlearn SPDE / spde |")
        print("|---|" + "---:|" * (len(names) + 2))
        for key, row in s3["rows"].items():
            cells = [f"{row[m][0]:.3g}{row[m][1]}" if m in row else "—" for m in names]
            ratios = [row["gstools"][0] / row["fft"][0], row["gstlearn-spde"][0] / row["spde"][0]]
            print(f"| {key} | " + " | ".join(cells) + " | " + " | ".join(f"{v:.0f}×" for v in ratios) + " |")
        print("\nFidelity (10 blocks of 128³): mean within-block variance, γ̂(1) along columns (model γ(1))\n")
        print("| ν | method | variance | γ̂(1) | model γ(1) |\n|---|---|---:|---:|---:|")
        for key, methods in s3["fidelity"].items():
            for m, f in methods.items():
                print(f"| {key} | {m} | {f['var']:.3f} | {f['gamma1']:.4f} | {f['model_gamma1']:.4f} |")
    if "mps" in r:
        m = r["mps"]
        print(
            f"\n### Direct sampling, the GAN and the facies model: {m['realisations']} realisations of 256²\n"
        )
        print(
            "| generator | proportion | indicator variogram | connectivity | pattern JS | s / realisation |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for name in ("ds", "gan", "facies-model", "truth", "held-out"):
            if name in m:
                e = m[name]
                sec = e.get("seconds_per_realisation")
                sec_s = "—" if sec is None else f"{sec:.3g}"
                print(
                    f"| {name} | {e['proportion']:.3f} | {e['indicator_variogram']:.4f} "
                    f"| {e['connectivity']:.3f} | {e['pattern_js']:.4f} | {sec_s} |"
                )
        c = m["ds_conditioned"]
        print(
            f"\nDS with 20 wells: {c['honoured']:.0%} honoured, {c['seconds_per_realisation']:.3g} s per "
            f"realisation; 3-D 16×64×64: {m['ds3d']['seconds_per_realisation']:.3g} s"
        )
    if "ds3d" in r:
        d3 = r["ds3d"]
        cols = ("proportion", "indicator_variogram", "connectivity", "pattern_js")
        print(
            f"\n### Direct sampling in 3-D: {d3['blocks']} blocks of 16×32×32 × seeds {d3['seeds']} "
            f"(TI proportion {d3['ti_proportion']:.3f})\n"
        )
        print("| N | t | " + " | ".join(cols) + " | s / block |\n|---:|---:|" + "---:|" * (len(cols) + 1))
        for row in d3["rows"]:
            print(
                f"| {row['neighbours']} | {row['threshold']:g} | "
                + " | ".join(f"{row[c]:.4f}" for c in cols)
                + f" | {row['seconds_per_block']:.3g} |"
            )
        e = d3["held-out"]
        print("| held-out (floor) | | " + " | ".join(f"{e[c]:.4f}" for c in cols) + " | — |")
    if "facies3d" in r:
        f3 = r["facies3d"]
        cols = ("proportion", "indicator_variogram", "connectivity", "pattern_js")
        print("\n### facies3d: 20 blocks of 16×64×64 against 50 held-out blocks\n")
        print("| generator | " + " | ".join(cols) + " |\n|---|" + "---:|" * len(cols))
        for name in ("gan", "facies-model", "truth", "held-out"):
            e = f3[name]
            label = f"gan ({e['steps']} steps)" if name == "gan" else name
            print(f"| {label} | " + " | ".join(f"{e[c]:.4f}" for c in cols) + " |")
        if "small" in f3:
            sm = f3["small"]
            print(f"\n{sm['n']} blocks of 16×32×32 each (TI proportion {sm['ti_proportion']:.3f}):\n")
            print("| generator | " + " | ".join(cols) + " | s / block |\n|---|" + "---:|" * (len(cols) + 1))
            for name in ("ds", "gan", "facies-model", "held-out"):
                e = sm[name]
                sec = f"{e['seconds_per_block']:.3g}" if "seconds_per_block" in e else "—"
                print(f"| {name} | " + " | ".join(f"{e[c]:.4f}" for c in cols) + f" | {sec} |")
        if "wells" in f3:
            w = f3["wells"]
            print(
                f"\n{w['wells']} wells ({w['data']} data, facies 1 at {w['proportion_at_wells']:.0%}):\n\n"
                "| generator | honoured | unconditional honoured | diversity | unconditional diversity "
                "| s / block |\n|---|---:|---:|---:|---:|---:|"
            )
            for name in ("gan", "ds"):
                e = w[name]
                un = f"{e['unconditional_honoured']:.1%}" if "unconditional_honoured" in e else "—"
                print(
                    f"| {name} | {e['honoured']:.1%} | {un} | {e['diversity']:.3f} "
                    f"| {e['diversity_unconditional']:.3f} | {e['seconds_per_block']:.3g} |"
                )
    if "accuracy3d" in r:
        a3 = r["accuracy3d"]
        print(f"\n### Accuracy in 3-D: {a3['n']} realisations, worst |z| of the variogram along each axis\n")
        print("| method | covariance | block | layers | rows | cols | spde against its lattice model |")
        print("|---|---|---|---:|---:|---:|---|")
        for row in a3["rows"]:
            z = row["z_model"]
            lat = row.get("z_lattice")
            lat_s = ", ".join(f"{lat[k]:.2f}" for k in ("layer", "row", "col")) if lat else "—"
            print(
                f"| {row['method']} | {row['cov']} | {row['block']} | {z['layer']:.2f} | {z['row']:.2f} "
                f"| {z['col']:.2f} | {lat_s} |"
            )
    if "accuracy" in r:
        a = r["accuracy"]
        print(f"\n### Accuracy: {a['n']} realisations, worst |z| over lags 1–16 on both axes\n")
        print(
            "| method | covariance | grid | worst z (model) | worst z (lattice) | z mean | z variance |\n"
            "|---|---|---|---:|---:|---:|---:|"
        )
        for row in a["rows"]:
            lat = f"{row['z_lattice']:.2f}" if "z_lattice" in row else "—"
            print(
                f"| {row['method']} | {row['cov']} | {row['grid']} | {row['z_model']:.2f} | {lat} "
                f"| {row['z_mean']:.2f} | {row['z_var']:.2f} |"
            )
        c = a["chebyshev"]
        print(
            f"\nChebyshev, {c['cov']} on a {c['torus'][0]}×{c['torus'][1]} torus: "
            f"‖p_K(S)w − f(S)w‖/‖f(S)w‖ = "
            + ", ".join(f"{v:.1e} (K={k})" for k, v in c["errors"].items())
            + f"; degree chosen per tolerance: {c['degree_for_tol']}"
        )
    if "learned" in r:
        f = r["learned"]["facies"]
        print("\n### facies: 256×256 samples against 500 held-out 64×64 images\n")
        print(
            "| generator | proportions | prop. error | indicator γ error | connectivity error | pattern JS "
            "| inconsistency | diversity |\n|---|---|---:|---:|---:|---:|---:|---:|"
        )
        for name in ("truth", "facies-model", "gan", "held-out"):
            v = f[name]
            label = f"gan ({v['steps']} steps)" if name == "gan" else name
            print(
                f"| {label} | {', '.join(f'{p:.3f}' for p in v['proportions'])} | {v['proportion']:.4f} "
                f"| {v['indicator_variogram']:.4f} | "
                f"{v['connectivity']:.4f} | {v['pattern_js']:.4f} | {v['inconsistency']:.4f} "
                f"| {v['diversity']:.4f} |"
            )
    if "grf" in r.get("learned", {}):
        g = r["learned"]["grf"]
        print(
            f"\n### grf: W₂ to the true Gaussian / √tr Σ, "
            f"{g['n']} fields of {g['shape'][0]}×{g['shape'][1]}, {g['cov']}\n"
        )
        print("| generator | W₂ (relative) |\n|---|---:|")
        for name, v in g["w2_relative"].items():
            print(f"| {name} | {v:.4f} |")
    if "condition" in r:
        c = r["condition"]
        print("\n### Conditioning to 20 wells, 16 realisations\n")
        print(
            "| generator | honoured | accepted (≥ 95 %) | diversity | unconditional diversity | seconds |\n"
            "|---|---:|---:|---:|---:|---:|"
        )
        for name, v in c.get("exact", {}).items():
            print(
                f"| {name} (kriging) | {100 * v['honoured']:.1f} % | — | {v['diversity']:.3f} "
                f"| {v['diversity_unconditional']:.3f} | {v['seconds']:.2f} |"
            )
        if "gan_latent" in c:
            v = c["gan_latent"]
            print(
                f"| fcn GAN, latent optimisation | {100 * v['honoured']:.1f} % | {100 * v['accepted']:.0f} % "
                f"| {v['diversity']:.3f} | {v['diversity_unconditional']:.3f} | {v['seconds']:.1f} |"
            )
            v = c["gan_inference"]
            print(
                f"| fcn GAN, inference network | {100 * v['honoured']:.1f} % | {100 * v['accepted']:.0f} % "
                f"| {v['diversity']:.3f} | — | {v['seconds']:.3f} (+ {v['fit_seconds']:.0f} fit) |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--parts",
        default="speed,accuracy,learned,condition",
        help="speed, speed3d, accuracy, accuracy3d, learned (= facies, grf), mps, ds3d, facies3d, condition, "
        "table",
    )
    ap.add_argument("--seconds", type=float, default=300, help="learned: training time of each neural model")
    ap.add_argument("--peer-budget", type=float, default=120, help="speed: longest peer run timed in full")
    args = ap.parse_args()
    parts = args.parts.split(",")
    r = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if "speed" in parts:
        r = part_speed(args.peer_budget)
    if "speed3d" in parts:
        r = part_speed3d(args.peer_budget)
    if "accuracy" in parts:
        r = part_accuracy()
    if "accuracy3d" in parts:
        r = part_accuracy3d()
    if "learned" in parts or "facies" in parts:
        r = part_facies(args.seconds)
    if "learned" in parts or "grf" in parts:
        r = part_grf(args.seconds)
    if "mps" in parts:
        r = part_mps()
    if "ds3d" in parts:
        r = part_ds3d()
    if "facies3d" in parts:
        r = part_facies3d(args.seconds)
    if "condition" in parts:
        r = part_condition()
    print_tables(r)


if __name__ == "__main__":
    main()
