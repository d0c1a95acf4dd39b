"""How much colour hints help, scored as Zhang, Zhu et al. (SIGGRAPH 2017) scored them.

Each colour photo is resized to 256x256 and turned gray; the model runs at that size (so a hint
pixel is a photo pixel), given ``k`` hints drawn with a fixed seed: 6x6 patches at uniform
random positions, each the truth's mean ab over the patch. The figure is PSNR on 8-bit RGB
against the photo; the gain is over the same model with no hints. The hints of ``k`` are the
first ``k`` of one drawn sequence, so the curve adds hints rather than redrawing them. The
palette hint is scored the same way: the truth's own palette, against no hints, with the
colourfulness of the result against the truth's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import cv2
import numpy as np

from colorfuse.engine import hint_spread
from colorfuse.evaluation import quality
from colorfuse.errors import ColorfuseError
from colorfuse.evaluation.scoring import gray_version, read_colour_photo
from colorfuse.engine.hints import palette_input, require_hints

# Zhang et al. 2017, Table/Fig. of random-hint PSNR on 1,000 ImageNet photos (dB at k hints)
ZHANG_SIGGRAPH17 = {0: 24.43, 1: 25.37, 2: 26.20, 5: 27.39, 10: 28.42, 20: 29.34, 50: 30.42, 100: 31.13}
COUNTS = (0, 1, 2, 5, 10, 20, 50)
SIDE = 256
PATCH = 6


def photo_lab(rgb: np.ndarray, side: int = SIDE) -> tuple[np.ndarray, np.ndarray]:
    """The photo resized to ``side`` x ``side`` (RGB uint8) and its ab (H, W, 2) in ab units."""
    small = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    return small, lab[..., 1:]


def draw_points(seed: int, index: int, count: int, side: int = SIDE, patch: int = PATCH) -> np.ndarray:
    """``count`` top-left corners (y, x) of ``patch`` squares inside a ``side`` square."""
    rng = np.random.default_rng([seed, index])
    return rng.integers(0, side - patch + 1, size=(count, 2))


def truth_hints(ab: np.ndarray, points: np.ndarray, ab_scale: float, patch: int = PATCH):
    """(hint_ab (2, H, W), hint_mask (1, H, W)): each patch filled with the truth's mean ab there."""
    height, width = ab.shape[:2]
    hint_ab = np.zeros((2, height, width), np.float32)
    mask = np.zeros((1, height, width), np.float32)
    for y, x in points:
        mean = ab[y : y + patch, x : x + patch].reshape(-1, 2).mean(axis=0) / ab_scale
        hint_ab[:, y : y + patch, x : x + patch] = mean[:, None, None]
        mask[:, y : y + patch, x : x + patch] = 1
    return hint_ab, mask


@dataclass
class HintCurve:
    """Per hint count, the PSNR of every photo; the truth's and each count's colourfulness."""

    counts: tuple[int, ...]
    psnr: dict[int, list[float]] = field(default_factory=dict)
    colourfulness: dict[int, list[float]] = field(default_factory=dict)
    palette_psnr: list[float] = field(default_factory=list)
    palette_colourfulness: list[float] = field(default_factory=list)
    truth_colourfulness: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        mean = lambda values: float(np.mean(values)) if values else float("nan")  # noqa: E731
        truth = mean(self.truth_colourfulness)
        base = mean(self.psnr.get(0, []))
        rows = {str(k): {"psnr": mean(self.psnr[k]), "gain": mean(self.psnr[k]) - base,
                         "colourfulness_vs_truth": mean(self.colourfulness[k]) / truth,
                         "zhang_psnr": ZHANG_SIGGRAPH17.get(k),
                         "zhang_gain": ZHANG_SIGGRAPH17[k] - ZHANG_SIGGRAPH17[0] if k in ZHANG_SIGGRAPH17 else None}
                for k in self.counts}  # fmt: skip
        palette = {"psnr": mean(self.palette_psnr), "gain": mean(self.palette_psnr) - base,
                   "colourfulness_vs_truth": mean(self.palette_colourfulness) / truth} if self.palette_psnr else None
        return {"photos": len(self.truth_colourfulness), "failed": self.failed, "counts": rows,
                "truth_palette": palette}  # fmt: skip


def _run(colorizer, gray: np.ndarray, hints: list[dict | None]) -> list[np.ndarray]:
    """RGB results of one gray image under each set of hint inputs (None: no hints), in one batch."""
    items = []
    for given in hints:
        item = colorizer.prepare(gray)
        if item.shape_key != gray.shape[:2]:
            raise ColorfuseError(f"hint evaluation needs the model at {gray.shape[1]}x{gray.shape[0]} (max_side {SIDE})")
        item.hints = given
        item.unhinted = hint_spread.without_local_hints(item, colorizer.options) if given is not None else None
        items.append(item)
    colorizer.predict(items)
    return [colorizer.finish(item) for item in items]


