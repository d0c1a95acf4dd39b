"""A perceptual loss for colorization (DDColor's term, after Johnson et al. 2016), differentiable in torch.

The colorized photo and the truth, both turned into sRGB (:func:`~colorfuse.train.models.colourfulness.lab_to_rgb`),
go through a frozen ImageNet EfficientNet-Lite0 with its own RGB stem (the packaged weights, no download;
not the gray encoder the colorizer fine-tunes, and not Lite1, which scores semantic interpretability). The loss
is the mean over its taps at strides 4, 8 and 16 of ``mean |f(pred) - f(truth)| / mean |f(truth)|``, so each
level weighs alike and the figure reads as a relative feature error.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor, nn

from colorfuse.train.models.colourfulness import lab_to_rgb

STRIDES = (4, 8, 16)


class FeatureNet(nn.Module):
    """EfficientNet-Lite's stem and blocks up to stride 16, frozen, always in eval mode: ``forward``
    takes sRGB in 0..255 and returns the features at :data:`STRIDES`."""

    def __init__(self, encoder: str = "lite0", pretrained: bool = True) -> None:
        from colorfuse.train.models.effnet import load_efficientnet

        super().__init__()
        net = load_efficientnet(encoder, pretrained)
        self.stem = nn.Sequential(net._conv_stem.static_padding, net._conv_stem, net._bn0, nn.ReLU6())
        stride, self.taps, blocks = 2, set(), []
        for block in net._blocks:
            step = block._block_args.stride
            step = step[0] if isinstance(step, (list, tuple)) else step
            if step == 2 and stride in STRIDES:
                self.taps.add(len(blocks) - 1)  # the last block at that stride
            stride *= step
            if stride > STRIDES[-1]:
                break
            blocks.append(block)
        self.blocks = nn.ModuleList(blocks)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "FeatureNet":
        return super().train(False)

    def forward(self, rgb: Tensor) -> list[Tensor]:
        x, features = self.stem((rgb - 127) / 128), []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                features.append(x)
        return features


@lru_cache(maxsize=2)
def feature_net(encoder: str = "lite0") -> FeatureNet:
    """One shared :class:`FeatureNet` per encoder: not a submodule of any model, so it is in no checkpoint."""
    return FeatureNet(encoder)


def perceptual_loss(l: Tensor, ab: Tensor, ab_truth: Tensor, net: FeatureNet | None = None) -> Tensor:  # noqa: E741
    """The relative feature distance of ``ab`` on ``l`` from ``ab_truth`` on ``l`` (all at one size,
    the training normalisation), averaged over the levels and the batch."""
    net = net or feature_net()
    with torch.no_grad():
        truth = net(lab_to_rgb(l, ab_truth))
    levels = [(p.float() - t.float()).abs().mean() / (t.float().abs().mean() + 1e-6)
              for p, t in zip(net(lab_to_rgb(l, ab)), truth)]
    return torch.stack(levels).mean()
