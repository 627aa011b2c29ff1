"""What the lab draws of a model on the plane, computed with the model's own networks: samples
from fixed noise (so that they move smoothly as training goes; an InfoGAN's with their codes, a
DDPM's with their reverse paths), a heat map (a GAN's critic, a KDE's density), the generator's or
the decoder's image of a latent grid, the gradient of a GAN's generator loss at its fake points,
an autoencoder's latent plane (the posteriors of data points, the prior, the decoder's image of
the plane), and the known-truth figures of the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

GRID_SPAN = 2.5  # the latent grid covers [-2.5, 2.5] in the first two latent dimensions (N(0, I))
SAMPLE_STEPS = 10  # ddpm: DDIM steps of the lab's pictures (the model's own sampler, fewer steps)
LATENT_DECODED = 21  # the latent plane: points per side of the decoded grid (the page interpolates)
LATENT_HEAT = 24  # cells per side of an AAE's code discriminator over the latent plane


def rounded(x: torch.Tensor) -> list:
    """x as nested lists of floats to 4 decimals (what the page needs; a smaller stream)."""
    return (torch.round(x.double() * 1e4) / 1e4).tolist()


def samples(model: Any, n: int) -> torch.Tensor:
    """n samples (n, 2) from the same noise every time (seed 0)."""
    options = {}
    if model.name == "ddpm":  # as reverse_paths
        options = {"steps": min(SAMPLE_STEPS, model.config.timesteps), "sampler": "ddim"}
    return model.sample(n, generator=torch.Generator().manual_seed(0), **options).float().reshape(n, 2)


def coded_samples(model: Any, n: int) -> tuple[torch.Tensor, list[int] | None]:
    """An InfoGAN's n samples (n, 2) from the same inputs as `samples` and the category of each
    one's code (None without a categorical code)."""
    inputs = model.sample_inputs(n, generator=torch.Generator().manual_seed(0))
    fake = model.decode(inputs).float().reshape(n, 2)
    k, start = model.config.categories, model.latent_dim
    return fake, inputs[:, start : start + k].argmax(1).tolist() if k else None


