"""Evaluating models on real colour photos: run, summarise, and present (table, grid, report).

Each photo is turned gray (its Lab L with a = b = 0), every model colorizes that gray image,
and :func:`colorfuse.evaluation.quality.compare` scores each result against the original. The
gray image itself is scored too, as the baseline row. The figures and their meaning are in
:mod:`colorfuse.evaluation.quality`.
"""

from __future__ import annotations

import datetime
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from colorfuse.engine import lab
from colorfuse.evaluation import quality
from colorfuse.engine.collection import Job
from colorfuse.errors import ColorfuseError, ImageReadError, ModelNotFoundError
from colorfuse.engine.imagefiles import read_image
from colorfuse.engine.machine import machine_summary

BASELINE = "gray (a=b=0)"
GRID_CELL = 256


@dataclass
class Contestant:
    """One row of the table: a model (or the gray baseline, ``colorizer`` None) and its file."""

    name: str
    colorizer: object = None
    path: Path | None = None
    parameters: int | None = None
    size_mb: float | None = None
    figures: list[dict] = field(default_factory=list)  # one dict per evaluated photo
    seconds: list[float] = field(default_factory=list)  # colorizing time per photo


@dataclass
class Evaluation:
    """Everything one run measured: the contestants' figures, the photos, the failures."""

    contestants: list[Contestant]
    photos: list[dict] = field(default_factory=list)  # file, width, height
    failed: list[dict] = field(default_factory=list)  # file, error
    previews: list[tuple[str, list[np.ndarray], np.ndarray]] = field(default_factory=list)
    seconds: float = 0.0


def load_contestants(specs: Iterable[str], device: str = "auto", max_side: int | None = None) -> list[Contestant]:
    """The baseline plus a :class:`Contestant` per model (names or ``.onnx`` paths; none: all registered)."""
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.engine.models import registered_models

    specs = list(specs) or sorted(registered_models())
    if not specs:
        raise ModelNotFoundError("no model is registered: give one with --model NAME or --model PATH.onnx")
    looks = [split_look(spec) for spec in specs]
    stems = [(Path(m).stem if m.endswith(".onnx") else m) + (f"@{look}" if look else "") for m, look in looks]
    contestants = [Contestant(BASELINE)]
    for spec, (model, look), stem in zip(specs, looks, stems):
        colorizer = Colorizer(model, device=device, max_side=max_side, batch_size=1, look=look)
        name = stem if stems.count(stem) == 1 else spec
        path = colorizer.model_path  # None for a model a plugin provides
        contestants.append(Contestant(name, colorizer, path, colorizer.card.parameters,
                                      round(path.stat().st_size / 1e6, 3) if path else None))
    return contestants


def split_look(spec: str) -> tuple[str, str | None]:
    """``NAME@LOOK`` -> (NAME, LOOK); a spec without a look -> (spec, None)."""
    model, sep, look = spec.rpartition("@")
    if sep and model and look and "/" not in look and not look.endswith(".onnx"):
        return model, look
    return spec, None


def gray_version(rgb: np.ndarray) -> np.ndarray:
    """The photo with its colour removed: Lab L kept, a = b = 0, as RGB uint8."""
    lum = lab.luminance(rgb)
    return lab.lab_to_rgb8(lum, np.zeros(lum.shape + (2,), np.float32))


def read_colour_photo(path) -> np.ndarray:
    """Read ``path`` as RGB uint8; :class:`ImageReadError` when it is unreadable or has no colour."""
    image = read_image(path)
    if image.ndim == 2:
        raise ImageReadError(f"{path}: grayscale image, not a colour photo")
    if image.dtype == np.uint16:
        image = (image.astype(np.uint32) * 255 + 32767) // 65535
        image = image.astype(np.uint8)
    if np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 1], image[:, :, 2]):
        raise ImageReadError(f"{path}: no colour in this image (R = G = B everywhere)")
    return image


