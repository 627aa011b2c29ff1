"""Shared blocks: MLPs, conv encoders/decoders (and, with later families, U-Nets and masked convolutions)."""

from genzoo.nn.blocks import MLP, ConvDecoder, ConvEncoder, activation, conv_sizes, flat_dim

__all__ = ["MLP", "ConvDecoder", "ConvEncoder", "activation", "conv_sizes", "flat_dim"]
