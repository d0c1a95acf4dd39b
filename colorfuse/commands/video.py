"""``colorfuse video``: colorize a video (or a folder of frames) frame by frame, with temporal consistency."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from colorfuse.commands.parameters import OutputFormatChoice
from colorfuse.commands.run_options import RunCommand, run_options, run_settings
from colorfuse.commands.shared import describe, warnings_as_lines
from colorfuse.engine.video import SHOT_THRESHOLD
from colorfuse.engine.signals import signal_status, signals_interrupt


def temporal_options(no_temporal: bool, temporal_global: bool, temporal_flow: bool) -> dict:
    """The temporal plugins' switches from the command-line flags."""
    return {"temporal_global": temporal_global and not no_temporal,
            "temporal_flow": temporal_flow and not no_temporal}


@click.command("video", cls=RunCommand, sections=(
    ("Input and output", ("source", "out", "frames_dir", "frames_format", "fps", "start", "end", "overwrite", "quiet")),
    ("Encoding", ("codec", "crf", "preset", "pix_fmt")),
    ("Temporal consistency", ("no_temporal", "temporal_global", "temporal_flow", "shot_threshold"))))
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output video file; its suffix picks the container (.mp4, .mkv, .mov, ...).")
@click.option("--frames", "frames_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also (or only) write the colorized frames as images into this folder.")
@click.option("--frames-format", type=OutputFormatChoice(auto=False), default="png", show_default=True)
@click.option("--fps", default=None, help="Frame rate when SOURCE is a folder of frames (e.g. 25 or 29.97).")
@click.option("--start", type=click.FloatRange(min=0), default=None, help="Start at this time (seconds).")
@click.option("--end", type=float, default=None, help="Stop at this time (seconds).")
@click.option("--codec", default="libx264", show_default=True, help="ffmpeg video encoder (libx265, mpeg4, libvpx-vp9, ...).")
@click.option("--crf", type=click.IntRange(0, 63), default=18, show_default=True, help="Quality for x264/x265/vp9/av1 (lower is better).")
@click.option("--preset", default="veryfast", show_default=True,
              help="x264/x265 speed preset (medium: smaller files, about twice the encoding CPU at 480p).")
@click.option("--pix-fmt", default=None, help="Output pixel format (default yuv420p; yuv444p for odd sizes with x264).")
@click.option("--no-temporal", is_flag=True, help="Switch off every temporal-consistency plugin.")
@click.option("--temporal-global/--no-temporal-global", default=True, show_default=True,
              help="One global view per shot (models with a global branch).")
@click.option("--temporal-flow/--no-temporal-flow", default=True, show_default=True,
              help="Smooth colour over time along optical flow.")
@click.option("--shot-threshold", type=click.FloatRange(0.01, 1.0), default=SHOT_THRESHOLD, show_default=True,
              help="Histogram distance above which a frame starts a new shot.")
@run_options
@click.option("--hints", "hints_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Hints file (JSON) with hints on chosen frames ({\"frames\": {\"120\": [...]}}, frames numbered "
                   "from 1 as --frames names them), each carried along the motion to the following frames; needs a model that takes hints.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(source, out, frames_dir, frames_format, fps, start, end, codec, crf, preset, pix_fmt, no_temporal,
            temporal_global, temporal_flow, shot_threshold, hints_file, overwrite, quiet, **run_values):
    """Colorize the video SOURCE into --out (and/or --frames); SOURCE may be a folder of frames (with --fps).

    Resolution, timing (variable frame rate too), duration, rotation and audio are kept. With --hints,
    a keyframe's hints follow the motion until they leave the frame, the flow loses them, a shot cut
    or the next keyframe.
    """
    from tqdm import tqdm

    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.errors import one_line
    from colorfuse.engine.hints import require_hints
    from colorfuse.engine.hints_file import read_hints
    from colorfuse.engine.video.ffmpeg import ffmpeg_exe
    from colorfuse.engine.video.hint_track import keyframes_of
    from colorfuse.engine.video.job import VideoSettings, check_settings, hint_problems, run_video

    if out is None and frames_dir is None:
        raise click.UsageError("give --out FILE and/or --frames DIR")
    run = run_settings(run_values)
    run = run.replace(options={**temporal_options(no_temporal, temporal_global, temporal_flow), **run.options})
    settings = VideoSettings(source, out, frames_dir, frames_format, fps, start, end, codec, crf, preset, pix_fmt,
                             run.batch_size, shot_threshold, overwrite)
    check_settings(settings)  # the cheap checks, before the model loads
    if not source.is_dir() or out is not None:
        ffmpeg_exe()
    if hints_file is not None:
        settings.hints = keyframes_of(read_hints(hints_file), str(hints_file))
        problems = hint_problems(settings, str(hints_file))
        for line in problems:
            click.echo(one_line(f"error: {line}"), err=True)
        if problems:
            raise SystemExit(1)
    progress = tqdm(unit="frame", disable=True)  # replaced by the real bar once the model is loaded
    summary = None
    with signals_interrupt() as stop:  # SIGTERM too, during model loading as well: no partial output is left
        try:
            with stop.until_stopped():
                with warnings_as_lines(partial(click.echo, err=True)):
                    colorizer = Colorizer.from_settings(run)
                if settings.hints:
                    require_hints(colorizer.card)
                temporal = [name for name in ("temporal_global", "temporal_flow") if run.options[name]]
                click.echo(f"{describe(colorizer)}, temporal: {', '.join(temporal) or 'off'}", err=True)
                progress = tqdm(unit="frame", disable=quiet, dynamic_ncols=True, desc="video")
                summary = run_video(colorizer, settings, on_total=lambda total: setattr(progress, "total", total),
                                    on_batch=lambda frames: (stop.check(), progress.update(frames)))
                progress.total = progress.n  # the header's frame count is an estimate
                progress.refresh()
        finally:
            progress.close()
    if summary is None:  # stopped before the output was complete
        name, status = signal_status(stop.received)
        stopped_without_output(name)
        raise SystemExit(status)
    stats = summary.stats
    width, height = stats.size or (0, 0)
    click.echo(f"done {stats.frames} frames ({width}x{height}) in {stats.seconds:.1f} s ({stats.fps:.1f} frames/s; "
               f"model {colorizer.timing.model_s:.1f} s), {stats.shots} shot(s), audio: {summary.audio}")
    for notice in summary.notices:
        click.echo(one_line(f"note: {notice}"), err=True)
    for path in (summary.output, summary.frames_dir):
        if path is not None:
            click.echo(one_line(f"wrote {path}"))
    if stop.received is not None:  # after the output was complete
        name, status = signal_status(stop.received)
        click.echo(f"interrupted by {name} after the output was complete", err=True)
        raise SystemExit(status)
    if summary.loss:
        click.echo(one_line(f"error: {summary.loss}"), err=True)
        raise SystemExit(1)


def stopped_without_output(name: str) -> None:
    click.echo(f"interrupted by {name}: no partial output is left", err=True)


command.stopped_words = stopped_without_output  # a stop signal before the run: see colorfuse.cli
