"""The hints file: colour hints for a whole collection (or video keyframes), as JSON.

    {"version": 1,
     "images": {"1916/family.jpg": [{"x": 120, "y": 340, "color": "#a03020", "radius": 3}, ...]},
     "frames": {"120": [...]}}

``images`` keys are paths as given for a file argument, or relative to the folder for a file
found under a folder argument (``photos/1916/family.jpg`` under ``photos/`` is ``1916/family.jpg``);
``frames`` keys are video frame numbers (1: the first frame colorized, as ``--frames`` names its
files). ``x`` (from the left) and ``y`` (from the top) are
pixels of the input; ``radius`` (pixels, default 3) is optional.
"""

from __future__ import annotations

import json
from pathlib import Path

from colorfuse.engine.atomic import write_json_atomic
from colorfuse.engine.hints import Hint, HintError, color_ab

VERSION = 1
DEFAULT_RADIUS = 3


def _hint(entry, where: str) -> Hint:
    if not isinstance(entry, dict) or not {"x", "y", "color"} <= set(entry) or set(entry) - {"x", "y", "color", "radius"}:
        raise HintError(f"{where}: a hint is {{\"x\": X, \"y\": Y, \"color\": \"#rrggbb\"[, \"radius\": R]}}, got {entry!r}")
    x, y, radius = entry["x"], entry["y"], entry.get("radius", DEFAULT_RADIUS)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)) or x < 0 or y < 0:
        raise HintError(f"{where}: x and y must be pixel coordinates of 0 or more, got {x!r}, {y!r}")
    if not isinstance(radius, int) or isinstance(radius, bool) or radius < 0:
        raise HintError(f"{where}: radius must be a whole number of pixels, got {radius!r}")
    try:
        color_ab(entry["color"])
    except HintError as exc:
        raise HintError(f"{where}: {exc}") from None
    return Hint(x, y, entry["color"], radius)


def parse_hints(data, source: str = "hints") -> dict[str, dict[str, list[Hint]]]:
    """``{"images": {key: [Hint]}, "frames": {key: [Hint]}}`` from the file's JSON; HintError
    naming ``source`` and the entry for anything malformed."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise HintError(f"{source}: a hints file is a JSON object with \"version\": {VERSION}")
    unknown = set(data) - {"version", "images", "frames"}
    if unknown:
        raise HintError(f"{source}: unknown keys {sorted(unknown)} (expected images, frames)")
    parsed = {}
    for section in ("images", "frames"):
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise HintError(f"{source}: {section!r} must map names to lists of hints")
        parsed[section] = {}
        for key, hints in entries.items():
            if section == "frames" and not (isinstance(key, str) and key.isdigit()):
                raise HintError(f"{source}: frame key {key!r} is not a frame number")
            if not isinstance(hints, list):
                raise HintError(f"{source}: {section}[{key!r}] must be a list of hints")
            parsed[section][key] = [_hint(h, f"{source}: {section}[{key!r}][{i}]") for i, h in enumerate(hints)]
    return parsed


def read_hints(path) -> dict[str, dict[str, list[Hint]]]:
    """Read and check a hints file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise HintError(f"{path}: cannot read the hints file ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HintError(f"{path}: the hints file is not valid JSON ({exc})") from None
    return parse_hints(data, str(path))


def hints_document(images: dict[str, list[Hint]] | None = None, frames: dict[int, list[Hint]] | None = None) -> dict:
    """The JSON-able hints file of ``images`` (key -> hints) and video ``frames`` (number -> hints)."""
    def entries(hints):
        return [{"x": h.x, "y": h.y, "color": h.color if isinstance(h.color, str) else "#%02x%02x%02x" % tuple(h.color),
                 "radius": h.radius} for h in hints]  # fmt: skip

    doc: dict = {"version": VERSION}
    if images:
        doc["images"] = {key: entries(hints) for key, hints in images.items()}
    if frames:
        doc["frames"] = {str(number): entries(hints) for number, hints in frames.items()}
    return doc


def write_hints(doc: dict, path) -> Path:
    """Write a hints document to ``path`` atomically (temporary file, then rename)."""
    parse_hints(doc, str(path))
    return write_json_atomic(doc, path)
