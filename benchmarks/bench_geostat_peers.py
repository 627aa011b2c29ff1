"""The peers of genzoo's Gaussian random field simulation: GSTools and gstlearn, same covariance, same grid.

    python benchmarks/bench_geostat_peers.py      # conventions, a sanity check, timings on a tiny grid

A helper module: the main geostatistics benchmark imports the functions below and times them next
to genzoo. Every function returns float64 fields of shape (n, H, W) on the unit-spaced H×W grid whose
node [i, j] sits at (i, j); both libraries are imported lazily, so this module imports without them.

Our convention (genzoo.geostat.covariance), a = `range`, unit sill:
    Matérn     ρ(h) = 2^{1−ν}/Γ(ν) · (h/a)^ν · K_ν(h/a)     (a is the scale 1/κ, not a practical range)
    Gaussian   ρ(h) = exp(−(h/a)²)

How each peer is given that same model (verified by `check_conventions`, which evaluates the peers'
own covariance functions at h = 0, 1, 5, 20, 50 against the formulas above, computed with scipy):
    GSTools 1.7   Matern(dim=2, var=1, len_scale=a·√ν, nu=ν) — GSTools' ρ = 2^{1−ν}/Γ(ν)(√ν h/ℓ)^ν K_ν(√ν h/ℓ)
                  Gaussian(dim=2, var=1, len_scale=a·√π/2)   — GSTools' ρ = exp(−(π/4)(h/ℓ)²) (rescale = √π/2)
    gstlearn 1.11 Model.createFromParam(ECov.MATERN, range=a, sill=1, param=ν, flagRange=False)
                  Model.createFromParam(ECov.GAUSSIAN, range=a, sill=1, flagRange=False)
                  flagRange=False makes `range` the scale a; the default (True) reads it as a practical
                  range, a·√(12ν) for the Matérn (a·√ln 20 ≈ 1.731·a for the Gaussian).
All four agree to ~1e-15 (both peers implement the exact closed forms).

The simulators:
    GSTools      `SRF(model, seed=seed, mode_no=1000)` (the randomization method, RandMeth, 1000 Fourier
                 modes), positions set once with `srf.set_pos([x, y], "structured")` and one call
                 `srf(seed=seed + i, store=False)` per realisation (i = 0 reuses the constructor's modes)
                 — GSTools' documented ensemble idiom; `SRF(model, seed=seed + i).structured([x, y])`
                 gives identical fields.
    gstlearn     `simulateSPDE(None, db, model, nbsimu=n, ...)`: Lindgren et al.'s SPDE on gstlearn's own
                 "turbo" finite-element mesh, Cholesky (useCholesky=-1 picks it); the seed is the global
                 one, `law_set_random_seed`. `simtub(None, db, model, None, nbsimu=n, seed, nbtuba)`:
                 turning bands. Output columns are read back with `db.getColumns(names)`.

Quirks found (gstlearn 1.11.1, GSTools 1.7.0):
  * Axis order: `DbGrid.create(nx=[W, H])` stores x1 (nx[0] = W nodes) fastest, so a column reshaped to
    (H, W) has rows along x2 and columns along x1. Both models are isotropic, so only the shape matters.
  * gstlearn's SPDE does NOT simulate the model on the output grid: by default (mesh="auto") it builds a
    regular triangle mesh whose step is the *practical* range / SPDEParam.refineS (18) — a·√(12ν)/18,
    ≈ 3.85 for a = 20, ν = 1 — padded by SPDEParam.border = 8 mesh cells on each side, capped at
    SPDEParam.nxMax = 300 nodes per axis, and interpolates it bilinearly onto the grid. Its cost hence
    scales with (grid extent / a)², not with H·W, and with a small a on a large grid the 300 cap coarsens
    the mesh. mesh="grid" here puts the mesh nodes on the grid nodes instead (a `MeshETurbo` of the grid
    padded by `border` cells), the like-for-like discretisation.
  * gstlearn's SPDE is right only for integer ν (α = ν + 1 integer in 2D). Measured at 64×64, a = 4,
    40 realisations: ν = 1, 2, 3 reproduce variance 1 and the variogram; ν = 0.5 gives variance 0.50 and
    γ(1) = 0.03 instead of 0.22, ν = 1.5 variance 0.75 (Cholesky or not). `gstlearn_spde` therefore
    refuses a non-integer ν unless strict=False.
  * simtub's seed must be ≥ 1: seed = 0 draws a fresh random seed on each call.
  * gstlearn keeps every realisation as a float64 column of its Db (n·H·W·8 bytes), and reading them
    back copies them once more: peak memory ≈ 2·n·H·W·8 bytes. GSTools fills one realisation at a time
    (RandMeth: 1000 cos/sin per node, chunked) into the (n, H, W) output.
  * GSTools draws the 1000 RandMeth modes anew for every seed, i.e. every realisation, and for the Matérn
    (no closed-form spectral quantile) it draws their radii by MCMC (emcee, `sampling="auto"` → "mcmc"):
    a fixed ~0.07 s per realisation here (1000 modes) whatever the grid, on top of the 1000·H·W cos/sin
    sum. The Gaussian's radii come by inversion, without that cost.
  * No warnings or printing from either library at these settings (verbose=False).

Threads: gstlearn's `_gstlearn.so` links OpenMP (libgomp.so.1) and exports no thread setter; its
threads follow the process's OpenMP runtime (OMP_NUM_THREADS at start-up, or omp_set_num_threads, see
`set_threads`). torch's CPU wheel ships a libgomp.so.1 of the same soname, and the dynamic loader keeps
only the first one loaded, so with torch imported `torch.set_num_threads(k)` also sets gstlearn's OpenMP
to k. In practice simtub and simulateSPDE ran on one core (process CPU time ≈ wall time at 128×128 with
2 OpenMP threads). GSTools' summation goes to gstools_cython, whose PyPI wheel is built without OpenMP:
it is single-threaded whatever `gstools.config.NUM_THREADS` says (the optional Rust backend, gstools_core,
would be parallel; it is not installed here). `time_stats` reports CPU/wall so a run can confirm it.
"""

