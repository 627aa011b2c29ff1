"""genzoo — deep generative models, from KDE to diffusion, and geostatistical simulators,
trained, sampled, conditioned and scored alike.

    import genzoo
    train = genzoo.datasets.load("mnist", split="train")
    model = genzoo.models.create("vae", train, latent_dim=16)
    run = genzoo.train(model, train, steps=2000, out="runs/vae", seed=0)
    model = genzoo.load("runs/vae")

The names below are imported on first use (PEP 562), so that `import genzoo` — and the
command line's `genzoo --help` — does not pay for importing torch until something computes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genzoo.version import __version__

# public name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "datasets": ("genzoo.data", None),
    "models": ("genzoo.models", None),
    "GenzooError": ("genzoo.errors", "GenzooError"),
    "evaluate": ("genzoo.metrics", "evaluate"),
    "load": ("genzoo.training.checkpoint", "load"),
    "Run": ("genzoo.training.trainer", "Run"),
    "TrainConfig": ("genzoo.training.trainer", "TrainConfig"),
    "train": ("genzoo.training.trainer", "train"),
    "set_threads": ("genzoo.threads", "set_threads"),
    "save_pretrained": ("genzoo.hub", "save_pretrained"),
    "from_pretrained": ("genzoo.hub", "from_pretrained"),
}

__all__ = [
    "GenzooError",
    "Run",
    "TrainConfig",
    "__version__",
    "datasets",
    "evaluate",
    "from_pretrained",
    "load",
    "models",
    "save_pretrained",
    "set_threads",
    "train",
]

if TYPE_CHECKING:
    from genzoo import data as datasets
    from genzoo import models
    from genzoo.errors import GenzooError
    from genzoo.hub import from_pretrained, save_pretrained
    from genzoo.metrics import evaluate
    from genzoo.threads import set_threads
    from genzoo.training.checkpoint import load
    from genzoo.training.trainer import Run, TrainConfig, train


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'genzoo' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
