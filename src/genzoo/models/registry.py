"""The model registry and `create`, which builds a model from a dataset."""

from __future__ import annotations

from typing import Any

import torch

from genzoo.config import build
from genzoo.data.base import DataInfo
from genzoo.models.base import GenerativeModel
from genzoo.registry import Registry

MODELS: Registry[type[GenerativeModel]] = Registry("model")


def register_model(name: str):
    """Class decorator: register a `GenerativeModel` subclass under `name`."""

    def deco(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        cls.name = name
        MODELS.register(name)(cls)
        return cls

    return deco


def create(name: str, data: Any, *, seed: int | None = None, **params: Any) -> GenerativeModel:
    """Build model `name` for `data` (its DataInfo supplies the shapes): a Dataset or DataInfo, or
    a tensor, a NumPy array, an (x, y) pair or a map-style PyTorch dataset (see
    `genzoo.data.python.as_dataset`, which says what it inferred).

    `params` override the model's config defaults and are type-checked like `--set` values.
    With `seed`, the initial weights are drawn from that seed without touching the global RNG."""
    cls = MODELS.get(name)
    config = build(cls.Config, params, section="model")
    if isinstance(data, DataInfo):
        info = data
    else:
        from genzoo.data.python import as_dataset

        info = as_dataset(data).info
    if seed is None:
        return cls(config, info)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config, info)


def able(ability: str) -> list[str]:
    """The registered models with `ability` (a key of genzoo.models.base.ABILITIES), in registry order."""
    from genzoo.models.base import ABILITIES

    has = ABILITIES[ability][1]
    return [name for name in MODELS.names() if has(MODELS.get(name))]
