"""``colorfuse bench throughput DIR``: end-to-end images per second over a folder of photos.

Each pass runs ``colorize_collection`` (decode, model, chroma upsampling, Lab->RGB, encode, atomic
write) over every image of the folder into a fresh temporary folder, after a warm-up image. The
colorizer adds up the seconds spent inside the model, so the result also says how
busy the model was (model seconds / wall seconds): near 1, the model bounds the rate; well below
1, decoding, encoding and the per-pixel CPU work do.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from colorfuse.benchmarks import report
from colorfuse.benchmarks.paper import model_facts
from colorfuse.benchmarks.stages import stage_times, stages_markdown
from colorfuse.engine.machine import describe_machine, load_average


def run_throughput(folder, device: str = "auto", model=None, max_side: int | None = None, batch_size: int = 8,
                   workers: int = 2, threads: int | None = None, repeats: int = 1, limit: int = 0,
                   bucket: int = 0, precision: str = "auto", runtime: str = "auto", peers: bool = False,
                   torch_checkpoint=None, png: bool = False, stages: int = 0) -> dict:
    """Colorize ``folder`` ``repeats`` times; images/s, model-busy share and timings per pass.

    ``bucket`` > 0 pads working shapes up to multiples of it (:mod:`colorfuse.benchmarks.buckets`).
    ``peers`` also runs the plain onnxruntime loop and the PyTorch-eager loop of
    :mod:`colorfuse.benchmarks.peers` in each pass, in turn with colorfuse. ``png`` first writes
    the photos as gray PNGs (untimed) and colorizes those into PNGs. ``stages`` > 0 also times each
    step of the path on that many photos, one at a time (:mod:`colorfuse.benchmarks.stages`).
    """
    from colorfuse.benchmarks.buckets import BucketedColorizer
    from colorfuse.engine.collection import iter_jobs
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.errors import ColorfuseError

    jobs = [job for job in iter_jobs([str(folder)]) if not job.error]
    jobs = jobs[:limit] if limit else jobs
    if not jobs:
        raise ColorfuseError(f"{folder}: no readable images to colorize")
    settings = {"device": device, "max_side": max_side, "batch_size": batch_size,
                "threads": threads, "precision": precision, "runtime": runtime}
    colorizer = BucketedColorizer(model, bucket=bucket, **settings) if bucket else Colorizer(model, **settings)
    with tempfile.TemporaryDirectory(prefix="colorfuse-png-inputs-") as png_dir:
        if png:
            jobs = _gray_pngs(jobs, Path(png_dir))
        colorizer.colorize(jobs[0].source)  # warm-up: session, first shapes
        pipelines = {"colorfuse": _colorfuse_pass(colorizer, jobs, workers)}
        unavailable = {}
        if peers:
            pipelines.update(_peer_passes(colorizer, jobs, threads, torch_checkpoint, unavailable))
        load_before = load_average()
        passes = {name: [] for name in pipelines}
        for _ in range(repeats):
            for name, run_pass in pipelines.items():
                passes[name].append(run_pass())
        megapixels = [_megapixels(job.source) for job in jobs]
        stage_data = stage_times(colorizer, jobs[:stages], "png" if png else "auto") if stages else None
    rates = {name: statistics.median(p["images_per_s"] for p in runs) for name, runs in passes.items()}
    choice = colorizer.precision_choice
    return {
        "benchmark": "throughput", "created": report.timestamp(), "machine": describe_machine(),
        "load_average_before": load_before, "load_average_after": load_average(),
        "model": model_facts(Path(colorizer.model_path)), "device": colorizer.device,
        "providers": colorizer.model_session.providers,
        "variant": choice.variant.key if choice else None, "variant_reason": choice.reason if choice else None,
        "settings": {"folder": str(folder), "images": len(jobs), "max_side": colorizer.max_side or "full",
                     "batch_size": batch_size, "workers": workers, "threads": threads or "default", "repeats": repeats,
                     "bucket": bucket or None, "precision": precision, "runtime": runtime,
                     "inputs": "gray PNG (written from the folder's photos), PNG out" if png else "as in the folder",
                     "input_megapixels_mean": round(statistics.mean(megapixels), 4)},
        "passes": passes["colorfuse"], "peer_passes": {k: v for k, v in passes.items() if k != "colorfuse"},
        "peers_unavailable": unavailable,
        "images_per_s": rates["colorfuse"],
        "peer_images_per_s": {k: v for k, v in rates.items() if k != "colorfuse"},
        "speedup_over_peers": {k: round(rates["colorfuse"] / v, 2) for k, v in rates.items() if k != "colorfuse"},
        "model_busy_share": statistics.median(p["model_busy_share"] for p in passes["colorfuse"]),
        "stages": stage_data,
    }


def _gray_pngs(jobs, folder: Path):
    """The photos of ``jobs`` written as gray PNGs into ``folder``; their jobs."""
    from PIL import Image

    from colorfuse.engine.collection import iter_jobs

    for job in jobs:
        with Image.open(job.source) as image:
            image.convert("L").save(folder / (Path(job.source).stem + ".png"))
    return [job for job in iter_jobs([str(folder)]) if not job.error]


def _colorfuse_pass(colorizer, jobs, workers: int):
    from colorfuse.engine.batch import colorize_collection
    from colorfuse.errors import ColorfuseError

    def run_pass() -> dict:
        colorizer.timing.reset()
        cpu_start = time.process_time()
        with tempfile.TemporaryDirectory(prefix="colorfuse-throughput-") as out_dir:
            summary = colorize_collection(colorizer, jobs, out_dir, workers=workers, overwrite=True)
        cpu_s = time.process_time() - cpu_start
        if summary.failed:
            raise ColorfuseError(f"{len(summary.failed)} images failed, first: {summary.failed[0].error}")
        model_s = colorizer.timing.model_s
        return {"images": summary.done, "seconds": summary.seconds, "images_per_s": summary.done / summary.seconds,
                "model_s": model_s, "model_calls": colorizer.timing.calls,
                "model_busy_share": model_s / summary.seconds, "process_cpu_s": cpu_s}

    return run_pass


def _peer_passes(colorizer, jobs, threads, torch_checkpoint, unavailable: dict) -> dict:
    """The plain-loop pipelines that can run here (see :mod:`colorfuse.benchmarks.peers`)."""
    from colorfuse.benchmarks import peers
    from colorfuse.engine.machine import physical_cores

    card, max_side = colorizer.card, colorizer.max_side
    predictors = {"onnxruntime plain loop": lambda: peers.onnxruntime_predictor(colorizer.model_path, card)}
    checkpoint = torch_checkpoint or peers.default_checkpoint(card)
    if checkpoint is None:
        unavailable["pytorch eager"] = f"no checkpoint of {card.name} (give --torch-checkpoint)"
    else:
        predictors["pytorch eager"] = lambda: peers.pytorch_predictor(checkpoint, card, threads or physical_cores())
    passes = {}
    for name, make in predictors.items():
        try:
            predict = make()
        except Exception as exc:  # noqa: BLE001 - a peer that cannot run is reported, not fatal
            unavailable[name] = f"{type(exc).__name__}: {exc}"
            continue
        predict(*peers.working_inputs(card, np.full((64, 64), 50, np.float32), max_side)[:2])  # warm-up

        def run_pass(predict=predict) -> dict:
            cpu_start = time.process_time()
            with tempfile.TemporaryDirectory(prefix="colorfuse-peer-") as out_dir:
                seconds = peers.run_plain(jobs, Path(out_dir), card, predict, max_side)
            return {"images": len(jobs), "seconds": seconds, "images_per_s": len(jobs) / seconds,
                    "process_cpu_s": time.process_time() - cpu_start}

        passes[name] = run_pass
    return passes


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
    ] + _peers_markdown(data) + (stages_markdown(data["stages"]) if data.get("stages") else [])) + "\n"


def _peers_markdown(data: dict) -> list[str]:
    """The side-by-side table: colorfuse and each peer pipeline, images/s per pass and the speedup."""
    peers = data.get("peer_passes") or {}
    lines = [""]
    if data.get("variant"):
        lines += [f"Variant: {data['variant']} (--precision {data['settings']['precision']} --runtime "
                  f"{data['settings']['runtime']}: {data['variant_reason']}). Inputs: {data['settings']['inputs']}.", ""]
    if not peers and not data.get("peers_unavailable"):
        return lines
    rows = [["colorfuse", " / ".join(f"{p['images_per_s']:.2f}" for p in data["passes"]),
             f"{data['images_per_s']:.2f}", "1.00"]]
    for name, passes in peers.items():
        rate = data["peer_images_per_s"][name]
        rows.append([name, " / ".join(f"{p['images_per_s']:.2f}" for p in passes), f"{rate:.2f}",
                     f"{data['speedup_over_peers'][name]:.2f}"])
    lines += ["Side by side in one run, passes in turn (colorfuse, then each peer), same photos, same model, "
              "same threads; peers: Pillow decode, OpenCV Lab, bilinear chroma, Pillow encode, one photo at a time.", "",
              report.markdown_table(["pipeline", "images/s per pass", "median images/s", "colorfuse speedup"], rows)]
    lines += [f"Not run: {name}: {why}." for name, why in (data.get("peers_unavailable") or {}).items()]
    return lines


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
