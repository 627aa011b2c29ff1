"""The adversarial losses the GAN family shares (gan, cgan, infogan, the aae's critic on codes,
cyclegan and pix2pix): the critic's and the generator's losses, the gradient penalty of WGAN-GP
(Gulrajani et al. 2017) on interpolates, weight clipping (Arjovsky et al. 2017) and the R1
penalty (Mescheder et al. 2018)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.nn.noise import draw_noise

LOSSES = ("minimax", "non-saturating", "wgan", "wgan-gp")
_GP_EPS = 1e-12  # inside the norm's square root: a finite gradient where ∇D(x̂) = 0


def interpolate(
    real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """x̂ = εx + (1 − ε)G(z) with one ε ~ U[0, 1] per example: returns x̂ (B, ...) and ε (B, 1, ..., 1)."""
    eps = draw_noise(torch.rand, (len(real),) + (1,) * (real.dim() - 1), generator, real).to(real.dtype)
    return eps * real + (1 - eps) * fake, eps


def gradient_penalty(
    critic: Any, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """E[(‖∇D(x̂)‖₂ − 1)²] over the batch (Gulrajani et al. 2017), differentiable in the critic."""
    x_hat, _ = interpolate(real.detach(), fake.detach(), generator)
    x_hat.requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = (grad.flatten(1).pow(2).sum(1) + _GP_EPS).sqrt()  # (B,)
    return (norm - 1).pow(2).mean()


@torch.no_grad()
def clip_weights(critic: nn.Module, c: float) -> None:
    """WGAN's Lipschitz constraint by clipping (Arjovsky et al. 2017): every weight into [−c, c]."""
    for p in critic.parameters():
        p.clamp_(-c, c)


def r1_penalty(real_score: Tensor, x: Tensor) -> Tensor:
    """E‖∇ₓD(x)‖² over real examples x (requiring grad), differentiable in the critic (Mescheder et al.
    2018, eq. 9: the critic's gradient vanishes on the data at the equilibrium)."""
    (grad,) = torch.autograd.grad(real_score.sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def critic_loss(loss: str, real_score: Tensor, fake_score: Tensor) -> Tensor:
    """The critic's loss from its outputs on real and fake examples (logits, or WGAN scores)."""
    if loss in ("minimax", "non-saturating"):
        return (
            F.softplus(-real_score).mean() + F.softplus(fake_score).mean()
        )  # −[log D(x) + log(1 − D(G(z)))]
    return fake_score.mean() - real_score.mean()


def generator_loss(loss: str, fake_score: Tensor) -> Tensor:
    """The generator's loss from the critic's outputs on G(z)."""
    if loss == "minimax":
        return -F.softplus(fake_score).mean()  # log(1 − D(G(z))), minimised
    if loss == "non-saturating":
        return F.softplus(-fake_score).mean()  # −log D(G(z))
    return -fake_score.mean()
