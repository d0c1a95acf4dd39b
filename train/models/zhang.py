"""Zhang, Isola & Efros 2016, "Colorful Image Colorization": ab as classification over gamut bins.

A compact VGG-like trunk (to H/8, dilated convs in the middle, back up to H/4) predicts Q bin
logits. Training uses soft-encoded targets (5 nearest bins, Gaussian sigma 5) and class
rebalancing from the training-set prior (:meth:`ZhangModel.set_prior`). ``forward`` decodes by
the annealed mean (softmax(logits / T) averaged over the bin centres), inside the exported graph.
``zhang_regression`` is the same trunk with a 2-channel regression head and a Huber loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colorfuse.train.models.ab_bins import ab_bins, lut_index, rebalance_weights, soft_encoding_lut
from colorfuse.train.models.base import ColorizationModel
from colorfuse.train.models.layers import conv_bn_relu, scaled
from colorfuse.train.models.registry import register_model

AB_SCALE = 110.0
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
class ZhangModel(ColorizationModel):
    """Kwargs: ``width`` channel multiplier, ``temperature`` of the annealed mean (0.38),
    ``rebalance_lambda`` (0.5)."""

    size_multiple = 8

    def __init__(self, width: float = 1.0, temperature: float = 0.38, rebalance_lambda: float = 0.5) -> None:
        super().__init__(width=width, temperature=temperature, rebalance_lambda=rebalance_lambda)
        self.temperature = temperature
        self.rebalance_lambda = rebalance_lambda
        self.trunk = ZhangTrunk(width)
        bins = ab_bins()
        self.num_bins = len(bins)
        self.head = nn.Conv2d(self.trunk.out_channels, self.num_bins, 1)
        self.register_buffer("bins", bins)
        lut_idx, lut_w = soft_encoding_lut(k=5, sigma=5.0)
        self.register_buffer("lut_idx", lut_idx, persistent=False)
        self.register_buffer("lut_w", lut_w, persistent=False)
        self.register_buffer("prior", torch.full((self.num_bins,), 1 / self.num_bins))
        self.register_buffer("class_weights", torch.ones(self.num_bins))

    def logits(self, l: Tensor) -> Tensor:  # noqa: E741
        """Bin logits (N, Q, H/4, W/4)."""
        return self.head(self.trunk(l))

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        """Annealed-mean decoding -> ab_norm (N, 2, H, W)."""
        probs = torch.softmax(self.logits(l) / self.temperature, dim=1)
        ab = F.conv2d(probs, (self.bins.t() / AB_SCALE)[:, :, None, None].to(probs.dtype))
        return _upsample4(ab)

    def _nearest_lut(self, ab_norm: Tensor) -> Tensor:
        return lut_index(ab_norm.float().permute(0, 2, 3, 1) * AB_SCALE)

    def bin_counts(self, ab_norm: Tensor) -> Tensor:
        """Nearest-bin histogram (Q,) of a batch of ab_norm (N, 2, H, W), to estimate the prior."""
        nearest = self.lut_idx[self._nearest_lut(ab_norm)][..., 0]
        return torch.bincount(nearest.flatten(), minlength=self.num_bins)

    @torch.no_grad()
    def set_prior(self, prior: Tensor) -> None:
        """Set the empirical bin prior (Q,) (e.g. summed :meth:`bin_counts`); stores the smoothed
        prior in ``prior`` and the rebalancing weights (E_prior[w] = 1) in ``class_weights``."""
        prior = torch.as_tensor(prior, dtype=torch.float32).flatten()
        if prior.numel() != self.num_bins or not prior.sum() > 0:
            raise ValueError(f"zhang: prior must be {self.num_bins} non-negative counts with a positive sum")
        weights, smooth = rebalance_weights(prior.cpu(), self.bins.cpu(), sigma=5.0, lam=self.rebalance_lambda)
        self.prior.copy_(smooth)
        self.class_weights.copy_(weights)

    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """Rebalanced multinomial cross-entropy against soft-encoded targets, at logit resolution."""
        logits = self.logits(batch["l"]).float()
        factor = batch["ab"].shape[-1] // logits.shape[-1]
        pos = self._nearest_lut(F.avg_pool2d(batch["ab"].float(), factor))
        idx = self.lut_idx[pos].permute(0, 3, 1, 2)  # (N, 5, h, w), nearest bin first
        target = self.lut_w[pos].permute(0, 3, 1, 2)
        ce = -(target * F.log_softmax(logits, dim=1).gather(1, idx)).sum(dim=1)
        loss = (self.class_weights[idx[:, 0]] * ce).mean()
        return loss, {"loss": loss.item(), "ce": ce.mean().item()}

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