from __future__ import annotations

import ctypes
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import gamma, kv

INSTALL_HINT = "pip install gstools gstlearn"
DISTANCES = (0.0, 1.0, 5.0, 20.0, 50.0)
TOL_GSTOOLS = 1e-6
TOL_GSTLEARN = 1e-4
MODELS = ("matern", "gaussian")


# --- lazy imports -------------------------------------------------------------------------------
def _gstools() -> Any:
    try:
        import gstools
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"the GSTools peer needs gstools: {INSTALL_HINT}") from e
    return gstools


def _gstlearn() -> Any:
    try:
        import gstlearn
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"the gstlearn peer needs gstlearn: {INSTALL_HINT}") from e
    return gstlearn


# --- our convention -----------------------------------------------------------------------------
def matern_correlation(h: np.ndarray, a: float, nu: float) -> np.ndarray:
    """ρ(h) = 2^{1−ν}/Γ(ν) (h/a)^ν K_ν(h/a), with ρ(0) = 1 (our convention; scipy's K_ν)."""
    h = np.abs(np.asarray(h, dtype=np.float64))
    out = np.ones_like(h)
    r = h[h > 0] / a
    out[h > 0] = 2.0 ** (1.0 - nu) / gamma(nu) * r**nu * kv(nu, r)
    return out


def gaussian_correlation(h: np.ndarray, a: float) -> np.ndarray:
    """ρ(h) = exp(−(h/a)²) (our convention)."""
    h = np.asarray(h, dtype=np.float64)
    return np.exp(-((h / a) ** 2))