def reverse_paths(model: Any, n: int, keep: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """A DDPM's n samples (n, 2) — the same as `samples` — and the reverse paths of the first `keep`:
    "frames", the points at each of the sampler's S + 1 noise levels, x_T first (S + 1, keep, 2),
    "levels" [{t, alpha_bar}] of each frame (x_T at t = T, x_0 at 0, alpha_bar 1), and the data's
    "shift" and "scale" (x = shift + scale · x_std), with which the page noises the data to a level."""
    steps = min(SAMPLE_STEPS, model.config.timesteps)
    seeded = torch.Generator().manual_seed(0)
    path = model.sample(n, generator=seeded, steps=steps, sampler="ddim", trajectory=True)
    path = path.float().reshape(n, -1, 2)
    times = model.sampler("ddim", steps).timesteps.tolist()
    alpha_bar = model.schedule.alpha_bar
    levels = [{"t": int(t) + 1, "alpha_bar": round(float(alpha_bar[int(t)]), 6)} for t in times]
    levels.append({"t": 0, "alpha_bar": 1.0})
    pair = lambda v: [round(float(a), 6) for a in torch.as_tensor(v).float().reshape(-1).expand(2)]  # noqa: E731
    return path[:, -1], {
        "frames": rounded(path[:keep].transpose(0, 1)),
        "levels": levels,
        "shift": pair(model.shift),
        "scale": pair(model.scale),
    }


def cell_centres(bounds: list[float], n: int) -> torch.Tensor:
    """(n·n, 2) points at the centres of an n × n grid over bounds, row by row from the bottom."""
    x0, x1, y0, y1 = bounds
    xs = x0 + (torch.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (torch.arange(n) + 0.5) * (y1 - y0) / n
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1)


def heat(model: Any, bounds: list[float], n: int) -> dict[str, Any] | None:
    """A GAN's or an InfoGAN's critic D(x) (the probability of "real" for the minimax and
    non-saturating losses; the score scaled to [0, 1] for the Wasserstein ones), or a KDE's density
    scaled by its maximum, at the centres of an n × n grid; None for the other families."""
    pts = cell_centres(bounds, n)
    if model.name in ("gan", "infogan"):
        score = model.score(pts).reshape(-1).double()
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
    if model.name not in ("gan", "vae", "aae"):
        return None
    d, span = model.latent_shape()[0], latent_span(model)
    t = torch.linspace(-span, span, points)
    levels = torch.linspace(-span, span, lines) if d > 1 else torch.zeros(1)
    zs = []
    for along in range(min(d, 2)):
        for c in levels:
            z = torch.zeros(points, d)
            z[:, along] = t
            if d > 1:
                z[:, 1 - along] = c
            zs.append(z)
    return rounded(model.decode(torch.cat(zs)).float().reshape(len(zs), points, 2))


def latent_span(model: Any) -> float:
    """Half the side of the latent square drawn: GRID_SPAN for N(0, I); an AAE's mixture prior's
    circle of means and three of its standard deviations."""
    config = model.config
    if getattr(config, "prior", "gaussian") == "mixture":
        return max(GRID_SPAN, config.prior_radius + 3 * config.prior_std)
    return GRID_SPAN


def latent_plane(model: Any, x: torch.Tensor, n_prior: int) -> dict[str, Any] | None:
    """An autoencoder's latent plane (its first two latent dimensions): "encoded" [μ₁, μ₂, σ₁, σ₂]
    of each of x's points (a VAE's posterior q(z|x); an AAE's code f(x), σ = 0), "prior" n_prior
    draws of p(z), "decoded" the decoder's image of an n × n grid over [−span, span]² ("points" row
    by row from the bottom; the page interpolates it where the mouse is), and for an AAE "heat" its
    code discriminator's D(z) over the plane. None for a 1-D latent space."""
    d = model.latent_shape()[0]
    if d < 2:
        return None
    span = latent_span(model)
    if model.name == "vae":
        mu, logvar = model.posterior(x)
        sigma = torch.exp(0.5 * logvar)
    else:
        mu = model.encode(x)
        sigma = torch.zeros_like(mu)
    encoded = torch.cat([mu[:, :2], sigma[:, :2]], 1)
    prior = model.sample_latent(n_prior, generator=torch.Generator().manual_seed(1))[:, :2]
    bounds = [-span, span, -span, span]
    ticks = torch.linspace(-span, span, LATENT_DECODED)
    gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
    grid = torch.zeros(LATENT_DECODED**2, d)
    grid[:, 0], grid[:, 1] = gx.flatten(), gy.flatten()
    out = {
        "bounds": bounds,
        "encoded": rounded(encoded),
        "prior": rounded(prior),
        "decoded": {"n": LATENT_DECODED, "points": rounded(model.decode(grid).float().reshape(-1, 2))},
        "heat": None,
    }
    if model.name == "aae":
        cells = torch.zeros(LATENT_HEAT**2, d)
        cells[:, :2] = cell_centres(bounds, LATENT_HEAT)
        values = torch.sigmoid(model.disc_score(cells).reshape(-1).double())
        out["heat"] = {
            "nx": LATENT_HEAT,
            "ny": LATENT_HEAT,
            "values": rounded(values),
            "label": "code discriminator D(z)",
        }
    return out


def generator_arrows(model: Any, n: int, bounds: list[float]) -> list[list[float]]:
    """At n fake points G(z) (the first n of the pictures' noise): the direction the generator's loss
    moves them, −∇ₓ L_G(x), the longest drawn 6 % of the plane's width."""
    from genzoo.models.gan.losses import generator_loss

    z = model.sample_latent(n, generator=torch.Generator().manual_seed(0))  # an InfoGAN's: with codes
    x = model.decode(z).detach().reshape(n, 2).requires_grad_(True)
    loss = generator_loss(model.config.loss, model.score(x))
    (grad,) = torch.autograd.grad(loss.sum(), x)
    step = -grad
    longest = float(step.norm(dim=1).max())
    scale = 0.06 * (bounds[1] - bounds[0]) / longest if longest > 0 else 0.0
    return [
        [round(float(a), 4), round(float(b), 4), round(float(c), 4), round(float(e), 4)]
        for (a, b), (c, e) in zip(x.detach().tolist(), (step * scale).tolist())
    ]


def truth_of(data: Any, n: int) -> dict[str, Any]:
    """What known_truth needs of the data: n of its points, the MMD's bandwidth — their median
    distance, fixed for the run so that the figure is comparable from picture to picture (and
    not computed again every time) — and its modes and their σ where known."""
    real = data.tensors()[:n].double()
    out: dict[str, Any] = {"real": real, "bandwidth": float(torch.pdist(real).median())}
    if "modes" in data.extras:
        out["modes"] = np.asarray(data.extras["modes"], dtype=np.float64)
        out["sigma"] = float(data.extras["sigma"])
    return out


def known_truth(truth: dict[str, Any], fake: torch.Tensor) -> dict[str, Any]:
    """Modes covered and the high-quality share where the data's modes are known (ring8, grid25),
    and the MMD² between the drawn samples and as many training points, with the Gaussian kernel
    at the data's median distance (`truth_of`)."""
    from genzoo.metrics.samples import mmd, mode_coverage

    fake64 = fake.double().numpy()
    out: dict[str, Any] = {}
    if "modes" in truth:
        cov = mode_coverage(fake64, truth["modes"], truth["sigma"])
        out["modes covered"] = f"{cov['modes_covered']}/{len(truth['modes'])}"
        out["high quality"] = round(cov["high_quality_rate"], 3)
    real = truth["real"][: len(fake)].numpy()
    out["MMD²"] = round(float(mmd(real, fake64, bandwidth=truth["bandwidth"])["mmd2"]), 5)
    return out


@dataclass
class Drawing:
    """What the pictures of one run need besides its weights: the pictures' copy of the model
    (`view`, into which the weights are copied before each picture), the layers of its family,
    the plane's bounds, the real points shown on a latent plane, and the data's known truth. Built
    once per run; `picture` is all the lab computes for a frame, in the server's process or in a
    drawing process (genzoo.lab.drawer) alike."""

    view: Any
    layers: tuple[str, ...]
    bounds: list[float]
    encoded: torch.Tensor
    truth: dict[str, Any]
    shown: int = 500  # samples drawn
    heat_cells: int = 32  # the heat map's cells per side
    grid: tuple[int, int] = (11, 25)  # the latent grid: lines per direction, points per line
    arrows: int = 120
    paths: int = 200  # ddpm: the samples whose reverse paths are sent
    prior: int = 200  # prior draws on the latent plane

    def picture(self, metrics: bool) -> dict[str, Any]:
        """The frame's pictures (and, if `metrics`, the known-truth figures: "metrics"), from the
        view's weights; the global RNG left as it was."""
        view, layers = self.view, self.layers
        out: dict[str, Any] = {}
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            if view.name == "infogan":
                fake, out["codes"] = coded_samples(view, self.shown)
            elif view.name == "ddpm":
                fake, out["paths"] = reverse_paths(view, self.shown, self.paths)
            else:
                fake = samples(view, self.shown)
            out["fake"] = rounded(fake)
            if "heat" in layers:
                out["heat"] = heat(view, self.bounds, self.heat_cells)
            if "grid" in layers:
                out["grid"] = latent_grid(view, *self.grid)
            if "posterior" in layers:
                out["latent"] = latent_plane(view, self.encoded, self.prior)
            if "arrows" in layers:
                with torch.enable_grad():
                    out["arrows"] = generator_arrows(view, self.arrows, self.bounds)
            if metrics:
                out["metrics"] = known_truth(self.truth, fake)
        return out
