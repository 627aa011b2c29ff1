"""The networks of image-to-image translation (CycleGAN, Zhu et al. 2017; pix2pix, Isola et al.
2017), small: instance normalisation, the output map onto the data's range, CycleGAN's ResNet
generator, pix2pix's U-Net generator and the patch discriminator that scores each overlapping patch.

(The diffusion U-Net of nn/unet.py and the patch critic of nn/blocks.py are other networks: a
time-conditioned U-Net with attention, and a critic that averages one score over the patches.)"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class InstanceNorm(nn.Module):
    """Instance normalisation with a learnt scale and shift, skipped on 1×1 maps (where every
    value would become the shift)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] * x.shape[-2] == 1:
            return x * self.weight[:, None, None] + self.bias[:, None, None]
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=1e-5)


def norm_layer(kind: str, channels: int) -> nn.Module:
    return InstanceNorm(channels) if kind == "instance" else nn.Identity()


def conv_block(
    c_in: int, c_out: int, norm: str, act: nn.Module, *, stride: int = 1, k: int = 3
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2), norm_layer(norm, c_out), act
    )


class OutputMap(nn.Module):
    """Raw outputs → the data's value range: low + (high − low)·σ(h) when it is finite, else h."""

    def __init__(self, value_range: tuple[float, float]) -> None:
        super().__init__()
        low, high = value_range
        self.bounded = math.isfinite(low) and math.isfinite(high) and high > low
        self.low, self.high = float(low), float(high)

    def forward(self, h: Tensor) -> Tensor:
        return self.low + (self.high - self.low) * torch.sigmoid(h) if self.bounded else h

    def inverse(self, x: Tensor) -> Tensor:
        """The raw value giving `x` (to start an output at the data mean)."""
        if not self.bounded:
            return x
        return torch.logit(((x - self.low) / (self.high - self.low)).clamp(1e-3, 1 - 1e-3))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_block(channels, channels, norm, nn.ReLU()),
            nn.Conv2d(channels, channels, 3, padding=1),
            norm_layer(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator, small: 7×7 stem, `down` stride-2 stages doubling the channels,
    `blocks` residual blocks, nearest upsampling back to each stage's exact size, 7×7 output
    convolution and the output map. (B, c_in, H, W) → (B, c_out, H, W) for any H, W."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        width: int,
        down: int,
        blocks: int,
        norm: str,
        value_range: tuple[float, float],
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(c_in, width, 7, padding=3, padding_mode="replicate"), norm_layer(norm, width), nn.ReLU()
        )
        chans = [width * 2**i for i in range(down + 1)]
        self.down = nn.ModuleList(
            conv_block(a, b, norm, nn.ReLU(), stride=2) for a, b in zip(chans[:-1], chans[1:])
        )
        self.blocks = nn.Sequential(*(ResidualBlock(chans[-1], norm) for _ in range(blocks)))
        self.up = nn.ModuleList(
            conv_block(b, a, norm, nn.ReLU()) for a, b in reversed(list(zip(chans[:-1], chans[1:])))
        )
        self.head = nn.Conv2d(width, c_out, 7, padding=3, padding_mode="replicate")
        self.out = OutputMap(value_range)

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        sizes = []
        for stage in self.down:
            sizes.append(h.shape[-2:])
            h = stage(h)
        h = self.blocks(h)
        for stage, size in zip(self.up, reversed(sizes)):
            h = stage(F.interpolate(h, size=tuple(size), mode="nearest"))
        return self.out(self.head(h))


class TranslationUNet(nn.Module):
    """pix2pix's generator, small: a full-resolution 3×3 convolution to channels[0], then one
    stride-2 stage per further width; the decoder upsamples (nearest) to the exact size of the
    matching encoder stage, concatenates its features (the skip connection) and convolves, and
    a 1×1 convolution and the output map give the image. (B, c_in, H, W) → (B, c_out, H, W)."""

    def __init__(
        self, c_in: int, c_out: int, channels: tuple[int, ...], norm: str, value_range: tuple[float, float]
    ) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.2)
        self.stem = nn.Sequential(nn.Conv2d(c_in, channels[0], 3, padding=1), act)
        self.down = nn.ModuleList(
            conv_block(a, b, norm, act, stride=2) for a, b in zip(channels[:-1], channels[1:])
        )
        pairs = list(zip(channels[:-1], channels[1:]))
        self.up = nn.ModuleList(conv_block(b + a, a, norm, nn.ReLU()) for a, b in reversed(pairs))
        self.head = nn.Conv2d(channels[0], c_out, 1)
        self.out = OutputMap(value_range)

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        skips = []
        for stage in self.down:
            skips.append(h)
            h = stage(h)
        for stage, skip in zip(self.up, reversed(skips)):
            h = stage(torch.cat([F.interpolate(h, size=tuple(skip.shape[-2:]), mode="nearest"), skip], 1))
        return self.out(self.head(h))


class PatchDiscriminator(nn.Module):
    """(B, c_in, H, W) → (B, 1, ⌈H/2^k⌉, ⌈W/2^k⌉) logits, one per overlapping patch: k stride-2
    3×3 convolutions (leaky ReLU, no normalisation on the first), then a 3×3 convolution."""

    def __init__(self, c_in: int, channels: tuple[int, ...], norm: str) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = c_in
        for i, ch in enumerate(channels):
            layers.append(conv_block(c, ch, "none" if i == 0 else norm, nn.LeakyReLU(0.2), stride=2))
            c = ch
        layers.append(nn.Conv2d(c, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)
