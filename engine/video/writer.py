"""Frame sinks: an ffmpeg encoder fed through a pipe (with the source's audio), or image files.

:class:`FfmpegWriter` streams RGB frames with their timestamps (see :mod:`.mkv`) to ffmpeg from
a thread, encodes them to a hidden temporary file in the output folder and renames it to the
final name only after ffmpeg succeeded; any failure or interruption deletes the temporary file.
The temporary is locked by its writer (:func:`locked_temporary`): one left by a killed run is deleted
by the next run writing into that folder.
"""

from __future__ import annotations

import os
import queue
import subprocess
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import numpy as np

from colorfuse.engine.imagefiles import locked_temporary, remove_stale_temporaries, write_image_atomic
from colorfuse.engine.video import mkv
from colorfuse.errors import VideoWriteError
from colorfuse.engine.video.ffmpeg import FfmpegProcess, ffmpeg_exe, local_file, reason, tied_to_this_process

CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"}
PRESET_CODECS = {"libx264", "libx265"}
ODD_SIZE_420_FAILS = {"libx264", "libx265"}  # 4:2:0 needs even sizes in H.264/HEVC
QSCALE_CODECS = {"mpeg4", "libxvid", "mpeg2video", "mjpeg"}
MOV_FAMILY = {".mp4", ".mov", ".m4v"}
AUDIO_CHOICES = (("copy", ["-c:a", "copy"]), ("aac", ["-c:a", "aac"]), ("default", []))
_CLOSED = object()


