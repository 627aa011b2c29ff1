"""`genzoo sample` and `interpolate`: draw from a trained run."""

from __future__ import annotations

import argparse
import inspect
from typing import TYPE_CHECKING, Any

from genzoo.cli.common import (
    COUNT,
    FLOAT,
    INT,
    add_device,
    add_seed,
    add_threads,
    at_least_one,
    check_suffix,
    load_run,
    sampler_options,
)
from genzoo.errors import GenzooError

if TYPE_CHECKING:
    pass


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from genzoo.viz import save_samples

    at_least_one("-n", args.n)
    check_suffix(args.out, (".png", ".npy", ".npz"))
    model = load_run(args.run, args.device)
    condition = {}
    if args.label is not None:
        if not getattr(model, "conditional", False):
            raise GenzooError(f"--label: model {model.name!r} is not conditional")
        classes = model.info.num_classes
        if not 0 <= args.label < classes:
            raise GenzooError(f"--label must be in [0, {classes - 1}], got {args.label}")
        condition["label"] = args.label
    condition.update(_code_options(args, model))
    condition.update(sampler_options(args, model.sample))
    if args.size is not None:
        if args.size < 1:
            raise GenzooError(f"--size must be a positive number of pixels, got {args.size}")
        if "size" not in inspect.signature(model.sample).parameters:
            raise GenzooError(f"--size: model {model.name!r} samples at its training size only (gan with arch=fcn draws any size)")
        condition["size"] = args.size
    gen = torch.Generator(device=model.device).manual_seed(args.seed)
    with torch.no_grad():
        x = model.sample(args.n, generator=gen, **condition)
    save_samples(x.float().cpu(), model.info, args.out)
    print(f"{args.out}: {args.n} samples from {args.run}")
    return 0


def _code_options(args: argparse.Namespace, model) -> dict[str, Any]:
    """--code K and --continuous v1,v2 for models whose sample() takes them (infogan); the model checks the values."""
    import inspect

    given = {k: v for k, v in (("code", args.code), ("continuous", args.continuous)) if v is not None}
    accepted = inspect.signature(model.sample).parameters
    for key in given:
        if key not in accepted:
            raise GenzooError(f"--{key}: model {model.name!r} has no latent codes to choose (infogan has)")
    if "continuous" in given:
        try:
            given["continuous"] = [float(v) for v in given["continuous"].split(",")]
        except ValueError:
            raise GenzooError(f"--continuous expects comma-separated numbers such as --continuous=0.5,-1, got {args.continuous!r}") from None
    return given


def cmd_interpolate(args: argparse.Namespace) -> int:
    import torch

    from genzoo.atomic import atomic_write
    from genzoo.viz import interpolation_strip

    check_suffix(args.out, (".png",))
    model = load_run(args.run, args.device)
    img = interpolation_strip(model, steps=args.steps, generator=torch.Generator().manual_seed(args.seed), info=model.info)
    if isinstance(img, bytes):
        atomic_write(args.out, lambda p: p.write_bytes(img))
    else:
        atomic_write(args.out, lambda p: img.save(p, format="PNG"))
    print(f"{args.out}: interpolation from {args.run}")
    return 0


# --- the commands' arguments ------------------------------------------------------------
def register_sample(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run")
    s.add_argument("-n", type=COUNT, default=64)
    s.add_argument("--out", required=True, help="FILE.png, FILE.npy or FILE.npz")
    add_seed(s)
    s.add_argument("--label", type=INT)
    s.add_argument("--steps", type=COUNT, help="ddpm: sampling steps (default all the training steps)")
    s.add_argument("--sampler", choices=("ddpm", "ddim"), help="ddpm: the reverse sampler")
    s.add_argument("--eta", type=FLOAT, help="ddpm with --sampler ddim: 0 deterministic, 1 ancestral noise")
    s.add_argument("--guidance", type=FLOAT, help="conditional ddpm: classifier-free guidance scale (1 conditional, 0 unconditional, >1 sharper)")
    s.add_argument("--size", type=COUNT, help="gan with arch=fcn: side of the generated fields, e.g. 256 after training on 64×64 patches")
    s.add_argument("--code", type=INT, help="infogan: the categorical code of every sample")
    s.add_argument("--continuous", metavar="V1,V2", help="infogan: the continuous codes of every sample, e.g. --continuous=0.5,-1")
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_sample)


def register_interpolate(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("interpolate", help="decode a path between latent codes")
    s.add_argument("run")
    s.add_argument("--out", required=True)
    s.add_argument("--steps", type=COUNT, default=10)
    add_seed(s)
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_interpolate)
