"""Simulated colour hints for training, as Zhang, Zhu et al. (SIGGRAPH 2017) trained them.

Local hints (``add_color_patches_rand_gt`` of their ``colorization-pytorch``): points are added
while ``rand() < 7/8`` (geometric, mean 7, one sample in eight has none); each sample's points
are Gaussian around the centre (std a quarter of the side) or uniform; each is a square patch of
side uniform in 1..9 whose colour is the truth's mean ab over the patch. The tensors are
``hint_ab`` (N, 2, H, W) in ab/110 (0 off the hints) and ``hint_mask`` (N, 1, H, W), 1 on them.

The global palette hint is the ab histogram of the photo over the model's ab bins (ab average-
pooled 4x4, each cell counted at its nearest bin) and its mean chroma / 110, each with a keep
flag: ``palette`` (N, Q + 3, 1, 1) = [histogram x keep_hist, chroma x keep_chroma, keep_hist,
keep_chroma]. The engine builds the same vector from a reference photo (``engine/hints.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

AB_SCALE = 110.0
CONTINUE = 7 / 8  # probability of adding one more point
MAX_PATCH = 9
PALETTE_POOL = 4
KEEP = 0.5  # probability that each part of the palette hint (histogram, chroma) is given


def _rand(gen: torch.Generator | None) -> float:
    return float(torch.rand((), generator=gen))


def _position(size: int, patch: int, gaussian: bool, gen: torch.Generator | None) -> int:
    if gaussian:
        centre = size / 2 + float(torch.randn((), generator=gen)) * size / 4
        return int(min(max(round(centre - patch / 2), 0), size - patch))
    return int(torch.randint(0, size - patch + 1, (), generator=gen))


def local_hints(ab: Tensor, gen: torch.Generator | None = None, max_points: int = 1000) -> tuple[Tensor, Tensor]:
    """(hint_ab, hint_mask) for a batch of true ab/110 (N, 2, H, W)."""
    n, _, height, width = ab.shape
    hint_ab = torch.zeros_like(ab, dtype=torch.float32)
    mask = torch.zeros(n, 1, height, width, dtype=torch.float32, device=ab.device)
    for i in range(n):
        gaussian = _rand(gen) < 0.5
        points = 0
        while points < max_points and _rand(gen) < CONTINUE:
            side = int(torch.randint(1, MAX_PATCH + 1, (), generator=gen))
            side = min(side, height, width)
            y, x = _position(height, side, gaussian, gen), _position(width, side, gaussian, gen)
            patch = ab[i, :, y : y + side, x : x + side].float()
            hint_ab[i, :, y : y + side, x : x + side] = patch.mean(dim=(1, 2))[:, None, None]
            mask[i, :, y : y + side, x : x + side] = 1
            points += 1
    return hint_ab, mask


def nearest_bins(ab_units: Tensor, bins: Tensor) -> Tensor:
    """Index of the nearest bin (Q, 2) for each ab (..., 2), in ab units."""
    flat = ab_units.reshape(-1, 2).float()
    return torch.cdist(flat, bins.float()).argmin(dim=1).reshape(ab_units.shape[:-1])


def palette_histogram(ab: Tensor, bins: Tensor) -> Tensor:
    """(N, Q) histogram (each row sums to 1) of ab/110 (N, 2, H, W) average-pooled 4x4."""
    pooled = F.avg_pool2d(ab.float(), PALETTE_POOL, ceil_mode=True) * AB_SCALE
    idx = nearest_bins(pooled.permute(0, 2, 3, 1), bins).flatten(1)
    hist = torch.zeros(ab.shape[0], len(bins), device=ab.device)
    hist.scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float32))
    return hist / idx.shape[1]


def mean_chroma(ab: Tensor) -> Tensor:
    """(N,) mean sqrt(a^2 + b^2) of ab/110, in ab/110 units."""
    return ab.float().square().sum(dim=1).sqrt().mean(dim=(1, 2))


def palette_vector(hist: Tensor, chroma: Tensor, keep_hist: Tensor, keep_chroma: Tensor) -> Tensor:
    """The ``palette`` input (N, Q + 3, 1, 1) from its parts; keep flags are 0/1 per sample."""
    parts = [hist * keep_hist[:, None], (chroma * keep_chroma)[:, None], keep_hist[:, None], keep_chroma[:, None]]
    return torch.cat(parts, dim=1)[:, :, None, None]


def palette_hints(ab: Tensor, bins: Tensor, gen: torch.Generator | None = None, keep: float = KEEP) -> Tensor:
    """The palette input for a batch of true ab/110, each part kept with probability ``keep``."""
    n = ab.shape[0]
    keep_hist = (torch.rand(n, generator=gen) < keep).float().to(ab.device)
    keep_chroma = (torch.rand(n, generator=gen) < keep).float().to(ab.device)
    return palette_vector(palette_histogram(ab, bins), mean_chroma(ab), keep_hist, keep_chroma)


def palette_size(num_bins: int) -> int:
    return num_bins + 3