def reserve_temporary(final: Path, hold: ExitStack) -> Path:
    """A new temporary file next to ``final``, locked while ``hold`` is open; stale ones there are deleted first."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(final.parent)
        return Path(hold.enter_context(locked_temporary(final, final.suffix)))
    except OSError as exc:
        raise VideoWriteError(f"{final}: cannot write to {final.parent} ({exc.strerror or exc})") from None


def _audio_input(source: str, start: float, duration: float | None) -> list[str]:
    args = ["-ss", f"{start:.6f}"] if start else []
    if duration is not None:
        args += ["-t", f"{duration:.6f}"]
    return args + ["-i", local_file(source)]


def choose_audio(source: str, start: float, duration: float | None, suffix: str) -> tuple[str, list[str]]:
    """How to carry the source's audio into a ``suffix`` container: ``copy``, ``aac`` or ``default``.

    Each choice is tried by muxing half a second of audio into a scratch file.
    """
    with tempfile.TemporaryDirectory(prefix="colorfuse-audio-") as scratch:
        target = Path(scratch) / f"probe{suffix}"
        for name, codec_args in AUDIO_CHOICES:
            command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error",
                       *_audio_input(source, start, 0.5), "-map", "0:a", *codec_args, "-y", str(target)]
            try:
                done = subprocess.run(command, capture_output=True, timeout=60, **tied_to_this_process())
            except subprocess.TimeoutExpired:
                continue
            if done.returncode == 0:
                return name, codec_args
    raise VideoWriteError(f"{source}: its audio cannot be written into a {suffix} file "
                          f"({reason(done.stderr.decode('utf-8', 'replace').splitlines())})")


def pixel_format(codec: str, width: int, height: int, requested: str | None) -> tuple[str, str | None]:
    """(pix_fmt, notice): yuv420p, or yuv444p to keep an odd size exactly where 4:2:0 cannot."""
    if requested:
        return requested, None
    if (width % 2 or height % 2) and codec in ODD_SIZE_420_FAILS:
        return "yuv444p", (f"{width}x{height} is odd-sized and {codec} 4:2:0 needs even sizes: encoding "
                           "4:4:4 (yuv444p) to keep the exact size (some players do not play 4:4:4)")
    return "yuv420p", None


def encoder_args(codec: str, crf: int, preset: str, pix_fmt: str, time_base: Fraction, suffix: str,
                 sample_aspect: Fraction | None) -> list[str]:
    """ffmpeg output options: codec and quality, BT.709 limited-range colour, timestamps passed through."""
    quality = []
    if codec in CRF_CODECS:
        quality = ["-crf", str(crf)] + (["-b:v", "0"] if codec.startswith("libvpx") else [])
    elif codec in QSCALE_CODECS:
        quality = ["-q:v", "2"]
    if codec in PRESET_CODECS:
        quality += ["-preset", preset]
    aspect = sample_aspect or Fraction(1)
    colour = ["-vf", f"scale=out_color_matrix=bt709:out_range=tv,format={pix_fmt},"
              "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv,"
              f"setsar={aspect.numerator}/{aspect.denominator}"]
    timing = ["-fps_mode", "passthrough", "-enc_time_base", f"{time_base.numerator}:{time_base.denominator}"]
    if suffix.lower() in MOV_FAMILY:
        timing += ["-movflags", "+faststart"]
        if time_base.numerator == 1 and time_base.denominator <= 10_000_000:
            timing += ["-video_track_timescale", str(time_base.denominator)]
    return ["-c:v", codec, *quality, *colour, *timing]


class FfmpegWriter:
    """Encode frames of one size to ``path``; :meth:`start` (at the first frame) launches ffmpeg.

    ``source`` (the input video, cut to ``start``/``duration``) gives the global metadata and,
    when ``audio_args`` is given (see :func:`choose_audio`), every audio stream. Output is BT.709,
    limited range, with the input's pixel aspect ratio. :meth:`abort` removes the temporary file
    whenever the run is interrupted.
    """

    def __init__(self, path, codec: str = "libx264", crf: int = 18, preset: str = "veryfast",
                 pix_fmt: str | None = None, source: str | None = None, start: float = 0.0,
                 duration: float | None = None, audio_args: list[str] | None = None, stall_timeout: float = 120.0):
        self.path = Path(path)
        self.codec, self.crf, self.preset, self.requested_pix_fmt = codec, crf, preset, pix_fmt
        self.source, self.start_s, self.duration, self.audio_args = source, start, duration, audio_args
        self.stall_timeout = stall_timeout
        self.temporary: Path | None = None
        self._hold = ExitStack()  # the temporary's lock
        self.notice: str | None = None
        self.frames = 0
        self._ffmpeg: FfmpegProcess | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._error: str | None = None
        self._pump = threading.Thread(target=self._write_frames, daemon=True, name="ffmpeg-encode")

    @property
    def started(self) -> bool:
        return self._ffmpeg is not None

    def start(self, width: int, height: int, time_base: Fraction, sample_aspect: Fraction | None = None) -> None:
        """Launch the encoder for frames of ``width`` x ``height`` timed in ``time_base`` ticks."""
        self.width, self.height, self.time_base = width, height, time_base
        pix_fmt, self.notice = pixel_format(self.codec, width, height, self.requested_pix_fmt)
        args = ["-f", "matroska", "-i", "pipe:0"]
        maps = ["-map", "0:v:0"]
        if self.source is not None:  # global metadata, and the audio when ``audio_args`` says how
            args += _audio_input(self.source, self.start_s, self.duration)
            maps += ["-map_metadata", "1"]
            if self.audio_args is not None:
                maps += ["-map", "1:a", *self.audio_args]
        output = encoder_args(self.codec, self.crf, self.preset, pix_fmt, time_base, self.path.suffix, sample_aspect)
        self.temporary = reserve_temporary(self.path, self._hold)
        self._ffmpeg = FfmpegProcess([*args, *maps, *output, "-y", local_file(self.temporary)],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self._pump.start()
        self._queue.put(mkv.stream_header(width, height))

    def _write_frames(self) -> None:
        stdin = self._ffmpeg.process.stdin
        while True:
            item = self._queue.get()
            if item is _CLOSED:
                break
            if self._error:
                continue  # drain, so a producer never blocks on a dead encoder
            try:
                for chunk in item if isinstance(item, tuple) else (item,):
                    stdin.write(chunk)
            except (BrokenPipeError, OSError, ValueError) as exc:
                self._error = f"ffmpeg stopped reading frames ({type(exc).__name__})"
        try:
            stdin.close()
        except OSError:
            pass

    def _fail(self, why: str) -> VideoWriteError:
        self.abort()
        return VideoWriteError(f"{self.path}: cannot encode the video: {why}")

    def write(self, image: np.ndarray, pts: int, duration: int) -> None:
        """Queue one RGB uint8 frame (H, W, 3) shown at ``pts`` for ``duration`` ticks of the time base."""
        if not self.started:
            raise RuntimeError("FfmpegWriter.write() needs start() first")
        if self._error:
            raise self._fail(self._ffmpeg.reason())
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise self._fail(f"frame {self.frames} is {image.shape} {image.dtype}, expected "
                             f"({self.height}, {self.width}, 3) uint8 (the size must not change)")
        data = memoryview(np.ascontiguousarray(image)).cast("B")
        prefix = mkv.frame_prefix(mkv.microseconds(pts, self.time_base),
                                  mkv.microseconds(duration, self.time_base), len(data))
        try:
            self._queue.put((prefix, data), timeout=self.stall_timeout)
        except queue.Full:
            raise self._fail(f"ffmpeg took no frame for {self.stall_timeout:.0f} s (stalled)") from None
        self.frames += 1

    def finish(self, timeout: float = 600.0) -> Path:
        """Flush, wait for ffmpeg, and rename the temporary file to the final name."""
        try:
            self._queue.put(_CLOSED, timeout=self.stall_timeout)
        except queue.Full:
            raise self._fail(f"ffmpeg took no frame for {self.stall_timeout:.0f} s (stalled)") from None
        self._pump.join(timeout=timeout)
        status = self._ffmpeg.wait(timeout=timeout)
        if status is None:
            raise self._fail(f"ffmpeg did not finish within {timeout:.0f} s")
        if status != 0 or self._error:
            raise self._fail(self._ffmpeg.reason())
        try:
            os.replace(self.temporary, self.path)
        except OSError as exc:
            raise self._fail(f"cannot rename {self.temporary.name} ({exc.strerror or exc})") from None
        self._hold.close()
        return self.path

    def abort(self) -> None:
        """Stop ffmpeg and delete the temporary file (safe to call more than once, or before start)."""
        self._error = self._error or "aborted"
        if self._ffmpeg is not None:
            self._ffmpeg.stop()
        if self._pump.is_alive():
            try:
                self._queue.put(_CLOSED, timeout=5)  # the thread drains quickly once ffmpeg is gone
            except queue.Full:
                pass
            self._pump.join(timeout=5)
        try:
            self._hold.close()  # deletes the temporary
        except OSError:  # not removable
            pass


class FrameFolderWriter:
    """Write frames as ``frame_000001.png`` ... into a folder, each atomically, in a background thread."""

    def __init__(self, folder, fmt: str = "png", options: dict | None = None):
        from colorfuse.plugins.filetypes import output_formats

        self.folder, self.fmt, self.options = Path(folder), fmt, options or {}
        self.suffix = output_formats()[fmt].suffix
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="frame-writer")
        self._pending: list[Future] = []
        self.frames = 0

    def name(self, index: int) -> Path:
        return self.folder / f"frame_{index + 1:06d}{self.suffix}"

    def write(self, image: np.ndarray, index: int) -> None:
        self._pending.append(self._pool.submit(write_image_atomic, image, self.name(index), self.fmt, self.options))
        while len(self._pending) > 8 or (self._pending and self._pending[0].done()):
            self._pending.pop(0).result()
        self.frames += 1

    def finish(self) -> Path:
        for future in self._pending:
            future.result()
        self._pending.clear()
        self._pool.shutdown()
        return self.folder

    def abort(self) -> None:
        self._pool.shutdown(cancel_futures=True)