def correlation(model: str, h: np.ndarray, a: float, nu: float) -> np.ndarray:
    """Our ρ(h) for `model` in ("matern", "gaussian"); ν is ignored by the Gaussian."""
    _check_model(model)
    return matern_correlation(h, a, nu) if model == "matern" else gaussian_correlation(h, a)


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")


# --- the peers' models, mapped onto our convention ----------------------------------------------
def gstools_model(a: float, nu: float = 1.0, model: str = "matern") -> Any:
    """The GSTools covariance equal to ours: Matern(len_scale=a·√ν) or Gaussian(len_scale=a·√π/2)."""
    _check_model(model)
    gs = _gstools()
    if model == "matern":
        if nu > 20:  # GSTools swaps in its Gaussian limit above ν = 20, a different function
            raise ValueError(f"GSTools' Matern is only the Matérn for nu <= 20, got {nu:g}")
        return gs.Matern(dim=2, var=1.0, len_scale=a * math.sqrt(nu), nu=nu)
    return gs.Gaussian(dim=2, var=1.0, len_scale=a * math.sqrt(math.pi) / 2.0)


def gstlearn_model(a: float, nu: float = 1.0, model: str = "matern") -> Any:
    """The gstlearn covariance equal to ours: `range` = a read as a scale (flagRange=False), unit sill."""
    _check_model(model)
    gl = _gstlearn()
    if model == "matern":
        return gl.Model.createFromParam(gl.ECov.MATERN, range=a, sill=1.0, param=nu, flagRange=False)
    return gl.Model.createFromParam(gl.ECov.GAUSSIAN, range=a, sill=1.0, flagRange=False)


def check_conventions(a: float = 20.0, nu: float = 1.0) -> dict[str, float]:
    """Max |peer's ρ(h) − ours| at h = 0, 1, 5, 20, 50, for the Matérn(a, ν) and the Gaussian(a).

    GSTools through `CovModel.correlation(h)`; gstlearn through `Model.evalIvarNlag(h, dir)` along both
    grid axes (dir = (1, 0) and (0, 1)). Asserts < 1e-6 for GSTools and < 1e-4 for gstlearn.
    """
    h = np.asarray(DISTANCES)
    out: dict[str, float] = {}
    for model in MODELS:
        ours = correlation(model, h, a, nu)
        gs_rho = np.asarray(gstools_model(a, nu, model).correlation(h), dtype=np.float64)
        gl_model = gstlearn_model(a, nu, model)
        gl_rho = [np.asarray(gl_model.evalIvarNlag(list(h), dir=list(d))) for d in ((1.0, 0.0), (0.0, 1.0))]
        out[f"gstools_{model}"] = float(np.abs(gs_rho - ours).max())
        out[f"gstlearn_{model}"] = float(max(np.abs(r - ours).max() for r in gl_rho))
    for key, err in out.items():
        tol = TOL_GSTOOLS if key.startswith("gstools") else TOL_GSTLEARN
        assert err < tol, f"{key}: max |Δρ| = {err:.3g} >= {tol:g} (a={a:g}, nu={nu:g})"
    return out


# --- the simulators -----------------------------------------------------------------------------
def _grid_shape(shape: tuple[int, int]) -> tuple[int, int]:
    H, W = (int(s) for s in shape)
    if H < 1 or W < 1:
        raise ValueError(f"shape must be two positive sizes, got {shape!r}")
    return H, W


def gstools_fields(
    a: float, nu: float, shape: tuple[int, int], n: int, seed: int, model: str = "matern", mode_no: int = 1000
) -> np.ndarray:
    """n GSTools RandMeth realisations (n, H, W) on x = arange(H), y = arange(W); realisation i
    uses seed + i."""
    H, W = _grid_shape(shape)
    gs = _gstools()
    # seeding the constructor draws realisation 0's modes there (SRF() without a seed would draw a
    # throw-away set: for the Matérn, each draw is an MCMC run, see the module docstring)
    srf = gs.SRF(gstools_model(a, nu, model), seed=seed, mode_no=mode_no)
    srf.set_pos([np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64)], "structured")
    out = np.empty((n, H, W), dtype=np.float64)
    for i in range(n):
        out[i] = srf(store=False) if i == 0 else srf(seed=seed + i, store=False)
    return out


