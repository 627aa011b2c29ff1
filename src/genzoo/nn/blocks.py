"""Shared network blocks: MLPs and the convolutional encoder/decoder pair.

The conv encoder halves the spatial size `len(channels)` times (3×3 convolutions, stride 2,
so 28 → 14 → 7); the decoder retraces the same sizes exactly, with transposed convolutions
or nearest upsampling followed by a convolution, so any H × W round-trips.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
}


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

    def __init__(
        self, shape: Sequence[int], channels: Sequence[int], out_dim: int, *, act: str = "relu"
    ) -> None:
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


UPSAMPLE = ("transposed", "nearest", "bilinear")


class ConvDecoder(nn.Module):
    """(B, in_dim) → (B, C, H, W): a linear layer to the smallest feature map, then stages that
    double the size back to exactly (H, W): transposed 3×3 convolutions (`upsample="transposed"`)
    or nearest / bilinear upsampling followed by a 3×3 convolution (free of checkerboard
    artefacts). With `final_conv`, the stages keep the hidden channels and a last stride-1 3×3
    convolution maps them to C (the classic MNIST layout 7×7×64 → 14×14×64 → 28×28×32 → 28×28×1).
    `batch_norm` normalises every hidden stage before its activation (a DCGAN generator, Radford
    et al. 2016). No activation on the output: the model maps it to its likelihood's parameters."""

    def __init__(
        self,
        shape: Sequence[int],
        channels: Sequence[int],
        in_dim: int,
        *,
        act: str = "relu",
        upsample: str = "transposed",
        final_conv: bool = False,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if upsample not in UPSAMPLE:
            raise ValueError(f"upsample must be one of {UPSAMPLE}, got {upsample!r}")
        c_out, h, w = shape
        sizes = conv_sizes((h, w), len(channels))
        chans = list(reversed(channels))  # e.g. (64, 32)
        self.start = (chans[0], *sizes[-1])
        self.head = nn.Sequential(nn.Linear(in_dim, math.prod(self.start)), activation(act))
        # channels after each stage: without final_conv the next hidden width, then C (64 → 32 → C);
        # with it the stages keep the widths (64 → 64 → 32) and a last convolution maps to C
        outs = [chans[0], *chans[1:]] if final_conv else [*chans[1:], c_out]
        layers: list[nn.Module] = []
        c_in = chans[0]
        targets = list(reversed(sizes[:-1]))
        for i, (target, c_next) in enumerate(zip(targets, outs)):
            layers += _up_stage(c_in, c_next, sizes[len(sizes) - 1 - i], target, upsample)
            if final_conv or i < len(targets) - 1:
                layers += [nn.BatchNorm2d(c_next)] if batch_norm else []
                layers.append(activation(act))
            c_in = c_next
        if final_conv:
            layers.append(nn.Conv2d(c_in, c_out, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.head(z).view(-1, *self.start)  # (B, C0, h0, w0)
        return self.body(h)  # (B, C, H, W)


def _up_stage(
    c_in: int, c_out: int, src: tuple[int, int], target: tuple[int, int], upsample: str
) -> list[nn.Module]:
    """One stage from spatial size `src` to `target` (= 2·src or 2·src − 1)."""
    if upsample == "transposed":
        pad = (target[0] - (2 * src[0] - 1), target[1] - (2 * src[1] - 1))
        return [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=pad)]
    mode = {"nearest": "nearest", "bilinear": "bilinear"}[upsample]
    up = nn.Upsample(size=target, mode=mode, **({"align_corners": False} if mode == "bilinear" else {}))
    return [up, nn.Conv2d(c_in, c_out, 3, padding=1)]


def flat_dim(shape: Sequence[int]) -> int:
    return math.prod(shape)


def init_output_bias(layer: nn.Module, mean: Tensor, *, logit: bool) -> None:
    """Start a decoder's output at the data mean (as logits for Bernoulli outputs)."""
    target = torch.logit(mean.clamp(1e-3, 1 - 1e-3)) if logit else mean
    with torch.no_grad():
        layer.bias.copy_(target.reshape(layer.bias.shape))


_CONV = {2: (nn.Conv2d, nn.ConvTranspose2d), 3: (nn.Conv3d, nn.ConvTranspose3d)}


class FieldGenerator(nn.Module):
    """A fully convolutional generator (B, Z, h, w) → (B, C, h·2^d, w·2^d): d stages that double
    the size (transposed 4×4 convolutions of stride 2, or nearest upsampling and a 3×3
    convolution), then a 3×3 convolution to C channels. Every layer is a convolution, so the
    noise field's size sets the output's: trained on 64×64 patches from an 8×8 noise field, it
    draws 256×256 fields from a 32×32 one (the spatial GAN of Jetchev, Bergmann & Vollgraf 2016,
    arXiv:1611.08207). No activation on the output. `dims=3`: the same with 3-D convolutions,
    (B, Z, l, h, w) → (B, C, l·2^d, h·2^d, w·2^d) blocks (bilinear upsampling becomes trilinear)."""

    def __init__(
        self,
        z_channels: int,
        channels: Sequence[int],
        c_out: int,
        *,
        act: str = "relu",
        upsample: str = "transposed",
        dims: int = 2,
    ) -> None:
        super().__init__()
        conv, conv_t = _CONV[dims]
        layers: list[nn.Module] = []
        c = z_channels
        for ch in reversed(channels):
            if upsample == "transposed":
                layers.append(conv_t(c, ch, 4, stride=2, padding=1))
            else:
                mode = {"nearest": "nearest", "bilinear": "bilinear" if dims == 2 else "trilinear"}[upsample]
                extra = {"align_corners": False} if mode != "nearest" else {}
                layers += [nn.Upsample(scale_factor=2, mode=mode, **extra), conv(c, ch, 3, padding=1)]
            layers.append(activation(act))
            c = ch
        self.body = nn.Sequential(*layers)
        self.out = conv(c, c_out, 3, padding=1)
        self.factor = 2 ** len(channels)

    def forward(self, z: Tensor) -> Tensor:
        return self.out(self.body(z))


class PatchCritic(nn.Module):
    """A fully convolutional critic (B, C, H, W) → (B, 1): stride-2 4×4 convolutions, a 3×3
    convolution to one score per patch, averaged over the patches (PatchGAN, Isola et al. 2017):
    it judges local texture at any image size. `dims=3`: on blocks (B, C, D, H, W), 3-D convolutions."""

    def __init__(self, c_in: int, channels: Sequence[int], *, act: str = "leaky_relu", dims: int = 2) -> None:
        super().__init__()
        conv = _CONV[dims][0]
        layers: list[nn.Module] = []
        c = c_in
        for ch in channels:
            layers += [conv(c, ch, 4, stride=2, padding=1), activation(act)]
            c = ch
        self.features = nn.Sequential(*layers)
        self.head = conv(c, 1, 3, padding=1)
        self.spatial = tuple(range(2, 2 + dims))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).mean(self.spatial)  # (B, 1)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Within the block the modules' parameters do not require gradients, so a loss taken through
    them (a generator's loss through the critic) puts no gradient on them; afterwards they do again."""
    for m in modules:
        m.requires_grad_(False)
    try:
        yield
    finally:
        for m in modules:
            m.requires_grad_(True)


class ReluResidualBlock(nn.Module):
    """x + Conv1×1(ReLU(Conv3×3(ReLU(x)))): the residual block of the VQ-VAE (van den Oord et al. 2017)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)
