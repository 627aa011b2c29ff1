"""Networks and blocks the families compose: MLPs, conv encoders/decoders (`blocks`), masked
convolutions (`masked`), differentiable augmentation (`augment`) and the noise helper (`noise`)."""

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

__all__ = ["MLP", "UPSAMPLE", "ConvDecoder", "ConvEncoder", "activation", "conv_sizes", "flat_dim", "init_output_bias"]
