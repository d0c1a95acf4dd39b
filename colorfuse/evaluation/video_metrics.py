"""Video quality figures: PSNR against the real colours, and temporal flicker.

Flicker of a colorized clip: for each pair of consecutive frames, the previous frame's ab is
warped onto the current one along optical flow computed on the *input* luminance (the same flow
for every run compared), and the mean absolute ab change (Lab units, both channels) is taken
over the pixels whose luminance did not change (|L - warped previous L| < ``lum_threshold``
after warping, and the match inside the frame); the clip's figure is the mean over pairs.
Flow uses DIS (``MEDIUM`` preset) at ``side`` px, a finer setting than the smoothing plugin's.

CDC, the colour-distribution consistency of TCVC (Liu et al. 2021) and the NTIRE 2023 video
colorization challenge: the Jensen-Shannon divergence (natural log) of each RGB channel's 256-bin
histogram between frames i and i + g, averaged over channels and frame pairs for each gap g of
``CDC_GAPS``; the figure is the mean over the gaps. Lower is steadier; it needs no flow.
"""

from __future__ import annotations

import cv2
import numpy as np

from colorfuse.engine import lab
from colorfuse.engine.video.flow import FlowEstimator, inside, warp

CDC_GAPS = (1, 2, 4)


def channel_histograms(rgb: np.ndarray) -> np.ndarray:
    """Each channel's 256-bin histogram of a uint8 image, normalised to sum 1: (3, 256) float64."""
    counts = np.stack([np.bincount(rgb[..., c].ravel(), minlength=256) for c in range(rgb.shape[2])])
    return counts / counts.sum(axis=1, keepdims=True)


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (nats) along the last axis of two distributions."""
    m = (p + q) / 2

    def kl(a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, a * np.log(a / m), 0.0).sum(axis=-1)

    return (kl(p) + kl(q)) / 2


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
        self._histograms: dict[str, list[np.ndarray]] = {}  # the last max(CDC_GAPS) frames', per run
        self._cdc: dict[str, dict[int, list[float]]] = {}

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
            self._add_histograms(name, rgb)
            if reference is not None:
                self._psnr.setdefault(name, []).append(psnr(rgb, reference))
        self._previous_l = small_l

    def _add_histograms(self, name: str, rgb: np.ndarray) -> None:
        current = channel_histograms(rgb)
        history = self._histograms.setdefault(name, [])
        for gap in CDC_GAPS:
            if len(history) >= gap:
                divergence = float(js_divergence(history[-gap], current).mean())
                self._cdc.setdefault(name, {}).setdefault(gap, []).append(divergence)
        history.append(current)
        del history[:-max(CDC_GAPS)]

    def cdc(self, name: str) -> dict | None:
        """``{"cdc": mean over the gaps, "gaps": {g: mean JS divergence}}`` of a run (None before two frames)."""
        gaps = {gap: float(np.mean(values)) for gap, values in self._cdc.get(name, {}).items()}
        return {"cdc": float(np.mean(list(gaps.values()))), "gaps": gaps} if gaps else None

    def frame_psnr(self, name: str) -> list[float]:
        """The PSNR of each frame of a run, in order."""
        return list(self._psnr.get(name, ()))

    def flicker(self, name: str) -> float | None:
        values = self._flicker.get(name)
        return float(np.mean(values)) if values else None

    def mean_psnr(self, name: str) -> float | None:
        values = self._psnr.get(name)
        return float(np.mean(values)) if values else None
