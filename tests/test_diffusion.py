"""Diffusion processes: the closed form against the iterated chain, the schedules' ᾱ, DDIM with
η = 1 against the ancestral sampler, and every sampler against a data distribution whose optimal
ε-predictor is known exactly (Gaussian data)."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.diffusion import DDIMSampler, DDPMSampler, NoiseSchedule
from genzoo.errors import GenzooError

pytestmark = pytest.mark.usefixtures("one_thread")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_closed_form_matches_the_iterated_chain(kind):
    sched = NoiseSchedule(kind, 1000)
    g = gen(0)
    x0 = torch.full((100_000, 1), 1.5, dtype=torch.float64)
    x = x0.clone()
    for t in range(600):
        x = sched.q_step(x, t, torch.randn(x.shape, generator=g, dtype=torch.float64))
        if t in (9, 199, 599):
            a = float(sched.alpha_bar[t])
            assert x.mean().item() == pytest.approx(math.sqrt(a) * 1.5, abs=0.01)
            assert x.var().item() == pytest.approx(1 - a, abs=0.01)
            closed = sched.q_sample(x0, t, torch.randn(x.shape, generator=g, dtype=torch.float64))
            assert closed.mean().item() == pytest.approx(x.mean().item(), abs=0.015)
            assert closed.var().item() == pytest.approx(x.var().item(), abs=0.015)


def test_schedules_are_monotone_with_their_documented_ends():
    lin, cos = NoiseSchedule("linear", 1000), NoiseSchedule("cosine", 1000)
    for s in (lin, cos):
        assert (s.alpha_bar[1:] < s.alpha_bar[:-1]).all() and (s.betas > 0).all() and (s.betas <= 0.999).all()
    assert lin.betas[0].item() == pytest.approx(1e-4) and lin.betas[-1].item() == pytest.approx(0.02)
    assert 4.0e-5 < lin.alpha_bar[-1].item() < 4.1e-5  # Π(1 − β_t) for the linear 1e-4 … 0.02
    f = lambda u: math.cos((u / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert cos.alpha_bar[499].item() == pytest.approx(f(500) / f(0), rel=1e-9)  # unclipped in the middle
    assert cos.alpha_bar[0].item() > 0.9999 and cos.alpha_bar[-1].item() < 1e-6
    with pytest.raises(GenzooError, match="schedule must be one of"):
        NoiseSchedule("sqrt")


def test_ddim_with_eta_one_is_the_ancestral_step():
    sched = NoiseSchedule("linear", 100)
    ddpm, ddim = DDPMSampler(sched), DDIMSampler(sched, eta=1.0)
    for n in (100, 17):
        ddpm.set_timesteps(n)
        ddim.set_timesteps(n)
        assert torch.equal(ddpm.timesteps, ddim.timesteps) and ddpm.timesteps[-1] == 0
        x, eps = (
            torch.randn(64, 3, generator=gen(1), dtype=torch.float64),
            torch.randn(64, 3, generator=gen(2), dtype=torch.float64),
        )
        for i in range(len(ddpm.timesteps)):
            a = ddpm.step(eps, i, x, generator=gen(10 + i))
            b = ddim.step(eps, i, x, generator=gen(10 + i))
            assert torch.allclose(a, b, atol=1e-9), (n, i)


def optimal_eps(sched: NoiseSchedule, mu: float, s: float):
    """E[ε | x_t] for data N(μ, s²): x_t = a x_0 + b ε is Gaussian, so the posterior mean is linear."""

    def eps(x: torch.Tensor, t: int) -> torch.Tensor:
        ab = float(sched.alpha_bar[t])
        a, b = math.sqrt(ab), math.sqrt(1 - ab)
        return b * (x - a * mu) / (ab * s**2 + 1 - ab)

    return eps


def run_sampler(kind: str, n: int, mu: float = 1.5, s: float = 0.5) -> torch.Tensor:
    sched = NoiseSchedule("linear", 1000)
    smp = DDPMSampler(sched) if kind == "ddpm" else DDIMSampler(sched, eta=0.0)
    smp.set_timesteps(n)
    eps = optimal_eps(sched, mu, s)
    g = gen(3)
    x = torch.randn(40_000, 1, generator=g, dtype=torch.float64)
    for i, t in enumerate(smp.timesteps.tolist()):
        x = smp.step(eps(x, t), i, x, generator=g)
    return x


@pytest.mark.parametrize("kind", ["ddpm", "ddim"])
def test_samplers_reach_the_data_distribution_with_the_exact_denoiser(kind):
    """All 1000 steps with the exact ε̂ of N(1.5, 0.5²) data: the samples have its moments; with
    fewer steps the error shrinks like the step size (first order: 5× the steps, about 5× less)."""
    x = run_sampler(kind, 1000)
    assert x.mean().item() == pytest.approx(1.5, abs=0.01)
    assert x.std().item() == pytest.approx(0.5, rel=0.015)
    errors = [abs(run_sampler(kind, n).std().item() - 0.5) for n in (50, 250)]
    assert errors[0] > 3 * errors[1] > 0


def test_bad_step_counts_and_eta():
    sched = NoiseSchedule("linear", 50)
    for bad in (0, 51):
        with pytest.raises(GenzooError, match="between 1 and the 50 training steps"):
            DDIMSampler(sched).set_timesteps(bad)
    with pytest.raises(GenzooError, match="eta must be in"):
        DDIMSampler(sched, eta=1.5)


@pytest.mark.parametrize("kind", ["ddpm", "ddim"])
def test_clipping_keeps_the_predicted_x0_in_range(kind):
    """clip = c clamps x̂_0 to [−c, c]: the last step (which returns x̂_0) lands in range; a clip
    that never binds changes nothing; DDIM's direction term uses the ε implied by the clamped x̂_0."""
    sched = NoiseSchedule("linear", 50)
    smp = DDPMSampler(sched) if kind == "ddpm" else DDIMSampler(sched, eta=0.0)
    smp.set_timesteps(10)
    x, eps = (
        3 * torch.randn(256, 4, generator=gen(0), dtype=torch.float64),
        torch.randn(256, 4, generator=gen(1), dtype=torch.float64),
    )
    last = len(smp.timesteps) - 1
    out = smp.step(eps, last, x, generator=gen(2), clip=1.0)
    assert out.abs().max() <= 1.0 + 1e-12 and smp.step(eps, last, x, generator=gen(2)).abs().max() > 1.0
    for i in (0, 4):
        assert torch.allclose(
            smp.step(eps, i, x, generator=gen(3), clip=1e9), smp.step(eps, i, x, generator=gen(3))
        )
    if kind == "ddim":  # x_{t'} = √ᾱ' x̂_0 + √(1 − ᾱ') ε̂ with ε̂ = (x_t − √ᾱ x̂_0)/√(1 − ᾱ), x̂_0 clamped
        t, t2 = int(smp.timesteps[0]), int(smp.timesteps[1])
        a, a2 = sched.alpha_bar[t], sched.alpha_bar[t2]
        x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
        e = (x - a.sqrt() * x0) / (1 - a).sqrt()
        assert torch.allclose(smp.step(eps, 0, x, clip=1.0), a2.sqrt() * x0 + (1 - a2).sqrt() * e)
