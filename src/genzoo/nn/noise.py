"""Noise drawn where a generator says: on the generator's own device, then moved to where it is
used — so that a seeded run draws the same numbers whichever device the model sits on (a CPU
generator gives a CUDA model the draws it gives a CPU one). Every family draws its noise here."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def noise(
    fn: Any,
    shape: tuple[int, ...],
    generator: torch.Generator | None,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Draws of `fn` (torch.randn or torch.rand) of `shape` and `dtype` on `device`: from the global
    RNG there, or from `generator` on its own device and then moved."""
    if generator is None:
        return fn(shape, device=device, dtype=dtype)
    return fn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)


def draw_noise(fn: Any, shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """`noise` on the device of `like`, in its dtype (at least float32)."""
    return noise(fn, shape, generator, like.device, torch.promote_types(like.dtype, torch.float32))
