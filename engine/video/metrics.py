"""Video quality figures: PSNR against the real colours, and temporal flicker.

Flicker of a colorized clip: for each pair of consecutive frames, the previous frame's ab is
warped onto the current one along optical flow computed on the *input* luminance (the same flow
for every run compared), and the mean absolute ab change (Lab units, both channels) is taken
over the pixels whose luminance did not change (|L - warped previous L| < ``lum_threshold``
after warping, and the match inside the frame); the clip's figure is the mean over pairs.
Flow uses DIS (``MEDIUM`` preset) at ``side`` px, a finer setting than the smoothing plugin's.
"""

from __future__ import annotations

import cv2
import numpy as np

from colorfuse.engine import lab
from colorfuse.engine.video.flow import FlowEstimator, inside, warp


def psnr(result: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (capped at 100 dB for identical images)."""
    error = np.mean((result.astype(np.float32) - reference.astype(np.float32)) ** 2)
    return 100.0 if error <= 1e-10 else float(10.0 * np.log10(255.0 ** 2 / error))


class ClipMetrics:
    """Accumulates per-run PSNR and flicker over a clip, frame by frame."""

    def __init__(self, side: int = 480, lum_threshold: float = 2.0):
        self.estimator = FlowEstimator(side, cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.lum_threshold = lum_threshold
        self._previous_l: np.ndarray | None = None
        self._previous_ab: dict[str, np.ndarray] = {}
        self._flicker: dict[str, list[float]] = {}
        self._psnr: dict[str, list[float]] = {}
        self.pairs = 0
        self.masked_fraction: list[float] = []

    def _small_ab(self, rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        small = lab.resize(rgb, shape[1], shape[0])
        return lab.rgb_to_lab(small)[:, :, 1:]

    def update(self, lum: np.ndarray, runs: dict[str, np.ndarray], reference: np.ndarray | None = None) -> None:
        """Add one frame: ``lum`` the input's L (full size), ``runs`` name -> RGB uint8 result."""
        small_l = self.estimator.downscale(lum)
        mask = None
        if self._previous_l is not None and self._previous_l.shape == small_l.shape:
            flow = self.estimator.estimate(small_l, self._previous_l)
            steady = np.abs(small_l - warp(self._previous_l, flow)) < self.lum_threshold
            mask = steady & (inside(flow) > 0)
            self.pairs += 1
            self.masked_fraction.append(float(mask.mean()))
        for name, rgb in runs.items():
            ab = self._small_ab(rgb, small_l.shape)
            if mask is not None and mask.any() and name in self._previous_ab:
                change = np.abs(ab - warp(self._previous_ab[name], flow))[mask]
                self._flicker.setdefault(name, []).append(float(change.mean()))
            self._previous_ab[name] = ab
            if reference is not None:
                self._psnr.setdefault(name, []).append(psnr(rgb, reference))
        self._previous_l = small_l

    def flicker(self, name: str) -> float | None:
        values = self._flicker.get(name)
        return float(np.mean(values)) if values else None

    def mean_psnr(self, name: str) -> float | None:
        values = self._psnr.get(name)
        return float(np.mean(values)) if values else None
