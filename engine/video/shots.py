"""Shot-cut detection from frame differences on a small luminance thumbnail.

A cut is declared when the luminance histograms of consecutive frames differ by more than
``threshold`` (total-variation distance: 0 same histogram, 1 disjoint) and the thumbnails
themselves changed (mean absolute difference over ``min_change`` L units). A pan over a scene of
the same tones is therefore not a cut; a false cut (a flash, say) only restarts the smoothing.
"""

from __future__ import annotations

import cv2
import numpy as np

from colorfuse.engine import lab
from colorfuse.engine.video import SHOT_THRESHOLD

THUMB_SIDE = 64
BINS = 32


class ShotDetector:
    """Feed frames (gray or RGB) in order; :meth:`is_cut` says whether each one starts a new shot."""

    def __init__(self, threshold: float = SHOT_THRESHOLD, min_change: float = 8.0):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"shot threshold must be in (0, 1], got {threshold}")
        self.threshold, self.min_change = threshold, min_change
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        self.last_distance = 0.0

    @staticmethod
    def _signature(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        step = max(1, max(image.shape[:2]) // (4 * THUMB_SIDE))  # cheap subsampling before area averaging
        image = image[::step, ::step]
        height, width = image.shape[:2]
        scale = min(1.0, THUMB_SIDE / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        thumb = lab.luminance(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
        histogram = cv2.calcHist([thumb], [0], None, [BINS], [0.0, 100.0 + 1e-3]).ravel()
        return thumb, histogram / max(1.0, histogram.sum())

    def is_cut(self, image: np.ndarray) -> bool:
        """True for the first frame and for every frame that starts a new shot (gray or RGB image)."""
        thumb, histogram = self._signature(image)
        previous, self._previous = self._previous, (thumb, histogram)
        if previous is None or previous[0].shape != thumb.shape:
            self.last_distance = 1.0
            return True
        self.last_distance = 0.5 * float(np.abs(histogram - previous[1]).sum())
        change = float(np.mean(np.abs(thumb - previous[0])))
        return self.last_distance > self.threshold and change > self.min_change
