"""Every typed error and warning colorfuse raises on purpose, in one public place.

``from colorfuse.errors import ImageReadError`` (or ``from colorfuse import ImageReadError``).
Each error is a :class:`ColorfuseError`, each warning a :class:`ColorfuseWarning`; the CLI
prints an error as one line (``Error: ...``) and exits 1. A plugin raises them too: a reader
raises :class:`ImageReadError` with a message that names the file and the reason, a writer
:class:`ImageWriteError`, a model provider :class:`ModelCardError`; anything else a plugin raises
reaches the user as a :class:`PluginError` naming the plugin and the hook.
"""

from colorfuse.engine.errors import (
    ColorfuseError,
    ColorfuseWarning,
    ColourInputWarning,
    DecoderWarning,
    DiskFullError,
    HintError,
    IgnoredFramesWarning,
    ImageReadError,
    ImageWriteError,
    InputError,
    Interrupted,
    ModelCardError,
    ModelNotFoundError,
    OptionError,
    OutputExistsError,
    PluginError,
    PluginWarning,
    ProviderFallbackWarning,
    VariantWarning,
)
from colorfuse.engine.video.errors import FfmpegNotFoundError, VideoReadError, VideoWriteError

__all__ = [
    "ColorfuseError", "ColorfuseWarning", "ColourInputWarning", "DecoderWarning", "DiskFullError",
    "FfmpegNotFoundError", "HintError", "IgnoredFramesWarning", "ImageReadError", "ImageWriteError",
    "InputError", "Interrupted", "ModelCardError", "ModelNotFoundError", "OptionError",
    "OutputExistsError", "PluginError", "PluginWarning", "ProviderFallbackWarning", "VariantWarning",
    "VideoReadError", "VideoWriteError",
]  # fmt: skip
