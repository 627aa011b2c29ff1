"""The diffusion U-Net (Ho et al. 2020, after Ronneberger et al. 2015) and its blocks: residual
blocks that take a time embedding, and self-attention over the positions of a feature map."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class TimeResBlock(nn.Module):
    """GroupNorm → SiLU → 3×3 conv, + the time embedding projected per channel, twice, with a skip
    (a 1×1 convolution where the channel count changes) — the block of Ho et al. 2020's U-Net."""

    def __init__(self, c_in: int, c_out: int, t_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(_groups(c_in), c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(t_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(_groups(c_out), c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = h + self.time(t)[:, :, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return h + self.skip(x)


class SelfAttention(nn.Module):
    """Single-head self-attention over the positions of a feature map, with a residual."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm, self.qkv, self.out = (
            nn.GroupNorm(_groups(c), c),
            nn.Conv2d(c, 3 * c, 1),
            nn.Conv2d(c, c, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)  # each (B, C, HW)
        a = nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )
        return x + self.out(a.transpose(1, 2).reshape(b, c, h, w))


def _groups(c: int) -> int:
    return next(g for g in (8, 4, 2, 1) if c % g == 0)


class UNet(nn.Module):
    """A diffusion U-Net (Ho et al. 2020, after Ronneberger et al. 2015): (B, C, H, W) and a time
    embedding (B, t_dim) → (B, C, H, W). Each level has a residual block; between levels the size
    halves (stride-2 convolution) on the way down and doubles (nearest upsampling to the exact
    skip size, then a 3×3 convolution) on the way up, where the features of the same level are
    concatenated (skip connections). Self-attention on the levels listed in `attention` (0 = full
    resolution). Any H × W: odd sizes round up on the way down and are cropped back exactly."""

    def __init__(
        self, c_in: int, channels: Sequence[int], t_dim: int, *, attention: Sequence[int] = ()
    ) -> None:
        super().__init__()
        self.stem = nn.Conv2d(c_in, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.pool = nn.ModuleList()
        c = channels[0]
        for i, ch in enumerate(channels):
            self.down.append(
                nn.ModuleList(
                    [TimeResBlock(c, ch, t_dim), SelfAttention(ch) if i in attention else nn.Identity()]
                )
            )
            c = ch
            if i < len(channels) - 1:
                self.pool.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid = TimeResBlock(c, c, t_dim)
        self.up = nn.ModuleList()
        self.upconv = nn.ModuleList()
        for i in reversed(range(len(channels) - 1)):
            self.upconv.append(nn.Conv2d(c, channels[i], 3, padding=1))
            self.up.append(
                nn.ModuleList(
                    [
                        TimeResBlock(2 * channels[i], channels[i], t_dim),
                        SelfAttention(channels[i]) if i in attention else nn.Identity(),
                    ]
                )
            )
            c = channels[i]
        self.head = nn.Sequential(nn.GroupNorm(_groups(c), c), nn.SiLU(), nn.Conv2d(c, c_in, 3, padding=1))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        h = self.stem(x)
        skips = []
        for i, (block, attn) in enumerate(self.down):
            h = attn(block(h, t))
            if i < len(self.pool):
                skips.append(h)
                h = self.pool[i](h)
        h = self.mid(h, t)
        for conv, (block, attn) in zip(self.upconv, self.up):
            skip = skips.pop()
            h = conv(nn.functional.interpolate(h, size=skip.shape[-2:], mode="nearest"))
            h = attn(block(torch.cat([h, skip], dim=1), t))
        return self.head(h)
