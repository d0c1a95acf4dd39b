"""Quantised ab space for the classification model (Zhang, Isola & Efros 2016), computed locally.

Bins are the centres of a 10-unit grid over [-110, 110]^2 whose cell touches the sRGB gamut
(OpenCV's CIELAB, D65): the cell is sampled on a grid, L over 0..100, and a bin is kept when some
sample converts to linear sRGB within [0, 1]^3.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

GRID = 10
AB_MAX = 110
# XYZ (D65) -> linear sRGB, and the D65 white point OpenCV uses.
_XYZ_TO_RGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)
_WHITE = np.array([0.950456, 1.0, 1.088754])


def lab_to_linear_rgb(L: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """CIELAB -> linear sRGB (..., 3); in gamut iff every channel is in [0, 1]."""
    L, a, b = np.broadcast_arrays(L, a, b)
    fy = (L + 16) / 116
    f = np.stack([fy + a / 500, fy, fy - b / 200], axis=-1)
    delta = 6 / 29
    xyz = np.where(f > delta, f**3, 3 * delta**2 * (f - 4 / 29)) * _WHITE
    return xyz @ _XYZ_TO_RGB.T


@lru_cache(maxsize=None)
def _bins() -> np.ndarray:
    centres = np.arange(-AB_MAX, AB_MAX + 1, GRID, dtype=np.float64)
    a, b = np.meshgrid(centres, centres, indexing="ij")
    offsets = np.linspace(-GRID / 2, GRID / 2, 5)
    off_a, off_b = (o.ravel() for o in np.meshgrid(offsets, offsets, indexing="ij"))
    cell_a, cell_b = a[..., None] + off_a, b[..., None] + off_b
    keep = np.zeros(a.shape, dtype=bool)
    for L in np.linspace(0, 100, 101):
        rgb = lab_to_linear_rgb(L, cell_a, cell_b)
        keep |= np.all((rgb >= 0) & (rgb <= 1), axis=-1).any(axis=-1)
    return np.stack([a[keep], b[keep]], axis=1).astype(np.float32)


def ab_bins() -> Tensor:
    """(Q, 2) in-gamut bin centres in ab units (multiples of 10)."""
    return torch.from_numpy(_bins().copy())


@lru_cache(maxsize=None)
def _soft_lut(k: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    bins = torch.from_numpy(_bins()).double()
    axis = torch.arange(-AB_MAX, AB_MAX + 1, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)
    dist, idx = torch.cdist(grid, bins).topk(k, dim=1, largest=False)
    weights = torch.softmax(-dist.square() / (2 * sigma**2), dim=1)
    return idx.numpy(), weights.float().numpy()


def soft_encoding_lut(k: int = 5, sigma: float = 5.0) -> tuple[Tensor, Tensor]:
    """Lookup for soft-encoding: for every integer (a, b) in [-110, 110]^2, flattened as
    ``(a + 110) * 221 + (b + 110)``, the ``k`` nearest bins (nearest first) and their Gaussian
    weights (sum 1). Returns (indices int64 (221*221, k), weights float32 (221*221, k))."""
    idx, weights = _soft_lut(k, sigma)
    return torch.from_numpy(idx.copy()), torch.from_numpy(weights.copy())


def lut_index(ab: Tensor) -> Tensor:
    """Flat lookup position of ab values (..., 2) in ab units, rounded and clamped to the grid."""
    ab = ab.round().clamp(-AB_MAX, AB_MAX).long() + AB_MAX
    return ab[..., 0] * (2 * AB_MAX + 1) + ab[..., 1]


def rebalance_weights(prior: Tensor, bins: Tensor, sigma: float = 5.0, lam: float = 0.5) -> tuple[Tensor, Tensor]:
    """Class-rebalancing weights from an empirical bin prior.

    The prior is smoothed by a Gaussian (``sigma``, ab units) over the bin positions; then
    w ∝ 1 / ((1 - lam) * p + lam / Q), normalised so that E_p[w] = sum(p * w) = 1.
    Returns (w, smoothed p).
    """
    prior = prior.double().clamp(min=0)
    prior = prior / prior.sum()
    kernel = torch.exp(-torch.cdist(bins.double(), bins.double()).square() / (2 * sigma**2))
    smooth = kernel @ prior
    smooth = smooth / smooth.sum()
    w = 1 / ((1 - lam) * smooth + lam / len(prior))
    w = w / (smooth * w).sum()
    return w.float(), smooth.float()
