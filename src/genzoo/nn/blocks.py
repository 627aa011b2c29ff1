"""Shared network blocks: MLPs and the convolutional encoder/decoder pair.

The conv encoder halves the spatial size `len(channels)` times (3×3 convolutions, stride 2,
so 28 → 14 → 7); the decoder retraces the same sizes exactly, with transposed convolutions
or nearest upsampling followed by a convolution, so any H × W round-trips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU, "sigmoid": nn.Sigmoid}


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


class MLP(nn.Sequential):
    """Linear layers of widths `in_dim → hidden… → out_dim`, activation between them (not after
    the last)."""

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, *, act: str = "relu") -> None:
        widths = [in_dim, *hidden, out_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(activation(act))
        super().__init__(*layers)


def conv_sizes(size: tuple[int, int], depth: int) -> list[tuple[int, int]]:
    """Spatial sizes after each stride-2 stage: [(H, W), (⌈H/2⌉, ⌈W/2⌉), ...]."""
    sizes = [tuple(size)]
    for _ in range(depth):
        h, w = sizes[-1]
        sizes.append((math.ceil(h / 2), math.ceil(w / 2)))
    return sizes


class ConvEncoder(nn.Module):
    """(B, C, H, W) → (B, out_dim): stride-2 convolutions, then a linear layer."""

    def __init__(self, shape: Sequence[int], channels: Sequence[int], out_dim: int, *, act: str = "relu") -> None:
        super().__init__()
        c, h, w = shape
        layers: list[nn.Module] = []
        for ch in channels:
            layers += [nn.Conv2d(c, ch, 3, stride=2, padding=1), activation(act)]
            c = ch
        self.features = nn.Sequential(*layers)
        fh, fw = conv_sizes((h, w), len(channels))[-1]
        self.head = nn.Linear(c * fh * fw, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))  # (B, out_dim)


class ConvDecoder(nn.Module):
    """(B, in_dim) → (B, C, H, W): a linear layer to the smallest feature map, then stages that
    double the size back to exactly (H, W): transposed convolutions (`upsample="transpose"`) or
    nearest upsampling + 3×3 convolution (`upsample="nearest"`, free of checkerboard artefacts).
    No activation on the output: the model maps it to its likelihood's parameters."""

    def __init__(
        self,
        shape: Sequence[int],
        channels: Sequence[int],
        in_dim: int,
        *,
        act: str = "relu",
        upsample: str = "transpose",
    ) -> None:
        super().__init__()
        c_out, h, w = shape
        sizes = conv_sizes((h, w), len(channels))
        chans = list(reversed(channels))
        self.start = (chans[0], *sizes[-1])
        self.head = nn.Sequential(nn.Linear(in_dim, math.prod(self.start)), activation(act))
        layers: list[nn.Module] = []
        targets = list(reversed(sizes[:-1]))
        for i, target in enumerate(targets):
            c_in = chans[i]
            c_next = chans[i + 1] if i + 1 < len(chans) else c_out
            last = i == len(targets) - 1
            if upsample == "transpose":
                src = sizes[len(sizes) - 1 - i]
                pad = (target[0] - (2 * src[0] - 1), target[1] - (2 * src[1] - 1))
                layers.append(nn.ConvTranspose2d(c_in, c_next, 3, stride=2, padding=1, output_padding=pad))
            elif upsample == "nearest":
                layers += [nn.Upsample(size=target, mode="nearest"), nn.Conv2d(c_in, c_next, 3, padding=1)]
            else:
                raise ValueError(f"upsample must be 'transpose' or 'nearest', got {upsample!r}")
            if not last:
                layers.append(activation(act))
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.head(z).view(-1, *self.start)  # (B, C0, h0, w0)
        return self.body(h)  # (B, C, H, W)


def flat_dim(shape: Sequence[int]) -> int:
    return math.prod(shape)


def init_output_bias(layer: nn.Module, mean: Tensor, *, logit: bool) -> None:
    """Start a decoder's output at the data mean (as logits for Bernoulli outputs)."""
    target = torch.logit(mean.clamp(1e-3, 1 - 1e-3)) if logit else mean
    with torch.no_grad():
        layer.bias.copy_(target.reshape(layer.bias.shape))
