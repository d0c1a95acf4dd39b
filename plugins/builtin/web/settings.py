"""The page's render settings: checked from JSON, and turned into the equivalent ``colorfuse colorize`` line."""

from __future__ import annotations

import shlex
from dataclasses import astuple, dataclass

MAX_SIDE_LIMIT = 4096  # the page's largest working size (0, full resolution, stays possible)


class SettingsError(ValueError):
    """A setting from the page is not one the server offers; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """What the model does to a photo: the ``colorize`` options the page exposes."""

    model: str
    device: str = "cpu"
    look: str | None = None  # None: the model's default look
    saturation: float = 1.0
    style: str | None = None  # the id of an uploaded style reference
    max_side: int | None = None  # None: the card's working size
    strength: float = 1.0  # how closely a hint-taking model follows the style's palette (see .hinting)

    def run_settings(self, max_pixels: int | None, style_image=None):
        """The engine's :class:`~colorfuse.engine.settings.RunSettings` for these settings (one photo at a time),
        with the server's pixel limit and the style reference's pixels (``style`` here is only its id)."""
        from colorfuse.engine.settings import RunSettings

        return RunSettings(self.model, self.device, self.max_side, 1, self.look, style_image,
                           options={"saturation": self.saturation, "max_pixels": max_pixels})

    @property
    def key(self) -> str:
        """A short stable name for these settings (results are cached under it)."""
        import hashlib

        return hashlib.sha256(repr(astuple(self)).encode()).hexdigest()[:16]


def parse_settings(data: dict, models: list[str], devices: list[str], styles: set[str]) -> Settings:
    """:class:`Settings` from the page's JSON, refusing anything the server does not offer."""
    if not isinstance(data, dict):
        raise SettingsError("settings must be a JSON object")
    unknown = sorted(set(data) - {"model", "device", "look", "saturation", "style", "max_side", "strength"})
    if unknown:
        raise SettingsError(f"unknown settings {unknown}")
    model = data.get("model") or models[0]
    if model not in models:
        raise SettingsError(f"unknown model {model!r} (known: {', '.join(models)})")
    device = data.get("device") or devices[0]
    if device not in devices:
        raise SettingsError(f"device {device!r} is not offered by onnxruntime here (offered: {', '.join(devices)})")
    look = data.get("look") or None
    if look is not None and not isinstance(look, str):
        raise SettingsError("look must be a name")
    try:
        saturation = float(data.get("saturation", 1.0))
        strength = float(data.get("strength", 1.0))
        max_side = data.get("max_side")
        max_side = None if max_side in (None, "") else int(max_side)
    except (TypeError, ValueError):
        raise SettingsError("saturation and strength must be numbers and max_side a whole number") from None
    if not 0 <= saturation <= 4:
        raise SettingsError("saturation must be between 0 and 4")
    if not 0 <= strength <= 1:
        raise SettingsError("strength must be between 0 and 1")
    if max_side is not None and not 0 <= max_side <= MAX_SIDE_LIMIT:
        raise SettingsError(f"working size must be between 0 (full resolution) and {MAX_SIDE_LIMIT}")
    style = data.get("style") or None
    if style is not None and style not in styles:
        raise SettingsError("the style image is no longer on the server: choose it again")
    return Settings(model, device, look, saturation, style, max_side, strength)


def command_line(settings: Settings, names: list[str], style_name: str | None, default_model: str,
                 auto_device: str, hints_file: str | None = None, takes_hints: bool = False) -> str:
    """The ``colorfuse colorize`` command that gives the same results for files called ``names``.

    Options at their CLI default are left out (``auto_device``: what ``--device auto`` picks here);
    ``hints_file`` is the hints file the page offers, for a model that ``takes_hints``.
    """
    words = ["colorfuse", "colorize", *(names or ["PHOTOS..."]), "--out", "colorized"]
    if settings.model != default_model:
        words += ["--model", settings.model]
    if settings.look:
        words += ["--look", settings.look]
    if settings.saturation != 1.0:
        words += ["--saturation", f"{settings.saturation:g}"]
    if settings.style:
        words += ["--style", style_name or "STYLE.jpg"]
        if takes_hints and settings.strength != 1.0:
            words += ["--style-strength", f"{settings.strength:g}"]
    if takes_hints and hints_file:
        words += ["--hints", hints_file]
    if settings.max_side is not None:
        words += ["--max-side", str(settings.max_side)]
    if settings.device != auto_device:
        words += ["--device", settings.device]
    return " ".join(shlex.quote(word) if word != "PHOTOS..." else word for word in words)
