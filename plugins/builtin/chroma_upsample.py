"""Built-in plugin: brings predicted chroma to full resolution.

``chroma_upsample`` option: ``guided`` (default) uses a fast guided filter (He & Sun 2015):
the linear model ab = a * L + b is fitted in small windows at the working size, and only its
coefficients are upsampled, so colour edges follow the full-resolution L edges instead of
bleeding across them. ``bilinear`` resizes ab directly. The colorizer asks for one strip of
rows at a time; the coefficients of an image are computed once (cached per thread).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from colorfuse.engine.lab import resize_rows
from colorfuse.plugins import hookimpl

MODES = ("guided", "bilinear")


def _box(array: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(array, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def guided_coefficients(small_l: np.ndarray, ab: np.ndarray, radius: int = 2, eps: float = 1e-3):
    """Per-pixel (a, b) of the guided filter at the working size, for both chroma channels."""
    guide = small_l * np.float32(0.01)  # L to [0, 1], so eps is in those units
    mean_i = _box(guide, radius)
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    mean_p = _box(ab, radius)
    cov_ip = _box(ab * guide[:, :, None], radius) - mean_p * mean_i[:, :, None]
    slope = cov_ip / (var_i[:, :, None] + np.float32(eps))
    offset = mean_p - slope * mean_i[:, :, None]
    return _box(slope, radius), _box(offset, radius)


_last = threading.local()  # (ab, small_l, slope, offset) of the image this thread is finishing


def _coefficients(small_l: np.ndarray, ab: np.ndarray):
    last = getattr(_last, "image", None)
    if last is None or last[0] is not ab or last[1] is not small_l:
        last = _last.image = (ab, small_l, *guided_coefficients(small_l, ab))
    return last[2], last[3]


@hookimpl
def upsample_chroma(ab, small_l, full_l, options, rows):
    mode = options.get("chroma_upsample", "guided")
    if mode not in MODES:
        raise ValueError(f"chroma_upsample must be one of {MODES}, got {mode!r}")
    start, stop, height = rows
    width = full_l.shape[1]
    if mode == "bilinear" or min(ab.shape[:2]) < 3 or ab.shape[:2] == (height, width):
        return resize_rows(ab, width, height, start, stop)
    slope, offset = _coefficients(small_l, ab)
    result = resize_rows(offset, width, height, start, stop)
    result += resize_rows(slope, width, height, start, stop) * (full_l * np.float32(0.01))[:, :, None]
    return result


@hookimpl
def declare_options(declare):
    declare("chroma_upsample", ("guided", "bilinear"), "guided",
            "How ab is brought to full size: edge-aware guided filter or plain bilinear.", flag=True)