def _read_columns(db: Any, names: list[str], n: int, H: int, W: int) -> np.ndarray:
    """The simulated columns of a DbGrid built with nx=[W, H] (x1 fastest), as (n, H, W)."""
    if len(names) != n:
        raise RuntimeError(f"gstlearn wrote {len(names)} columns for {n} realisations: {names}")
    return np.asarray(db.getColumns(names), dtype=np.float64).reshape(n, H, W)


def _new_columns(db: Any, before: tuple[str, ...]) -> list[str]:
    return [name for name in db.getAllNames() if name not in before]


def _spde_border(a: float, nu: float) -> int:
    """gstlearn's default padding in grid cells: 8 mesh cells of (practical range a·√(12ν)) / 18."""
    return math.ceil(8 * a * math.sqrt(12 * nu) / 18)


def gstlearn_spde(
    a: float,
    nu: float,
    shape: tuple[int, int],
    n: int,
    seed: int,
    mesh: str = "auto",
    border: int | None = None,
    strict: bool = True,
) -> np.ndarray:
    """n gstlearn SPDE realisations (n, H, W) of the Matérn(a, ν) in one `simulateSPDE` call.

    mesh="auto": gstlearn's own mesh (step = practical range / 18, 8 cells of padding, ≤ 300 nodes per
    axis), interpolated onto the grid — the library as shipped. mesh="grid": the mesh nodes are the grid
    nodes, padded by `border` cells per side (default: gstlearn's padding, ⌈0.44·a·√(12ν)⌉). The seed is
    gstlearn's global one (`law_set_random_seed`). strict: refuse a non-integer ν, which gstlearn's SPDE
    simulates wrongly (see the module docstring).
    """
    H, W = _grid_shape(shape)
    if strict and float(nu) != round(nu):
        raise ValueError(
            f"gstlearn's SPDE is only right for integer nu (got {nu:g}); pass strict=False to run it"
        )
    if mesh not in ("auto", "grid"):
        raise ValueError(f"mesh must be 'auto' or 'grid', got {mesh!r}")
    gl = _gstlearn()
    model = gstlearn_model(a, nu, "matern")
    db = gl.DbGrid.create(nx=[W, H], dx=[1.0, 1.0])
    before = db.getAllNames()
    kwargs: dict[str, Any] = {}
    if mesh == "grid":
        b = _spde_border(a, nu) if border is None else int(border)
        ext = gl.DbGrid.create(nx=[W + 2 * b, H + 2 * b], dx=[1.0, 1.0], x0=[-float(b), -float(b)])
        turbo = gl.MeshETurbo.createFromGrid(ext)
        kwargs["meshesS"] = gl.VectorMeshes([turbo])  # holds a raw pointer: `turbo` must outlive the call
    gl.law_set_random_seed(int(seed))
    rc = gl.simulateSPDE(None, db, model, nbsimu=n, namconv=gl.NamingConvention("spde"), **kwargs)
    if rc != 0:
        raise RuntimeError(f"gstlearn.simulateSPDE failed (return code {rc})")
    return _read_columns(db, _new_columns(db, before), n, H, W)


