"""Small building blocks shared by the model modules."""

from __future__ import annotations

from torch import nn


def scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded, at least 8."""
    return max(8, int(round(channels * width)))


def conv_bn_relu(cin: int, cout: int, stride: int = 1, dilation: int = 1, kernel: int = 3) -> nn.Sequential:
    """'Same'-padded conv (no bias) + BatchNorm + ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=dilation * (kernel // 2), dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def conv_stack(cin: int, specs: list[tuple[int, int]], width: float) -> tuple[nn.Sequential, int]:
    """Chain of :func:`conv_bn_relu` from ``(channels, stride)`` specs; returns (module, out channels)."""
    layers = []
    for channels, stride in specs:
        cout = scaled(channels, width)
        layers.append(conv_bn_relu(cin, cout, stride))
        cin = cout
    return nn.Sequential(*layers), cin


def upsample() -> nn.Upsample:
    """2x nearest-neighbour upsampling."""
    return nn.Upsample(scale_factor=2, mode="nearest")


def tile_as(vector, like):
    """Tile a (N,C) vector over the spatial size of ``like`` (N,*,H,W) -> (N,C,H,W)."""
    return vector[:, :, None, None].expand(-1, -1, like.shape[-2], like.shape[-1])
