"""Colour hints on the page: checked from its JSON, kept per photo, and a reference's palette at a strength.

A photo's hints are in pixels of the photo as decoded (EXIF rotation applied), as ``colorfuse
colorize`` reads it, so the hints file the page writes (:mod:`colorfuse.engine.hints_file`, keys =
the photos' names) gives the CLI the same hints. The reference photo (the style control) is a
hint-taking model's palette hint (and its global view, where the model has one) at ``strength``,
exactly as ``colorize --style REF --style-strength S`` (:mod:`colorfuse.engine.style`): 1 follows
the reference, 0.1 is a touch of it.
"""

from __future__ import annotations

import hashlib

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


def colorize(colorizer, image: np.ndarray, hints, reference: np.ndarray | None, strength: float) -> np.ndarray:
    """``image`` colorized with ``hints`` and the ``reference`` photo as its style at ``strength`` (module docstring)."""
    from colorfuse.engine.style import make_style

    if reference is None:
        return colorizer.colorize(image, hints) if hints else colorizer.colorize_batch([image])[0]
    return colorizer.colorize(image, hints, style=make_style(colorizer, reference, strength))


def document(uploads) -> dict:
    """The hints file of every photo with hints, keyed by its name (the first photo of a name wins)."""
    images: dict[str, list[Hint]] = {}
    for upload in uploads:
        if upload.kind == "photo" and upload.hints:
            images.setdefault(upload.name, upload.hints)
    return hints_document(images)
