"""The GAN family: the GAN (`gan`), the conditional GAN (`cgan`), InfoGAN (`infogan`) and
image-to-image translation (`translation`: cyclegan, pix2pix), and the adversarial losses they share
(`losses`). Importing the package registers the four modules' models."""

from genzoo.models.gan.cgan import ConditionalGAN
from genzoo.models.gan.gan import GAN
from genzoo.models.gan.infogan import InfoGAN
from genzoo.models.gan.losses import (
    LOSSES,
    clip_weights,
    critic_loss,
    generator_loss,
    gradient_penalty,
    interpolate,
    r1_penalty,
)
from genzoo.models.gan.translation import CycleGAN, Pix2Pix

__all__ = [
    "GAN",
    "LOSSES",
    "ConditionalGAN",
    "CycleGAN",
    "InfoGAN",
    "Pix2Pix",
    "clip_weights",
    "critic_loss",
    "generator_loss",
    "gradient_penalty",
    "interpolate",
    "r1_penalty",
]
