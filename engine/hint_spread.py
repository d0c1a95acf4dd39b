"""Carry local colour hints along the photo's own edges, after the model.

A hint-taking network moves its colours toward the hints, but not all the way, and its reach is
what it learned (about +0.9 dB at 10 of Zhang's random hints for ``effnet-hints``, against their
+4.0). This step closes the rest without a second network: at each hint pixel the residual
``hint - predicted`` is known; it is spread over the image by an edge-aware filter guided by the
working-size L (the recursive domain transform of Gastal and Oliveira, SIGGRAPH 2011), as a
normalised convolution, so a residual travels far across a flat coat or wall and stops at its
edges. The correction fades with the filtered hint mass (``1 - exp(-mass / fade)``) and is exact
on the hint pixels themselves.

The ``hint_spread`` option is the reach (the filter's spatial sigma, in working-size pixels; 0
turns the step off, ``--option hint_spread=0``); ``EDGES`` is its range sigma (in L units:
smaller stops at fainter edges). Reach, edges and fade were chosen on validation photos 200-299
(a grid of reach 24-96, edges 4-96, fade 0.0005-0.01) and are scored on the first 100
(``colorfuse eval-hints``; README, "Colour hints: the model").
"""

from __future__ import annotations

import numpy as np

REACH, EDGES, FADE, ITERATIONS = 48.0, 32.0, 0.002, 3


def reach_of(options: dict | None) -> float:
    """The ``hint_spread`` option (default :data:`REACH`), checked: a finite number, 0 or more."""
    value = (options or {}).get("hint_spread", REACH)
    reach = float(value)
    if not np.isfinite(reach) or reach < 0:
        raise ValueError(f"hint_spread must be a finite number of pixels, 0 (off) or more, not {value!r}")
    return reach


def _pass(values: np.ndarray, weights: np.ndarray, axis: int) -> None:
    """One causal and one anti-causal recursive pass along ``axis`` (in place); ``weights`` has
    one fewer entry than ``values`` along it: the feedback between neighbours."""
    if axis == 0:
        values, weights = values.transpose(1, 0, 2), weights.T
    count = values.shape[1]
    for x in range(1, count):
        values[:, x] += weights[:, x - 1, None] * (values[:, x - 1] - values[:, x])
    for x in range(count - 2, -1, -1):
        values[:, x] += weights[:, x, None] * (values[:, x + 1] - values[:, x])


def edge_aware_filter(values: np.ndarray, guide: np.ndarray, reach: float, edges: float = EDGES,
                      iterations: int = ITERATIONS) -> np.ndarray:
    """The domain-transform recursive filter of ``values`` (H, W, C) guided by ``guide`` (H, W)."""
    out = np.array(values, np.float32, copy=True)
    guide = guide.astype(np.float32, copy=False)
    ratio = np.float32(reach / edges)
    distance_x = 1 + ratio * np.abs(np.diff(guide, axis=1))
    distance_y = 1 + ratio * np.abs(np.diff(guide, axis=0))
    for i in range(iterations):
        sigma = reach * np.sqrt(3) * 2 ** (iterations - i - 1) / np.sqrt(4**iterations - 1)
        feedback = np.float32(np.exp(-np.sqrt(2) / sigma))
        _pass(out, feedback**distance_x, axis=1)
        _pass(out, feedback**distance_y, axis=0)
    return out


def spread_hints(ab: np.ndarray, small_l: np.ndarray, hint_ab: np.ndarray, mask: np.ndarray, options: dict | None = None,
                 fade: float = FADE) -> np.ndarray:
    """``ab`` (H, W, 2, ab units) corrected toward the hints: ``hint_ab`` (H, W, 2, ab units) where
    ``mask`` (H, W) is 1, spread along the edges of ``small_l`` (H, W, L 0..100)."""
    reach = reach_of(options)
    if reach == 0 or not mask.any():
        return ab
    weight = mask.astype(np.float32)[..., None]
    stacked = np.concatenate([(hint_ab - ab) * weight, weight], axis=2)
    filtered = edge_aware_filter(stacked, small_l, reach)
    mass = np.maximum(filtered[..., 2:], np.float32(1e-12))
    residual = filtered[..., :2] / mass
    spread = ab + (1 - np.exp(-mass / np.float32(fade))) * residual
    return (spread + weight * (hint_ab - spread)).astype(np.float32)  # the hint itself on its own pixels


def spread_inputs(ab: np.ndarray, small_l: np.ndarray, inputs: dict[str, np.ndarray], ab_scale: float,
                  options: dict | None = None) -> np.ndarray:
    """:func:`spread_hints` from a model's hint inputs (``hint_ab`` (2, H', W') in ab / ``ab_scale``,
    ``hint_mask`` (1, H', W'), at least as large as ``ab`` (H, W, 2): the top-left part is used)."""
    height, width = ab.shape[:2]
    mask = inputs["hint_mask"][0, :height, :width]
    if not mask.any():
        return ab
    hint_ab = inputs["hint_ab"][:, :height, :width].transpose(1, 2, 0) * np.float32(ab_scale)
    return spread_hints(ab, small_l, hint_ab, mask, options)
