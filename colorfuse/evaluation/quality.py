"""Colorization quality figures on plain NumPy arrays (no torch): arrays in, floats out.

Every function compares or describes images given as NumPy arrays; none reads files or
knows about models, so training code can call them as well as ``colorfuse eval``.

- RGB images are (H, W, 3) arrays, uint8 in 0..255 unless a function says otherwise.
- ab arrays are (H, W, 2) float CIELAB chroma, as from :func:`colorfuse.engine.lab.rgb_to_lab`
  (OpenCV's Lab of sRGB, a and b in about -128..127).

scikit-image (the ``eval`` extra) is imported only by :func:`psnr` and :func:`ssim`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from colorfuse.engine import lab

AUC_MAX_THRESHOLD = 150  # Zhang et al. 2016: thresholds 0..150 on the ab error
SSIM_WINDOW = 7  # scikit-image's default window side


def _pair(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"images differ in shape: {pred.shape} vs {truth.shape}")
    return pred, truth


def psnr(pred: np.ndarray, truth: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels; ``inf`` when identical.

    Same figure as ``skimage.metrics.peak_signal_noise_ratio(truth, pred, data_range=...)``,
    which is used for every non-identical pair (it divides by zero on identical ones).
    """
    pred, truth = _pair(pred, truth)
    if np.array_equal(pred, truth):
        return math.inf
    from skimage.metrics import peak_signal_noise_ratio

    return float(peak_signal_noise_ratio(truth, pred, data_range=data_range))


def _global_ssim(pred: np.ndarray, truth: np.ndarray, data_range: float) -> float:
    """SSIM with a single window covering the whole image (per channel, then averaged)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    x = truth.reshape(-1, truth.shape[2] if truth.ndim == 3 else 1).astype(np.float64)
    y = pred.reshape(x.shape).astype(np.float64)
    mx, my = x.mean(axis=0), y.mean(axis=0)
    vx, vy = x.var(axis=0), y.var(axis=0)
    cov = ((x - mx) * (y - my)).mean(axis=0)
    values = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(values.mean())


def ssim(pred: np.ndarray, truth: np.ndarray, data_range: float = 255.0) -> float:
    """Mean structural similarity of two gray (H, W) or RGB (H, W, 3) images, 1.0 when identical.

    ``skimage.metrics.structural_similarity`` with its 7x7 window (RGB: ``channel_axis=2``,
    the mean over channels). Images whose shorter side is under 7 px use the largest odd
    window that fits; under 3 px, one window covering the whole image.
    """
    pred, truth = _pair(pred, truth)
    shorter = min(truth.shape[:2])
    if shorter < 3:
        return _global_ssim(pred, truth, data_range)
    from skimage.metrics import structural_similarity

    window = SSIM_WINDOW if shorter >= SSIM_WINDOW else shorter - (1 - shorter % 2)
    channel_axis = 2 if truth.ndim == 3 else None
    return float(structural_similarity(truth, pred, data_range=data_range, channel_axis=channel_axis,
                                       win_size=window))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness: 0 for a gray image, about 100+ for vivid photos.

    With rg = R - G and yb = (R + G) / 2 - B over all pixels:
    ``sqrt(sd_rg^2 + sd_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2)`` (population standard
    deviations). The figure is in the array's units: use 0..255 values (uint8) to compare
    with published numbers.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"colorfulness needs an (H, W, 3) RGB image, got shape {rgb.shape}")
    r, g, b = (rgb[:, :, i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def ab_error_curve(ab_pred: np.ndarray, ab_true: np.ndarray, max_threshold: int = AUC_MAX_THRESHOLD) -> np.ndarray:
    """Fraction of pixels whose Euclidean ab error is <= t, for t = 0, 1, ..., ``max_threshold``."""
    ab_pred, ab_true = _pair(ab_pred, ab_true)
    if ab_true.ndim != 3 or ab_true.shape[2] != 2:
        raise ValueError(f"ab arrays must be (H, W, 2), got shape {ab_true.shape}")
    error = np.hypot(ab_pred[:, :, 0].astype(np.float64) - ab_true[:, :, 0],
                     ab_pred[:, :, 1].astype(np.float64) - ab_true[:, :, 1])
    # error <= t  <=>  ceil(error) <= t for integer t, so one histogram gives the whole curve
    bins = np.minimum(np.ceil(error), max_threshold + 1).astype(np.int64).ravel()
    counts = np.bincount(bins, minlength=max_threshold + 2)[: max_threshold + 1]
    return np.cumsum(counts) / bins.size


def ab_auc(ab_pred: np.ndarray, ab_true: np.ndarray, max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    """Area under :func:`ab_error_curve` (trapezoids), divided by ``max_threshold``: 0..1, 1.0 when equal.

    Zhang, Isola & Efros (2016), "Colorful Image Colorization", section 3.1 (AuC, 0 to 150).
    """
    curve = ab_error_curve(ab_pred, ab_true, max_threshold)
    return float((curve[1:] + curve[:-1]).sum() / 2 / max_threshold)


def saturation_sum(rgb: np.ndarray) -> float:
    """Sum over pixels of HSV saturation S = (max - min) / max in 0..1 (0 for black pixels).

    ``rgb`` is (H, W, 3), uint8, uint16, or float in 0..1.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"saturation needs an (H, W, 3) RGB image, got shape {rgb.shape}")
    if np.issubdtype(rgb.dtype, np.floating):
        unit = rgb.astype(np.float32)
    else:
        unit = rgb.astype(np.float32) * np.float32(1.0 / (65535.0 if rgb.dtype == np.uint16 else 255.0))
    return float(cv2.cvtColor(unit, cv2.COLOR_RGB2HSV)[:, :, 1].sum(dtype=np.float64))


