"""Typed errors of the video pipeline; each message names the file and the reason."""

from colorfuse.engine.errors import ColorfuseError


class VideoReadError(ColorfuseError):
    """An input video (or frame folder) cannot be read: missing, corrupt, no video stream, no frames."""


class VideoWriteError(ColorfuseError):
    """An output video cannot be written: bad codec or size, full disk, ffmpeg failure."""


class FfmpegNotFoundError(ColorfuseError):
    """The ffmpeg binary of the ``imageio-ffmpeg`` wheel is not installed."""