def _colorize(contestant: Contestant, gray: np.ndarray, warm: bool) -> np.ndarray:
    try:
        if not warm:  # the first call of a session allocates; keep it out of the timing
            contestant.colorizer.colorize(gray)
        start = time.perf_counter()
        result = contestant.colorizer.colorize(gray)
    except (ColorfuseError, ValueError) as exc:
        raise ColorfuseError(f"model {contestant.name} failed: {exc}") from exc
    contestant.seconds.append(time.perf_counter() - start)
    return result


def evaluate(jobs: Iterable[Job], contestants: list[Contestant], max_images: int | None = None,
             previews: int = 0, on_photo: Callable[[str, str | None], None] | None = None) -> Evaluation:
    """Score every contestant on each readable colour photo of ``jobs`` (at most ``max_images``).

    A photo that cannot be read, has no colour, or makes a model fail is recorded in
    ``failed`` and left out of every row. ``on_photo(file, error)`` is called per photo.
    """
    run = Evaluation(contestants)
    start = time.perf_counter()
    for job in jobs:
        if max_images is not None and len(run.photos) >= max_images:
            break
        try:
            if job.error:
                raise ImageReadError(job.error)
            truth = read_colour_photo(job.source)
            gray = gray_version(truth)
            outputs = [gray if c.colorizer is None else _colorize(c, gray, bool(run.photos)) for c in contestants]
        except (ColorfuseError, ValueError) as exc:
            message = str(exc) if str(job.source) in str(exc) else f"{job.source}: {exc}"
            run.failed.append({"file": str(job.source), "error": message})
            for contestant in contestants:  # keep the timings aligned with the photos
                del contestant.seconds[len(run.photos):]
            if on_photo:
                on_photo(str(job.source), message)
            continue
        reference = quality.Reference.of(truth)
        for contestant, output in zip(contestants, outputs):
            contestant.figures.append(quality.compare(output, reference))
        run.photos.append({"file": str(job.source), "width": truth.shape[1], "height": truth.shape[0]})
        if len(run.previews) < previews:
            run.previews.append((job.relative.as_posix(), outputs, truth))
        if on_photo:
            on_photo(str(job.source), None)
    run.seconds = time.perf_counter() - start
    return run


# ---- summary ------------------------------------------------------------------------------------
def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def means(contestant: Contestant) -> dict[str, float]:
    """Mean of each figure over the photos, plus ``ms_per_image``.

    ``colorfulness_ratio`` here is the ratio of the mean colourfulness of the results to that
    of the truths (a mean of per-photo ratios would be dominated by nearly gray photos).
    """
    summary = {name: _mean([f[name] for f in contestant.figures]) for name in quality.FIGURES}
    truth = summary["colorfulness_truth"]
    summary["colorfulness_ratio"] = summary["colorfulness"] / truth if truth else math.nan
    summary["ms_per_image"] = _mean(contestant.seconds) * 1e3 if contestant.seconds else None
    return summary


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def summarise(run: Evaluation, settings: dict | None = None) -> dict:
    """The JSON document of a run: settings, machine, photos, failures, and per model the means
    and per-photo figures. Non-finite numbers (PSNR of identical images) become null."""
    models = []
    for contestant in run.contestants:
        colorizer = contestant.colorizer
        models.append({
            "name": contestant.name, "baseline": colorizer is None,
            "path": str(contestant.path) if contestant.path else None,
            "architecture": colorizer.card.architecture if colorizer else None,
            "version": colorizer.card.version if colorizer else None,
            "device": colorizer.device if colorizer else None,
            "parameters": contestant.parameters, "size_mb": contestant.size_mb,
            "mean": means(contestant),
            "per_photo": [{"file": photo["file"], **figures, "ms": seconds * 1e3 if seconds is not None else None}
                          for photo, figures, seconds in
                          zip(run.photos, contestant.figures, contestant.seconds or [None] * len(run.photos))],
        })
    return _finite({
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_summary(), "settings": settings or {}, "seconds": run.seconds,
        "evaluated": len(run.photos), "skipped": len(run.failed),
        "photos": run.photos, "failed": run.failed, "models": models,
    })


