"""The ffmpeg binary of the ``imageio-ffmpeg`` wheel: finding it, probing inputs, running it safely.

There is no ffprobe in that wheel, so :func:`probe` reads the stream summary ffmpeg prints for
``ffmpeg -i FILE``. :class:`FfmpegProcess` drains stderr in a thread (a full stderr pipe would
hang ffmpeg), keeps its last lines for error messages, and hands matching lines to a callback.
On Linux every ffmpeg child is killed when the thread that started it dies (``PR_SET_PDEATHSIG``),
so none outlives a killed colorfuse (kill -9 included) to go on writing its temporary file.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from colorfuse.errors import FfmpegNotFoundError, VideoReadError

PROBE_TIMEOUT_S = 60
_STREAM = re.compile(r"^\s*Stream #\d+:(\d+)\S*: (Video|Audio|Subtitle|Data|Attachment): (.*)$")
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_SIZE = re.compile(r"\b(\d{1,5})x(\d{1,5})\b")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)")
_STREAM_DURATION = re.compile(r"^\s+DURATION(?:-\w+)?\s*: (\d+):(\d\d):(\d\d(?:\.\d+)?)")  # a Matroska stream's own
_ROTATION = re.compile(r"(?:display ?matrix): rotation of (-?[\d.]+) degrees", re.IGNORECASE)
_NOISE = ("Press [q]", "At least one output file", "Exiting with exit code", "Input #", "Output #", "Stream mapping",
          "Conversion failed", "muxing overhead", "Task finished with", "Terminating thread", "frame=",
          "Output file is empty", "Error number", "Side data", "Metadata")
_TELLING = re.compile(r"error|invalid|fail|not |unknown|unable|too |cannot|no such|denied|unsupported", re.I)


PR_SET_PDEATHSIG = 1


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def tied_to_this_process() -> dict:
    """``subprocess`` keyword arguments that make the child die with the thread starting it (Linux)."""
    if _PRCTL is None:
        return {}
    parent = os.getpid()

    def die_with_parent() -> None:  # runs in the child, before exec: keep it to these two calls
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the tie was made
            os._exit(1)

    return {"preexec_fn": die_with_parent}


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped in the imageio-ffmpeg wheel."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise FfmpegNotFoundError("video needs the imageio-ffmpeg wheel: pip install -e '.[video]' in the clone") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise FfmpegNotFoundError(f"imageio-ffmpeg has no ffmpeg binary for this platform ({exc})") from None


def local_file(path) -> str:
    """``path`` as ffmpeg must be given a local file: through its ``file:`` protocol, so that a name such as
    ``concat:x.mp4`` or ``a:b.mp4`` is never read as a protocol (another file, or "Protocol not found")."""
    return f"file:{os.fspath(path)}"


def reason(lines) -> str:
    """The first telling lines of ffmpeg's stderr (its root cause comes first), for an error message."""
    lines = [line.strip() for line in lines
             if line.strip() and not line.startswith(" ") and not any(noise in line for noise in _NOISE)]
    if not lines:
        return "ffmpeg gave no reason"
    telling = [line.split("] ")[-1] for line in lines if _TELLING.search(line)] or [lines[-1]]
    return "; ".join(list(dict.fromkeys(telling))[:2])


@dataclass
class VideoInfo:
    """What ``ffmpeg -i`` says about a file (sizes as stored; ``rotation`` in degrees).

    ``video_duration`` is the video stream's own length where the header states it: a Matroska stream's
    duration, or the container's where no audio shares it and ffmpeg did not estimate it from the bitrate."""

    path: str
    duration: float | None = None
    width: int = 0
    height: int = 0
    fps: float | None = None
    rotation: float = 0.0
    video_codec: str = ""
    audio_codecs: list[str] = field(default_factory=list)
    video_duration: float | None = None

    @property
    def upright_size(self) -> tuple[int, int]:
        """(width, height) after the display rotation is applied."""
        quarter = round(self.rotation / 90.0) % 2
        return (self.height, self.width) if quarter else (self.width, self.height)