def gstlearn_tub(
    a: float, nu: float, shape: tuple[int, int], n: int, seed: int, bands: int = 1000, model: str = "matern"
) -> np.ndarray:
    """n gstlearn turning-bands realisations (n, H, W) in one `simtub` call with `bands` bands; seed >= 1."""
    H, W = _grid_shape(shape)
    if int(seed) < 1:
        raise ValueError(f"gstlearn's simtub needs seed >= 1 (0 means a fresh random seed), got {seed}")
    gl = _gstlearn()
    cov = gstlearn_model(a, nu, model)
    db = gl.DbGrid.create(nx=[W, H], dx=[1.0, 1.0])
    before = db.getAllNames()
    rc = gl.simtub(
        None, db, cov, None, nbsimu=n, seed=int(seed), nbtuba=bands, namconv=gl.NamingConvention("tub")
    )
    if rc != 0:
        raise RuntimeError(f"gstlearn.simtub failed (return code {rc})")
    return _read_columns(db, _new_columns(db, before), n, H, W)


# --- in 3-D ------------------------------------------------------------------------------------
def gstools_block(
    a: float, nu: float, shape: tuple[int, int, int], n: int, seed: int, mode_no: int = 1000
) -> np.ndarray:
    """n GSTools RandMeth realisations (n, D, H, W) of the 3-D Matérn(a, ν) (dim=3, the same
    len_scale = a·√ν), on the unit grid; realisation i uses seed + i."""
    d, h, w = (int(s) for s in shape)
    gs = _gstools()
    model = gs.Matern(dim=3, var=1.0, len_scale=a * math.sqrt(nu), nu=nu)
    srf = gs.SRF(model, seed=seed, mode_no=mode_no)
    axes = [np.arange(k, dtype=np.float64) for k in (d, h, w)]
    srf.set_pos(axes, "structured")
    out = np.empty((n, d, h, w), dtype=np.float64)
    for i in range(n):
        out[i] = srf(store=False) if i == 0 else srf(seed=seed + i, store=False)
    return out


def gstlearn_spde_block(a: float, nu: float, shape: tuple[int, int, int], n: int, seed: int) -> np.ndarray:
    """n gstlearn SPDE realisations (n, D, H, W) of the 3-D Matérn(a, ν) in one `simulateSPDE` call on
    gstlearn's own mesh (as shipped); ν + 3/2 must be an integer (ν = 0.5, 1.5, …) for its SPDE."""
    d, h, w = (int(s) for s in shape)
    if float(nu + 1.5) != round(nu + 1.5):
        raise ValueError(f"gstlearn's SPDE in 3-D needs an integer nu + 3/2, got nu = {nu:g}")
    gl = _gstlearn()
    model = gl.Model.createFromParam(
        gl.ECov.MATERN, range=a, sill=1.0, param=nu, flagRange=False, space=gl.SpaceRN.create(3)
    )
    db = gl.DbGrid.create(nx=[w, h, d], dx=[1.0, 1.0, 1.0])  # x1 = columns fastest, x3 = layers
    before = db.getAllNames()
    gl.law_set_random_seed(int(seed))
    rc = gl.simulateSPDE(None, db, model, nbsimu=n, namconv=gl.NamingConvention("spde"))
    if rc != 0:
        raise RuntimeError(f"gstlearn.simulateSPDE failed (return code {rc})")
    names = _new_columns(db, before)
    return np.asarray(db.getColumns(names), dtype=np.float64).reshape(n, d, h, w)


