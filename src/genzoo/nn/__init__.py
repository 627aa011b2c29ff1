"""Networks and blocks the families compose: MLPs, conv encoders/decoders, the field generator,
the patch critic and residual blocks (`blocks`); the diffusion U-Net (`unet`); the networks of
image-to-image translation (`image2image`); masked convolutions, the gated PixelCNN layer and the
Row LSTM (`masked`); differentiable augmentation (`augment`) and the noise helper (`noise`)."""

from genzoo.nn.blocks import (
    MLP,
    UPSAMPLE,
    ConvDecoder,
    ConvEncoder,
    activation,
    conv_sizes,
    flat_dim,
    init_output_bias,
)

__all__ = [
    "MLP",
    "UPSAMPLE",
    "ConvDecoder",
    "ConvEncoder",
    "activation",
    "conv_sizes",
    "flat_dim",
    "init_output_bias",
]
