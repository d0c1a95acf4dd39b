"""Validation figures of one colorized image, on NumPy arrays (no torch).

The same conversions (:mod:`colorfuse.engine.lab`) and metrics (:mod:`colorfuse.engine.quality`)
as ``colorfuse eval``, so training curves and evaluation tables agree.
"""

from __future__ import annotations

import numpy as np

from colorfuse.engine.lab import lab_to_rgb8
from colorfuse.engine.quality import colorfulness, psnr


def colorization_figures(L: np.ndarray, ab_pred: np.ndarray, ab_true: np.ndarray) -> dict[str, float]:  # noqa: N803
    """PSNR of the prediction and of the gray baseline (a = b = 0) against the truth, and the
    colourfulness of prediction and truth; RGB uint8 rebuilt from L (H,W) 0..100 and ab (H,W,2)."""
    truth = lab_to_rgb8(L, ab_true)
    pred = lab_to_rgb8(L, ab_pred)
    gray = lab_to_rgb8(L, np.zeros_like(ab_true))
    return {
        "psnr": psnr(pred, truth),
        "psnr_gray_baseline": psnr(gray, truth),
        "colorfulness": colorfulness(pred),
        "colorfulness_truth": colorfulness(truth),
    }