def check_conventions3d(seed: int = 0) -> dict[str, float]:
    """Max |C_gstlearn(h) − C_ours(h)| over 60 random 3-D lags, for rotated anisotropic exponential
    models: gstlearn given our ranges (a, a·ratio, a·ratio3) as scales and `cov.gstlearn_angles()`
    (its rotation composes the other way round; see genzoo.geostat.covariance). Asserts < 1e-12."""
    import torch

    from genzoo.geostat.covariance import Exponential

    gl = _gstlearn()
    lags = np.random.default_rng(seed).uniform(-10, 10, (60, 3))  # (Δlayer, Δrow, Δcol)
    out = {}
    for angle, dip, roll in ((30.0, 20.0, 10.0), (-65.0, 40.0, 15.0), (120.0, -10.0, 75.0)):
        ours = Exponential(range=6.0, angle=angle, dip=dip, roll=roll, ratio=0.5, ratio3=0.2)
        model = gl.Model.createFromParam(
            gl.ECov.EXPONENTIAL,
            ranges=[6.0, 3.0, 1.2],
            sill=1.0,
            angles=list(ours.gstlearn_angles()),
            flagRange=False,
        )
        theirs = []
        for h in lags:
            xyz = np.array([h[2], h[1], h[0]])  # x = column, y = row, z = layer
            d = float(np.linalg.norm(xyz))
            theirs.append(float(np.asarray(model.evalIvarNlag([d], dir=list(xyz / d)))[0]))
        err = float(np.abs(np.array(theirs) - ours(torch.from_numpy(lags)).numpy()).max())
        assert err < 1e-12, f"gstlearn 3-D angles {angle, dip, roll}: max |ΔC| = {err:.3g}"
        out[f"angle={angle:g}, dip={dip:g}, roll={roll:g}"] = err
    return out


PEERS: dict[str, Callable[..., np.ndarray]] = {
    "gstools-randmeth": gstools_fields,
    "gstlearn-spde": gstlearn_spde,
    "gstlearn-tub": gstlearn_tub,
}


# --- versions, threads, timing ------------------------------------------------------------------
def versions() -> dict[str, str]:
    """Versions of the peers (and of what they run on); 'missing' for an absent package."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("gstools", "gstools_cython", "gstools_core", "gstlearn", "numpy", "scipy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "missing"
    return out


def _libgomp() -> ctypes.CDLL | None:
    """The process's OpenMP runtime (the libgomp.so.1 already loaded, by soname), or None."""
    try:
        return ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
    except (OSError, AttributeError):
        return None


def set_threads(k: int) -> dict[str, Any]:
    """Ask every peer for k threads: OMP_NUM_THREADS, omp_set_num_threads in the loaded libgomp (the one
    gstlearn uses, shared with torch), and gstools.config.NUM_THREADS (a no-op for the OpenMP-less
    gstools_cython wheel). Call it from the thread that then runs the simulations."""
    os.environ["OMP_NUM_THREADS"] = str(k)
    _gstlearn()  # load gstlearn, hence libgomp, so that the setting below reaches it
    gomp = _libgomp()
    if gomp is not None:
        gomp.omp_set_num_threads(int(k))
    _gstools().config.NUM_THREADS = int(k)
    return threading_info()


def _links_openmp(path: str) -> bool:
    with open(path, "rb") as f:
        return b"GOMP_parallel" in f.read()


