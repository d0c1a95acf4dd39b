"""Shape-bucketed batching: round working shapes up so photos of similar shape share a batch.

The colorizer batches images whose padded working shape is identical. Photos of a collection
come in many sizes, so on a GPU most batches are tiny and every new shape costs a cuDNN plan
(and a CUDA graph capture). Padding each working L further, to a multiple of ``step`` (edge
replicated, as the colorizer already pads to the card's multiple), leaves a handful of shapes;
``finish`` crops by the padded shape, so results only change by the border context the model
sees. ``colorfuse bench throughput --bucket STEP`` measures the trade.
"""

from __future__ import annotations

import numpy as np

from colorfuse.engine.colorizer import Colorizer, Prepared
from colorfuse.engine.tiling import over_budget


def bucket_shape(height: int, width: int, step: int) -> tuple[int, int]:
    """(height, width) rounded up to multiples of ``step``."""
    return -(-height // step) * step, -(-width // step) * step


class BucketedColorizer(Colorizer):
    """A :class:`Colorizer` whose ``predict`` pads each working L up to its shape bucket first."""

    def __init__(self, *args, bucket: int = 64, **kwargs):
        super().__init__(*args, **kwargs)
        if bucket < 1 or bucket % self.card.size_multiple:
            raise ValueError(f"bucket ({bucket}) must be a positive multiple of the model's size multiple "
                             f"({self.card.size_multiple})")
        self.bucket = bucket

    def predict(self, items: list) -> None:
        for item in items:
            if isinstance(item, Prepared) and not over_budget(self.options, item.shape_key):
                height, width = item.shape_key
                target_h, target_w = bucket_shape(height, width, self.bucket)
                if (target_h, target_w) != (height, width):
                    item.padded = np.pad(item.padded, ((0, 0), (0, target_h - height), (0, target_w - width)), mode="edge")
        super().predict(items)
