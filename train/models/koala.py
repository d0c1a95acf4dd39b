"""Baldassarre, Gonzalez Morin & Rodes-Guirao 2017, "Deep Koalarization".

An encoder (to H/8) is fused with a high-level embedding of the ``global_size`` view, computed
either by a small conv net trained jointly (``extractor="scratch"``) or by a frozen torchvision
ImageNet classifier (``extractor="inception_v3"``, ``"vgg16"``, ...) loaded from a local
state_dict file (``extractor_weights``); a decoder predicts ab at H/2 (tanh), upsampled to H.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colorfuse.train.models.base import ColorizationModel
from colorfuse.train.models.layers import conv_bn_relu, conv_stack, scaled, tile_as, upsample
from colorfuse.train.models.registry import register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ScratchExtractor(nn.Module):
    """Small conv net + global average pooling -> ``embed_dim`` vector (size-robust)."""

    def __init__(self, width: float, embed_dim: int) -> None:
        super().__init__()
        self.convs, cout = conv_stack(1, [(32, 2), (64, 2), (128, 2), (256, 2), (256, 2)], width)
        self.fc = nn.Linear(cout, embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.convs(x).mean(dim=(2, 3)))


class TorchvisionExtractor(nn.Module):
    """A frozen torchvision classifier fed the gray view as 3 ImageNet-normalised channels."""

    def __init__(self, arch: str, weights: str | None) -> None:
        super().__init__()
        try:
            import torchvision
        except ImportError as exc:
            raise ImportError(
                f"koala: extractor={arch!r} needs torchvision (pip install torchvision), "
                "or use extractor='scratch'"
            ) from exc
        ctor = getattr(torchvision.models, arch, None)
        if not callable(ctor):
            raise ValueError(f"koala: torchvision has no architecture {arch!r}")
        extra = {"aux_logits": True, "init_weights": False} if arch == "inception_v3" else {}
        self.net = ctor(weights=None, **extra)
        if weights is not None:
            if not os.path.isfile(weights):
                raise FileNotFoundError(f"koala: extractor_weights file not found: {weights}")
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.net.load_state_dict(state.get("state_dict", state))
        self.net.requires_grad_(False)
        self.net.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> "TorchvisionExtractor":
        return super().train(False)  # frozen: always in inference mode

    def forward(self, x: Tensor) -> Tensor:
        rgb = ((x + 1) / 2).expand(-1, 3, -1, -1)
        return self.net((rgb - self.mean) / self.std).flatten(1)


@register_model("koala")
class KoalaModel(ColorizationModel):
    """Kwargs: ``width``, ``global_size``, ``extractor`` ("scratch" or a torchvision name),
    ``extractor_weights`` (path to an ImageNet state_dict), ``embed_dim`` (scratch embedding size)."""

    size_multiple = 8

    def __init__(
        self,
        width: float = 1.0,
        global_size: int = 224,
        extractor: str = "scratch",
        extractor_weights: str | None = None,
        embed_dim: int = 256,
    ) -> None:
        super().__init__(
            width=width,
            global_size=global_size,
            extractor=extractor,
            extractor_weights=extractor_weights,
            embed_dim=embed_dim,
        )
        self.global_input_size = global_size
        self.extractor_name = extractor
        if extractor == "scratch":
            if extractor_weights is not None:
                raise ValueError("koala: extractor_weights needs a torchvision extractor, not 'scratch'")
            self.extractor = ScratchExtractor(width, embed_dim)
        else:
            self.extractor = TorchvisionExtractor(extractor, extractor_weights)
            with torch.no_grad():
                embed_dim = self.extractor(torch.zeros(1, 1, global_size, global_size)).shape[1]
        # Saved with the weights, so a rebuilt model knows whether its extractor was pretrained.
        self.register_buffer("extractor_pretrained", torch.tensor(extractor_weights is not None))

        self.encoder, c_enc = conv_stack(
            1, [(64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 1), (256, 1)], width
        )
        self.fusion = conv_bn_relu(c_enc + embed_dim, scaled(256, width), kernel=1)
        dec1, c = conv_stack(scaled(256, width), [(128, 1)], width)
        dec2, c = conv_stack(c, [(64, 1), (64, 1)], width)
        dec3, c = conv_stack(c, [(32, 1)], width)
        self.decoder = nn.Sequential(dec1, upsample(), dec2, upsample(), dec3, nn.Conv2d(c, 2, 3, padding=1), nn.Tanh())

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        if l_global is None:
            raise ValueError("koala needs l_global, the L channel resized to global_input_size")
        enc = self.encoder(l)
        fused = self.fusion(torch.cat([enc, tile_as(self.extractor(l_global), enc)], dim=1))
        return F.interpolate(self.decoder(fused), scale_factor=2, mode="bilinear", align_corners=False)

    def card_extras(self) -> dict:
        return {
            "feature_extractor": self.extractor_name,
            "feature_extractor_pretrained": bool(self.extractor_pretrained),
        }
