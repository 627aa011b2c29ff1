"""`genzoo encode`, `score`, `denoise`, `edit` and `translate`: maps of a trained run over examples."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from genzoo.cli.common import (
    INT,
    add_device,
    add_seed,
    add_threads,
    by_chunks,
    check_suffix,
    dataset_for,
    input_examples,
    load_run,
    save_arrays,
)
from genzoo.errors import GenzooError


def cmd_encode(args: argparse.Namespace) -> int:
    import torch

    from genzoo.training import checkpoint as ckpt

    check_suffix(args.out, (".npz",))
    model = load_run(args.run, args.device)
    if not model.encodes:
        raise GenzooError(f"model {model.name!r} has no encoder (encode needs an autoencoder or a VAE)")
    if args.input:
        x, y = input_examples(args.input, model), None
    else:
        data = dataset_for(ckpt.read_config(args.run), args.split)
        x, y = data.tensors(), data.y
    with torch.no_grad():
        codes = by_chunks(model.encode, x, model).float()
    arrays = {"codes": codes} if y is None else {"codes": codes, "y": y}
    save_arrays(args.out, **arrays)
    print(f"{args.out}: {len(codes)} codes of dimension {codes.shape[1]}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    import torch

    model = load_run(args.run, args.device)
    x = input_examples(args.input, model)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        scores = by_chunks(model.anomaly_score, x, model, 250).double()
    q = torch.quantile(scores, torch.tensor([0.0, 0.5, 0.95, 1.0], dtype=torch.float64)).tolist()
    print(
        f"anomaly scores of {len(scores)} examples (higher = more anomalous): "
        f"min {q[0]:.4g}, median {q[1]:.4g}, 95% {q[2]:.4g}, max {q[3]:.4g}"
    )
    if args.out:
        save_arrays(args.out, scores=scores)
        print(f"written: {args.out}")
    return 0


def cmd_denoise(args: argparse.Namespace) -> int:
    import torch

    check_suffix(args.out, (".npz", ".npy", ".png"))
    model = load_run(args.run, args.device)
    if not model.encodes:
        raise GenzooError(f"model {model.name!r} has no encoder and decoder to denoise with")
    if not model.denoising:
        print(
            f"genzoo: warning: model {model.name!r} was not trained to denoise; "
            f"this is its plain reconstruction",
            file=sys.stderr,
        )
    x = input_examples(args.input, model)
    with torch.no_grad():
        clean = by_chunks(model.reconstruct, x, model).float()
    from genzoo.viz import save_samples

    save_samples(clean, model.info, args.out)
    print(f"{args.out}: {len(clean)} denoised examples")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    import torch

    from genzoo.models.base import Edits
    from genzoo.models.registry import able
    from genzoo.viz import save_samples

    check_suffix(args.out, (".npz", ".npy", ".png"))
    model = load_run(args.run, args.device)
    if not isinstance(model, Edits):
        raise GenzooError(
            f"model {model.name!r} cannot edit examples "
            f"(edit needs a conditional model with an encoder: {', '.join(able('edits'))})"
        )
    if not model.encodes:
        raise GenzooError(
            f"model {model.name!r} was trained without its encoder (encoder=false), "
            f"so it cannot edit examples"
        )
    classes = model.info.num_classes
    if not 0 <= args.label < classes:
        raise GenzooError(f"--label must be in [0, {classes - 1}], got {args.label}")
    x = input_examples(args.input, model)
    with torch.no_grad():
        edited = by_chunks(lambda c: model.edit(c, args.label), x, model).float()
    save_samples(edited, model.info, args.out, y=torch.full((len(edited),), args.label))
    print(f"{args.out}: {len(edited)} examples redrawn as class {args.label}")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import torch

    from genzoo.data import load
    from genzoo.models.base import Translates
    from genzoo.models.registry import able
    from genzoo.viz import save_samples

    check_suffix(args.out, (".png", ".npz", ".npy"))
    model = load_run(args.run, args.device)
    if not isinstance(model, Translates):
        raise GenzooError(
            f"model {model.name!r} does not translate images "
            f"(translate needs {' or '.join(able('translates'))})"
        )
    shape_in, shape_out = model.translation_shapes(args.direction)  # one-line error for a direction it lacks
    suffix = Path(args.input).suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise GenzooError(
            f"--input {args.input}: unsupported file type {suffix or '(none)'!r} (use .npy or .npz)"
        )
    x = load(f"{suffix[1:]}:{args.input}", split="all").x
    if tuple(x.shape[1:]) != tuple(shape_in):
        if x[0].numel() != math.prod(shape_in):
            raise GenzooError(
                f"--input {args.input}: examples of shape {tuple(x.shape[1:])}, "
                f"the model translates {tuple(shape_in)}"
            )
        x = x.reshape(len(x), *shape_in)
    with torch.no_grad():
        out = model.translate(x, direction=args.direction).float().cpu()
    info = replace(model.info, shape=tuple(shape_out), pairing=None, pair_shape=None)
    save_samples(out, info, args.out)
    print(f"{args.out}: {len(out)} examples translated {args.direction} by {args.run}")
    return 0


# --- the commands' arguments ------------------------------------------------------------
def register_encode(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("encode", help="codes of a latent model (dimension reduction); writes FILE.npz")
    s.add_argument("run", help="a run or model directory")
    s.add_argument("--out", required=True, help="FILE.npz with codes (and labels y)")
    s.add_argument("--input", help="FILE.npy/.npz of examples (default: the run's dataset)")
    s.add_argument(
        "--split", default="test", choices=("train", "test", "all"), help="which of the run's data to encode"
    )
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_encode)


def register_score(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "score", help="anomaly score per example (negative log-likelihood or reconstruction error)"
    )
    s.add_argument("run", help="a run or model directory")
    s.add_argument("--input", required=True, help="FILE.npy/.npz of examples")
    s.add_argument("--out", help="FILE.npz for the scores")
    add_seed(s)
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_score)


def register_denoise(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "denoise", help="clean noisy examples with an autoencoder (best one trained to denoise)"
    )
    s.add_argument("run", help="a run or model directory")
    s.add_argument("--input", required=True, help="FILE.npy/.npz of noisy examples")
    s.add_argument("--out", required=True, help="FILE.npz, FILE.npy or FILE.png")
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_denoise)


def register_edit(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("edit", help="redraw examples as another class, keeping their style: G(E(x), label)")
    s.add_argument("run", help="a run or model directory")
    s.add_argument("--input", required=True, help="FILE.npy/.npz of examples")
    s.add_argument("--label", required=True, type=INT, help="the class to redraw them as")
    s.add_argument("--out", required=True, help="FILE.png, FILE.npz (edited x and their label y) or FILE.npy")
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_edit)


def register_translate(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("translate", help="map images of one domain to another with a translation model")
    s.add_argument("run", help="a run or model directory")
    s.add_argument(
        "--input", required=True, help="FILE.npy/.npz of input images (domain A, or B with --direction b2a)"
    )
    s.add_argument("--out", required=True, help="FILE.png, FILE.npz or FILE.npy")
    s.add_argument(
        "--direction",
        default="a2b",
        help="a2b (default: input -> target) or b2a (models that translate both ways)",
    )
    add_device(s)
    add_threads(s)
    s.set_defaults(fn=cmd_translate)
