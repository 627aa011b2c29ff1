"""`genzoo condition`: fill the masked part of examples (--mask), or draw realisations that honour
point data (--points)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from genzoo.cli.common import (
    COUNT,
    INT,
    add_device,
    add_model_options,
    add_seed,
    add_threads,
    at_least_one,
    check_suffix,
    dataset_for,
    input_examples,
    load_run,
    model_options,
    save_arrays,
)
from genzoo.errors import GenzooError

if TYPE_CHECKING:
    import torch


def cmd_condition(args: argparse.Namespace) -> int:
    import torch

    from genzoo.models.base import Inpaints, expand_mask
    from genzoo.models.registry import able
    from genzoo.viz import inpainting_grid, png_bytes, save_samples

    check_suffix(args.out, (".png", ".npz", ".npy"))
    if (args.mask is None) == (args.points is None):
        raise GenzooError(
            "condition needs exactly one of --mask (fill a hole) and --points FILE.csv (honour point data)"
        )
    model = load_run(args.run, args.device)
    if args.points is not None:
        return _condition_points(args, model)
    if not isinstance(model, Inpaints):
        raise GenzooError(
            f"model {model.name!r} cannot fill a masked part of an example "
            f"({', '.join(able('inpaints'))} can)"
        )
    if args.input is not None:
        x = input_examples(args.input, model)
    else:
        at_least_one("-n", args.n)
        from genzoo.training import checkpoint as ckpt

        x = dataset_for(ckpt.read_config(args.run), "test").tensors()[: args.n]
    mask = read_mask(args.mask, model)
    options = model_options(args, model, "inpaint")
    if args.label is not None:
        if not model.conditional:
            raise GenzooError(f"--label: model {model.name!r} is not conditional")
        options["label"] = args.label
    gen = torch.Generator(device=model.device).manual_seed(args.seed)
    filled = model.inpaint(x.to(model.device), mask, generator=gen, **options).float().cpu()
    m = expand_mask(mask, x, model.info).cpu()
    if args.out.lower().endswith(".png"):
        from genzoo.atomic import atomic_path

        data = png_bytes(inpainting_grid(x, m, filled, model.info))
        with atomic_path(args.out) as tmp:
            Path(tmp).write_bytes(data)
    elif args.out.lower().endswith(".npz"):
        save_arrays(args.out, x=filled, input=x, mask=m)
    else:
        save_samples(filled, model.info, args.out)
    print(f"{args.out}: {len(filled)} examples with their masked part filled by {args.run}")
    return 0


def _condition_points(args: argparse.Namespace, model) -> int:
    """--points FILE.csv (columns row, col, value) or a GSLIB point file: -n realisations that honour
    the data — exactly
    by kriging for the classical simulators, by optimising the latent vector for other generators."""
    import torch

    from genzoo.geostat.formats import read_points
    from genzoo.geostat.latent import check_block_points, check_points, diversity

    at_least_one("-n", args.n)
    blocks = model.info.kind == "field" and len(model.info.shape) == 4
    if model.info.kind not in ("field", "image") or len(model.info.shape) != 3 and not blocks:
        raise GenzooError(
            f"--points: model {model.name!r} models {model.info.kind} data; "
            "point data condition fields, blocks and images"
        )
    dims = len(model.info.shape) - 1
    shape = tuple(model.info.shape[1:]) if args.size is None else (args.size,) * dims
    if blocks:  # wells: (layer, row, col, value)
        points = check_block_points(*read_points(args.points, layers=True), shape)
    else:
        points = check_points(*read_points(args.points), shape)
    gen = torch.Generator(device=model.device).manual_seed(args.seed)
    x, honoured, misfit, how, extra = _realisations(args, model, points, gen)
    spread = diversity(x)
    _write_realisations(args, model, x, points, how, (honoured, misfit), extra)
    share = float(honoured.mean())
    div = "n/a" if math.isnan(spread) else f"{spread:.4g}"
    print(
        f"{args.out}: {len(x)} realisations by {how}; data honoured {100 * share:.1f} %, "
        f"RMS misfit {float(misfit.mean()):.3g}, diversity (mean pairwise RMS distance) {div}"
    )
    return 0


def _realisations(args: argparse.Namespace, model, points: tuple, gen: torch.Generator) -> tuple:  # noqa: ANN001
    """(x, honoured, misfit, how, extra): exactly by kriging where the model honours point data
    exactly (the classical simulators), else by optimising the latent vector (--steps of it)."""
    from genzoo.geostat.latent import condition_points, honoured_exactly
    from genzoo.models.registry import able

    *index, values = points
    if model.exact_points:
        x = model.sample(args.n, generator=gen, points=points, size=args.size).cpu()
        return (x, *honoured_exactly(x, *points), "kriging of the residuals (exact)", {})
    if not model.latent:
        raise GenzooError(
            f"--points: model {model.name!r} has no latent space to optimise "
            f"({', '.join(able('latent'))} have)"
        )
    steps = args.steps or 500
    rows, cols = index[-2:]
    layers = index[0] if len(index) == 3 else None
    res = condition_points(
        model,
        rows,
        cols,
        values,
        n=args.n,
        steps=steps,
        generator=gen,
        size=args.size,
        progress=True,
        layers=layers,
    )
    extra = {"z": res.z, "accepted": res.accepted}
    return res.x.cpu(), res.honoured, res.misfit, f"latent optimisation, {steps} steps", extra


def _write_realisations(
    args: argparse.Namespace,
    model,
    x: torch.Tensor,
    points: tuple,
    how: str,
    fit: tuple,
    extra: dict,  # noqa: ANN001
) -> None:
    """--out FILE.npz (x, honoured and misfit per realisation, the data, `extra`), FILE.npy (the
    realisations) or FILE.png (a figure)."""
    import torch

    from genzoo.atomic import atomic_path
    from genzoo.viz.fields import block_figure, fields_figure

    *index, values = points
    out = args.out.lower()
    if out.endswith(".npz"):
        save_arrays(
            args.out,
            x=x,
            honoured=fit[0],
            misfit=fit[1],
            points=torch.stack([*(t.double() for t in index), values.double()], 1),
            **extra,
        )
    elif out.endswith(".npy"):
        from genzoo.viz import save_samples

        save_samples(x.float(), model.info, args.out)
    else:
        draw = block_figure if x.dim() == 5 else fields_figure
        data = draw(x, points=points, title=f"{args.run}: {len(values)} data, {how}")
        with atomic_path(args.out) as tmp:
            Path(tmp).write_bytes(data)


def read_mask(spec: str, model) -> torch.Tensor:
    """--mask: a named hole (bottom-half, …) or a .npy/.npz/.png file, 1 (non-zero) = known."""
    import numpy as np
    import torch

    from genzoo.models.base import HOLES, hole_mask

    if spec in HOLES:
        return hole_mask(spec, tuple(model.info.shape))
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".png"):
        raise GenzooError(
            f"--mask {spec}: neither a named hole ({', '.join(HOLES)}) nor a .npy/.npz/.png file"
        )
    if not path.is_file():
        raise GenzooError(f"--mask {spec}: no such file")
    try:
        if suffix == ".png":
            from genzoo.data.files import read_image

            arr = read_image(path, 1)[0]  # PNG/JPEG only; a decompression bomb is refused from its header
        else:  # headers checked, never unpickled; an .npz's array under 'mask', or its only one
            from genzoo.data.files import read_arrays

            arr = read_arrays(path, key="mask")[0]
    except GenzooError as exc:
        raise GenzooError(f"--mask: {exc}") from None
    except Exception as exc:  # a corrupt or foreign file
        raise GenzooError(f"--mask {spec}: cannot read it ({type(exc).__name__}: {exc})") from None
    if arr.dtype.kind not in "biuf":
        raise GenzooError(f"--mask {spec}: expected numbers, got an array of {arr.dtype}")
    return torch.from_numpy(np.asarray(arr != 0))


# --- the command's arguments -------------------------------------------------------------
def register_condition(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "condition",
        help="fill the masked part of examples given the rest, or draw realisations that honour point data",
    )
    s.add_argument("run", help="a run or model directory")
    s.add_argument(
        "--mask",
        help="FILE.npy/.npz/.png, shape (H, W), (C, H, W) or one per example, non-zero = known, 0 = fill; "
        "or a hole: bottom-half, top-half, left-half, right-half, center",
    )
    s.add_argument(
        "--points",
        help="FILE.csv with columns row, col, value, or a GSLIB point file (columns x, y or row, col, and "
        "value): -n realisations honouring these data "
        "(exactly, by kriging, where the model is a classical simulator; "
        "else by optimising the latent vector, --steps of it)",
    )
    s.add_argument(
        "--size", type=COUNT, help="--points: the side of the conditioned fields (default the training size)"
    )
    s.add_argument(
        "--input",
        help="FILE.npy/.npz of examples (default: the first -n held-out examples of the run's data)",
    )
    s.add_argument("-n", type=COUNT, default=8, help="held-out examples to fill when there is no --input")
    s.add_argument(
        "--out",
        required=True,
        help="FILE.png (originals / masked / filled), FILE.npz (x, input, mask) or FILE.npy",
    )
    add_seed(s)
    s.add_argument("--label", type=INT, help="a conditional model: the class of the fills")
    add_model_options(s, "inpaint", own={"steps": "--points: steps of the latent optimisation (default 500)"})
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_condition)
