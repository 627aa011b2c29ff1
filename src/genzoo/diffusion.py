"""Diffusion processes apart from any network: noise schedules, the forward chain and its closed
form, and the reverse samplers (DDPM ancestral, DDIM) — the pieces a diffusion model composes.

Notation (Ho, Jain & Abbeel 2020, arXiv:2006.11239). Timesteps t = 0, …, T − 1 index the T
noising steps; β_t is the variance added at step t, α_t = 1 − β_t, ᾱ_t = Π_{s ≤ t} α_s:

    q(x_t | x_{t−1}) = N(√α_t · x_{t−1}, β_t I)           one step of the chain (x_{−1} = x_0 the data)
    q(x_t | x_0)     = N(√ᾱ_t · x_0, (1 − ᾱ_t) I)         its closed form
    ε-prediction     x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t

Schedules: `linear` β from 1e-4 to 0.02 (Ho et al.), `cosine` ᾱ_t = f(t + 1)/f(0) with
f(u) = cos²((u/T + s)/(1 + s) · π/2), s = 0.008, β clipped to 0.999 (Nichol & Dhariwal 2021,
arXiv:2102.09672). Everything is computed in float64.

Samplers follow the interface of the best diffusion libraries: `set_timesteps(n)` picks the
timesteps to visit (`timesteps`, descending), and `step(eps, t, x)` maps x_t to the next x with the
model's prediction ε̂ at t:

    DDPM   x_{t−1} ~ N(μ̃_t(x_t, x̂_0), β̃_t I),
           μ̃_t = √ᾱ_{t−1} β_t/(1 − ᾱ_t) · x̂_0 + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) · x_t,
           β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) · β_t  — the ancestral chain; with n < T steps the schedule is
           respaced (Nichol & Dhariwal 2021): β'_i = 1 − ᾱ_{t_i}/ᾱ_{t_{i−1}} over the visited t_i.
    DDIM   x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ²) ε̂ + σ z,
           σ = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'})
           (Song, Meng & Ermon 2020, arXiv:2010.02502): η = 0 deterministic, η = 1 the ancestral
           variance; t' is the next visited timestep, and ᾱ = 1 after the last.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genzoo.errors import GenzooError
from genzoo.nn.noise import noise

SCHEDULES = ("linear", "cosine")


class NoiseSchedule:
    """β_t, α_t, ᾱ_t of T noising steps (float64 tensors of length T)."""

    def __init__(
        self,
        kind: str = "linear",
        steps: int = 1000,
        *,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        s: float = 0.008,
    ) -> None:
        if kind not in SCHEDULES:
            raise GenzooError(f"schedule must be one of {', '.join(SCHEDULES)}, got {kind!r}")
        if steps < 1:
            raise GenzooError(f"a schedule needs at least 1 step, got {steps}")
        if kind == "linear":
            if not 0 < beta_start <= beta_end < 1:
                raise GenzooError(
                    f"linear schedule needs 0 < beta_start ≤ beta_end < 1, got {beta_start}, {beta_end}"
                )
            betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
        else:
            u = torch.arange(steps + 1, dtype=torch.float64)
            f = torch.cos((u / steps + s) / (1 + s) * math.pi / 2) ** 2
            alpha_bar = f[1:] / f[0]
            prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
            betas = (1 - alpha_bar / prev).clamp(max=0.999)
        self.kind, self.steps = kind, steps
        self.betas = betas
        self.alphas = 1 - betas
        self.alpha_bar = torch.cumprod(self.alphas, 0)

    def at(self, values: Tensor, t: Tensor | int, like: Tensor) -> Tensor:
        """values[t] shaped to broadcast over `like` (B, ...), in its dtype and device."""
        t = torch.as_tensor(t, device=values.device).long()
        v = values[t].to(device=like.device, dtype=like.dtype)
        return v.reshape(-1, *([1] * (like.dim() - 1))) if v.dim() else v

    def q_sample(self, x0: Tensor, t: Tensor | int, noise: Tensor) -> Tensor:
        """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, one t per example (or one for all)."""
        a = self.at(self.alpha_bar, t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def q_step(self, x_prev: Tensor, t: Tensor | int, noise: Tensor) -> Tensor:
        """One step of the forward chain: x_t = √α_t x_{t−1} + √β_t ε."""
        return self.at(self.alphas, t, x_prev).sqrt() * x_prev + self.at(self.betas, t, x_prev).sqrt() * noise

    def predict_x0(self, x_t: Tensor, t: Tensor | int, eps: Tensor) -> Tensor:
        """x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t."""
        a = self.at(self.alpha_bar, t, x_t)
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt()


def _timesteps(schedule: NoiseSchedule, n: int) -> Tensor:
    if not 1 <= n <= schedule.steps:
        raise GenzooError(
            f"sampling steps must be between 1 and the {schedule.steps} training steps, got {n}"
        )
    # evenly spaced, always ending at the last training step T − 1 and including t = 0
    return torch.linspace(schedule.steps - 1, 0, n).round().long().unique_consecutive()


def _noise(like: Tensor, generator: torch.Generator | None) -> Tensor:
    if generator is None:
        return torch.randn_like(like)  # like's memory format too: the global RNG fills it in that order
    return noise(torch.randn, tuple(like.shape), generator, like.device, like.dtype)


class DDPMSampler:
    """Ancestral sampling, x_{t−1} ~ q(x_{t−1} | x_t, x̂_0), over all T steps or a respaced subset."""

    def __init__(self, schedule: NoiseSchedule) -> None:
        self.schedule = schedule
        self.set_timesteps(schedule.steps)

    def set_timesteps(self, n: int) -> None:
        self.timesteps = _timesteps(self.schedule, n)
        ab = self.schedule.alpha_bar[self.timesteps]  # visited ᾱ, descending t
        prev = torch.cat(
            [ab[1:], torch.ones(1, dtype=torch.float64)]
        )  # ᾱ at the next visited t (1 after t = 0)
        self._ab, self._ab_prev = ab, prev
        self._beta = 1 - ab / prev  # the respaced β (the schedule's own when every step is visited)

    def step(
        self,
        eps: Tensor,
        i: int,
        x: Tensor,
        *,
        generator: torch.Generator | None = None,
        clip: float | None = None,
    ) -> Tensor:
        """From x at the i-th visited timestep to the next, with the model's ε̂ there; `clip` = c
        clamps x̂_0 to [−c, c] first (bounded data: the posterior mean then stays in range)."""
        ab, ab_prev, beta = (float(v[i]) for v in (self._ab, self._ab_prev, self._beta))
        x0 = (x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
        mean = (math.sqrt(ab_prev) * beta / (1 - ab)) * x0 + (
            math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab)
        ) * x
        if i == len(self.timesteps) - 1:
            return mean  # the last step returns the posterior mean (no noise at t = 0)
        var = (1 - ab_prev) / (1 - ab) * beta
        return mean + math.sqrt(var) * _noise(x, generator)


class DDIMSampler:
    """DDIM over n visited timesteps; η = 0 deterministic, η = 1 the ancestral variance."""

    def __init__(self, schedule: NoiseSchedule, eta: float = 0.0) -> None:
        if not 0.0 <= eta <= 1.0:
            raise GenzooError(f"eta must be in [0, 1], got {eta}")
        self.schedule, self.eta = schedule, eta
        self.set_timesteps(schedule.steps)

    def set_timesteps(self, n: int) -> None:
        self.timesteps = _timesteps(self.schedule, n)

    def step(
        self,
        eps: Tensor,
        i: int,
        x: Tensor,
        *,
        generator: torch.Generator | None = None,
        clip: float | None = None,
    ) -> Tensor:
        """From x at the i-th visited timestep to the next; `clip` = c clamps x̂_0 to [−c, c] and
        recomputes ε̂ from it, so that the direction term agrees with the clamped x̂_0."""
        t = int(self.timesteps[i])
        last = i == len(self.timesteps) - 1
        ab = float(self.schedule.alpha_bar[t])
        ab_next = 1.0 if last else float(self.schedule.alpha_bar[int(self.timesteps[i + 1])])
        x0 = (x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
            eps = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
        sigma = self.eta * math.sqrt((1 - ab_next) / (1 - ab)) * math.sqrt(1 - ab / ab_next)
        out = math.sqrt(ab_next) * x0 + math.sqrt(max(1 - ab_next - sigma**2, 0.0)) * eps
        return out + sigma * _noise(x, generator) if sigma > 0 else out
