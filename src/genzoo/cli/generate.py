"""`genzoo sample` and `interpolate`: draw from a trained run. The options a family declares for
its sample() (a number of steps, a code, a size) are flags made from its declaration (models/base.py,
SampleOptions)."""

from __future__ import annotations

import argparse

from genzoo.cli.common import (
    COUNT,
    INT,
    add_device,
    add_model_options,
    add_seed,
    add_threads,
    at_least_one,
    check_suffix,
    load_run,
    model_options,
)
from genzoo.errors import GenzooError


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from genzoo.viz import save_samples

    at_least_one("-n", args.n)
    check_suffix(args.out, (".png", ".npy", ".npz"))
    model = load_run(args.run, args.device)
    condition = {}
    if args.label is not None:
        if not model.conditional:
            raise GenzooError(f"--label: model {model.name!r} is not conditional")
        classes = model.info.num_classes
        if not 0 <= args.label < classes:
            raise GenzooError(f"--label must be in [0, {classes - 1}], got {args.label}")
        condition["label"] = args.label
    condition.update(model_options(args, model, "sample"))
    gen = torch.Generator(device=model.device).manual_seed(args.seed)
    with torch.no_grad():
        x = model.sample(args.n, generator=gen, **condition)
    save_samples(x.float().cpu(), model.info, args.out)
    print(f"{args.out}: {args.n} samples from {args.run}")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    import torch

    from genzoo.atomic import atomic_write
    from genzoo.viz import interpolation_strip

    check_suffix(args.out, (".png",))
    model = load_run(args.run, args.device)
    img = interpolation_strip(
        model, steps=args.steps, generator=torch.Generator().manual_seed(args.seed), info=model.info
    )
    if isinstance(img, bytes):
        atomic_write(args.out, lambda p: p.write_bytes(img))
    else:
        atomic_write(args.out, lambda p: img.save(p, format="PNG"))
    print(f"{args.out}: interpolation from {args.run}")
    return 0


# --- the commands' arguments ------------------------------------------------------------
def register_sample(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", help="a run or model directory")
    s.add_argument("-n", type=COUNT, default=64, help="samples")
    s.add_argument("--out", required=True, help="FILE.png, FILE.npy or FILE.npz")
    add_seed(s)
    s.add_argument("--label", type=INT, help="a conditional model: the class of every sample")
    add_model_options(s, "sample")
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_sample)


def register_interpolate(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("interpolate", help="decode a path between latent codes")
    s.add_argument("run", help="a run or model directory of a model with a latent space")
    s.add_argument("--out", required=True, help="FILE.png: rows of decoded paths between codes")
    s.add_argument("--steps", type=COUNT, default=10, help="pictures along each path")
    add_seed(s)
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_interpolate)
