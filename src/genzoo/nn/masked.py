"""Masked convolutions (van den Oord et al. 2016, "Pixel Recurrent Neural Networks"): the blocks of
the PixelCNN family and of the VQ-VAE's prior, which see only the pixels before the centre in
raster order; the gated PixelCNN's layer of two stacks (van den Oord et al. 2016, "Conditional
Image Generation with PixelCNN Decoders") and PixelRNN's Row LSTM layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedConv2d(nn.Conv2d):
    """A k×k convolution that sees only the pixels before the centre in raster order (type "A")
    or those and the centre (type "B"); padding keeps the size."""

    def __init__(self, c_in: int, c_out: int, kernel: int, kind: str) -> None:
        super().__init__(c_in, c_out, kernel, padding=kernel // 2)
        mask = torch.ones(kernel, kernel)
        c = kernel // 2
        mask[c, c + (kind == "B") :] = 0
        mask[c + 1 :] = 0
        self.register_buffer("mask", mask[None, None], persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class MaskedResidualBlock(nn.Module):
    """ReLU → 1×1 (h → h/2) → ReLU → masked 3×3 B → ReLU → 1×1 (h/2 → h), plus the input."""

    def __init__(self, h: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(h, h // 2, 1),
            nn.ReLU(),
            MaskedConv2d(h // 2, h // 2, 3, "B"),
            nn.ReLU(),
            nn.Conv2d(h // 2, h, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def pixel_head(c_in: int, hidden: int, out: int) -> nn.Sequential:
    """ReLU → 1×1 (c_in → hidden) → ReLU → 1×1 (hidden → out): per-pixel logits from features."""
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, out, 1))


def gate(x: Tensor) -> Tensor:
    """The gated activation tanh(a) ⊙ σ(b) of x's two halves along the channels."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One layer of the two stacks. The vertical convolution, kernel (k//2 + 1) × k, sees the
    rows up to the current one; it reaches the horizontal stack shifted down a row (through a
    1×1), so that a pixel receives only rows above it from there. The horizontal convolution,
    1 × (k//2 + 1), sees the current row up to the current pixel (excluded in the first layer)."""

    def __init__(self, c_in: int, p: int, kernel: int, first: bool, classes: int, skip: int) -> None:
        super().__init__()
        self.k, self.first = kernel, first
        self.v = nn.Conv2d(c_in, 2 * p, (kernel // 2 + 1, kernel))
        self.h = nn.Conv2d(c_in, 2 * p, (1, kernel // 2 + 1))
        hmask = torch.ones(1, kernel // 2 + 1)
        if first:
            hmask[0, -1] = 0  # type A: not the pixel itself
        self.register_buffer("hmask", hmask[None, None], persistent=False)
        self.v2h = nn.Conv2d(2 * p, 2 * p, 1)
        self.h_out = nn.Conv2d(p, p, 1)
        self.skip = nn.Conv2d(p, skip, 1)
        self.label = nn.Embedding(classes, 4 * p) if classes else None
        if self.label is not None:
            nn.init.zeros_(self.label.weight)

    def _biases(self, y: Tensor | None) -> tuple[Tensor | float, Tensor | float]:
        if self.label is None or y is None:
            return 0.0, 0.0
        bv, bh = self.label(y)[:, :, None, None].chunk(2, dim=1)
        return bv, bh

    def vertical(self, v: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """The vertical stack: its features vf (B, 2p, R, W), rows i − k//2 … i each, and the gated
        output for the next layer."""
        k = self.k
        vf = self.v(F.pad(v, (k // 2, k // 2, k // 2, 0)))
        return vf, gate(vf + self._biases(y)[0])

    def horizontal(self, h: Tensor, vf_above: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """The horizontal stack on rows of h (B, c, R, W) given the vertical features of the rows
        above them, vf_above (B, 2p, R, W): the next layer's h and this layer's skip output."""
        k = self.k
        hf = F.conv2d(F.pad(h, (k // 2, 0, 0, 0)), self.h.weight * self.hmask, self.h.bias)
        g = gate(hf + self.v2h(vf_above) + self._biases(y)[1])
        return self.h_out(g) + (0 if self.first else h), self.skip(g)

    def forward(self, v: Tensor, h: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        vf, v_out = self.vertical(v, y)
        h_out, skip = self.horizontal(
            h, F.pad(vf, (0, 0, 1, 0))[:, :, :-1], y
        )  # the vertical stack, a row down
        return v_out, h_out, skip


class RowLSTM(nn.Module):
    """One Row LSTM layer: gates [i, f, o, g] = K_is ⊛ x_row (masked 1×3, type B) + K_ss ⊛ h_{row−1}
    (1×3); c = f ⊙ c_prev + i ⊙ g, h = o ⊙ tanh(c); the layer adds a 1×1 of h to its input."""

    def __init__(self, h: int) -> None:
        super().__init__()
        self.input_to_state = nn.Conv2d(h, 4 * h, (1, 3), padding=(0, 1))
        self.register_buffer("mask", torch.tensor([1.0, 1.0, 0.0]).view(1, 1, 1, 3), persistent=False)
        self.state_to_state = nn.Conv1d(h, 4 * h, 3, padding=1)
        self.out = nn.Conv2d(h, h, 1)

    def input_gates(self, x: Tensor) -> Tensor:
        """The input-to-state part for rows of x (B, h, R, W) at once: (B, 4h, R, W)."""
        return F.conv2d(x, self.input_to_state.weight * self.mask, self.input_to_state.bias, padding=(0, 1))

    def cell(self, gates_in: Tensor, state: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
        """The LSTM state (h, c) of one row from its input gates (B, 4h, W) and the row above's state."""
        gates = gates_in if state is None else gates_in + self.state_to_state(state[0])
        i, f, o, g = gates.chunk(4, dim=1)
        c = torch.sigmoid(i) * torch.tanh(g)
        if state is not None:
            c = c + torch.sigmoid(f) * state[1]
        return torch.sigmoid(o) * torch.tanh(c), c

    def step(
        self, gates_in: Tensor, x_row: Tensor, state: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One row: gates_in (B, 4h, W), x_row (B, h, W), state (h, c) of the row above or None."""
        hid, c = self.cell(gates_in, state)
        return x_row + self.out(hid[:, :, None])[:, :, 0], (hid, c)

    def forward(self, x: Tensor) -> Tensor:
        """All rows of x (B, h, H, W): the recurrence runs row by row, the 1×1 output convolution
        once over the stacked states (per pixel, so the same as row by row, in one call)."""
        gates = self.input_gates(x)
        states, state = [], None
        for r in range(x.shape[2]):
            state = self.cell(gates[:, :, r], state)
            states.append(state[0])
        return x + self.out(torch.stack(states, dim=2))
