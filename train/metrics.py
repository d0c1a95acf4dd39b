"""Validation figures of one colorized image, on NumPy arrays (no torch).

The same conversions (:mod:`colorfuse.engine.lab`) and metrics (:mod:`colorfuse.evaluation.quality`)
as ``colorfuse eval``, so training curves and evaluation tables agree.
"""

from __future__ import annotations

import numpy as np

from colorfuse.engine.lab import lab_to_rgb8
from colorfuse.evaluation.quality import colorfulness, psnr


def colorization_figures(L: np.ndarray, ab_pred: np.ndarray, ab_true: np.ndarray) -> dict[str, float]:  # noqa: N803
    """PSNR of the prediction and of the gray baseline (a = b = 0) against the truth, and the
    colourfulness of prediction and truth; RGB uint8 rebuilt from L (H,W) 0..100 and ab (H,W,2)."""
    return ScaleSweep((1.0,)).add(L, ab_pred, ab_true)


SWEEP_SCALES = (0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)  # ab scales tried by ScaleSweep (below 1: colourful models)
NATURAL_FLOOR = 0.5  # the natural look's least colourfulness, as a fraction of the truth's


class ScaleSweep:
    """Mean PSNR and colourfulness of the predictions scaled by each of ``scales``, accumulated
    image by image, and the gray baseline's PSNR and the truth's colourfulness beside them."""

    def __init__(self, scales=SWEEP_SCALES) -> None:
        self.scales = tuple(scales)
        self.psnr, self.colour = dict.fromkeys(self.scales, 0.0), dict.fromkeys(self.scales, 0.0)
        self.gray_psnr = self.truth_colour = 0.0
        self.count = 0

    def add(self, L: np.ndarray, ab_pred: np.ndarray, ab_true: np.ndarray) -> dict[str, float]:  # noqa: N803
        """Add one image; returns its :func:`colorization_figures` (of the unscaled prediction),
        computed along the way."""
        truth = lab_to_rgb8(L, ab_true)
        figures = {"psnr_gray_baseline": psnr(lab_to_rgb8(L, np.zeros_like(ab_true)), truth),
                   "colorfulness_truth": colorfulness(truth)}
        for s in sorted(set(self.scales) | {1.0}):
            pred = lab_to_rgb8(L, ab_pred * np.float32(s))
            p, c = psnr(pred, truth), colorfulness(pred)
            if s == 1.0:
                figures.update(psnr=p, colorfulness=c)
            if s in self.psnr:
                self.psnr[s] += p
                self.colour[s] += c
        self.gray_psnr += figures["psnr_gray_baseline"]
        self.truth_colour += figures["colorfulness_truth"]
        self.count += 1
        return figures

    def gain_at(self, floor: float = NATURAL_FLOOR) -> float:
        """The PSNR gain over gray where the colourfulness ratio (mean over mean, as in
        ``colorfuse eval-front``) reaches ``floor``, interpolated linearly between the two scales
        around it: the natural look's figure (:func:`colorfuse.evaluation.front.choose_looks`). NaN
        when no scale reaches it."""
        if not self.count or not self.truth_colour:
            return float("nan")
        gains = [(self.psnr[s] - self.gray_psnr) / self.count for s in self.scales]
        ratios = [self.colour[s] / self.truth_colour for s in self.scales]
        for (g0, r0), (g1, r1) in zip(zip(gains, ratios), zip(gains[1:], ratios[1:])):
            if min(r0, r1) <= floor <= max(r0, r1):
                return g0 if r1 == r0 else g0 + (floor - r0) / (r1 - r0) * (g1 - g0)
        return float("nan")
