"""Colour hints on the page: checked from its JSON, kept per photo, and a reference's palette at a strength.

A photo's hints are in pixels of the photo as decoded (EXIF rotation applied), as ``colorfuse
colorize`` reads it, so the hints file the page writes (:mod:`colorfuse.engine.hints_file`, keys =
the photos' names) gives the CLI the same hints. The reference photo (the style control) is a
hint-taking model's palette hint; ``strength`` s blends the ab of the run with the palette
(weight s) and of the run without it (1 - s), both with the photo's own hints: 1 follows the
reference, 0.1 is a touch of it, 0 leaves the palette out.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from colorfuse.engine.hints import Hint, HintError
from colorfuse.engine.hints_file import hints_document, parse_hints

MAX_HINTS = 500  # per photo
PALETTE_SIDE = 256  # a reference is shrunk to this longest side before its ab histogram is taken
HINTS_FILE = "hints.json"


def parse_page_hints(entries, size: tuple[int, int]) -> list[Hint]:
    """The hints the page sent (``[{"x", "y", "color"[, "radius"]}]``) for a photo of ``size`` (w, h)."""
    if not isinstance(entries, list):
        raise HintError("hints must be a list of {\"x\": X, \"y\": Y, \"color\": \"#rrggbb\"}")
    if len(entries) > MAX_HINTS:
        raise HintError(f"{len(entries)} hints: at most {MAX_HINTS} per photo")
    hints = parse_hints({"version": 1, "images": {"photo": entries}}, "hints")["images"]["photo"]
    width, height = size
    for number, hint in enumerate(hints, 1):
        if not (hint.x < width and hint.y < height):
            raise HintError(f"hint {number} at ({hint.x}, {hint.y}) is outside the {width}x{height} photo")
    return hints


def hints_key(hints) -> str:
    """A short stable name for a list of hints ('' for none), part of a result's cache key."""
    if not hints:
        return ""
    text = ";".join(f"{h.x},{h.y},{h.color},{h.radius}" for h in hints)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def palette_ab(image: np.ndarray) -> np.ndarray:
    """A reference photo's ab (h, w, 2) in ab units, at most PALETTE_SIDE on its longest side."""
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    height, width = rgb.shape[:2]
    shrink = min(1.0, PALETTE_SIDE / max(height, width))
    small = cv2.resize(rgb, (max(1, round(width * shrink)), max(1, round(height * shrink))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small.astype(np.float32) / np.float32(scale), cv2.COLOR_RGB2Lab)[..., 1:]


def colorize(colorizer, image: np.ndarray, hints, palette: np.ndarray | None, strength: float) -> np.ndarray:
    """``image`` colorized with ``hints`` and the ``palette`` at ``strength`` (module docstring)."""
    if palette is None or strength <= 0:
        return colorizer.colorize(image, hints) if hints else colorizer.colorize_batch([image])[0]
    if strength >= 1:
        return colorizer.colorize(image, hints, palette)
    steered, automatic = colorizer.prepare(image, hints, palette), colorizer.prepare(image, hints)
    colorizer.predict([steered, automatic])
    steered.ab = np.float32(strength) * steered.ab + np.float32(1 - strength) * automatic.ab
    return colorizer.finish(steered)


def document(uploads) -> dict:
    """The hints file of every photo with hints, keyed by its name (the first photo of a name wins)."""
    images: dict[str, list[Hint]] = {}
    for upload in uploads:
        if upload.kind == "photo" and upload.hints:
            images.setdefault(upload.name, upload.hints)
    return hints_document(images)