# ---- presentation ---------------------------------------------------------------------------------
COLUMNS = (  # header, key in a model's summary, format
    ("model", "name", "{}"), ("params", "parameters", "{:,}"), ("MB", "size_mb", "{:.3g}"),
    ("PSNR dB", "psnr", "{:.2f}"), ("SSIM", "ssim", "{:.4f}"), ("AuC", "auc", "{:.4f}"),
    ("colourful.", "colorfulness", "{:.1f}"), ("vs truth", "colorfulness_diff", "{:+.1f}"),
    ("ratio", "colorfulness_ratio", "{:.2f}"), ("sat. diff", "saturation_diff", "{:.3f}"),
    ("ms/img", "ms_per_image", "{:.1f}"),
)


def _cells(model: dict) -> list[str]:
    values = {**model["mean"], "name": model["name"], "parameters": model["parameters"], "size_mb": model["size_mb"]}
    return ["-" if values[key] is None else fmt.format(values[key]) for _, key, fmt in COLUMNS]


def format_table(doc: dict, markdown: bool = False) -> str:
    """The means of every model as an aligned text table, or a markdown table."""
    headers = [header for header, _, _ in COLUMNS]
    rows = [_cells(model) for model in doc["models"]]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(row[i]) for row in rows + [headers]) for i in range(len(headers))]

    def line(row):
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))

    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(row) for row in rows])


def truth_line(doc: dict) -> str:
    """One line on the photos: how many, and the ground truth's mean colourfulness."""
    truth = doc["models"][0]["mean"]["colorfulness_truth"]
    shown = "-" if truth is None else f"{truth:.1f}"
    return f"{doc['evaluated']} photos evaluated, {doc['skipped']} skipped; mean ground-truth colourfulness {shown}"


def render_report(doc: dict) -> str:
    """A markdown report: when, where, on what, the table, the model files and skipped photos."""
    machine, settings = doc["machine"], doc["settings"]
    lines = [
        "# colorfuse eval", "",
        f"- date: {doc['date']}",
        f"- machine: {machine['cpu']}, {machine['cores']} cores ({machine['os']}, Python {machine['python']})",
        f"- photos: {doc['evaluated']} evaluated, {doc['skipped']} skipped, from {', '.join(settings.get('inputs', []))}",
        f"- settings: device {settings.get('device')}, max side {settings.get('max_side') or 'card default'}",
        f"- total time: {doc['seconds']:.1f} s", "",
        format_table(doc, markdown=True), "",
        truth_line(doc) + ". PSNR and SSIM on RGB (data range 255); AuC of the cumulative ab-error curve, thresholds 0 to 150 "
        "(Zhang et al. 2016); colourfulness of Hasler & Süsstrunk, result minus truth, and the ratio of the means; "
        "sat. diff = |sum S_result - sum S_truth| / sum S_truth (HSV); ms/img = colorizing one gray photo.", "",
        "## Models", "", "| model | architecture | version | device | parameters | file MB | path |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for model in doc["models"][1:]:
        lines.append(f"| {model['name']} | {model['architecture']} | {model['version']} | {model['device']} | "
                     f"{model['parameters']:,} | {_cells(model)[2]} | {model['path'] or '-'} |")
    if doc["failed"]:
        lines += ["", "## Skipped photos", ""] + [f"- {item['error']}" for item in doc["failed"]]
    return "\n".join(lines) + "\n"


def render_grid(run: Evaluation, cell: int = GRID_CELL) -> np.ndarray:
    """Rows of photos, columns gray | each model | truth, each result captioned with its scores."""
    from colorfuse.engine.grid import make_grid

    rows, captions = [], []
    for index, (label, outputs, truth) in enumerate(run.previews):
        rows.append((label, [*outputs, truth]))
        scores = [c.figures[index] for c in run.contestants]
        captions.append([f"{f['psnr']:.1f} dB  AuC {f['auc']:.3f}  colour {f['colorfulness']:.0f}" for f in scores]
                        + [f"colour {scores[0]['colorfulness_truth']:.0f}"])
    titles = ["gray input" if c.colorizer is None else c.name for c in run.contestants] + ["truth"]
    return make_grid(rows, titles, cell=cell, captions=captions)

