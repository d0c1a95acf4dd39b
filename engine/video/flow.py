"""Optical flow between luminance frames (OpenCV DIS), warping, and a per-pixel confidence.

Conventions: ``flow = estimate(src, dst)`` is defined on ``src``'s grid, with
``src(x) ~ dst(x + flow(x))``; ``warp(image_of_dst, flow)`` brings ``dst``'s content onto
``src``'s grid. Luminance is L in 0..100 (float); flow runs on a copy downscaled to ``max_side``.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_SIDE = 16  # DIS needs a few patches; smaller frames get zero flow


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray, border=cv2.BORDER_REPLICATE) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)`` (bilinear)."""
    height, width = flow.shape[:2]
    xs, ys = _grid(height, width)
    return cv2.remap(image, xs + flow[:, :, 0], ys + flow[:, :, 1], cv2.INTER_LINEAR, borderMode=border)


def inside(flow: np.ndarray) -> np.ndarray:
    """1 where ``x + flow(x)`` falls inside the frame, else 0 (float32)."""
    height, width = flow.shape[:2]
    xs, ys = _grid(height, width)
    x, y = xs + flow[:, :, 0], ys + flow[:, :, 1]
    return ((x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)).astype(np.float32)


def resize_flow(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample a flow field to another grid, scaling the vectors with it."""
    if flow.shape[:2] == (height, width):
        return flow
    scaled = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    scaled[:, :, 0] *= width / flow.shape[1]
    scaled[:, :, 1] *= height / flow.shape[0]
    return scaled


class FlowEstimator:
    """DIS optical flow on luminance downscaled so its longest side is at most ``max_side``."""

    def __init__(self, max_side: int = 320, preset: int = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST):
        self.max_side = max_side
        self._dis = cv2.DISOpticalFlow_create(preset)

    def downscale(self, lum: np.ndarray) -> np.ndarray:
        """L (0..100) at the flow resolution, as float32."""
        height, width = lum.shape
        scale = min(1.0, self.max_side / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = lum if scale == 1.0 else cv2.resize(lum, size, interpolation=cv2.INTER_AREA)
        return small.astype(np.float32, copy=False)

    def estimate(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Flow on ``src``'s grid towards ``dst`` (same shapes, L at the flow resolution)."""
        height, width = src.shape
        if min(height, width) < MIN_SIDE:
            return np.zeros((height, width, 2), np.float32)
        to_u8 = np.float32(2.55)
        return self._dis.calc(cv2.convertScaleAbs(src, alpha=to_u8), cv2.convertScaleAbs(dst, alpha=to_u8), None)

    def aligned(self, current: np.ndarray, previous: np.ndarray, fb_tolerance: float = 2.0,
                lum_sigma: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
        """(flow from ``current`` to ``previous``, confidence in [0, 1]) on ``current``'s grid.

        Confidence is high where the forward and backward flows agree (error under
        ``fb_tolerance`` pixels at the flow resolution), the warped luminance matches
        (Gaussian in the L difference, ``lum_sigma``) and the match lies inside the frame.
        """
        backward = self.estimate(current, previous)
        forward = self.estimate(previous, current)
        round_trip = backward + warp(forward, backward)
        fb_error = np.sqrt(round_trip[:, :, 0] ** 2 + round_trip[:, :, 1] ** 2)
        confidence = np.clip(1.0 - fb_error / np.float32(fb_tolerance), 0.0, 1.0)
        difference = (current - warp(previous, backward)) / np.float32(lum_sigma)
        confidence *= np.exp(-(difference * difference)) * inside(backward)
        return backward, confidence.astype(np.float32, copy=False)
