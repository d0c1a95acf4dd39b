"""Zhang, Isola & Efros 2016, "Colorful Image Colorization": ab as classification over gamut bins.

A compact VGG-like trunk (to H/8, dilated convs in the middle, back up to H/4) predicts Q bin
logits. Training uses soft-encoded targets (5 nearest bins, Gaussian sigma 5) and class
rebalancing from the training-set prior (:meth:`ZhangModel.set_prior`). ``forward`` decodes by
the annealed mean (softmax(logits / T) averaged over the bin centres), inside the exported graph.
``zhang_regression`` is the same trunk with a 2-channel regression head and a Huber loss.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from colorfuse.train.models.ab_classes import AbClassification
from colorfuse.train.models.base import ColorizationModel
from colorfuse.train.models.layers import conv_bn_relu, scaled
from colorfuse.train.models.registry import register_model

# (channels, convs, stride of the last conv, dilation) per block.
_BLOCKS = [(64, 2, 2, 1), (128, 2, 2, 1), (256, 2, 2, 1), (512, 2, 1, 1), (512, 2, 1, 2), (512, 2, 1, 2), (512, 2, 1, 1)]


class ZhangTrunk(nn.Module):
    """Conv blocks to H/8 (blocks 5-6 dilated by 2), then a 2x transposed conv: features at H/4."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        layers, cin = [], 1
        for channels, convs, stride, dilation in _BLOCKS:
            cout = scaled(channels, width)
            for i in range(convs):
                layers.append(conv_bn_relu(cin, cout, stride if i == convs - 1 else 1, dilation))
                cin = cout
        self.out_channels = scaled(256, width)
        layers += [
            nn.ConvTranspose2d(cin, self.out_channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(self.out_channels),
            nn.ReLU(inplace=True),
            conv_bn_relu(self.out_channels, self.out_channels),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, l: Tensor) -> Tensor:  # noqa: E741
        return self.net(l)


def _upsample4(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)


@register_model("zhang")
class ZhangModel(AbClassification, ColorizationModel):
    """Kwargs: ``width`` channel multiplier, ``temperature`` of the annealed mean (0.38),
    ``rebalance_lambda`` (0.5)."""

    size_multiple = 8

    def __init__(self, width: float = 1.0, temperature: float = 0.38, rebalance_lambda: float = 0.5) -> None:
        super().__init__(width=width, temperature=temperature, rebalance_lambda=rebalance_lambda)
        self.temperature = temperature
        self.trunk = ZhangTrunk(width)
        self.init_bins(rebalance_lambda)
        self.head = nn.Conv2d(self.trunk.out_channels, self.num_bins, 1)

    def logits(self, l: Tensor) -> Tensor:  # noqa: E741
        """Bin logits (N, Q, H/4, W/4)."""
        return self.head(self.trunk(l))

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        """Annealed-mean decoding -> ab_norm (N, 2, H, W)."""
        return _upsample4(self.annealed_mean(self.logits(l), self.temperature))

    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """Rebalanced multinomial cross-entropy against soft-encoded targets, at logit resolution."""
        loss, ce = self.classification_loss(self.logits(batch["l"]), batch["ab"])
        return loss, {"loss": loss.item(), "ce": ce.item()}

    def card_extras(self) -> dict:
        return {"ab_bins": len(self.bins), "temperature": self.temperature}


@register_model("zhang_regression")
class ZhangRegressionModel(ColorizationModel):
    """The zhang trunk with a 2-channel regression head; Huber loss (``huber_delta`` in ab_norm)."""

    size_multiple = 8

    def __init__(self, width: float = 1.0, huber_delta: float = 0.1) -> None:
        super().__init__(width=width, huber_delta=huber_delta)
        self.huber_delta = huber_delta
        self.trunk = ZhangTrunk(width)
        self.head = nn.Conv2d(self.trunk.out_channels, 2, 1)

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        return _upsample4(self.head(self.trunk(l)))

    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        pred = self(batch["l"])
        loss = F.huber_loss(pred.float(), batch["ab"].float(), delta=self.huber_delta)
        return loss, {"loss": loss.item()}
