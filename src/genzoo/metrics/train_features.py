"""Train the classifiers whose features the sample metrics use, and write the weights genzoo ships.

    python -m genzoo.metrics.train_features --data mnist     # 20-90 s on 2 CPU cores
    python -m genzoo.metrics.train_features --data digits    # 5 s

Trains a `genzoo.metrics.features.LeNet` on the dataset's train split and reports its
accuracy on the test split, grey and thresholded at 0.5. Generated samples may be grey or binary
(genzoo evaluates binarised runs on 0.5-thresholded images), so every batch mixes the two: each
example is, independently, left grey (1/2), thresholded at 0.5 (1/4) or Bernoulli-sampled (1/4),
after (mnist) a small random affine jitter: shift ±2 px, rotation ±10°, scale ±10%.
The run is deterministic on CPU for a given seed and thread count: the weights come out bit-identical
(a different `--threads` changes the order of float sums, hence the weights; the shipped files used 2).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor

from genzoo.metrics.features import SHIPPED, LeNet, weights_path


@dataclass(frozen=True)
class Recipe:
    """How to train the classifier for one dataset."""

    epochs: int
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    shift: float = 2.0  # pixels, uniform in ±shift
    rotate: float = 10.0  # degrees, uniform in ±rotate
    scale: float = 0.1  # uniform in 1 ± scale


RECIPES = {
    "mnist": Recipe(epochs=60),
    # 8×8 digits fill their frame, and resampling them only blurs: no jitter
    "digits": Recipe(epochs=60, shift=0.0, rotate=0.0, scale=0.0),
}


def jitter(x: Tensor, recipe: Recipe, g: torch.Generator) -> Tensor:
    """A random affine map per image (B, 1, H, W): shift, rotation and scale, bilinear, zero outside."""
    if recipe.shift == recipe.rotate == recipe.scale == 0:
        return x
    b, _, h, _ = x.shape
    u = torch.rand(b, 4, generator=g) * 2 - 1  # (B, 4) in [-1, 1)
    angle = u[:, 0] * math.radians(recipe.rotate)
    scale = 1 + u[:, 1] * recipe.scale
    shift = u[:, 2:] * recipe.shift * 2 / h  # affine_grid works in [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def grey_or_binary(x: Tensor, g: torch.Generator) -> Tensor:
    """Each image independently: grey (p = 1/2), thresholded at 0.5 (1/4) or Bernoulli-sampled (1/4)."""
    mode = torch.randint(0, 4, (len(x), 1, 1, 1), generator=g)
    sampled = torch.bernoulli(x.clamp(0, 1), generator=g)
    return torch.where(mode == 2, (x > 0.5).float(), torch.where(mode == 3, sampled, x))


def accuracy(net: LeNet, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(chunk).argmax(1) for chunk in torch.split(x, batch_size)])
    return float((pred == y).float().mean())


def train(name: str, x: Tensor, y: Tensor, recipe: Recipe, *, seed: int = 0, log: bool = True) -> LeNet:
    """Train the classifier for dataset `name` on images `x` (N, 1, H, W) in [0, 1], labels `y`."""
    torch.manual_seed(seed)  # the initial weights and dropout
    g = torch.Generator().manual_seed(seed)  # shuffling and augmentation
    net = LeNet(SHIPPED[name])
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = recipe.epochs * math.ceil(len(x) / recipe.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=steps, pct_start=0.15)
    for epoch in range(recipe.epochs):
        net.train()
        total = 0.0
        for idx in torch.split(torch.randperm(len(x), generator=g), recipe.batch_size):
            xb = grey_or_binary(jitter(x[idx], recipe, g), g)
            loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if log and (epoch + 1) % 10 == 0:
            print(f"  epoch {epoch + 1:3d}/{recipe.epochs}  train loss {total / len(x):.4f}", flush=True)
    return net.eval()


def save(net: LeNet, path: Path, metadata: dict[str, str]) -> None:
    """Write the weights with `metadata` to a temporary name, then `os.replace` (never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tensors = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    try:
        save_file(tensors, str(tmp), metadata={**metadata, "config": net.config.to_json()})
        os.chmod(tmp, 0o644)  # shipped with the package: readable by everyone
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m genzoo.metrics.train_features", description=__doc__.split("\n")[0]
    )
    p.add_argument("--data", required=True, choices=sorted(SHIPPED), help="the dataset to train on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="CPU threads (fixed, for reproducible sums)")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    p.add_argument(
        "--out", type=Path, default=None, help="where to write the weights (default: the shipped file)"
    )
    args = p.parse_args(argv)

    from genzoo.data import load  # imported here so that `--help` is instant

    torch.set_num_threads(args.threads)
    recipe = RECIPES[args.data]
    if args.epochs is not None:
        recipe = replace(recipe, epochs=args.epochs)
    train_set, test_set = load(args.data, split="train"), load(args.data, split="test")
    print(f"training lenet-{args.data} on {len(train_set)} images, {recipe.epochs} epochs, seed {args.seed}")
    start = time.perf_counter()
    net = train(args.data, train_set.x, train_set.y, recipe, seed=args.seed)
    seconds = time.perf_counter() - start
    grey = accuracy(net, test_set.x, test_set.y)
    binary = accuracy(net, (test_set.x > 0.5).float(), test_set.y)
    print(
        f"test accuracy ({len(test_set)} images): grey {grey:.4f}, binarised {binary:.4f}  [{seconds:.0f} s]"
    )
    out = args.out or weights_path(args.data)
    metadata = {
        "dataset": args.data,
        "train_examples": str(len(train_set)),
        "test_examples": str(len(test_set)),
        "test_acc_grey": f"{grey:.4f}",
        "test_acc_binary": f"{binary:.4f}",
        "feature_dims": str(net.num_features),
        "feature_layer": "penultimate dense layer, before its ReLU",
        "seed": str(args.seed),
        "epochs": str(recipe.epochs),
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "command": f"python -m genzoo.metrics.train_features --data {args.data} --seed {args.seed}",
    }
    save(net, out, metadata)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
