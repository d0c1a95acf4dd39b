"""U-Net (Ronneberger, Fischer & Brox 2015) regressing normalised ab from L, tanh output."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from colorfuse.train.models.base import ColorizationModel
from colorfuse.train.models.layers import conv_bn_relu
from colorfuse.train.models.registry import register_model


def double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv_bn_relu(cin, cout), conv_bn_relu(cout, cout))


class UNet(nn.Module):
    """Encoder of ``depth`` 2x poolings (channels ``base * 2**i``), mirrored decoder with skips."""

    def __init__(self, in_channels: int = 1, out_channels: int = 2, base: int = 32, depth: int = 4) -> None:
        super().__init__()
        chans = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([double_conv(in_channels, chans[0])])
        self.down.extend(double_conv(chans[i], chans[i + 1]) for i in range(depth))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in reversed(range(depth)))
        self.merge = nn.ModuleList(double_conv(2 * chans[i], chans[i]) for i in reversed(range(depth)))
        self.head = nn.Sequential(nn.Conv2d(chans[0], out_channels, 1), nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)


@register_model("unet")
class UNetModel(ColorizationModel):
    """Kwargs: ``base`` channels (32) and ``depth`` (4 poolings; size_multiple = 2**depth)."""

    def __init__(self, base: int = 32, depth: int = 4) -> None:
        super().__init__(base=base, depth=depth)
        self.size_multiple = 2**depth
        self.net = UNet(1, 2, base, depth)

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        return self.net(l)
