"""CIELAB conversions and resizing with OpenCV (no per-pixel Python loops).

Lab here is OpenCV's float Lab of sRGB in [0, 1]: L in [0, 100], a and b in about [-128, 127].
Images are NumPy arrays: gray (H, W) or RGB (H, W, 3), uint8 or uint16 (float inputs: 0..1, finite).

Full-resolution work goes in :func:`strips` of rows, so that nothing float and image-sized is
ever held: :func:`luminance_resized` shrinks L band by band, :func:`resize_rows` gives some rows
of an upsampled array from the few source rows they need.
"""

from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np

STRIP_PIXELS = 1 << 18  # pixels in one strip of rows of the full-resolution steps


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
        check_unit_range(array, source)
        return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise ValueError(f"{source}: unsupported dtype {array.dtype} (use uint8, uint16 or float in [0, 1])")


FLOAT_SLACK = 1e-3  # how far past 0..1 a float input may lie (rounding of a resize or a conversion) before it is refused


def check_unit_range(array: np.ndarray, source: str = "image") -> None:
    """Refuse a float image with NaN or infinity, or with values outside 0..1 (floats are 0..1 by contract)."""
    low, high = float(np.min(array)), float(np.max(array))  # NaN propagates; one pass each, no copy
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{source}: float image holds NaN or infinity; replace them (np.nan_to_num) first")
    if low < -FLOAT_SLACK or high > 1 + FLOAT_SLACK:
        hint = (" it looks like 0..255: divide by 255 or pass uint8" if low >= -FLOAT_SLACK and high <= 255 + FLOAT_SLACK
                else " rescale it to 0..1")
        raise ValueError(f"{source}: float images must lie in 0..1, this one spans {low:g}..{high:g};{hint}")


COLOUR_SPREAD = 0.02  # mean max-min channel difference (fraction of full scale) over which an RGB input is colour


def is_colour(image: np.ndarray) -> bool:
    """Whether an RGB image holds colour (a gray photo stored as RGB does not), judged on at most ~16k pixels."""
    if image.ndim != 3:
        return False
    step = max(1, int((image.shape[0] * image.shape[1] / 16384) ** 0.5))
    sample = image[::step, ::step]
    spread = sample.max(axis=2).astype(np.float32) - sample.min(axis=2)
    return float(spread.mean()) > COLOUR_SPREAD * (65535 if image.dtype == np.uint16 else 255)


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


def strips(height: int, width: int) -> Iterator[tuple[int, int]]:
    """Consecutive row ranges ``(start, stop)`` of about :data:`STRIP_PIXELS` pixels covering ``height`` rows."""
    rows = max(1, STRIP_PIXELS // max(1, width))
    for start in range(0, height, rows):
        yield start, min(height, start + rows)


def luminance_resized(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``resize(luminance(image), width, height)``, shrinking strip by strip (area averaging is separable)."""
    full_h, full_w = image.shape[:2]
    if width > full_w or height > full_h:
        return resize(luminance(image), width, height)
    columns = np.empty((full_h, width), np.float32)
    for start, stop in strips(full_h, full_w):
        columns[start:stop] = resize(luminance(image[start:stop]), width, stop - start)
    return resize(columns, width, height)


def resize_rows(array: np.ndarray, width: int, height: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``array`` (h, w[, c]) enlarged bilinearly to (height, width), as cv2.resize maps
    them (pixel centres, edges clamped), computed from the few source rows they need."""
    source_h = array.shape[0]
    if source_h == height:
        return cv2.resize(np.ascontiguousarray(array[start:stop]), (width, stop - start), interpolation=cv2.INTER_LINEAR)
    position = (np.arange(start, stop) + 0.5) * (source_h / height) - 0.5
    upper = np.clip(np.floor(position).astype(np.int64), 0, source_h - 1)
    weight = np.clip(position - upper, 0.0, 1.0).astype(np.float32)
    weight[upper >= source_h - 1] = 0.0
    lower = np.minimum(upper + 1, source_h - 1)
    first, last = int(upper.min()), int(lower.max()) + 1
    rows = cv2.resize(np.ascontiguousarray(array[first:last]), (width, last - first), interpolation=cv2.INTER_LINEAR)
    rows = rows.reshape((last - first, width, -1))
    weight = weight[:, None, None]
    result = rows[upper - first] * (1.0 - weight)
    result += rows[lower - first] * weight
    return result.reshape((stop - start, width) + array.shape[2:])
