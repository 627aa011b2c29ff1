"""What the lab draws of a model on the plane, computed with the model's own networks: samples
from fixed noise (so that they move smoothly as training goes), a heat map (a GAN's critic, a
KDE's density), the generator's or the decoder's image of a latent grid, the gradient of a GAN's
generator loss at its fake points, and the known-truth figures of the data."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

GRID_SPAN = 2.5  # the latent grid covers [-2.5, 2.5] in the first two latent dimensions
SAMPLE_STEPS = 10  # ddpm: DDIM steps of the lab's pictures (the model's own sampler, fewer steps)


def rounded(x: torch.Tensor) -> list:
    """x as nested lists of floats to 4 decimals (what the page needs; a smaller stream)."""
    return (torch.round(x.double() * 1e4) / 1e4).tolist()


def samples(model: Any, n: int) -> torch.Tensor:
    """n samples (n, 2) from the same noise every time (seed 0)."""
    options = {}
    if model.name == "ddpm":
        options = {"steps": min(SAMPLE_STEPS, model.config.timesteps), "sampler": "ddim"}
    return model.sample(n, generator=torch.Generator().manual_seed(0), **options).float().reshape(n, 2)


def cell_centres(bounds: list[float], n: int) -> torch.Tensor:
    """(n·n, 2) points at the centres of an n × n grid over bounds, row by row from the bottom."""
    x0, x1, y0, y1 = bounds
    xs = x0 + (torch.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (torch.arange(n) + 0.5) * (y1 - y0) / n
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1)


def heat(model: Any, bounds: list[float], n: int) -> dict[str, Any] | None:
    """A GAN's critic D(x) (the probability of "real" for the minimax and non-saturating losses;
    the score scaled to [0, 1] for the Wasserstein ones), or a KDE's density scaled by its
    maximum, at the centres of an n × n grid; None for the other families."""
    pts = cell_centres(bounds, n)
    if model.name == "gan":
        score = model.critic(pts).reshape(-1).double()
        if model.config.loss in ("minimax", "non-saturating"):
            values, label = torch.sigmoid(score), "critic D(x)"
        else:
            values, label = (
                (score - score.min()) / (score.max() - score.min() + 1e-12),
                "critic score (scaled)",
            )
    elif model.name == "kde":
        logp = model.log_prob(pts).double()
        values, label = torch.exp(logp - logp.max()), "density (scaled)"
    else:
        return None
    return {"nx": n, "ny": n, "values": rounded(values), "label": label}


def latent_grid(model: Any, lines: int, points: int) -> list[list[list[float]]] | None:
    """The decoder's (generator's) image of a grid in the first two latent dimensions, the others 0:
    `lines` polylines in each direction of `points` points each (one line for a 1-D latent space),
    decoded in one batch; None without a latent space."""
    if model.name not in ("gan", "vae"):
        return None
    d = model.latent_shape()[0]
    t = torch.linspace(-GRID_SPAN, GRID_SPAN, points)
    levels = torch.linspace(-GRID_SPAN, GRID_SPAN, lines) if d > 1 else torch.zeros(1)
    zs = []
    for along in range(min(d, 2)):
        for c in levels:
            z = torch.zeros(points, d)
            z[:, along] = t
            if d > 1:
                z[:, 1 - along] = c
            zs.append(z)
    return rounded(model.decode(torch.cat(zs)).float().reshape(len(zs), points, 2))


def generator_arrows(model: Any, n: int, bounds: list[float]) -> list[list[float]]:
    """At n fake points G(z) (the first n of the pictures' noise): the direction the generator's loss
    moves them, −∇ₓ L_G(x), the longest drawn 6 % of the plane's width."""
    from genzoo.models.gan.losses import generator_loss

    z = model.sample_latent(n, generator=torch.Generator().manual_seed(0))
    x = model.decode(z).detach().reshape(n, 2).requires_grad_(True)
    loss = generator_loss(model.config.loss, model.critic(x))
    (grad,) = torch.autograd.grad(loss.sum(), x)
    step = -grad
    longest = float(step.norm(dim=1).max())
    scale = 0.06 * (bounds[1] - bounds[0]) / longest if longest > 0 else 0.0
    return [
        [round(float(a), 4), round(float(b), 4), round(float(c), 4), round(float(e), 4)]
        for (a, b), (c, e) in zip(x.detach().tolist(), (step * scale).tolist())
    ]


def known_truth(data: Any, fake: torch.Tensor) -> dict[str, Any]:
    """Modes covered and the high-quality share where the data's modes are known (ring8, grid25),
    and the MMD² between the drawn samples and as many training points."""
    from genzoo.metrics.samples import mmd, mode_coverage

    real = data.tensors()[: len(fake)].double().numpy()
    out: dict[str, Any] = {}
    if "modes" in data.extras:
        modes = np.asarray(data.extras["modes"], dtype=np.float64)
        cov = mode_coverage(fake.double().numpy(), modes, float(data.extras["sigma"]))
        out["modes covered"] = f"{cov['modes_covered']}/{len(modes)}"
        out["high quality"] = round(cov["high_quality_rate"], 3)
    out["MMD²"] = round(float(mmd(real, fake.double().numpy())["mmd2"]), 5)
    return out
