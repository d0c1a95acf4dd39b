"""Scoring temporal consistency on a colour clip (``colorfuse eval-video``).

The clip is decoded as RGB, turned to gray (BT.601 luma, what a gray video's Y plane holds) and
colorized twice in the same pass: ``naive`` (temporal plugins off) and ``consistent`` (on).
PSNR against the real colours, flicker and CDC (see :mod:`.metrics`) are reported for the gray
input, the real colours (flicker and CDC only), and both runs. ``jitter`` adds known, model-like
flicker to both runs, to test the temporal plugins when the model itself hardly flickers.

``hint_every`` N > 0 adds a third run, ``hinted``: ``consistent`` given ``hint_count`` hints from
the truth on every N-th frame (1, N + 1, 2N + 1, ...; 7x7 patches at uniform random points, seeded, each
the truth's mean colour there), carried along the flow as ``colorfuse video --hints`` carries
them. Its PSNR gain over ``consistent`` is reported frame by frame, and its flicker as a ratio.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import cv2
import numpy as np

from colorfuse.engine import lab
from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.hints import Hint, require_hints
from colorfuse.evaluation.video_metrics import ClipMetrics
from colorfuse.engine.video.pipeline import FrameColorizer, batches
from colorfuse.engine.video.reader import FfmpegReader
from colorfuse.plugins import hookimpl
from colorfuse.plugins.manager import get_plugin_manager

OFF = {"temporal_global": False, "temporal_flow": False}
ON = {"temporal_global": True, "temporal_flow": True}
JITTER_PLUGIN = "colorfuse-eval-jitter"


class Jitter:
    """A stress test for the temporal plugins: fresh low-frequency noise on every frame's prediction.

    Added to the model output (its units: ab / ab_scale) as a 4x4 grid of N(0, ``std``) values
    interpolated over the frame, the way a network's colour choices wobble between frames. Every
    colorizer gets the same noise sequence (one generator per wrapped runner, same seed).
    """

    def __init__(self, std: float, seed: int = 0):
        self.std, self.seed = std, seed

    @hookimpl
    def wrap_runner(self, runner, card, options):
        rng = np.random.default_rng(self.seed)

        def jittered(feeds):
            output = runner(feeds)
            noise = rng.normal(0.0, self.std, output.shape[:2] + (4, 4)).astype(np.float32)
            height, width = output.shape[2:]
            field = [[cv2.resize(channel, (width, height), interpolation=cv2.INTER_CUBIC) for channel in item]
                     for item in noise]
            return output + np.asarray(field, dtype=output.dtype)

        return jittered


TRUTH_HINT_RADIUS = 3


def truth_hints(reference: np.ndarray, count: int, rng: np.random.Generator) -> list[Hint]:
    """``count`` hints at uniform random points of the RGB ``reference``, each its mean colour over the
    hint's square."""
    height, width = reference.shape[:2]
    r, hints = TRUTH_HINT_RADIUS, []
    for x, y in zip(rng.integers(0, width, count), rng.integers(0, height, count)):
        patch = reference[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1].reshape(-1, 3).mean(axis=0)
        hints.append(Hint(int(x), int(y), "#%02x%02x%02x" % tuple(int(round(v)) for v in patch), r))
    return hints


def _colorizers(model, device, max_side, batch_size, options, jitter, hinted) -> dict[str, Colorizer]:
    manager = get_plugin_manager()
    if jitter:
        manager.register(Jitter(jitter), name=JITTER_PLUGIN)
    try:
        # naive: every temporal plugin off; consistent: on, unless the user's options switch one off.
        settings = {"naive": {**options, **OFF}, "consistent": {**ON, **options}}
        if hinted:
            settings["hinted"] = settings["consistent"]
        return {name: Colorizer(model, device=device, max_side=max_side, batch_size=batch_size,
                                options=run_options)
                for name, run_options in settings.items()}
    finally:
        if jitter:
            manager.unregister(name=JITTER_PLUGIN)  # the runners above keep their wrapping


def evaluate_clip(clip, model=None, device: str = "auto", max_side: int | None = None, batch_size: int = 8,
                  start: float | None = None, end: float | None = None, options: dict | None = None,
                  jitter: float = 0.0, hint_every: int = 0, hint_count: int = 10, seed: int = 0,
                  on_total: Callable[[int | None], None] | None = None,
                  on_batch: Callable[[int], None] | None = None) -> dict:
    """Colorize ``clip`` naively and consistently (and with truth hints, ``hint_every`` > 0); return the
    figures as a JSON-ready dict.

    ``jitter`` > 0 adds :class:`Jitter` noise of that standard deviation to every run's predictions.
    """
    options = options or {}
    runs = _colorizers(model, device, max_side, batch_size, options, jitter, hint_every > 0)
    if hint_every > 0:
        require_hints(runs["hinted"].card)
    keyframes: dict[int, list[Hint]] = {}
    rng = np.random.default_rng(seed)
    engines = {name: FrameColorizer(colorizer, hints=keyframes if name == "hinted" else None)
               for name, colorizer in runs.items()}
    seconds = {name: 0.0 for name in runs}
    metrics = ClipMetrics()
    reader = FfmpegReader(clip, "rgb24", start, end)
    if on_total:
        on_total(reader.expected_frames)
    frames, saturation, size = 0, [], None
    for batch in batches(reader, batch_size):
        references = [frame.image for frame in batch]
        grays = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in references]
        for frame, reference in zip(batch, references):
            if hint_every > 0 and frame.index % hint_every == 0:
                keyframes[frame.index + 1] = truth_hints(reference, hint_count, rng)
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
              "shots": engines["consistent"].shot_count, "options": options, "jitter": jitter, "runs": {}}
    for name in ("gray", "reference", *runs):
        entry = {"flicker": metrics.flicker(name), "cdc": metrics.cdc(name)}
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
    if hint_every > 0:
        report["hints"] = _hinted_figures(metrics, engines["hinted"], hint_every, hint_count, seed)
    return report


def _hinted_figures(metrics: ClipMetrics, engine: FrameColorizer, every: int, count: int, seed: int) -> dict:
    """The hinted run against the automatic (``consistent``) one, frame by frame."""
    gains = np.subtract(metrics.frame_psnr("hinted"), metrics.frame_psnr("consistent"))
    hinted, automatic = metrics.flicker("hinted"), metrics.flicker("consistent")
    return {"every": every, "count": count, "seed": seed, "radius": TRUTH_HINT_RADIUS,
            "tracking": engine.tracker.summary(),
            "psnr_gain_db": {"mean": float(gains.mean()), "min": float(gains.min()), "max": float(gains.max()),
                             "frames_raised": int((gains > 0).sum()), "frames": int(gains.size)},
            "psnr_gain_per_frame_db": [round(float(g), 4) for g in gains],
            "flicker_ratio": hinted / automatic if hinted is not None and automatic else None}
