"""End-to-end ``colorfuse video`` speed on this machine's CPU, written to ``benchmarks/results/video-cpu.json``.

For each height (360p, 480p, 720p, 1080p by default) a clip is made from a real video (scaled,
``--frames`` frames) and colorized from file to file: decode, model, temporal plugins, encode.
Reported per run: frames/s (wall), CPU milliseconds per frame in this process and in the ffmpeg
children, time inside the model, and the load average (the machine may be shared: frames/s
depends on it, CPU per frame much less); at 480p also the time per frame of each step of the
colorizing loop (profiled on decoded frames in memory), to show what bounds the speed. Models: ``--model`` (repeatable); by default the shipped
default model if there is one, and the hand-built test model of ``tests/modelfactory.py``.

    python -m colorfuse.benchmarks.video_speed [--frames 60] [--heights 360,480,720,1080]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.video.ffmpeg import ffmpeg_exe
from colorfuse.engine.video.job import VideoSettings, run_video
from colorfuse.engine.video.pipeline import FrameColorizer, batches
from colorfuse.engine.video.reader import FfmpegReader
from colorfuse.engine.atomic import write_json_atomic
from colorfuse.engine.machine import machine_summary

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "video" / "solidWhiteRight.mp4"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "video-cpu.json"


def _cpu_seconds() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def make_clip(source: Path | None, height: int, frames: int, path: Path) -> Path:
    """``frames`` frames of ``source`` (looped; lavfi testsrc2 without one) scaled to ``height``, H.264."""
    if source is not None and source.exists():
        video_in = ["-stream_loop", "-1", "-i", str(source)]
    else:
        video_in = ["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25"]
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *video_in,
                    "-frames:v", str(frames), "-vf", f"scale=-2:{height}", "-c:v", "libx264", "-crf", "20",
                    "-an", str(path)], check=True, timeout=600)
    return path


def measure(model, clip: Path, out: Path, temporal: bool, preset: str, max_side: int | None,
            precision: str = "auto", runtime: str = "auto", device: str = "cpu") -> dict:
    """Colorize ``clip`` once, file to file; return the figures."""
    options = {"temporal_global": temporal, "temporal_flow": temporal}
    colorizer = Colorizer(model, device=device, max_side=max_side, options=options, precision=precision, runtime=runtime)
    out.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
    summary = run_video(colorizer, VideoSettings(clip, out=out, preset=preset))
    wall = time.perf_counter() - wall_before
    cpu_after = _cpu_seconds()
    frames = summary.stats.frames
    width, height = summary.stats.size
    return {"size": f"{width}x{height}", "frames": frames, "temporal": temporal, "preset": preset,
            "model": colorizer.card.name, "model_path": str(colorizer.model_path), "max_side": colorizer.max_side,
            "device": colorizer.device,
            "variant": colorizer.precision_choice.variant.key if colorizer.precision_choice else None,
            "seconds": round(wall, 3), "frames_per_s": round(frames / wall, 2),
            "cpu_ms_per_frame_python": round((cpu_after[0] - cpu_before[0]) / frames * 1000, 1),
            "cpu_ms_per_frame_ffmpeg": round((cpu_after[1] - cpu_before[1]) / frames * 1000, 1),
            "model_ms_per_frame": round(colorizer.timing.model_s / frames * 1000, 2),
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


STAGES = {"shot detection": "is_cut", "prepare (L, resize)": "prepare", "model": "predict",
          "temporal flow plugin": "video_process_ab", "finish (chroma upsampling, Lab to RGB)": "finish"}


def stage_profile(model, clip: Path, max_side: int | None, frames: int = 40, precision: str = "auto",
                  runtime: str = "auto", device: str = "cpu") -> dict:
    """Milliseconds per frame spent in each step of the colorizing loop (decoded frames in memory)."""
    images = [frame for _, frame in zip(range(frames), FfmpegReader(clip))]
    colorizer = Colorizer(model, device=device, max_side=max_side, precision=precision, runtime=runtime)
    engine = FrameColorizer(colorizer)
    profile = cProfile.Profile()
    profile.enable()
    for batch in batches(images, 8):
        engine.process(batch)
    profile.disable()
    by_name = {}
    for (_, _, name), row in pstats.Stats(profile).stats.items():
        by_name[name] = by_name.get(name, 0.0) + row[3]  # cumulative seconds
    total = sum(row[2] for row in pstats.Stats(profile).stats.values())
    stages = {stage: round(by_name.get(name, 0.0) / len(images) * 1000, 2) for stage, name in STAGES.items()}
    stages["total"] = round(total / len(images) * 1000, 2)
    width, height = images[0].image.shape[1], images[0].image.shape[0]
    return {"size": f"{width}x{height}", "model": colorizer.card.name, "max_side": colorizer.max_side,
            "stage_ms_per_frame": stages}


def default_models(scratch: Path) -> list[str]:
    models = []
    try:
        from colorfuse.engine.models import default_model_name

        models.append(default_model_name())
    except Exception as exc:  # no shipped default model yet
        print(f"no default model: {exc}")
    try:
        from tests.modelfactory import make_model
    except ImportError as exc:
        print(f"no test model (run from the repository root with the dev extras): {exc}")
    else:
        path = scratch / "test-model.onnx"
        make_model(path, multiple=4)
        models.append(str(path))
    return models


def run_video_bench(models, source: Path = DEFAULT_SOURCE, heights=(360, 480, 720, 1080), frames: int = 60,
                    preset: str = "veryfast", max_side: int | None = None, precision: str = "auto",
                    runtime: str = "auto", echo=print, device: str = "cpu") -> dict:
    """Every model at every height (480p: also without the temporal plugins, and the per-step profile)."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="colorfuse-video-bench-") as scratch:
        scratch = Path(scratch)
        models = models or default_models(scratch)
        for height in heights:
            clip = make_clip(source, height, frames, scratch / f"in-{height}.mp4")
            for model in models:
                if height == 480:
                    stages = stage_profile(model, clip, max_side, precision=precision, runtime=runtime, device=device)
                    runs.append(stages)
                    echo(f"{stages['size']:>10} {stages['model']:<12} ms/frame by step: {stages['stage_ms_per_frame']}")
                for temporal in (True, False) if height == 480 else (True,):
                    run = measure(model, clip, scratch / "out.mp4", temporal, preset, max_side, precision, runtime, device)
                    runs.append(run)
                    echo(f"{run['size']:>10} {run['model']:<12} {run['variant']} temporal={temporal!s:<5} "
                         f"{run['frames_per_s']:6.1f} frames/s  cpu/frame {run['cpu_ms_per_frame_python']} ms python + "
                         f"{run['cpu_ms_per_frame_ffmpeg']} ms ffmpeg  load {run['load_average_1min']}")
    return {"benchmark": f"colorfuse video, file to file, {device.upper()}", "device": device, "machine": machine_summary(),
            "source": str(source) if source.exists() else "lavfi testsrc2", "precision": precision, "runtime": runtime,
            "ffmpeg": ffmpeg_exe(), "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": runs}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model name or .onnx path (repeatable)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="real clip to scale (looped)")
    parser.add_argument("--heights", default="360,480,720,1080")
    parser.add_argument("--frames", type=int, default=60, help="frames per clip")
    parser.add_argument("--preset", default="veryfast", help="x264 preset")
    parser.add_argument("--max-side", type=int, default=None, help="working size (default: the card's)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    report = run_video_bench(args.model, args.source, [int(h) for h in args.heights.split(",")], args.frames,
                             args.preset, args.max_side, args.precision, args.runtime, device=args.device)
    write_json_atomic(report, args.out)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
