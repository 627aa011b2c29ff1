"""genzoo — deep generative models, from KDE to diffusion, and geostatistical simulators,
trained, sampled, conditioned and scored alike.

    import genzoo
    train = genzoo.datasets.load("mnist", split="train")
    model = genzoo.models.create("vae", train, latent_dim=16)
    run = genzoo.train(model, train, steps=2000, out="runs/vae", seed=0)
    model = genzoo.load("runs/vae")
"""

__version__ = "0.1.0"

from genzoo import data as datasets  # noqa: E402
from genzoo import models  # noqa: E402
from genzoo.errors import GenzooError  # noqa: E402
from genzoo.metrics import evaluate  # noqa: E402
from genzoo.training.checkpoint import load  # noqa: E402
from genzoo.training.trainer import Run, TrainConfig, train  # noqa: E402

__all__ = ["GenzooError", "Run", "TrainConfig", "__version__", "datasets", "evaluate", "load", "models", "train"]
