"""Shared blocks: the conv encoder/decoder retrace any H × W exactly, in every upsampling mode."""

from __future__ import annotations

import pytest
import torch

from genzoo.nn import MLP, UPSAMPLE, ConvDecoder, ConvEncoder, conv_sizes


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (1, 25, 25), (3, 17, 30)])
@pytest.mark.parametrize("upsample", UPSAMPLE)
@pytest.mark.parametrize("final_conv", [False, True])
def test_conv_round_trip_shapes(shape, upsample, final_conv):
    enc = ConvEncoder(shape, (8, 16), 5)
    dec = ConvDecoder(shape, (8, 16), 5, upsample=upsample, final_conv=final_conv)
    x = torch.randn(2, *shape)
    assert enc(x).shape == (2, 5)
    assert dec(enc(x)).shape == (2, *shape)


def test_classic_mnist_layout():
    """final_conv gives 7×7×64 → 14×14×64 → 28×28×32 → 28×28×1."""
    dec = ConvDecoder((1, 28, 28), (32, 64), 10, final_conv=True)
    shapes = []
    h = dec.head(torch.randn(1, 10)).view(-1, *dec.start)
    shapes.append(tuple(h.shape[1:]))
    for layer in dec.body:
        h = layer(h)
        if isinstance(layer, (torch.nn.ConvTranspose2d, torch.nn.Conv2d)):
            shapes.append(tuple(h.shape[1:]))
    assert shapes == [(64, 7, 7), (64, 14, 14), (32, 28, 28), (1, 28, 28)]


def test_conv_sizes_and_mlp():
    assert conv_sizes((28, 28), 2) == [(28, 28), (14, 14), (7, 7)]
    assert conv_sizes((25, 9), 2) == [(25, 9), (13, 5), (7, 3)]
    mlp = MLP(4, (8, 8), 2)
    assert [m.out_features for m in mlp if isinstance(m, torch.nn.Linear)] == [8, 8, 2]
    assert not isinstance(mlp[-1], torch.nn.ReLU)


def test_frozen_blocks_gradients_inside_and_restores_them_even_on_error():
    from genzoo.nn.blocks import frozen

    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    with frozen(a, b):
        assert not any(p.requires_grad for p in [*a.parameters(), *b.parameters()])
        x = torch.randn(3, 2, requires_grad=True)
        b(a(x)).sum().backward()  # the gradient reaches the input only
        assert x.grad is not None and all(p.grad is None for p in a.parameters())
    assert all(p.requires_grad for p in [*a.parameters(), *b.parameters()])
    with pytest.raises(RuntimeError):
        with frozen(a):
            raise RuntimeError("boom")
    assert all(p.requires_grad for p in a.parameters())


@pytest.mark.parametrize("size", [(8, 8), (28, 28), (13, 21)])
def test_unet_keeps_any_size_and_uses_time_and_skips(size):
    from genzoo.nn.unet import UNet

    torch.manual_seed(0)
    net = UNet(2, (8, 16, 16), 12, attention=(2,))
    x, t = torch.randn(3, 2, *size), torch.randn(3, 12)
    out = net(x, t)
    assert out.shape == x.shape
    assert not torch.allclose(out, net(x, torch.randn(3, 12)))  # the time embedding matters
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())  # every block is on the path
