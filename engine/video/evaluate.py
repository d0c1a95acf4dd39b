"""Scoring temporal consistency on a colour clip (``colorfuse eval-video``).

The clip is decoded as RGB, turned to gray (BT.601 luma, what a gray video's Y plane holds) and
colorized twice in the same pass: ``naive`` (temporal plugins off) and ``consistent`` (on).
PSNR against the real colours and flicker (see :mod:`.metrics`) are reported for the gray input,
the real colours (flicker only), and both runs.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from colorfuse.engine import lab
from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.video.metrics import ClipMetrics
from colorfuse.engine.video.pipeline import FrameColorizer, batches
from colorfuse.engine.video.reader import FfmpegReader

OFF = {"temporal_global": False, "temporal_flow": False}
ON = {"temporal_global": True, "temporal_flow": True}


def machine_info() -> dict:
    """CPU model, core count and OS, for reports."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform()}


def write_json_atomic(data: dict, path) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=1)
            stream.write("\n")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def evaluate_clip(clip, model=None, device: str = "auto", max_side: int | None = None, batch_size: int = 8,
                  start: float | None = None, end: float | None = None, options: dict | None = None,
                  on_total: Callable[[int | None], None] | None = None,
                  on_batch: Callable[[int], None] | None = None) -> dict:
    """Colorize ``clip`` naively and consistently; return the figures as a JSON-ready dict."""
    options = options or {}
    runs = {name: Colorizer(model, device=device, max_side=max_side, batch_size=batch_size,
                            options={**options, **switches, "timing": {}})
            for name, switches in (("naive", OFF), ("consistent", ON))}
    engines = {name: FrameColorizer(colorizer) for name, colorizer in runs.items()}
    seconds = {name: 0.0 for name in runs}
    metrics = ClipMetrics()
    reader = FfmpegReader(clip, "rgb24", start, end)
    if on_total:
        on_total(reader.expected_frames)
    frames, saturation, size = 0, [], None
    for batch in batches(reader, batch_size):
        references = [frame.image for frame in batch]
        grays = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in references]
        results = {}
        for name, engine in engines.items():
            tick = time.perf_counter()
            results[name] = engine.process([replace(frame, image=gray, state={}) for frame, gray in zip(batch, grays)])
            seconds[name] += time.perf_counter() - tick
        for index, (reference, gray) in enumerate(zip(references, grays)):
            saturation.append(float(np.mean(cv2.cvtColor(reference, cv2.COLOR_RGB2HSV)[:, :, 1])))
            outputs = {"gray": cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), "reference": reference,
                       **{name: result[index] for name, result in results.items()}}
            metrics.update(lab.luminance(gray), outputs, reference)
        frames += len(batch)
        size = size or (references[0].shape[1], references[0].shape[0])
        if on_batch:
            on_batch(len(batch))
    card = runs["naive"].card
    report = {"clip": str(clip), "frames": frames, "size": list(size or (0, 0)), "flow_pairs": metrics.pairs,
              "steady_pixel_fraction": float(np.mean(metrics.masked_fraction)) if metrics.masked_fraction else None,
              "mean_hsv_saturation": float(np.mean(saturation)) if saturation else None,
              "model": {"name": card.name, "version": card.version, "path": str(runs["naive"].model_path),
                        "max_side": runs["naive"].max_side, "device": runs["naive"].device},
              "shots": engines["consistent"].shot_count, "options": options, "runs": {}}
    for name in ("gray", "reference", "naive", "consistent"):
        entry = {"flicker": metrics.flicker(name)}
        if name != "reference":
            entry["psnr_db"] = metrics.mean_psnr(name)
        if name in seconds:
            entry["frames_per_s"] = frames / seconds[name] if seconds[name] else None
        report["runs"][name] = entry
    naive, consistent = report["runs"]["naive"], report["runs"]["consistent"]
    if naive["flicker"] and consistent["flicker"] is not None:
        report["flicker_reduction"] = 1.0 - consistent["flicker"] / naive["flicker"]
    if naive["psnr_db"] is not None and consistent["psnr_db"] is not None:
        report["psnr_change_db"] = consistent["psnr_db"] - naive["psnr_db"]
    return report
