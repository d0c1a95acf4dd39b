"""DDColor's colourfulness loss (Kang et al., ICCV 2023), differentiable in torch.

The prediction (L and ab, the training normalisation: ``L/50 - 1``, ``ab/110``) is turned into sRGB in
0..255 (CIE Lab, D65, as OpenCV converts), and its Hasler-Suesstrunk colourfulness is
``C = sigma_rgyb + 0.3 mu_rgyb`` per image; the loss is ``1 - C / 100`` averaged over the batch, so
it rewards colour wherever the network puts it. DDColor weighted it 0.5 beside an L1 pixel loss of
0.1 (its model zoo warns that it can paint red artefacts).
"""

from __future__ import annotations

import torch
from torch import Tensor

_XYZ_TO_RGB = torch.tensor([[3.2404542, -1.5371385, -0.4985314],
                            [-0.9692660, 1.8760108, 0.0415560],
                            [0.0556434, -0.2040259, 1.0572252]])  # fmt: skip
_WHITE = (0.950456, 1.0, 1.088754)  # D65, as OpenCV's Lab
_EPSILON = 6 / 29


def lab_to_rgb(l: Tensor, ab: Tensor) -> Tensor:  # noqa: E741
    """(N, 3, H, W) sRGB in 0..255 from normalised ``l`` (N, 1, H, W) and ``ab`` (N, 2, H, W), clipped."""
    lum, a, b = (l.float() + 1) * 50, ab[:, :1].float() * 110, ab[:, 1:].float() * 110
    fy = (lum + 16) / 116
    f = torch.cat([fy + a / 500, fy, fy - b / 200], 1)
    xyz = torch.where(f > _EPSILON, f ** 3, 3 * _EPSILON ** 2 * (f - 4 / 29))
    xyz = xyz * torch.tensor(_WHITE, device=l.device).view(1, 3, 1, 1)
    linear = torch.einsum("ij,njhw->nihw", _XYZ_TO_RGB.to(l.device), xyz).clamp(0, 1)
    srgb = torch.where(linear > 0.0031308, 1.055 * linear.clamp(min=1e-8) ** (1 / 2.4) - 0.055, 12.92 * linear)
    return srgb.clamp(0, 1) * 255


def colourfulness(rgb: Tensor) -> Tensor:
    """Hasler-Suesstrunk colourfulness of each image of (N, 3, H, W) RGB in 0..255: (N,)."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    rg, yb = (r - g).flatten(1), (0.5 * (r + g) - b).flatten(1)
    sigma = torch.sqrt(rg.var(1, unbiased=False) + yb.var(1, unbiased=False) + 1e-6)
    mu = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2 + 1e-6)
    return sigma + 0.3 * mu


def colourfulness_loss(l: Tensor, ab: Tensor) -> Tensor:  # noqa: E741
    """``1 - C / 100``, the batch mean, of the colour ``ab`` puts on ``l`` (both at the same size)."""
    return (1 - colourfulness(lab_to_rgb(l, ab)) / 100).mean()
