"""Model families, one module each; each registers its name once."""

from genzoo.models import (  # noqa: F401  (registers the models)
    aae,
    autoencoders,
    autoregressive,
    cgan,
    ddpm,
    gan,
    geostat,
    infogan,
    kde,
    rbm,
    stacked_ae,
    translation,
    vae,
    vqvae,
)
from genzoo.models.base import GenerativeModel, StepContext
from genzoo.models.registry import MODELS, create, register_model

__all__ = ["MODELS", "GenerativeModel", "StepContext", "create", "register_model"]
