"""Colour hints as a hint-taking model's inputs (see :mod:`colorfuse.engine.card`).

A local hint is a point of the image with a colour: its ab (the photo's own L stays) fills a
square around the point in ``hint_ab``, and ``hint_mask`` is 1 there. A palette hint is a
reference photo's ab histogram over the model's bins (ab average-pooled ``pool`` x ``pool``,
each cell counted at its nearest bin) and its mean chroma, each with a keep flag. No hints at
all is every input zero, which :func:`complete_feeds` fills in for callers that give none.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from colorfuse.engine.card import ModelCard
from colorfuse.errors import HintError  # noqa: F401  (its old home)


@dataclass(frozen=True)
class Hint:
    """A colour at pixel ``(x, y)`` of the input image (x from the left, y from the top), over a
    square of side ``2 * radius + 1``; ``color`` is ``#rrggbb`` or an ``(r, g, b)`` of 0..255."""

    x: float
    y: float
    color: str | tuple[int, int, int]
    radius: int = 3


def color_ab(color) -> np.ndarray:
    """The ab (OpenCV CIELAB of sRGB) of ``#rrggbb`` or ``(r, g, b)`` 0..255, as float32 (2,)."""
    if isinstance(color, str):
        text = color.strip().lstrip("#")
        if len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
            raise HintError(f"bad hint colour {color!r}: give #rrggbb")
        rgb = [int(text[i : i + 2], 16) for i in (0, 2, 4)]
    else:
        rgb = list(color)
        if len(rgb) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in rgb):
            raise HintError(f"bad hint colour {color!r}: give (r, g, b) in 0..255")
    lab = cv2.cvtColor(np.array([[rgb]], np.float32) / 255, cv2.COLOR_RGB2Lab)
    return lab[0, 0, 1:].astype(np.float32)


def require_hints(card: ModelCard) -> None:
    if not card.takes_hints:
        raise HintError(f"model {card.name!r} takes no colour hints; use a model that does (colorfuse models list)")


def local_inputs(card: ModelCard, hints, image_shape: tuple[int, int], work_shape: tuple[int, int],
                 padded_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(hint_ab (2, H, W), hint_mask (1, H, W)) at the padded working size for ``hints`` given in
    pixels of an image of ``image_shape``, which the engine resizes to ``work_shape``."""
    require_hints(card)
    height, width = image_shape
    sy, sx = work_shape[0] / height, work_shape[1] / width
    hint_ab = np.zeros((2, *padded_shape), np.float32)
    mask = np.zeros((1, *padded_shape), np.float32)
    scale = np.float32(1.0 / card.hints["ab_scale"])
    check_points(hints, image_shape)
    for hint in hints:
        ab = color_ab(hint.color) * scale
        cy, cx = int(hint.y * sy), int(hint.x * sx)
        r = max(0, round(hint.radius * min(sx, sy)))
        rows = slice(max(0, cy - r), min(work_shape[0], cy + r + 1))
        cols = slice(max(0, cx - r), min(work_shape[1], cx + r + 1))
        hint_ab[:, rows, cols] = ab[:, None, None]
        mask[:, rows, cols] = 1
    return hint_ab, mask


def check_points(hints, image_shape: tuple[int, int]) -> None:
    """HintError for the first hint outside an image of ``image_shape`` (h, w) or with a bad radius."""
    height, width = image_shape
    for hint in hints:
        if not (0 <= hint.x < width and 0 <= hint.y < height):
            raise HintError(f"hint at ({hint.x}, {hint.y}) is outside the {width}x{height} image")
        if not (isinstance(hint.radius, (int, np.integer)) and 0 <= hint.radius <= 1000):
            raise HintError(f"hint radius {hint.radius!r}: give a whole number of pixels, 0 or more")


def tile_inputs(card: ModelCard, hints, box: tuple[int, int, int, int], padded_shape: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray]:
    """(hint_ab, hint_mask) for the tile ``box`` (y0, y1, x0, x1) of an image the model sees at
    full size, padded to ``padded_shape``: each hint's square clipped to the tile (zeros elsewhere)."""
    require_hints(card)
    y0, y1, x0, x1 = box
    hint_ab = np.zeros((2, *padded_shape), np.float32)
    mask = np.zeros((1, *padded_shape), np.float32)
    scale = np.float32(1.0 / card.hints["ab_scale"])
    for hint in hints:
        cy, cx, r = int(hint.y), int(hint.x), int(hint.radius)
        rows = slice(max(y0, cy - r) - y0, min(y1, cy + r + 1) - y0)
        cols = slice(max(x0, cx - r) - x0, min(x1, cx + r + 1) - x0)
        if rows.start < rows.stop and cols.start < cols.stop:
            hint_ab[:, rows, cols] = (color_ab(hint.color) * scale)[:, None, None]
            mask[:, rows, cols] = 1
    return hint_ab, mask


def palette_input(card: ModelCard, ab: np.ndarray | None, keep_hist: bool = True, keep_chroma: bool = True) -> np.ndarray:
    """The ``palette`` input (Q + 3, 1, 1) of a reference's ab (H, W, 2) in ab units; None or
    no keep flag gives the "no palette" zeros."""
    require_hints(card)
    spec = card.hints["palette"]
    bins = np.asarray(spec["bins"], np.float32)
    vector = np.zeros(len(bins) + 3, np.float32)
    if ab is None or not (keep_hist or keep_chroma):
        return vector[:, None, None]
    pool = int(spec.get("pool", 4))
    h, w = ab.shape[:2]
    ph, pw = -(-h // pool), -(-w // pool)
    padded = np.zeros((ph * pool, pw * pool, 2), np.float32)
    padded[:h, :w] = ab
    counts = np.zeros((ph * pool, pw * pool), np.float32)
    counts[:h, :w] = 1
    sums = padded.reshape(ph, pool, pw, pool, 2).sum(axis=(1, 3))
    cells = sums / counts.reshape(ph, pool, pw, pool).sum(axis=(1, 3))[..., None]  # ceil_mode average
    flat = cells.reshape(-1, 2)
    nearest = ((flat[:, None, :] - bins[None]) ** 2).sum(-1).argmin(axis=1)
    hist = np.bincount(nearest, minlength=len(bins)).astype(np.float32) / len(nearest)
    chroma = float(np.sqrt((ab.astype(np.float32) ** 2).sum(-1)).mean()) / card.hints["ab_scale"]
    vector[: len(bins)] = hist * keep_hist
    vector[len(bins) :] = [chroma * keep_chroma, float(keep_hist), float(keep_chroma)]
    return vector[:, None, None]


def complete_feeds(card: ModelCard, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``feeds`` with zeros ("no hints") for every hint input of the model not given."""
    if not card.takes_hints:
        return feeds
    names = {spec.role: spec.name for spec in card.inputs}
    if all(names[role] in feeds for role in ("hint_ab", "hint_mask", "palette")):
        return feeds
    l_feed = feeds[names["L"]]
    batch, _, height, width = l_feed.shape
    zeros = {"hint_ab": (batch, 2, height, width), "hint_mask": (batch, 1, height, width),
             "palette": (batch, len(card.hints["palette"]["bins"]) + 3, 1, 1)}  # fmt: skip
    filled = dict(feeds)
    for role, shape in zeros.items():
        filled.setdefault(names[role], np.zeros(shape, l_feed.dtype))
    return filled
