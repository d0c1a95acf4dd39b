"""The quality front of a model: PSNR gain over gray against colourfulness, over looks.

A model's output can be scaled (more or less colour) and, for models with several ab outputs,
mixed. Each (mix, scale) is a point: PSNR of the result minus PSNR of the gray image, and the
mean colourfulness of the results over that of the real photos. The model runs once per photo;
every point reuses its outputs, so a sweep costs one model run plus one finishing step per point.
These points are how a model's looks (see :mod:`colorfuse.engine.card`) are chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from colorfuse.evaluation import quality
from colorfuse.engine.colorizer import Colorizer
from colorfuse.errors import ColorfuseError
from colorfuse.evaluation.scoring import gray_version, read_colour_photo
from colorfuse.engine.hints import complete_feeds

SCALES = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
MIXES = (0.0, 0.25, 0.5, 0.75, 1.0)  # weight of the second output (1 - weight on the first)
X_MAX, Y_MIN = 150, -3.0  # the plot's window: points beyond are in the JSON, not drawn


@dataclass
class Point:
    """One (mix, scale) of one model, with its per-photo PSNR and colourfulness."""

    model: str
    mix: dict[str, float]
    scale: float
    look: str | None = None  # the name of the card's look this point is
    psnr: list[float] = field(default_factory=list)
    colorfulness: list[float] = field(default_factory=list)

    def summary(self, gray_psnr: float, truth_colorfulness: float) -> dict:
        psnr = math.fsum(self.psnr) / len(self.psnr)
        colour = math.fsum(self.colorfulness) / len(self.colorfulness)
        return {"model": self.model, "look": self.look, "mix": self.mix, "scale": self.scale, "psnr": psnr,
                "psnr_gain": psnr - gray_psnr, "colorfulness": colour,
                "colorfulness_ratio": colour / truth_colorfulness if truth_colorfulness else math.nan}


def sweep_points(name: str, outputs: list[str], scales=SCALES, mixes=MIXES) -> list[Point]:
    """Every scale of the first output, and with two outputs every mix of them at every scale."""
    if len(outputs) == 1:
        return [Point(name, {outputs[0]: 1.0}, s) for s in scales]
    first, second = outputs[:2]
    return [Point(name, {first: 1 - w, second: w} if 0 < w < 1 else {second if w else first: 1.0}, s)
            for w in mixes for s in scales]


def _all_outputs(colorizer: Colorizer, gray: np.ndarray, names: list[str]):
    item = colorizer.prepare(gray)
    feeds = {colorizer.card.input_name("L"): item.padded[None]}
    if item.global_view is not None:
        feeds[colorizer.card.input_name("L_global")] = item.global_view[None]
    values = colorizer.model_session.session.run(names, complete_feeds(colorizer.card, feeds))
    return item, {n: v[0] for n, v in zip(names, values)}


def measure(models: dict[str, Colorizer], photos: Iterable, points: dict[str, list[Point]],
            on_photo: Callable[[str, str | None], None] | None = None) -> dict:
    """Run every model once per photo and score every point; returns the figures document."""
    gray_psnr, truth_colour, used, failed = [], [], [], []
    for path in photos:
        try:
            truth = read_colour_photo(path)
        except (ColorfuseError, ValueError) as exc:
            failed.append({"file": str(path), "error": str(exc)})
            if on_photo:
                on_photo(str(path), str(exc))
            continue
        gray = gray_version(truth)
        gray_psnr.append(quality.psnr(gray, truth))
        truth_colour.append(quality.colorfulness(truth))
        for name, colorizer in models.items():
            outputs = [spec.name for spec in colorizer.card.outputs]
            item, values = _all_outputs(colorizer, gray, outputs)
            for point in points[name]:
                item.ab = sum(np.float32(w) * values[o] for o, w in point.mix.items()) * np.float32(point.scale)
                result = colorizer.finish(item)
                point.psnr.append(quality.psnr(result, truth))
                point.colorfulness.append(quality.colorfulness(result))
        used.append(str(path))
        if on_photo:
            on_photo(str(path), None)
    if not used:
        raise ColorfuseError(f"no photo could be evaluated ({len(failed)} skipped)")
    gray_mean = math.fsum(gray_psnr) / len(gray_psnr)
    truth_mean = math.fsum(truth_colour) / len(truth_colour)
    rows = [p.summary(gray_mean, truth_mean) for name in models for p in points[name]]
    return {
        "photos": len(used), "failed": failed, "gray_psnr": gray_mean, "truth_colorfulness": truth_mean,
        "points": [r for r in rows if not r["look"]], "looks": [r for r in rows if r["look"]],
    }


def keep_points(doc: dict, earlier: dict) -> None:
    """Add the points and looks of ``earlier`` (a figures document on the same photos) to ``doc``,
    except those of models ``doc`` measured again; ValueError when the photos differ."""
    same = earlier["photos"] == doc["photos"] and math.isclose(earlier["gray_psnr"], doc["gray_psnr"], abs_tol=1e-6)
    if not same:
        raise ValueError(f"measured on other photos ({earlier['photos']} photos, gray PSNR {earlier['gray_psnr']:.4f} "
                         f"dB; here {doc['photos']}, {doc['gray_psnr']:.4f} dB)")
    measured = {p["model"] for p in doc["points"] + doc["looks"]}
    for key in ("points", "looks"):
        doc[key] += [p for p in earlier.get(key, []) if p["model"] not in measured]


def plot_front(doc: dict, path, title: str = "") -> None:
    """PSNR gain over gray (y) against colourfulness / truth (x): a line per model and mix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    lines: dict[tuple, list[dict]] = {}
    for point in doc["points"]:
        mix = ", ".join(f"{w:g} {o}" for o, w in point["mix"].items())
        lines.setdefault((point["model"], mix), []).append(point)
    for (model, mix), pts in lines.items():
        pts = sorted(pts, key=lambda p: p["scale"])
        x = [100 * p["colorfulness_ratio"] for p in pts]
        ax.plot(x, [p["psnr_gain"] for p in pts], marker="o", markersize=3, label=f"{model}: {mix}")
        for p, xi in zip(pts, x):
            ax.annotate(f"x{p['scale']:g}", (xi, p["psnr_gain"]), fontsize=6, alpha=0.7)
    for look in doc.get("looks", []):
        ax.scatter([100 * look["colorfulness_ratio"]], [look["psnr_gain"]], marker="*", s=160, zorder=5,
                   edgecolors="black", label=f"{look['model']} look {look['look']}")
    shown = doc["points"] + doc.get("looks", [])
    ax.set_xlim(0, min(X_MAX, max(100 * p["colorfulness_ratio"] for p in shown) + 5))
    ax.set_ylim(max(Y_MIN, min(p["psnr_gain"] for p in shown) - 0.2), max(p["psnr_gain"] for p in shown) + 0.2)
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.axvline(100, color="gray", linewidth=0.8, linestyle=":")
    ax.set_xlabel("colourfulness, % of the real photos'")
    ax.set_ylabel("PSNR gain over the gray image (dB)")
    ax.set_title(title or f"quality front on {doc['photos']} photos (labels: ab scale)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


LOOK_FLOORS = {"natural": 0.5, "rich": 0.6, "vivid": 0.8}  # least colourfulness / truth for each look


def choose_looks(doc: dict, model: str, floors: dict[str, float] = LOOK_FLOORS, margin: float = 0.0) -> dict:
    """Per look, the point of ``model`` with the best PSNR gain among those at least as colourful
    as the look's floor times ``1 + margin`` (the most colourful point when none is); the first
    look is the default. A margin of ``--precision auto``'s colourfulness limit keeps every variant
    auto may run above the floor. Returns the ``--looks`` document of ``colorfuse export`` with
    the measured figures."""
    points = [p for p in doc["points"] if p["model"] == model]
    if not points:
        raise ColorfuseError(f"no measured points of model {model!r}")
    looks, figures = {}, {}
    for name, floor in floors.items():
        eligible = [p for p in points if p["colorfulness_ratio"] >= floor * (1 + margin)]
        best = max(eligible, key=lambda p: p["psnr_gain"]) if eligible else max(points, key=lambda p: p["colorfulness_ratio"])
        mix = ", ".join(f"{w:g} {o}" for o, w in best["mix"].items())
        looks[name] = {"mix": best["mix"], "scale": best["scale"],
                       "description": f"best PSNR at >= {floor:.0%} of real colourfulness: {best['scale']:g} x ({mix})"}
        figures[name] = {"psnr_gain": best["psnr_gain"], "colorfulness_ratio": best["colorfulness_ratio"],
                         "photos": doc["photos"]}
    return {"looks": looks, "default_look": next(iter(floors)), "evaluation": {"looks": figures}}
