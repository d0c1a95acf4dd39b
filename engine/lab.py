"""CIELAB conversions and resizing with OpenCV (no per-pixel Python loops).

Lab here is OpenCV's float Lab of sRGB in [0, 1]: L in [0, 100], a and b in about [-128, 127].
Images are NumPy arrays: gray (H, W) or RGB (H, W, 3), uint8 or uint16.
"""

from __future__ import annotations

import cv2
import numpy as np


def _gray_to_l_table(levels: int) -> np.ndarray:
    gray = np.linspace(0.0, 1.0, levels, dtype=np.float32)
    rgb = np.repeat(gray[:, None, None], 3, axis=2).reshape(levels, 1, 3)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[:, 0, 0].copy()


_L_OF_GRAY8 = _gray_to_l_table(256)


def as_image(array: np.ndarray, source: str = "image") -> np.ndarray:
    """Check and normalise an input array to gray (H, W) or RGB (H, W, 3), uint8 or uint16."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 4:
        raise ValueError(f"{source}: RGBA arrays must be composited first (read files with colorfuse)")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"{source}: expected an (H, W) or (H, W, 3) image, got shape {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{source}: empty image {array.shape}")
    if array.dtype == np.uint8 or array.dtype == np.uint16:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise ValueError(f"{source}: unsupported dtype {array.dtype} (use uint8, uint16 or float in [0, 1])")


def _to_unit_float(image: np.ndarray) -> np.ndarray:
    scale = 1.0 / (65535.0 if image.dtype == np.uint16 else 255.0)
    return image.astype(np.float32) * scale


def luminance(image: np.ndarray) -> np.ndarray:
    """L channel (float32, 0..100) at the image's full resolution."""
    if image.ndim == 2:
        if image.dtype == np.uint8:
            return _L_OF_GRAY8[image]
        return cv2.cvtColor(cv2.cvtColor(_to_unit_float(image), cv2.COLOR_GRAY2RGB), cv2.COLOR_RGB2Lab)[:, :, 0]
    return cv2.cvtColor(_to_unit_float(image), cv2.COLOR_RGB2Lab)[:, :, 0]


def lab_to_rgb8(lum: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Merge L (H, W) and ab (H, W, 2) into an RGB uint8 image."""
    lab = np.empty(lum.shape + (3,), np.float32)
    lab[:, :, 0] = lum
    lab[:, :, 1:] = ab
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    np.maximum(rgb, 0.0, out=rgb)  # out-of-gamut negatives; convertScaleAbs rounds and saturates
    return cv2.convertScaleAbs(rgb, alpha=255.0)


def rgb_to_lab(image: np.ndarray) -> np.ndarray:
    """RGB uint8/uint16 (H, W, 3) to float32 Lab (H, W, 3)."""
    return cv2.cvtColor(_to_unit_float(image), cv2.COLOR_RGB2Lab)


def resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize with area averaging when shrinking and bilinear interpolation when growing."""
    if array.shape[1] == width and array.shape[0] == height:
        return array
    shrinking = width <= array.shape[1] and height <= array.shape[0]
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
