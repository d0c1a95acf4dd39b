"""Every typed error and warning colorfuse raises on purpose, in one public place.

``from colorfuse.errors import ImageReadError`` (or ``from colorfuse import ImageReadError``).
Each error is a :class:`ColorfuseError`, each warning a :class:`ColorfuseWarning`; the CLI
prints an error as one line (``Error: ...``) and exits 1. A plugin raises them too: a reader
raises :class:`ImageReadError` with a message that names the file and the reason, a writer
:class:`ImageWriteError`, a model provider :class:`ModelCardError`; anything else a plugin raises
reaches the user as a :class:`PluginError` naming the plugin and the hook.

The runtime's errors and the video pipeline's; this module imports nothing of colorfuse, so every layer
(the plugin contract included) can raise them.
"""

import re

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def one_line(text: str) -> str:
    """``text`` as one printable line: newlines, escape sequences, bidi controls and undecodable bytes of
    file names are shown escaped (``\\n``, ``\\x1b``), so nothing reaches the terminal raw."""
    return _UNPRINTABLE.sub(lambda found: repr(found.group())[1:-1], text)


class ColorfuseError(Exception):
    """Base class of every error colorfuse raises on purpose."""


class ModelCardError(ColorfuseError):
    """A model file has no card, an invalid card, or a card the file contradicts."""


class ModelNotFoundError(ColorfuseError):
    """No registered model has that name and no file has that path."""


class InputError(ColorfuseError):
    """The command's INPUTS cannot be used: a path is missing, a pattern matches nothing, a folder has no image."""


class ImageReadError(ColorfuseError):
    """An input image cannot be read; the message names the file and the reason."""


class ImageWriteError(ColorfuseError):
    """An output image cannot be written; the message names the file and the reason."""


class OutputExistsError(ImageWriteError):
    """An output's final name was taken while it was being written (by another run) and replacing is off."""


class DiskFullError(ImageWriteError):
    """The output's filesystem is full or over quota: later writes would fail too, so a run stops."""


class OptionError(ColorfuseError):
    """An ``--option`` is not declared by any plugin, or its value does not fit the declared type."""


class PluginError(ColorfuseError):
    """A plugin raised; the message names the plugin and the hook."""

    def __init__(self, plugin: str, hook: str, error: BaseException):
        self.plugin, self.hook, self.error = plugin, hook, error
        super().__init__(f"plugin {plugin!r} failed in hook {hook!r}: {type(error).__name__}: {error}")


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP raised like Ctrl-C's KeyboardInterrupt, so that a run stops as cleanly."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class HintError(ColorfuseError):
    """A hint that cannot be used: a bad colour, a point outside the image, or a model without hints."""


class ColorfuseWarning(UserWarning):
    """Base class of colorfuse's warnings: something was done other than asked, and the result is usable."""


class PluginWarning(ColorfuseWarning):
    """A plugin could not be loaded, or asked for something colorfuse refused; the rest works without it."""


class DecoderWarning(ColorfuseWarning):
    """A decoding library's own message about the file being read (libtiff's, or a JPEG cut short)."""


class IgnoredFramesWarning(ColorfuseWarning):
    """An animation or multi-page file was read, and only its first frame is used."""


class ColourInputWarning(ColorfuseWarning):
    """Inputs were already in colour: their colours are replaced (colorization keeps only L)."""


class VariantWarning(ColorfuseWarning):
    """A variant manifest or file was ignored, or a variant failed its check and fp32 runs instead."""


class ProviderFallbackWarning(ColorfuseWarning):
    """onnxruntime is running a model on another provider than the one asked for."""


class VideoReadError(ColorfuseError):
    """An input video (or frame folder) cannot be read: missing, corrupt, no video stream, no frames."""


class VideoWriteError(ColorfuseError):
    """An output video cannot be written: bad codec or size, full disk, ffmpeg failure."""


class VideoFrameError(ColorfuseError):
    """Colorizing a video frame failed; the message names the frame (numbered from 1, as ``--frames``
    names its files) and the error (``error``), which is also the ``__cause__``."""

    def __init__(self, frames: str, error: BaseException):
        self.frames, self.error = frames, error
        super().__init__(f"{frames}: {error}")


class FfmpegNotFoundError(ColorfuseError):
    """The ffmpeg binary of the ``imageio-ffmpeg`` wheel is not installed."""


__all__ = [
    "ColorfuseError", "ColorfuseWarning", "ColourInputWarning", "DecoderWarning", "DiskFullError",
    "FfmpegNotFoundError", "HintError", "IgnoredFramesWarning", "ImageReadError", "ImageWriteError",
    "InputError", "Interrupted", "ModelCardError", "ModelNotFoundError", "OptionError",
    "OutputExistsError", "PluginError", "PluginWarning", "ProviderFallbackWarning", "VariantWarning",
    "VideoFrameError", "VideoReadError", "VideoWriteError",
]  # fmt: skip
