"""Image-to-image translation sets: each example carries a second image, `Dataset.pair`
(see `genzoo.data.base`).

- `mnist-sr` (paired, super-resolution): x = a 28×28 MNIST digit (the target), pair = the same
  digit average-pooled by `factor` (4: to 7×7) and upsampled back to 28×28 by repeating each
  pixel (nearest), the input a translator must sharpen: pair = up_f(avgpool_f(x)). Same split
  and labels as `mnist`.
- `brick2gravel` (unpaired): x = brick patches (domain A), pair = gravel patches (domain B), grey,
  from the `textures` photographs (the same train / test regions). The two domains are drawn
  independently and the gravel patches are put in their own shuffled order, so x[i] and pair[i]
  are unrelated: only the sets correspond, as in CycleGAN's unpaired setting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.config import option
from genzoo.data.base import DataOptions, Dataset
from genzoo.data.images import TEXTURES, TextureOptions, image_info, mnist, texture_patches
from genzoo.data.registry import register_dataset


@dataclass
class SuperResolutionOptions(DataOptions):
    factor: int = option(
        4, choices=(2, 4, 7, 14), help="downscaling factor of the inputs: 28×28 → (28/factor)² → 28×28"
    )


def low_resolution(x: Tensor, factor: int) -> Tensor:
    """Average-pool (N, C, H, W) by `factor`, then upsample back by repeating each pixel."""
    return F.interpolate(F.avg_pool2d(x, factor), scale_factor=factor, mode="nearest")


@register_dataset(
    "mnist-sr",
    options=SuperResolutionOptions,
    summary="paired super-resolution: MNIST 28×28 targets, inputs pooled to 7×7 and upsampled (nearest)",
)
def mnist_sr(split: str, opts: SuperResolutionOptions) -> Dataset:
    digits = mnist(split, opts)
    info = replace(digits.info, name="mnist-sr", pairing="paired", pair_shape=digits.info.shape)
    return Dataset(digits.x, info, digits.y, pair=low_resolution(digits.x, opts.factor))


@register_dataset(
    "brick2gravel",
    options=TextureOptions,
    summary="unpaired: grey brick patches (domain A) and gravel patches (domain B) "
    "from the textures photographs",
)
def brick2gravel(split: str, opts: TextureOptions) -> Dataset:
    a_label, b_label = TEXTURES.index("brick"), TEXTURES.index("gravel")
    xs, pairs = [], []
    for part in ("train", "test") if split == "all" else (split,):
        x, y, _ = texture_patches(part, opts.patch, opts.n)
        a, b = x[y == a_label], x[y == b_label]
        # texture_patches draws each texture's corners from its own seed; reorder B independently too
        order = torch.randperm(len(b), generator=torch.Generator().manual_seed(3 if part == "train" else 4))
        xs.append(a)
        pairs.append(b[order])
    shape = (1, opts.patch, opts.patch)
    info = replace(image_info("brick2gravel", shape, 0), pairing="unpaired", pair_shape=shape)
    return Dataset(torch.cat(xs), info, pair=torch.cat(pairs))
