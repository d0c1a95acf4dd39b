"""One ``colorfuse video`` run: a video file or a frame folder in; a video file and/or frame images out.

Everything is checked before decoding starts (output over the input, existing outputs, option
combinations, the audio's fate); the encoder starts with the first colorized frame; on any
failure or interruption the partial output is deleted and nothing appears under the final name.
An input that ends early (truncated or damaged) still gives the frames it has, and the summary
says how many were lost (``lost_frames``, ``loss``): the command then exits non-zero. Where the
header states the video's own duration (see :class:`VideoInfo`), decoded frames ending over two frames
(at least 0.1 s) before it are a loss; otherwise the frame count made from the header is an estimate,
and short of it by 10%, or by two frames where ffmpeg reported damage, is a loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.hints import Hint
from colorfuse.engine.video import SHOT_THRESHOLD
from colorfuse.errors import VideoReadError, VideoWriteError
from colorfuse.engine.video.hint_track import frame_hint_problems
from colorfuse.engine.video.pipeline import StreamStats, colorize_stream
from colorfuse.engine.video.ffmpeg import probe
from colorfuse.engine.video.reader import FfmpegReader, FolderReader
from colorfuse.engine.video.writer import FfmpegWriter, FrameFolderWriter, choose_audio


@dataclass
class VideoSettings:
    """Where to read and write, and how to encode (see ``colorfuse video --help``)."""

    source: Path
    out: Path | None = None
    frames_dir: Path | None = None
    frames_format: str = "png"
    fps: str | None = None  # frame folders only
    start: float | None = None
    end: float | None = None
    codec: str = "libx264"
    crf: int = 18
    preset: str = "veryfast"
    pix_fmt: str | None = None
    batch_size: int = 8
    shot_threshold: float = SHOT_THRESHOLD
    overwrite: bool = False
    hints: dict[int, list[Hint]] | None = None  # keyframe number (1: the first frame colorized) -> hints


@dataclass
class VideoSummary:
    """The outcome of a run: counts and timings, outputs, and what was done with audio and size."""

    stats: StreamStats
    output: Path | None = None
    frames_dir: Path | None = None
    audio: str = "none"
    notices: list[str] = field(default_factory=list)
    lost_frames: int = 0  # frames the header promised that could not be decoded
    loss: str | None = None  # the same in words, naming the file


def check_settings(settings: VideoSettings) -> None:
    """Raise a typed error for a missing input, a bad option combination or an output in the way."""
    source = settings.source
    if settings.out is None and settings.frames_dir is None:
        raise VideoWriteError(f"{source}: give --out FILE and/or --frames DIR")
    if not source.exists():
        raise VideoReadError(f"{source}: no such file or folder")
    if source.is_dir() and not settings.fps:
        raise VideoReadError(f"{source}: a folder of frames needs --fps")
    if not source.is_dir() and settings.fps:
        raise VideoReadError(f"{source}: --fps is only for a folder of frames (a video keeps its own timing)")
    if settings.start is not None and settings.start < 0:
        raise VideoReadError(f"{source}: --start must be >= 0")
    if settings.end is not None and settings.end <= (settings.start or 0.0):
        raise VideoReadError(f"{source}: --end ({settings.end}) must be after --start ({settings.start or 0})")
    if source.is_dir() and (settings.start is not None or settings.end is not None):
        raise VideoReadError(f"{source}: --start/--end apply to video files, not frame folders")
    if settings.out is not None:
        out = settings.out
        if out.exists() and out.resolve() == source.resolve():
            raise VideoWriteError(f"{out}: the output would overwrite the input")
        if out.is_dir():
            raise VideoWriteError(f"{out}: is a folder; --out takes a file name such as result.mp4")
        if not out.suffix:
            raise VideoWriteError(f"{out}: give the output a suffix (.mp4, .mkv, .mov, ...) to choose the container")
        if out.exists() and not settings.overwrite:
            raise VideoWriteError(f"{out}: already exists (use --overwrite)")
    if settings.frames_dir is not None and settings.frames_dir.exists() and source.is_dir() \
            and settings.frames_dir.resolve() == source.resolve():
        raise VideoWriteError(f"{settings.frames_dir}: --frames would write into the input folder")
    if settings.frames_dir is not None and settings.frames_dir.is_dir() and not settings.overwrite:
        if any(settings.frames_dir.glob("frame_*")):
            raise VideoWriteError(f"{settings.frames_dir}: already holds frame_* files (use --overwrite)")


def hint_problems(settings: VideoSettings, source_name: str) -> list[str]:
    """One line per keyframe hint that cannot apply to ``settings.source`` (past its end, outside its
    frame), read from its header or first image; ``source_name`` names the hints."""
    if not settings.hints:
        return []
    if settings.source.is_dir():
        from colorfuse.engine.hint_jobs import header_size

        files = FolderReader(settings.source, settings.fps or "25").files
        found, expected = header_size(files[0]), len(files)
        size = (found[1], found[0]) if found else None
    else:
        info = probe(settings.source)
        size = info.upright_size if info.width else None
        start, end = settings.start or 0.0, settings.end if settings.end is not None else info.duration
        expected = round((min(end, info.duration) - start) * info.fps) if info.fps and info.duration else None
    return frame_hint_problems(settings.hints, size, expected, source_name)


def _video_writer(settings: VideoSettings, reader, summary: VideoSummary) -> FfmpegWriter | None:
    """The encoder for ``--out`` (not started yet), with the audio's fate decided."""
    if settings.out is None:
        return None
    from_file = isinstance(reader, FfmpegReader)
    duration = None if settings.end is None else settings.end - (settings.start or 0.0)
    audio_args = None
    if from_file and reader.info.audio_codecs:
        summary.audio, audio_args = choose_audio(str(settings.source), settings.start or 0.0, duration,
                                                 settings.out.suffix)
    return FfmpegWriter(settings.out, settings.codec, settings.crf, settings.preset, settings.pix_fmt,
                        source=str(settings.source) if from_file else None, start=settings.start or 0.0,
                        duration=duration, audio_args=audio_args)


