"""Iizuka, Simo-Serra & Ishikawa 2016, "Let there be Color!": joint global and local features.

A shared low-level network feeds a mid-level branch (at H/8) and a global branch run on a fixed
``global_size`` view of the image; the 256-d global vector is fused into every mid-level location
and a colorization network predicts ab at H/2 (sigmoid), upsampled to H. An optional classifier
on the global features is trained jointly (loss = MSE + alpha * cross-entropy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colorfuse.train.models.base import ColorizationModel
from colorfuse.train.models.layers import conv_bn_relu, conv_stack, scaled, tile_as, upsample
from colorfuse.train.models.registry import register_model


def _fc(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, cout), nn.ReLU(inplace=True))


@register_model("iizuka")
class IizukaModel(ColorizationModel):
    """Kwargs: ``width`` channel multiplier (1.0 = paper), ``global_size`` (multiple of 32),
    ``num_classes`` (>0 adds the classification head), ``classes`` (names), ``alpha`` (CE weight)."""

    size_multiple = 8

    def __init__(
        self,
        width: float = 1.0,
        global_size: int = 224,
        num_classes: int = 0,
        classes: list[str] | None = None,
        alpha: float = 1 / 300,
    ) -> None:
        classes = list(classes or [])
        if global_size % 32:
            raise ValueError(f"iizuka: global_size must be a multiple of 32, got {global_size}")
        if classes and len(classes) != num_classes:
            raise ValueError(f"iizuka: {len(classes)} class names for num_classes={num_classes}")
        super().__init__(width=width, global_size=global_size, num_classes=num_classes, classes=classes, alpha=alpha)
        self.global_input_size = global_size
        self.alpha = alpha
        self.classes = classes
        s = lambda c: scaled(c, width)  # noqa: E731

        self.low, c_low = conv_stack(1, [(64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1)], width)
        self.mid, c_mid = conv_stack(c_low, [(512, 1), (256, 1)], width)
        self.global_conv, c_glob = conv_stack(c_low, [(512, 2), (512, 1), (512, 2), (512, 1)], width)
        side = global_size // 32
        self.global_fc = nn.Sequential(nn.Flatten(), _fc(c_glob * side * side, s(1024)), _fc(s(1024), s(512)))
        self.global_out = _fc(s(512), s(256))
        self.classifier = (
            nn.Sequential(_fc(s(512), s(256)), nn.Linear(s(256), num_classes)) if num_classes > 0 else None
        )
        self.fusion = conv_bn_relu(c_mid + s(256), s(256), kernel=1)
        color, c_col = conv_stack(s(256), [(128, 1)], width)
        up1, c_col = conv_stack(c_col, [(64, 1), (64, 1)], width)
        up2, c_col = conv_stack(c_col, [(32, 1)], width)
        self.colorize = nn.Sequential(color, upsample(), up1, upsample(), up2, nn.Conv2d(c_col, 2, 3, padding=1))

    def _predict(self, l: Tensor, l_global: Tensor | None) -> tuple[Tensor, Tensor | None]:  # noqa: E741
        if l_global is None:
            raise ValueError("iizuka needs l_global, the L channel resized to global_input_size")
        mid = self.mid(self.low(l))
        g512 = self.global_fc(self.global_conv(self.low(l_global)))
        fused = self.fusion(torch.cat([mid, tile_as(self.global_out(g512), mid)], dim=1))
        ab = 2 * self.colorize(fused).sigmoid() - 1
        ab = F.interpolate(ab, scale_factor=2, mode="bilinear", align_corners=False)
        return ab, (self.classifier(g512) if self.classifier is not None else None)

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        return self._predict(l, l_global)[0]

    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """MSE, plus ``alpha`` * cross-entropy over the samples whose label is >= 0."""
        ab, logits = self._predict(batch["l"], batch.get("l_global"))
        mse = F.mse_loss(ab, batch["ab"])
        if logits is None:
            return mse, {"loss": mse.item(), "mse": mse.item()}
        label = batch["label"].to(logits.device)
        known = (label >= 0).to(logits.dtype)
        ce_each = F.cross_entropy(logits.float(), label.clamp(min=0), reduction="none")
        ce = (ce_each * known).sum() / known.sum().clamp(min=1)
        loss = mse + self.alpha * ce
        return loss, {"loss": loss.item(), "mse": mse.item(), "ce": ce.item()}

    def card_extras(self) -> dict:
        """The class names (or their indices as strings when unnamed) of the classifier head."""
        if self.classifier is None:
            return {}
        return {"classes": list(self.classes) or [str(i) for i in range(self._config["num_classes"])]}