def relative_difference(value: float, reference: float) -> float:
    """``|value - reference| / reference``: 0 when both are 0, ``inf`` when only the reference is."""
    if reference == 0:
        return 0.0 if value == 0 else math.inf
    return abs(value - reference) / reference


def saturation_difference(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """``|sum S_pred - sum S_true| / sum S_true`` with S the HSV saturation (0 when equal)."""
    pred_rgb, true_rgb = _pair(pred_rgb, true_rgb)
    return relative_difference(saturation_sum(pred_rgb), saturation_sum(true_rgb))


@dataclass
class Reference:
    """A ground-truth RGB image with what the figures need from it, computed once."""

    rgb: np.ndarray
    ab: np.ndarray
    colorfulness: float
    saturation: float

    @classmethod
    def of(cls, rgb: np.ndarray) -> "Reference":
        rgb = np.asarray(rgb)
        return cls(rgb, lab.rgb_to_lab(rgb)[:, :, 1:], colorfulness(rgb), saturation_sum(rgb))


FIGURES = ("psnr", "ssim", "auc", "colorfulness", "colorfulness_truth", "colorfulness_diff",
           "colorfulness_ratio", "saturation_diff")


def compare(pred_rgb: np.ndarray, truth: Reference | np.ndarray) -> dict[str, float]:
    """Every figure of :data:`FIGURES` for one RGB result against its ground truth.

    ``colorfulness_diff`` is result minus truth, ``colorfulness_ratio`` result / truth
    (``inf`` or ``nan`` for a gray truth).
    """
    if not isinstance(truth, Reference):
        truth = Reference.of(truth)
    pred_rgb, _ = _pair(pred_rgb, truth.rgb)
    pred_colorfulness = colorfulness(pred_rgb)
    if truth.colorfulness:
        ratio = pred_colorfulness / truth.colorfulness
    else:
        ratio = math.nan if pred_colorfulness == 0 else math.inf
    return {
        "psnr": psnr(pred_rgb, truth.rgb),
        "ssim": ssim(pred_rgb, truth.rgb),
        "auc": ab_auc(lab.rgb_to_lab(pred_rgb)[:, :, 1:], truth.ab),
        "colorfulness": pred_colorfulness,
        "colorfulness_truth": truth.colorfulness,
        "colorfulness_diff": pred_colorfulness - truth.colorfulness,
        "colorfulness_ratio": ratio,
        "saturation_diff": relative_difference(saturation_sum(pred_rgb), truth.saturation),
    }
