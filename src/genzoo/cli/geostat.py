"""`genzoo simulate`: Gaussian random fields by a classical simulator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from genzoo.cli.common import (
    COUNT,
    FLOAT,
    SIDE,
    add_device,
    add_seed,
    add_threads,
    at_least_one,
    check_suffix,
)
from genzoo.errors import GenzooError


def cmd_simulate(args: argparse.Namespace) -> int:
    """genzoo simulate METHOD --range R --shape [D] H W -n N --out FILE.npz|.gslib|.vti|.tif (+ FILE.png)."""
    import time

    import torch

    from genzoo.geostat.simulators import grid_shape, simulator

    check_suffix(args.out, (".npz", ".gslib", ".vti", ".tif", ".tiff"))
    at_least_one("-n", args.n)
    if len(args.shape) not in (2, 3):
        raise GenzooError(
            f"--shape takes H W (a 2-D grid) or D H W (a 3-D block), got {len(args.shape)} numbers"
        )
    shape = grid_shape(args.shape)
    cov = _covariance(args)
    options = _method_options(args)
    points = None
    if args.points:
        from genzoo.geostat.formats import read_points
        from genzoo.geostat.latent import check_block_points, check_points

        if len(shape) == 3:
            points = check_block_points(*read_points(args.points, layers=True), shape)
        else:
            points = check_points(*read_points(args.points), shape)
    from genzoo.training.trainer import resolve_device

    device = resolve_device(args.device)
    t0 = time.perf_counter()
    sim = simulator(args.method, cov, shape, **options)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    x = sim.sample(args.n, generator=gen, mean=args.mean, device=device)
    if args.drift and points is None:
        raise GenzooError("--drift is the trend of kriging the --points; give --points too")
    if points is not None:
        from genzoo.geostat.kriging import condition

        mean = None if args.drift else args.mean
        x = condition(x, points, cov, mean=mean, drift=args.drift)
    seconds = time.perf_counter() - t0
    png = _write_fields(args, x.cpu(), cov, points, shape)
    notes = _notes(sim)
    extra = f" ({', '.join(notes)})" if notes else ""
    kind = "fields" if len(shape) == 2 else "blocks"
    print(
        f"{args.out}: {args.n} {kind} {'×'.join(map(str, shape))} of {cov.describe()} by {args.method} "
        f"in {seconds:.2f} s{extra}; {'figures' if len(shape) == 3 else 'figure'} {png}"
    )
    return 0


def _covariance(args: argparse.Namespace) -> Any:
    from genzoo.geostat import covariance as C

    if args.range is None:
        raise GenzooError("--range is required: the range parameter a of the covariance, in cells")
    nu = args.nu if args.cov == "matern" else None
    return C.make(
        args.cov,
        range=args.range,
        sill=args.sill,
        nugget=args.nugget,
        angle=args.angle,
        ratio=args.ratio,
        dip=args.dip,
        roll=args.roll,
        ratio3=args.ratio3,
        nu=nu,
    )


def _write_fields(args: argparse.Namespace, x: Any, cov: Any, points: Any, shape: tuple[int, ...]) -> str:
    """FILE.npz (the fields, the method, the covariance, the seed) and its figure FILE.png (for
    blocks also a 3-D view FILE-3d.png); returns the figures' names."""
    import numpy as np

    from genzoo.atomic import atomic_path
    from genzoo.viz.fields import block_figure, block_view, fields_figure

    suffix = Path(args.out).suffix.lower()
    if suffix == ".gslib":  # GSLIB's grid format, for the geoscientist's tools
        from genzoo.geostat.formats import write_grid

        title = f"genzoo simulate {args.method} {cov.describe()} seed {args.seed}".replace("ν", "nu")
        write_grid(args.out, x.numpy(), ["value"], title=title)
    elif suffix == ".vti":  # VTK image data, for ParaView
        from genzoo.geostat.formats import write_vti

        write_vti(args.out, x.numpy(), ["value"])
    elif suffix in (".tif", ".tiff"):  # GeoTIFF, for GIS (2-D grids; rasterio, an optional dependency)
        from genzoo.geostat.formats import write_geotiff

        write_geotiff(args.out, x.numpy())
    else:
        with atomic_path(args.out) as tmp, tmp.open("wb") as fh:
            np.savez(fh, x=x.numpy(), method=args.method, cov=cov.describe(), seed=args.seed)
    png = str(Path(args.out).with_suffix(".png"))
    title = f"{args.method}: {cov.describe()}, {'×'.join(map(str, shape))}"
    draw = fields_figure if len(shape) == 2 else block_figure
    with atomic_path(png) as tmp:
        Path(tmp).write_bytes(draw(x, cov, points=points, title=title))
    if len(shape) == 3:
        view = str(Path(args.out).with_name(Path(args.out).stem + "-3d.png"))
        count = min(3, len(x))
        with atomic_path(view) as tmp:
            Path(tmp).write_bytes(
                block_view(x[:count], [f"block {i + 1}" for i in range(count)], title=title)
            )
        png = f"{png} and {view}"
    return png


