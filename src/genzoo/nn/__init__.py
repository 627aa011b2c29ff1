"""Shared blocks: MLPs, conv encoders/decoders (and, with later families, U-Nets and masked convolutions)."""

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
