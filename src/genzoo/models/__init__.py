"""Model families, one module each, or one folder where a family has several models (`gan/`,
`autoregressive/`); each registers its names once."""

from genzoo.models import (  # noqa: F401  (registers the models)
    aae,
    autoencoders,
    autoregressive,
    ddpm,
    gan,
    geostat,
    kde,
    rbm,
    stacked_ae,
    vae,
    vqvae,
)
from genzoo.models.base import GenerativeModel, StepContext
from genzoo.models.registry import MODELS, create, register_model

__all__ = ["MODELS", "GenerativeModel", "StepContext", "create", "register_model"]