def hint_curve(colorizer, photos: Iterable, counts: Iterable[int] = COUNTS, seed: int = 0, palette: bool = True,
               max_images: int | None = None, on_photo: Callable[[str, str | None], None] | None = None) -> HintCurve:
    """Score ``colorizer`` (run at max_side 256) on colour ``photos`` with 0..max(counts) hints."""
    require_hints(colorizer.card)
    counts = tuple(sorted(set(counts) | {0}))
    curve = HintCurve(counts, {k: [] for k in counts}, {k: [] for k in counts})
    scale = colorizer.card.hints["ab_scale"]
    done = 0
    for index, path in enumerate(photos):
        if max_images is not None and done >= max_images:
            break
        try:
            truth, ab = photo_lab(read_colour_photo(path))
        except ColorfuseError as exc:
            curve.failed.append(str(exc))
            on_photo and on_photo(str(path), str(exc))
            continue
        points = draw_points(seed, index, max(counts))
        no_palette = palette_input(colorizer.card, None)
        sets = []
        for k in counts:
            hint_ab, mask = truth_hints(ab, points[:k], scale)
            sets.append({"hint_ab": hint_ab, "hint_mask": mask, "palette": no_palette} if k else None)
        if palette:
            zeros = np.zeros((2, SIDE, SIDE), np.float32), np.zeros((1, SIDE, SIDE), np.float32)
            sets.append({"hint_ab": zeros[0], "hint_mask": zeros[1], "palette": palette_input(colorizer.card, ab)})
        results = _run(colorizer, gray_version(truth), sets)
        for k, result in zip(counts, results):
            curve.psnr[k].append(quality.psnr(result, truth))
            curve.colourfulness[k].append(quality.colorfulness(result))
        if palette:
            curve.palette_psnr.append(quality.psnr(results[-1], truth))
            curve.palette_colourfulness.append(quality.colorfulness(results[-1]))
        curve.truth_colourfulness.append(quality.colorfulness(truth))
        done += 1
        on_photo and on_photo(str(path), None)
    return curve


def hint_grid(colorizer, photos: list, hint_count: int = 10, seed: int = 0, cell: int = 200) -> np.ndarray:
    """Rows of photos; columns gray | no hints | ``hint_count`` truth hints (marked) | the truth's
    palette | the next photo's palette | truth, each result captioned with its PSNR."""
    from colorfuse.engine.grid import make_grid

    scale = colorizer.card.hints["ab_scale"]
    loaded = [photo_lab(read_colour_photo(path)) for path in photos]
    zeros = np.zeros((2, SIDE, SIDE), np.float32), np.zeros((1, SIDE, SIDE), np.float32)
    rows, captions = [], []
    for index, ((truth, ab), path) in enumerate(zip(loaded, photos)):
        points = draw_points(seed, index, hint_count)
        hint_ab, mask = truth_hints(ab, points, scale)
        other_truth, other_ab = loaded[(index + 1) % len(loaded)]
        sets = [None, {"hint_ab": hint_ab, "hint_mask": mask, "palette": palette_input(colorizer.card, None)},
                {"hint_ab": zeros[0], "hint_mask": zeros[1], "palette": palette_input(colorizer.card, ab)},
                {"hint_ab": zeros[0], "hint_mask": zeros[1], "palette": palette_input(colorizer.card, other_ab)}]
        gray = gray_version(truth)
        results = _run(colorizer, gray, sets)
        marked = results[1].copy()
        for y, x in points:
            cv2.rectangle(marked, (int(x) - 1, int(y) - 1), (int(x) + PATCH, int(y) + PATCH), (255, 255, 255), 1)
        thumb = cv2.resize(other_truth, (SIDE // 4, SIDE // 4), interpolation=cv2.INTER_AREA)
        borrowed = results[3].copy()
        borrowed[: SIDE // 4, -SIDE // 4 :] = thumb
        rows.append((str(getattr(path, "name", path)), [gray, results[0], marked, results[2], borrowed, truth]))
        captions.append(["", *(f"{quality.psnr(r, truth):.1f} dB" for r in results), ""])
    titles = ["gray input", "no hints", f"{hint_count} hints (boxes)", "its own palette", "next photo's palette (inset)",
              "truth"]  # fmt: skip
    return make_grid(rows, titles, cell=cell, captions=captions)


def plot_curve(summary: dict, path, label: str, others: list[tuple[dict, str]] = ()) -> None:
    """Our PSNR gain per hint count (and ``others``: (summary, label) pairs) beside Zhang et al.'s (matplotlib, PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for shown, name in [(summary, label), *others]:
        rows = shown["counts"]
        ax.plot([int(k) for k in rows], [row["gain"] for row in rows.values()], "o-", label=f"{name} ({shown['photos']} photos)")
    counts = [int(k) for k in summary["counts"]]
    zhang = sorted(k for k in ZHANG_SIGGRAPH17 if k <= max(counts))
    ax.plot(zhang, [ZHANG_SIGGRAPH17[k] - ZHANG_SIGGRAPH17[0] for k in zhang], "s--",
            label="Zhang et al. 2017 (1,000 ImageNet photos)")  # fmt: skip
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("random 6x6 hints from the truth")
    ax.set_ylabel("PSNR gain over no hints (dB)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
