"""effnet's optional loss terms beside Huber and classification: DDColor's colourfulness and perceptual terms."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def colour_terms(l: Tensor, ab: Tensor, ab2: Tensor, logs: dict, colourfulness_weight: float = 0.0,  # noqa: E741
                 perceptual_weight: float = 0.0) -> Tensor | float:
    """The weighted sum of the terms asked for (0 when none), each logged under its name: the
    colourfulness of the stride-2 prediction ``ab2`` on the pooled ``l``
    (:mod:`colorfuse.train.models.colourfulness`), and the perceptual distance of ``ab2`` upsampled to
    full size from the truth ``ab`` (:mod:`colorfuse.train.models.perceptual`)."""
    total: Tensor | float = 0.0
    if colourfulness_weight:
        from colorfuse.train.models.colourfulness import colourfulness_loss

        colour = colourfulness_loss(F.avg_pool2d(l.float(), 2), ab2)
        total = total + colourfulness_weight * colour
        logs["colourfulness"] = colour.item()
    if perceptual_weight:
        from colorfuse.train.models.perceptual import perceptual_loss

        full = F.interpolate(ab2.float(), scale_factor=2, mode="bilinear", align_corners=False)
        perceptual = perceptual_loss(l.float(), full, ab.float())
        total = total + perceptual_weight * perceptual
        logs["perceptual"] = perceptual.item()
    return total