def run_video(colorizer: Colorizer, settings: VideoSettings, on_total: Callable[[int | None], None] | None = None,
              on_batch: Callable[[int], None] | None = None) -> VideoSummary:
    """Colorize ``settings.source``; ``on_total(expected frames)`` then ``on_batch(n)`` report progress."""
    check_settings(settings)
    source = settings.source
    if source.is_dir():
        reader = FolderReader(source, settings.fps, colorizer.options)
    else:
        reader = FfmpegReader(source, "gray", settings.start, settings.end)
    summary = VideoSummary(StreamStats(), frames_dir=settings.frames_dir)
    span: dict = {}  # the first frame's start and the last one's end, in seconds
    writer = folder = None
    try:
        writer = _video_writer(settings, reader, summary)
        if settings.frames_dir is not None:
            folder = FrameFolderWriter(settings.frames_dir, settings.frames_format, colorizer.options)
        if on_total:
            on_total(reader.expected_frames)

        def sink(frame, rgb):
            span.setdefault("start", frame.time)
            span["end"] = float((frame.pts + frame.duration) * frame.time_base)
            if writer is not None:
                if not writer.started:
                    writer.start(rgb.shape[1], rgb.shape[0], frame.time_base, getattr(reader, "sample_aspect", None))
                    if writer.notice:
                        summary.notices.append(writer.notice)
                writer.write(rgb, frame.pts, frame.duration)
            if folder is not None:
                folder.write(rgb, frame.index)

        began = time.perf_counter()
        summary.stats = colorize_stream(colorizer, reader, sink, settings.batch_size, settings.shot_threshold,
                                        on_batch, settings.hints, source)
        summary.notices.extend(summary.stats.notices)
        if folder is not None:
            folder.finish()
        if writer is not None and writer.started:
            summary.output = writer.finish()
        summary.stats.seconds = time.perf_counter() - began  # encoding included
    except BaseException:
        if writer is not None:
            writer.abort()
        if folder is not None:
            folder.abort()
        raise
    finally:
        reader.close()
    _find_loss(summary, reader, source, span.get("end", 0.0) - span.get("start", 0.0))
    return summary


def _find_loss(summary: VideoSummary, reader, source: Path, covered: float) -> None:
    """Set ``summary.lost_frames`` and ``loss`` when the decoded frames (``covered`` seconds) end early."""
    expected, decoded = reader.expected_frames, summary.stats.frames
    if not expected:
        return
    info = getattr(reader, "info", None)  # a frame folder has none
    own = info.video_duration if info else None
    if own:
        end = min(reader.end, own) if reader.end is not None else own
        short = covered < end - reader.start - max(2 / (info.fps or 25), 0.1)
    else:  # the header's count is an estimate
        short = decoded < expected - 1 if reader.damage else decoded < 0.9 * expected - 1
    if short:
        summary.lost_frames = max(1, expected - decoded)
        said = f"; ffmpeg: {reader.damage}" if reader.damage else ""
        summary.loss = (f"{source}: the input ended early: {decoded} of about {expected} frames decoded, about "
                        f"{summary.lost_frames} lost (truncated or damaged file{said}); the output has the "
                        f"{decoded} frames")
