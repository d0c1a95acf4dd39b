"""``colorfuse bench throughput DIR``: end-to-end images per second over a folder of photos.

Each pass runs ``colorize_collection`` (decode, model, chroma upsampling, Lab->RGB, encode, atomic
write) over every image of the folder into a fresh temporary folder, after a warm-up image. The
built-in timing plugin adds up the seconds spent inside the model, so the result also says how
busy the model was (model seconds / wall seconds): near 1, the model bounds the rate; well below
1, decoding, encoding and the per-pixel CPU work do.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from colorfuse.benchmarks import report
from colorfuse.benchmarks.paper import model_facts
from colorfuse.engine.machine import describe_machine, load_average


def run_throughput(folder, device: str = "auto", model=None, max_side: int | None = None, batch_size: int = 8,
                   workers: int = 2, threads: int | None = None, repeats: int = 1, limit: int = 0,
                   bucket: int = 0) -> dict:
    """Colorize ``folder`` ``repeats`` times; images/s, model-busy share and timings per pass.

    ``bucket`` > 0 pads working shapes up to multiples of it (:mod:`colorfuse.benchmarks.buckets`).
    """
    from colorfuse.benchmarks.buckets import BucketedColorizer
    from colorfuse.engine.batch import colorize_collection
    from colorfuse.engine.collection import iter_jobs
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.engine.errors import ColorfuseError

    jobs = [job for job in iter_jobs([str(folder)]) if not job.error]
    jobs = jobs[:limit] if limit else jobs
    if not jobs:
        raise ColorfuseError(f"{folder}: no readable images to colorize")
    timing: dict = {}
    settings = {"device": device, "max_side": max_side, "batch_size": batch_size, "options": {"timing": timing},
                "threads": threads}
    colorizer = BucketedColorizer(model, bucket=bucket, **settings) if bucket else Colorizer(model, **settings)
    colorizer.colorize(jobs[0].source)  # warm-up: session, first shapes
    load_before = load_average()
    passes = []
    for _ in range(repeats):
        timing.clear()
        cpu_start = time.process_time()
        with tempfile.TemporaryDirectory(prefix="colorfuse-throughput-") as out_dir:
            summary = colorize_collection(colorizer, jobs, out_dir, workers=workers, overwrite=True)
        cpu_s = time.process_time() - cpu_start
        if summary.failed:
            raise ColorfuseError(f"{len(summary.failed)} images failed, first: {summary.failed[0].error}")
        model_s = timing.get("model_s", 0.0)
        passes.append({"images": summary.done, "seconds": summary.seconds,
                       "images_per_s": summary.done / summary.seconds, "model_s": model_s,
                       "model_calls": timing.get("calls", 0), "model_busy_share": model_s / summary.seconds,
                       "process_cpu_s": cpu_s})
    megapixels = [_megapixels(job.source) for job in jobs]
    return {
        "benchmark": "throughput", "created": report.timestamp(), "machine": describe_machine(),
        "load_average_before": load_before, "load_average_after": load_average(),
        "model": model_facts(Path(colorizer.model_path)), "device": colorizer.device,
        "providers": colorizer.model_session.providers,
        "settings": {"folder": str(folder), "images": len(jobs), "max_side": colorizer.max_side or "full",
                     "batch_size": batch_size, "workers": workers, "threads": threads or "default", "repeats": repeats,
                     "bucket": bucket or None,
                     "input_megapixels_mean": round(statistics.mean(megapixels), 4)},
        "passes": passes,
        "images_per_s": statistics.median(p["images_per_s"] for p in passes),
        "model_busy_share": statistics.median(p["model_busy_share"] for p in passes),
    }


def _megapixels(path: Path) -> float:
    from PIL import Image

    with Image.open(path) as image:
        return image.size[0] * image.size[1] / 1e6


def throughput_markdown(data: dict) -> str:
    s = data["settings"]
    rows = [[i + 1, p["images"], f"{p['seconds']:.2f}", f"{p['images_per_s']:.2f}", f"{p['model_s']:.2f}",
             f"{100 * p['model_busy_share']:.0f}%", f"{p['process_cpu_s']:.2f}", f"{p['process_cpu_s'] / p['seconds']:.2f}"]
            for i, p in enumerate(data["passes"])]
    return "\n".join([
        f"# Throughput, {data['created']}", "",
        f"Machine: {report.machine_line(data['machine'])}; load before/after {data['load_average_before']} / "
        f"{data['load_average_after']}.", "",
        f"Model {data['model']['name']} ({data['model']['weights']}) on {data['device']} ({', '.join(data['providers'])}); "
        f"{s['images']} images from {s['folder']} (mean {s['input_megapixels_mean']} MP), working size {s['max_side']}, "
        f"batch {s['batch_size']}, {s['workers']} I/O workers"
        + (f", working shapes bucketed to multiples of {s['bucket']}." if s.get("bucket") else "."), "",
        report.markdown_table(["pass", "images", "seconds", "images/s", "model s", "model busy", "process CPU s",
                               "cores busy"], rows),
        f"Median: **{data['images_per_s']:.2f} images/s** end to end (decode, model, chroma, Lab->RGB, encode, write); "
        f"the model was busy {100 * data['model_busy_share']:.0f}% of the wall time.",
    ]) + "\n"


def throughput_plot(data: dict, path) -> Path:
    """Images/s per pass, split into model time and the rest."""
    fig, axis = report.figure(5.0, 3.0)
    passes = data["passes"]
    index = range(1, len(passes) + 1)
    axis.bar(index, [p["model_s"] for p in passes], label="model")
    axis.bar(index, [p["seconds"] - p["model_s"] for p in passes], bottom=[p["model_s"] for p in passes],
             label="rest of the wall time (I/O and CPU work not hidden behind the model)")
    axis.set_xlabel("pass")
    axis.set_ylabel("seconds")
    axis.set_title(f"{data['images_per_s']:.1f} images/s, {data['model']['name']} on {data['device']}", fontsize=9)
    axis.legend(fontsize=7)
    return report.save_figure(fig, path)
