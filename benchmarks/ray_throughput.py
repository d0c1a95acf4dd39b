"""Ray throughput: images/s of ``colorize --ray`` with 1 and 2 local workers vs the single-machine run.

Each model colorizes two folders of real JPEGs (the first N/3 and the first N validation photos)
with the single-machine ``colorize_collection`` (one onnxruntime session, default threads, 2 I/O
threads), then with ``colorize_on_ray`` on a fresh local Ray instance per worker count. A Ray
instance gets ``workers + 1`` logical CPUs: one per single-thread worker plus the one the worker
plan keeps for decoding and writing (so 2 workers oversubscribe a 2-core machine; the JSON says
so). Reported per run: Ray's start-up, a first (cold) run of the small folder that also starts
Ray's worker processes, then for each folder the time to the first result (actors loading the
model) and images/s (actor start-up included, Ray start-up not), and the marginal images/s of the
large run's extra images (fixed costs cancel: the rate a long job approaches), and whether the
outputs are byte-identical to the single-machine ones.

    python -m colorfuse.benchmarks.ray_throughput --model unet.onnx --images 48
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from colorfuse.engine.atomic import write_json_atomic
from colorfuse.engine.machine import describe_machine, load_average

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "val" / "imagenet_samples"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "ray-cpu.json"


def photo_folder(source: Path, count: int, folder: Path) -> Path:
    """``folder`` with links to the first ``count`` JPEGs of ``source``."""
    photos = sorted(source.glob("*.jpg"))[:count]
    if len(photos) < count:
        raise SystemExit(f"{source}: {len(photos)} JPEGs, {count} wanted")
    folder.mkdir(parents=True)
    for photo in photos:
        (folder / photo.name).symlink_to(photo)
    return folder


def _timing(summary, count: int) -> dict:
    return {"images": summary.done, "failed": len(summary.failed), "seconds": round(summary.seconds, 3),
            "images_per_s": round(summary.done / summary.seconds, 2), "planned": count}


def marginal(small: dict, large: dict) -> float | None:
    """Images/s of the extra images of the large run: fixed costs (start-up, model load) cancel."""
    extra_s = large["seconds"] - small["seconds"]
    return round((large["images"] - small["images"]) / extra_s, 2) if extra_s > 0 else None


def single_run(model, folders: dict, scratch: Path, max_side, batch_size: int) -> dict:
    from colorfuse.engine.batch import colorize_collection
    from colorfuse.engine.collection import iter_jobs
    from colorfuse.engine.colorizer import Colorizer

    result = {}
    for size, (folder, count) in folders.items():
        start = time.perf_counter()
        colorizer = Colorizer(model, device="cpu", max_side=max_side, batch_size=batch_size)
        load_s = time.perf_counter() - start
        summary = colorize_collection(colorizer, iter_jobs([folder]), scratch / f"single-{size}", workers=2)
        result[size] = {**_timing(summary, count), "model_load_s": round(load_s, 3)}
    result["marginal_images_per_s"] = marginal(result["small"], result["large"])
    return result


def ray_run(model, folders: dict, scratch: Path, workers: int, max_side, batch_size: int) -> dict:
    import ray

    from colorfuse.engine.distributed import colorize_on_ray
    from colorfuse.engine.settings import RunSettings

    start = time.perf_counter()
    ray.init(num_cpus=workers + 1, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    result = {"workers": workers, "ray_logical_cpus": workers + 1, "ray_start_s": round(time.perf_counter() - start, 2)}
    try:  # the first run in a fresh instance also starts Ray's worker processes: a warm-up, reported
        for size, (folder, count) in [("cold_small", folders["small"]), *folders.items()]:
            arrivals: list[float] = []
            begin = time.perf_counter()
            settings = RunSettings(model, device="cpu", max_side=max_side, batch_size=batch_size)
            summary = colorize_on_ray([folder], scratch / f"ray{workers}-{size}", settings, workers=workers,
                                      on_outcome=lambda outcome: arrivals.append(time.perf_counter()))
            result[size] = {**_timing(summary, count), "first_result_s": round(arrivals[0] - begin, 2)}
    finally:
        ray.shutdown()
    result["marginal_images_per_s"] = marginal(result["small"], result["large"])
    return result


def compare(expected: Path, got: Path) -> dict:
    """How many outputs are byte-identical, and the largest pixel difference of the others."""
    from PIL import Image

    names = sorted(p.relative_to(expected) for p in expected.rglob("*.jpg"))
    identical, worst = 0, 0
    for name in names:
        if (expected / name).read_bytes() == (got / name).read_bytes():
            identical += 1
            continue
        a, b = (np.asarray(Image.open(folder / name), dtype=np.int16) for folder in (expected, got))
        worst = max(worst, int(np.abs(a - b).max()))
    return {"files": len(names), "byte_identical": identical, "max_pixel_difference": worst}


def measure_model(model, photos: Path, count: int, worker_counts, max_side, batch_size: int, scratch: Path) -> dict:
    from colorfuse.engine.card import read_card
    from colorfuse.engine.models import resolve_model

    card = read_card(resolve_model(model))
    small = max(batch_size, count // 3)
    folders = {"small": (photo_folder(photos, small, scratch / "photos-small"), small),
               "large": (photo_folder(photos, count, scratch / "photos-large"), count)}
    result = {"model": card.name, "architecture": card.architecture, "parameters": card.parameters,
              "max_side": max_side if max_side is not None else card.default_max_side, "batch_size": batch_size,
              "load_average_before": load_average()}
    result["single_machine"] = single = single_run(model, folders, scratch, max_side, batch_size)
    print(json.dumps(single), flush=True)
    result["ray"] = []
    for workers in worker_counts:
        run = ray_run(model, folders, scratch, workers, max_side, batch_size)
        run["versus_single_machine"] = compare(scratch / "single-large", scratch / f"ray{workers}-large")
        if run["marginal_images_per_s"] and single["marginal_images_per_s"]:
            run["marginal_vs_single_machine"] = round(run["marginal_images_per_s"] / single["marginal_images_per_s"], 2)
        result["ray"].append(run)
        print(json.dumps(run), flush=True)
    result["load_average_after"] = load_average()
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model name or .onnx path (repeatable; default: the default)")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--workers", default="1,2", help="comma-separated Ray worker counts")
    parser.add_argument("--max-side", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    import ray

    results = {"benchmark": "ray_throughput", "machine": describe_machine(), "ray": ray.__version__,
               "photos": str(args.photos), "images": args.images, "models": []}
    for model in args.model or [None]:
        scratch = Path(tempfile.mkdtemp(prefix="colorfuse-ray-bench-"))
        try:
            results["models"].append(measure_model(model, args.photos, args.images,
                                                   [int(w) for w in args.workers.split(",")],
                                                   args.max_side, args.batch_size, scratch))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    write_json_atomic(results, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