def _seconds(found: re.Match) -> float:
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _parse_probe(path: str, text: str) -> VideoInfo:
    info = VideoInfo(path)
    found_video = False
    in_video = False
    for line in text.splitlines():
        duration = _DURATION.search(line)
        if duration and info.duration is None:
            info.duration = _seconds(duration)
        stream = _STREAM.match(line)
        if stream:
            kind, rest = stream.group(2), stream.group(3)
            in_video = kind == "Video" and not found_video and "(attached pic)" not in rest
            if in_video:
                found_video = True
                info.video_codec = rest.split()[0].rstrip(",")
                size = _SIZE.search(rest.split(",", 2)[-1] if "," in rest else rest)
                if size:
                    info.width, info.height = int(size.group(1)), int(size.group(2))
                fps = _FPS.search(rest)
                if fps:
                    info.fps = float(fps.group(1)) * (1000 if fps.group(2) else 1)
            elif kind == "Audio":
                info.audio_codecs.append(rest.split()[0].rstrip(","))
            continue
        rotation = _ROTATION.search(line)
        if rotation and in_video:
            info.rotation = float(rotation.group(1))
        own = _STREAM_DURATION.match(line)
        if own and in_video:
            info.video_duration = _seconds(own)
    if not found_video:
        kinds = sorted({m.group(2).lower() for m in map(_STREAM.match, text.splitlines()) if m})
        what = ", ".join(kinds) if kinds else "no streams at all"
        raise VideoReadError(f"{path}: no video stream (the file has {what})")
    if info.video_duration is None and not info.audio_codecs and "duration from bitrate" not in text:
        info.video_duration = info.duration
    return info


def probe(path) -> VideoInfo:
    """Read a file's stream summary; raise :class:`VideoReadError` naming the file and reason."""
    path = str(path)
    if not Path(path).is_file():
        raise VideoReadError(f"{path}: no such file" if not Path(path).exists() else f"{path}: not a file")
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", local_file(path)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT_S, text=True, errors="replace",
                              **tied_to_this_process())
    except subprocess.TimeoutExpired:
        raise VideoReadError(f"{path}: ffmpeg did not finish reading the header in {PROBE_TIMEOUT_S} s") from None
    text = done.stderr
    if "Input #0" not in text:
        raise VideoReadError(f"{path}: not a video ffmpeg can read ({reason(text.splitlines())})")
    return _parse_probe(path, text)


class FfmpegProcess:
    """An ffmpeg subprocess whose stderr is drained in a thread.

    ``on_line(line)`` is called for every stderr line (from that thread); the last lines are
    kept for :meth:`reason`. :meth:`stop` kills it (idempotent); :meth:`wait` has a timeout.
    ffmpeg dies with the thread that creates this object (see :func:`tied_to_this_process`), so
    create it from a thread that lives as long as it is needed (the main thread in colorfuse).
    """

    def __init__(self, args: list[str], stdin=None, stdout=None, on_line: Callable[[str], None] | None = None):
        self.args = [ffmpeg_exe(), "-hide_banner", "-nostats", *args]
        self._tail: deque[str] = deque(maxlen=40)
        self._on_line = on_line
        self.process = subprocess.Popen(self.args, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                                        **tied_to_this_process())
        self._drain = threading.Thread(target=self._read_stderr, daemon=True, name="ffmpeg-stderr")
        self._drain.start()

    def _read_stderr(self) -> None:
        for raw in iter(self.process.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if self._on_line is None or not self._on_line(line):
                self._tail.append(line)

    def reason(self) -> str:
        self._drain.join(timeout=5)
        return reason(self._tail)

    def wait(self, timeout: float) -> int | None:
        """Exit status, or None if it is still running after ``timeout`` seconds (then killed)."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