def threading_info() -> dict[str, Any]:
    """What the peers will run with: OpenMP's max threads, which libgomp is loaded, torch's threads if
    torch is imported, whether gstools_cython was built with OpenMP and whether gstools_core is in use."""
    info: dict[str, Any] = {"cpu_count": os.cpu_count(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    gomp = _libgomp()
    info["omp_max_threads"] = int(gomp.omp_get_max_threads()) if gomp is not None else None
    try:
        with open("/proc/self/maps") as f:
            info["libgomp"] = sorted({line.split()[-1] for line in f if "libgomp" in line})
    except OSError:
        info["libgomp"] = []
    if "torch" in sys.modules:
        info["torch_threads"] = sys.modules["torch"].get_num_threads()
    try:
        gs = _gstools()
        import gstools_cython.field as gsc_field

        info["gstools_cython_openmp"] = _links_openmp(gsc_field.__file__)
        info["gstools_core_in_use"] = bool(gs.config.USE_GSTOOLS_CORE)
        info["gstools_NUM_THREADS"] = gs.config.NUM_THREADS
    except ImportError:
        pass
    return info


def time_best(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time (time.perf_counter) of `repeats` calls of fn(), in seconds."""
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def time_stats(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    """The first call timed alone ("first": imports, caches, one-off set-up), then the best of `repeats`
    more ("best"; the first call's time if repeats is 0), and the process CPU time over the wall time of
    those repeats ("cpu_over_wall": ≈ 1 single-threaded, ≈ k on k busy threads)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    best, wall, cpu = first, 0.0, 0.0
    for i in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        cpu += time.process_time() - c0
        wall += dt
        best = dt if i == 0 else min(best, dt)
    return {"first": first, "best": best, "cpu_over_wall": cpu / wall if wall > 0 else math.nan}


# --- sanity -------------------------------------------------------------------------------------
def field_stats(z: np.ndarray, lags: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Variance E[z²] (the mean is known, 0) and the semivariogram γ(h) = ½E[(z(x+h) − z(x))²] at the
    given lags along each grid axis ("row" = along a row, the W axis; "col" = along a column, the H axis)."""
    out = {"var": float(np.mean(z**2))}
    for h in lags:
        out[f"gamma_row_{h}"] = float(0.5 * np.mean((z[:, :, h:] - z[:, :, :-h]) ** 2))
        out[f"gamma_col_{h}"] = float(0.5 * np.mean((z[:, h:, :] - z[:, :-h, :]) ** 2))
    return out


def sanity(
    shape: tuple[int, int] = (64, 64), n: int = 20, a: float = 8.0, nu: float = 1.0, seed: int = 1
) -> dict[str, dict[str, float]]:
    """Empirical variance and lag-1/lag-5 variograms of each peer's n fields of the Matérn(a, ν), next
    to the target ("expected": variance 1, γ(h) = 1 − ρ(h)). Rough by nature: n·H·W correlated values."""
    expected = {"var": 1.0}
    for h in (1, 5):
        g = float(1.0 - matern_correlation(np.array([float(h)]), a, nu)[0])
        expected[f"gamma_row_{h}"] = expected[f"gamma_col_{h}"] = g
    out = {"expected": expected}
    for name, fn in PEERS.items():
        out[name] = field_stats(fn(a, nu, shape, n, seed))
    out["gstlearn-spde(grid mesh)"] = field_stats(gstlearn_spde(a, nu, shape, n, seed, mesh="grid"))
    return out


def _print_table(rows: dict[str, dict[str, float]], fmt: str = "{:>10.4f}") -> None:
    cols = list(next(iter(rows.values())).keys())
    width = max(len(k) for k in rows) + 2
    print(" " * width + "".join(f"{c:>14}" for c in cols))
    for name, row in rows.items():
        print(f"{name:<{width}}" + "".join(f"{fmt.format(row[c]):>14}" for c in cols))


def main() -> None:
    """Conventions, a sanity check at 64×64 and timings at 32×32 (tiny: a smoke test, not a benchmark)."""
    print("versions:", versions())
    print("threads:", threading_info())
    print("\ncheck_conventions(a=20, nu=1): max |Δρ| at h =", DISTANCES)
    for key, err in check_conventions(20.0, 1.0).items():
        print(f"  {key:<20} {err:.3g}")
    print("\ncheck_conventions3d: gstlearn with cov.gstlearn_angles(), max |ΔC| over 60 lags")
    for key, err in check_conventions3d().items():
        print(f"  {key:<32} {err:.3g}")
    print("\nsanity: Matérn a=8, nu=1, 64×64, 20 realisations each")
    _print_table(sanity((64, 64), n=20, a=8.0, nu=1.0))
    print("\ntimings (s) at 32×32, Matérn a=20, nu=1: first call, best of 3, CPU/wall")
    a, nu, shape = 20.0, 1.0, (32, 32)
    rows = {}
    for n in (1, 4):
        for name, fn in PEERS.items():
            rows[f"{name} n={n}"] = time_stats(lambda fn=fn, n=n: fn(a, nu, shape, n, 1), repeats=3)
    _print_table(rows, "{:>10.5f}")
    print("threads after:", threading_info())


if __name__ == "__main__":
    main()
