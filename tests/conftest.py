"""Shared fixtures: a tiny model registered for the trainer's tests, and small data sets."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import torch
from torch import nn

os.environ.setdefault(
    "GENZOO_CACHE", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "genzoo")
)
torch.set_num_threads(min(2, torch.get_num_threads()))

from genzoo.config import option  # noqa: E402
from genzoo.data.base import DataInfo, Dataset  # noqa: E402
from genzoo.models import MODELS, GenerativeModel, register_model  # noqa: E402


@dataclass
class NoisyMeanConfig:
    hidden: int = option(8, low=1)
    fail_at: int = option(0, low=0, help="return a NaN loss at this call (0 = never), to test divergence")


if "noisy-mean" not in MODELS:

    @register_model("noisy-mean")
    class NoisyMean(GenerativeModel):
        """A tiny model whose loss uses the global RNG, so that resume must restore RNG states."""

        Config = NoisyMeanConfig
        summary = "test model"

        def __init__(self, config: NoisyMeanConfig, info: DataInfo) -> None:
            super().__init__(config, info)
            d = info.dim
            self.net = nn.Sequential(nn.Linear(d, config.hidden), nn.Tanh(), nn.Linear(config.hidden, d))
            self.calls = 0

        def loss(self, batch):
            self.calls += 1
            x = batch["x"].flatten(1)
            noise = 0.1 * torch.randn_like(x)
            loss = ((self.net(x + noise) - x) ** 2).sum(1).mean()
            if self.config.fail_at and self.calls >= self.config.fail_at:
                loss = loss * float("nan")
            return {"loss": loss, "half": loss / 2}

        def sample(self, n, *, generator=None, **condition):
            z = torch.randn(n, self.info.dim, generator=generator)
            return self.net(z).reshape(n, *self.info.shape)


@pytest.fixture
def points() -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 2, generator=g) * torch.tensor([1.0, 0.5]) + torch.tensor([1.0, -1.0])
    return Dataset(x, DataInfo("gauss2", "points", (2,), (float("-inf"), float("inf"))))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest, and steadiest on a busy machine, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
