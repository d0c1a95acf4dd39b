"""Frame sources: a video decoded by ffmpeg through a pipe, or a folder of images.

:class:`FfmpegReader` decodes the first real video stream to raw ``gray`` (the model only needs
luminance) or ``rgb24`` frames at full resolution, upright (ffmpeg applies the display matrix),
with every frame's own timestamp (variable frame rate passes through): ffmpeg's ``showinfo``
filter prints each frame's pts, duration and size on stderr just before the frame's bytes reach
the pipe. Decoding runs ahead in a thread; no frame for ``stall_timeout`` seconds kills ffmpeg.
ffmpeg's first word of damage in the input ("File ended prematurely", corrupt packets) is kept
as ``damage``, so that a run can tell a cut file from a header's inexact frame count.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from colorfuse.engine.imagefiles import read_image
from colorfuse.engine.video.ffmpeg import FfmpegProcess, VideoInfo, local_file, probe
from colorfuse.errors import ImageReadError, VideoReadError
from colorfuse.plugins.filetypes import file_types

CHANNELS = {"gray": 1, "rgb24": 3}
_FRAME = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s.*?duration:\s*(-?\d+).*?\bs:(\d+)x(\d+)")
_TIME_BASE = re.compile(r"config in time_base: (\d+)/(\d+)")
_SAR = re.compile(r"\bsar:(\d+)/(\d+)")
_DAMAGE = re.compile(r"ended prematurely|truncat|corrupt|error while decoding|invalid nal|partial file|"
                     r"exceeds containing master element|missing picture", re.IGNORECASE)
_END = object()


@dataclass
class VideoFrame:
    """One decoded frame in display order; ``pts`` and ``duration`` count ``time_base`` ticks.

    The pipeline sets ``new_shot``, ``shot`` and ``state`` (a dict shared by every frame of one
    run, where video plugins keep their running state under keys of their own).
    """

    index: int
    image: np.ndarray  # gray (H, W) or RGB (H, W, 3), uint8 (uint16 possible from image folders)
    pts: int
    duration: int
    time_base: Fraction
    new_shot: bool = False
    shot: int = 0
    state: dict = field(default_factory=dict, repr=False)

    @property
    def time(self) -> float:
        return float(self.pts * self.time_base)


class FfmpegReader:
    """Iterate over the frames of ``path`` (``start``/``end`` in seconds select a part)."""

    def __init__(self, path, pix_fmt: str = "gray", start: float | None = None, end: float | None = None,
                 stall_timeout: float = 60.0, prefetch: int = 16):
        if pix_fmt not in CHANNELS:
            raise ValueError(f"pix_fmt must be one of {sorted(CHANNELS)}")
        self.path = str(path)
        self.info: VideoInfo = probe(self.path)
        self.pix_fmt, self.stall_timeout = pix_fmt, stall_timeout
        self.start = start or 0.0
        self.end = end
        self.time_base: Fraction | None = None
        self.sample_aspect: Fraction | None = None  # pixel aspect ratio, from the first frame
        self.damage: str | None = None  # ffmpeg's first line about damage in the input
        self._infos: queue.Queue = queue.Queue()
        self._frames: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        self._closed = threading.Event()
        args = ["-nostdin"]
        if self.start:
            args += ["-ss", f"{self.start:.6f}"]
        if end is not None:
            args += ["-t", f"{end - self.start:.6f}"]
        args += ["-i", local_file(self.path), "-map", "0:V:0", "-an", "-sn", "-dn",
                 "-vf", f"format={pix_fmt},showinfo=checksum=0", "-fps_mode", "passthrough",
                 "-f", "rawvideo", "-pix_fmt", pix_fmt, "pipe:1"]
        self._ffmpeg = FfmpegProcess(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, on_line=self._on_line)
        self._pump = threading.Thread(target=self._read_frames, daemon=True, name="ffmpeg-decode")
        self._pump.start()

    # ---- threads --------------------------------------------------------------------------------
    def _on_line(self, line: str) -> bool:
        if "Parsed_showinfo" not in line:
            message = line.partition("] ")[2]  # ffmpeg's words after its [context]: not the Input line naming the file
            if self.damage is None and _DAMAGE.search(message):
                self.damage = message.strip()
            return False
        found = _FRAME.search(line)
        if found:
            sar = _SAR.search(line)
            if self.sample_aspect is None and sar and int(sar.group(1)) > 0 and int(sar.group(2)) > 0:
                self.sample_aspect = Fraction(int(sar.group(1)), int(sar.group(2)))
            self._infos.put(found.groups())
            return True
        base = _TIME_BASE.search(line)
        if base:
            self.time_base = Fraction(int(base.group(1)), int(base.group(2)))
        return True

    def _put(self, item) -> bool:
        while not self._closed.is_set():
            try:
                self._frames.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read_frames(self) -> None:
        stdout = self._ffmpeg.process.stdout
        try:
            while not self._closed.is_set():
                try:
                    data = stdout.read(1)
                except (OSError, ValueError):
                    data = b""
                if not data:
                    break
                number, pts, duration, width, height = self._infos.get(timeout=self.stall_timeout)
                width, height = int(width), int(height)
                frame = np.empty((height, width, CHANNELS[self.pix_fmt]), np.uint8)
                view = memoryview(frame).cast("B")
                view[0:1] = data
                filled = 1
                while filled < len(view):
                    got = stdout.readinto(view[filled:])
                    if not got:
                        raise EOFError(f"the stream ended inside frame {number}")
                    filled += got
                pts = None if pts == "NOPTS" else int(pts)
                if not self._put((frame[:, :, 0] if self.pix_fmt == "gray" else frame, pts, int(duration))):
                    return
        except queue.Empty:
            self._put(VideoReadError(f"{self.path}: ffmpeg sent frame data without frame information"))
        except (EOFError, OSError, ValueError) as exc:
            self._put(VideoReadError(f"{self.path}: decoding failed ({exc}; {self._ffmpeg.reason()})"))
        self._put(_END)

    # ---- iteration ------------------------------------------------------------------------------
    def __iter__(self):
        index, last_pts = 0, None
        try:
            while True:
                try:
                    item = self._frames.get(timeout=self.stall_timeout)
                except queue.Empty:
                    self._ffmpeg.stop()
                    raise VideoReadError(f"{self.path}: ffmpeg decoded no frame for {self.stall_timeout:.0f} s "
                                         "(stalled); stopped") from None
                if item is _END:
                    break
                if isinstance(item, Exception):
                    raise item
                image, pts, duration = item
                if pts is None or (last_pts is not None and pts <= last_pts):
                    pts = 0 if last_pts is None else last_pts + max(1, duration)
                last_pts = pts
                yield VideoFrame(index, image, pts, max(0, duration), self.time_base or Fraction(1, 1000))
                index += 1
            status = self._ffmpeg.wait(timeout=self.stall_timeout)
            if status != 0:
                raise VideoReadError(f"{self.path}: ffmpeg could not decode the video ({self._ffmpeg.reason()})")
            if index == 0:
                where = " in the selected time range" if self.start or self.end is not None else ""
                raise VideoReadError(f"{self.path}: the video stream has no frames{where}")
        finally:
            self.close()

    def close(self) -> None:
        self._closed.set()
        self._ffmpeg.stop()
        self._pump.join(timeout=5)

    @property
    def expected_frames(self) -> int | None:
        """Frame count estimated from the header (for progress bars), or None."""
        if not self.info.fps or not self.info.duration:
            return None
        end = min(self.end, self.info.duration) if self.end is not None else self.info.duration
        return max(0, round((end - self.start) * self.info.fps))


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class FolderReader:
    """Iterate over the images of a folder (natural name order) as frames at ``fps``."""

    def __init__(self, folder, fps, options: dict | None = None):
        self.path = str(folder)
        self.fps = Fraction(str(fps)).limit_denominator(1_000_000)
        if self.fps <= 0:
            raise VideoReadError(f"{folder}: --fps must be positive, got {fps}")
        types = file_types()
        self.files = sorted((p for p in Path(folder).iterdir() if p.is_file() and types.reads(p.name)), key=_natural_key)
        if not self.files:
            raise VideoReadError(f"{folder}: no image files in this folder")
        self.options = options or {}
        self.time_base = 1 / self.fps
        self.expected_frames = len(self.files)
        self.damage: str | None = None  # a folder's frames are checked one by one instead

    def __iter__(self):
        size = None
        for index, path in enumerate(self.files):
            try:
                image = read_image(path, self.options)
            except ImageReadError as exc:
                raise VideoReadError(f"{exc} (frame {index + 1} of {self.path})") from None
            if size is None:
                size = image.shape[:2]
            elif image.shape[:2] != size:
                raise VideoReadError(f"{path}: {image.shape[1]}x{image.shape[0]} differs from the first frame's "
                                     f"{size[1]}x{size[0]}; all frames must have one size")
            yield VideoFrame(index, image, index, 1, self.time_base)

    def close(self) -> None:
        """Nothing to release (for symmetry with :class:`FfmpegReader`)."""
