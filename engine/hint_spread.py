"""Keep local colour hints local, and carry them along the photo's own edges, after the model.

The network's response to a local hint reaches the whole image (one blue hint on a sky moved
80% of a road scene's pixels and cost 1.7 dB). :func:`gate_response` keeps it where the hints
are: the image also runs without its local hints (the palette stays), and the result is that
automatic prediction plus the hints' change, weighted by the hints' edge-aware mass
(``1 - exp(-mass / fade)``, the filter below with reach ``hint_locality``; 0 turns the gate off
and saves the second run). Its reach, 192, was the best of 48/96/192 on validation photos 200-249
(+0.72 dB at 10 hints against +0.51 without the gate) and on the road clip (+0.82 dB a frame).

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

import hashlib
from collections import OrderedDict
from dataclasses import replace

import cv2
import numpy as np

REACH, EDGES, FADE, ITERATIONS = 48.0, 32.0, 0.002, 3
LOCALITY = 192.0


def reach_of(options: dict | None, name: str = "hint_spread", default: float = REACH) -> float:
    """The ``hint_spread`` (or ``hint_locality``) option, checked: a finite number, 0 or more."""
    value = (options or {}).get(name, default)
    reach = float(value)
    if not np.isfinite(reach) or reach < 0:
        raise ValueError(f"{name} must be a finite number of pixels, 0 (off) or more, not {value!r}")
    return reach


def without_local_hints(prepared, options: dict | None):
    """The same prepared image without its local hints (palette kept, and its unstyled twin's too),
    for :func:`gate_response`; None when it has none or the gate is off."""
    hints = prepared.hints
    if hints is None or not hints["hint_mask"].any() or reach_of(options, "hint_locality", LOCALITY) == 0:
        return None
    zero = {"hint_ab": np.zeros_like(hints["hint_ab"]), "hint_mask": np.zeros_like(hints["hint_mask"])}
    twin = prepared.unstyled
    return replace(prepared, hints={**hints, **zero}, ab=None, unhinted=None,
                   unstyled=None if twin is None else replace(twin, hints={**twin.hints, **zero}, ab=None))


def gate_response(hinted: np.ndarray, plain: np.ndarray, mask: np.ndarray, small_l: np.ndarray,
                  options: dict | None = None, fade: float = FADE) -> np.ndarray:
    """``plain + gate * (hinted - plain)`` (model outputs (2, h, w)), the gate the edge-aware mass of
    ``mask`` (the padded working size) guided by ``small_l`` (its top-left part), at the outputs' size."""
    reach = reach_of(options, "hint_locality", LOCALITY)
    pad_h, pad_w = mask.shape
    guide = np.pad(small_l, ((0, pad_h - small_l.shape[0]), (0, pad_w - small_l.shape[1])), mode="edge")
    mass = edge_aware_filter(mask.astype(np.float32)[..., None], guide, reach)[..., 0]
    gate = 1 - np.exp(-np.maximum(mass, 0) / np.float32(fade))
    if gate.shape != hinted.shape[1:]:
        gate = cv2.resize(gate, (hinted.shape[2], hinted.shape[1]), interpolation=cv2.INTER_LINEAR)
    return (plain + gate[None] * (hinted - plain)).astype(hinted.dtype, copy=False)


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


class PlainCache:
    """The last few predictions without local hints, by their inputs: re-rendering one photo as its
    hints change (the web page) runs the model once per render, not twice."""

    def __init__(self, size: int = 8):
        self.size, self._entries = size, OrderedDict()

    @staticmethod
    def key(prepared) -> bytes:
        """A digest of what the model sees of ``prepared`` (and of its unstyled twin)."""
        digest = hashlib.blake2b(digest_size=16)
        for item in (prepared, prepared.unstyled):
            if item is None:
                continue
            for array in (item.padded, item.global_view, *(item.hints or {}).values()):
                if array is not None:
                    digest.update(repr(array.shape).encode() + np.ascontiguousarray(array).tobytes())
        digest.update(repr(prepared.strength).encode())
        return digest.digest()

    def fill(self, prepared, key: bytes) -> bool:
        """Set ``prepared.ab`` from the cache; False when it is not there."""
        ab = self._entries.get(key)
        if ab is None:
            return False
        self._entries.move_to_end(key)
        prepared.ab, prepared.unstyled = ab.copy(), None
        return True

    def store(self, prepared, key: bytes) -> None:
        self._entries[key] = prepared.ab.copy()
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