def _method_options(args: argparse.Namespace) -> dict[str, Any]:
    """--modes (spectral) and --tol (spde), refused for the other methods."""
    options = {}
    if args.modes is not None:
        if args.method != "spectral":
            raise GenzooError("--modes is an option of the spectral method")
        options["modes"] = args.modes
    if args.tol is not None:
        if args.method != "spde":
            raise GenzooError("--tol is an option of the spde method")
        options["tol"] = args.tol
    return options


def _notes(sim: Any) -> list[str]:
    """What a simulator reports of its set-up: the SPDE's Chebyshev degree, the FFT's torus, the
    negative eigenvalue mass an embedding clipped."""
    notes = []
    if getattr(sim, "degree", None) is not None:
        notes.append(f"Chebyshev degree {sim.degree}")
    if getattr(sim, "torus", None) is not None:
        notes.append(f"torus {'×'.join(map(str, sim.torus))}")
    if getattr(sim, "negative_mass", 0.0):
        notes.append(f"negative eigenvalue mass {sim.negative_mass:.2e} clipped")
    return notes


# --- the commands' arguments ------------------------------------------------------------
def register_simulate(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "simulate", help="Gaussian random fields by a classical simulator (cholesky, spectral, fft, spde)"
    )
    s.add_argument("method", choices=("cholesky", "spectral", "fft", "spde"), help="the simulator")
    s.add_argument(
        "--cov",
        default="matern",
        choices=("matern", "exponential", "gaussian", "spherical", "cubic"),
        help="the covariance model",
    )
    s.add_argument(
        "--range", type=FLOAT, help="range parameter a in cells (exp(-h/a), exp(-(h/a)^2), the Matérn scale)"
    )
    s.add_argument("--nu", type=FLOAT, default=1.0, help="Matérn smoothness ν")
    s.add_argument("--sill", type=FLOAT, default=1.0, help="variance of the structured part")
    s.add_argument("--nugget", type=FLOAT, default=0.0, help="variance of the independent noise")
    s.add_argument(
        "--angle", type=FLOAT, default=0.0, help="anisotropy: major axis angle from the column axis, degrees"
    )
    s.add_argument("--ratio", type=FLOAT, default=1.0, help="anisotropy: minor / major range")
    s.add_argument("--dip", type=FLOAT, default=0.0, help="3-D anisotropy: second rotation, degrees")
    s.add_argument("--roll", type=FLOAT, default=0.0, help="3-D anisotropy: third rotation, degrees")
    s.add_argument(
        "--ratio3", type=FLOAT, default=1.0, help="3-D anisotropy: third axis' range / major range"
    )
    s.add_argument("--mean", type=FLOAT, default=0.0, help="the fields' mean μ")
    s.add_argument(
        "--shape",
        type=SIDE,
        nargs="+",
        required=True,
        metavar="SIDE",
        help="H W for a 2-D grid, or D H W for a 3-D block (layers, rows, cols)",
    )
    s.add_argument("-n", type=COUNT, default=1, help="realisations")
    add_seed(s)
    s.add_argument(
        "--points",
        help="FILE.csv with columns row, col, value (and layer for a 3-D block; a well: one row, col at many "
        "layers), or a GSLIB point file (columns x, y[, z] or row, col[, layer], and value): condition every "
        "realisation to these data (exact)",
    )
    s.add_argument(
        "--drift",
        choices=("linear", "quadratic"),
        help="condition by universal kriging with this polynomial trend in the coordinates (with --points)",
    )
    s.add_argument("--modes", type=COUNT, help="spectral: number of cosines (default 1000)")
    s.add_argument("--tol", type=FLOAT, help="spde: Chebyshev tolerance (default 1e-5)")
    add_device(s)
    add_threads(s)
    s.add_argument(
        "--out",
        required=True,
        help="FILE.npz (the fields under x, shape (n, 1, H, W) or (n, 1, D, H, W): --data npz:FILE.npz "
        "trains on them) or FILE.gslib (a GSLIB grid file: x fastest, then y, z, the realisations in "
        "turn), FILE.vti (VTK image data for ParaView: one array per realisation) or FILE.tif (GeoTIFF, "
        "2-D: one band per realisation; needs rasterio); a figure goes to FILE.png (3-D: sections and the "
        "variograms along the three axes)",
    )
    s.set_defaults(fn=cmd_simulate)
