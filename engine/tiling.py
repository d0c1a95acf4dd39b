"""Tiled inference for images too big to run the model on at once.

When the working size (the image the model sees) has more than ``tile**2`` pixels, the model
runs on overlapping tiles. Every tile gets the same global view, of the whole image, so global
features (and the colours they imply) are shared. Neighbouring tiles overlap by ``overlap`` px;
the outer quarter of the overlap on each side is context only (weight 0 for the tile whose edge
it is), and across the middle half the two predictions are blended with complementary cosine
ramps. The weights of all tiles sum to one at every pixel, so where tiles agree the result is
exactly the untiled one, and where their receptive fields differ there is no seam. Colour hints
go to every tile they touch (each hint's square clipped to the tile, then spread within the tile), and the palette and a
style to every tile, like the global view; a style below full strength runs each tile twice.

Options (the colorizer's ``options`` dict): ``tile`` (side in px, default 2048; 0 never tiles)
and ``tile_overlap`` (px, default 64, at most a quarter of the tile). Tile starts are multiples of the card's size multiple,
so strided layers see the same pixel grid as without tiling.

Two routes use the same blending core (:func:`blended_rows`, which walks rows of tiles and hands
on rows no later tile touches):

- full resolution (``max_side=0``, or an image within ``max_side``): :class:`StreamedImage`.
  Nothing image-sized is kept but the input and the preallocated uint8 output: per tile, L is
  computed, the model runs and its ab is blended; per finished band of rows, L is recomputed and
  merged with ab into RGB. ``upsample_chroma`` is not called (there is nothing to upsample) and
  ``postprocess_ab`` sees bands of rows, so it must be pointwise.
- a reduced working size that is still too big: :func:`predict_tiled` fills ``Prepared.ab`` at
  the padded working size, and ``finish`` proceeds as usual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from colorfuse.engine import hint_spread
from colorfuse.engine import hints as hint_inputs
from colorfuse.engine import lab
from colorfuse.engine.geometry import output_area, padded
from colorfuse.engine.style import blend
from colorfuse.plugins.manager import call_chain

DEFAULT_TILE = 2048
DEFAULT_OVERLAP = 64  # 128 cost 6% more time per pixel on the default model, with no closer match to untiled results
ROW_CHUNK = 256  # rows converted to RGB at a time in the streamed route


# ---- the plan -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AxisPlan:
    """Tiles along one axis: ``spans[i] = (start, stop)``; tile i is the main one on ``[cuts[i], cuts[i+1])``."""

    length: int
    spans: tuple[tuple[int, int], ...]
    cuts: tuple[int, ...]
    ramp: int  # half-width of the cosine blend around each inner cut

    def weights(self, index: int) -> np.ndarray:
        """Blend weight of tile ``index`` at each pixel of its span (float32)."""
        start, stop = self.spans[index]
        centres = np.arange(start, stop, dtype=np.float64) + 0.5
        weight = np.ones(stop - start)
        if index > 0:
            weight *= self._rise(centres, self.cuts[index])
        if index < len(self.spans) - 1:
            weight *= 1.0 - self._rise(centres, self.cuts[index + 1])
        return weight.astype(np.float32)

    def _rise(self, centres: np.ndarray, cut: int) -> np.ndarray:
        if self.ramp == 0:
            return (centres >= cut).astype(np.float64)
        phase = np.clip((centres - (cut - self.ramp)) / (2 * self.ramp), 0.0, 1.0)
        return 0.5 - 0.5 * np.cos(np.pi * phase)


def axis_plan(length: int, tile: int, overlap: int, multiple: int = 1) -> AxisPlan:
    """Split ``[0, length)`` into tiles of at most about ``tile`` px overlapping by ``overlap`` px."""
    if tile <= 0 or overlap < 0 or tile < 2 * overlap + 2 * multiple:
        raise ValueError(f"tile ({tile}) must be positive and at least 2 * overlap ({overlap}) + 2 * multiple ({multiple})")
    count = 1 if length <= tile else math.ceil(length / (tile - overlap))
    cuts = tuple(round(i * length / count) for i in range(count + 1))
    half = overlap // 2
    spans = []
    for i in range(count):
        start = 0 if i == 0 else (cuts[i] - half) // multiple * multiple
        stop = length if i == count - 1 else min(length, -(-(cuts[i + 1] + half) // multiple) * multiple)
        spans.append((start, stop))
    return AxisPlan(length, tuple(spans), cuts, overlap // 4)


def plan_tiles(height: int, width: int, tile: int, overlap: int, multiple: int = 1) -> list[tuple[int, int, int, int]]:
    """Every tile as ``(y0, y1, x0, x1)``, row by row."""
    rows, cols = axis_plan(height, tile, overlap, multiple), axis_plan(width, tile, overlap, multiple)
    return [(y0, y1, x0, x1) for y0, y1 in rows.spans for x0, x1 in cols.spans]


def tile_settings(options: dict) -> tuple[int, int]:
    """(tile, overlap) from the options; tile 0 disables tiling. The overlap is at most a quarter tile."""
    tile, overlap = int(options.get("tile", DEFAULT_TILE)), int(options.get("tile_overlap", DEFAULT_OVERLAP))
    if tile < 0 or overlap < 0:
        raise ValueError(f"tile ({tile}) and tile_overlap ({overlap}) must be >= 0")
    return tile, min(overlap, tile // 4)


def over_budget(options: dict, shape: tuple[int, int]) -> bool:
    """Whether a working size (padded) is too big to run in one piece."""
    tile, _ = tile_settings(options)
    return tile > 0 and shape[0] * shape[1] > tile * tile


# ---- the blending core ---------------------------------------------------------------------------
def _weigh_edges(ab: np.ndarray, row_weight: np.ndarray, col_weight: np.ndarray) -> None:
    """Multiply planar ``ab`` (2, h, w) in place by its blend weights, only where they are below one."""
    for weight, axis in ((row_weight, 1), (col_weight, 2)):
        full = np.flatnonzero(weight >= 1.0)
        head, tail = (full[0], full[-1] + 1) if len(full) else (len(weight), len(weight))
        for start, stop in ((0, head), (tail, len(weight))):
            if stop > start:
                index = [slice(None)] * 3
                index[axis] = slice(start, stop)
                shape = [1, 1, 1]
                shape[axis] = stop - start
                ab[tuple(index)] *= weight[start:stop].reshape(shape)


def blended_rows(run_tile, height: int, width: int, tile: int, overlap: int, multiple: int = 1):
    """Yield ``(y0, y1, ab)`` for consecutive row ranges covering ``[0, height)``.

    ``run_tile(y0, y1, x0, x1)`` returns the model's ab for that tile, planar (2, y1-y0, x1-x0)
    float32, which may be modified; ``ab`` (2, y1-y0, width) is the blend of every tile covering
    those rows. One band of rows (a row of tiles) is held at a time.
    """
    rows, cols = axis_plan(height, tile, overlap, multiple), axis_plan(width, tile, overlap, multiple)
    col_weights = [cols.weights(j) for j in range(len(cols.spans))]
    band, band_start = None, 0
    for i, (y0, y1) in enumerate(rows.spans):
        fresh = np.zeros((2, y1 - y0, width), np.float32)
        if band is not None:
            carried = band[:, y0 - band_start :]
            fresh[:, : carried.shape[1]] = carried
        band, band_start = fresh, y0
        row_weight = rows.weights(i)
        for (x0, x1), col_weight in zip(cols.spans, col_weights):
            ab = run_tile(y0, y1, x0, x1)
            _weigh_edges(ab, row_weight, col_weight)
            band[:, :, x0:x1] += ab
        done = rows.spans[i + 1][0] if i + 1 < len(rows.spans) else height
        yield band_start, done, band[:, : done - band_start]


def predict_tile(colorizer, l_norm: np.ndarray, global_view: np.ndarray | None, scale: float = 1.0,
                 hints: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The model's ab times ``scale``, planar (2, h, w), for one normalised L tile (h, w) and its
    hint inputs by role (``hint_ab`` and ``hint_mask`` at the tile's size, zero-padded here).

    The tile is padded to the size multiple as the colorizer pads whole images, and an output at a
    lower resolution is resized to the tile like the colorizer resizes it.
    """
    height, width = l_norm.shape
    multiple = colorizer.card.size_multiple
    pad_h, pad_w = padded(height, multiple), padded(width, multiple)
    if (pad_h, pad_w) != (height, width):
        l_norm = cv2.copyMakeBorder(l_norm, 0, pad_h - height, 0, pad_w - width, cv2.BORDER_REPLICATE)
    l_name, g_name = colorizer.card.input_name("L"), colorizer.card.input_name("L_global")
    feeds = {l_name: l_norm[None, None].astype(colorizer._input_types[l_name], copy=False)}
    if g_name:
        feeds[g_name] = global_view[None].astype(colorizer._input_types[g_name], copy=False)
    for role, value in (hints or {}).items():
        if role != "palette":
            value = np.pad(value, ((0, 0), (0, pad_h - height), (0, pad_w - width)))
        name = colorizer.card.input_name(role)
        feeds[name] = value[None].astype(colorizer._input_types[name], copy=False)
    output = colorizer._runner(feeds)[0]
    crop_h, crop_w = output_area((height, width), (pad_h, pad_w), output.shape[1:])
    ab = output[:, :crop_h, :crop_w].astype(np.float32, copy=False)
    if (crop_h, crop_w) != (height, width):
        ab = np.stack([lab.resize(np.ascontiguousarray(plane), width, height) for plane in ab])
    elif not ab.flags.writeable:
        ab = ab.copy()
    if scale != 1.0:
        ab *= np.float32(scale)
    return ab


# ---- route 1: a reduced working size that is still too big ---------------------------------------
def predict_tiled(colorizer, item) -> None:
    """Set ``item.ab`` (2, H', W') for a :class:`Prepared` whose padded working size is over budget."""
    tile, overlap = tile_settings(colorizer.options)
    padded = item.padded[0]
    height, width = padded.shape
    result = np.empty((2, height, width), np.float32)

    def run_tile(y0, y1, x0, x1):
        hints = None if item.hints is None else \
            {role: value if role == "palette" else value[:, y0:y1, x0:x1] for role, value in item.hints.items()}
        return predict_tile(colorizer, np.ascontiguousarray(padded[y0:y1, x0:x1]), item.global_view, hints=hints)

    for y0, y1, ab in blended_rows(run_tile, height, width, tile, overlap, colorizer.card.size_multiple):
        result[:, y0:y1] = ab
    item.ab = result


# ---- route 2: streaming at full resolution --------------------------------------------------------
class StreamedImage:
    """An image that the model sees at full size and that is over the tile budget: colorized in
    :func:`finish_streamed`, tile by tile, into one preallocated output (``predict`` skips it), with
    its colour hints (in its pixels), a palette input given with them (or None) and its style."""

    def __init__(self, image: np.ndarray, hints=(), palette: np.ndarray | None = None, style=None, context=None):
        self.image = image
        self.ab = None
        self.hints, self.palette, self.style, self.context = tuple(hints), palette, style, context

    @property
    def shape_key(self) -> tuple[int, int]:
        return self.image.shape[:2]

    @property
    def full_l(self) -> np.ndarray:
        """Full-size L, computed on demand (only previews ask for it)."""
        return lab.luminance(self.image)


def streams(colorizer, shape: tuple[int, int]) -> bool:
    """Whether an image of ``shape`` runs at full size and over the tile budget."""
    height, width = shape
    full_size = colorizer.max_side <= 0 or max(height, width) <= colorizer.max_side
    multiple = colorizer.card.size_multiple
    return full_size and over_budget(colorizer.options, (padded(height, multiple), padded(width, multiple)))


def global_view_of(image: np.ndarray, size: int, card) -> np.ndarray:
    """The normalised (1, size, size) global view of ``image``'s L, computed in bands of rows.

    Area averaging is separable, so shrinking each band's width first and then the stacked
    columns' height equals shrinking the whole L at once (up to float rounding).
    """
    height, width = image.shape[:2]
    if min(height, width) < size:
        view = lab.resize(lab.luminance(image), size, size)
    else:
        columns = np.empty((height, size), np.float32)
        for y0 in range(0, height, ROW_CHUNK):
            y1 = min(height, y0 + ROW_CHUNK)
            columns[y0:y1] = cv2.resize(lab.luminance(image[y0:y1]), (size, y1 - y0), interpolation=cv2.INTER_AREA)
        view = cv2.resize(columns, (size, size), interpolation=cv2.INTER_AREA)
    return ((view - np.float32(card.l_offset)) * np.float32(1.0 / card.l_scale))[None]


def finish_streamed(colorizer, item: StreamedImage) -> np.ndarray:
    """Colorize a :class:`StreamedImage` tile by tile; returns RGB uint8 at the input's size."""
    card, options, image = colorizer.card, colorizer.options, item.image
    tile, overlap = tile_settings(options)
    height, width = image.shape[:2]
    style = item.style
    own_view = None
    if card.global_input_size and (style is None or style.strength < 1):
        own_view = global_view_of(image, card.global_input_size, card)
    offset, inv_scale = np.float32(card.l_offset), np.float32(1.0 / card.l_scale)
    styled_palette = item.palette if item.palette is not None or style is None else style.palette

    def tile_hints(box, palette, local=True):
        if not item.hints and palette is None:
            return None
        hint_ab, mask = hint_inputs.tile_inputs(card, item.hints if local else (), box, (box[1] - box[0], box[3] - box[2]))
        return {"hint_ab": hint_ab, "hint_mask": mask,
                "palette": hint_inputs.palette_input(card, None) if palette is None else palette}

    def predicted(lum, box, local=True):
        """A tile's ab and hint inputs, with its local hints or without them (the palette stays)."""
        hints = tile_hints(box, styled_palette, local)
        ab = predict_tile(colorizer, (lum - offset) * inv_scale, own_view if style is None else style.global_view,
                          card.ab_scale, hints)
        if style is not None and style.strength < 1:
            ab = blend(ab, predict_tile(colorizer, (lum - offset) * inv_scale, own_view, card.ab_scale,
                                        tile_hints(box, item.palette, local)), style.strength)
        return ab, hints

    def run_tile(y0, y1, x0, x1):
        lum = lab.luminance(image[y0:y1, x0:x1])
        box = (y0, y1, x0, x1)
        ab, hints = predicted(lum, box)
        if hints is None:
            return ab
        if hints["hint_mask"].any() and hint_spread.reach_of(options, "hint_locality", hint_spread.LOCALITY) > 0:
            ab = hint_spread.gate_response(ab, predicted(lum, box, local=False)[0], hints["hint_mask"][0], lum, options)
        spread = hint_spread.spread_inputs(np.ascontiguousarray(ab.transpose(1, 2, 0)), lum, hints,
                                           card.hints["ab_scale"], options)
        return np.ascontiguousarray(spread.transpose(2, 0, 1))

    output = np.empty((height, width, 3), np.uint8)
    for y0, y1, ab in blended_rows(run_tile, height, width, tile, overlap, card.size_multiple):
        for start in range(y0, y1, ROW_CHUNK):
            stop = min(y1, start + ROW_CHUNK)
            lum = lab.luminance(image[start:stop])
            rows_ab = cv2.merge([ab[0, start - y0 : stop - y0], ab[1, start - y0 : stop - y0]])
            rows_ab = call_chain("postprocess_ab", "ab", keep_shape=True, lum=lum, ab=rows_ab, options=options,
                                 context=item.context)
            output[start:stop] = lab.lab_to_rgb8(lum, rows_ab)
    return call_chain("postprocess_image", "image", keep_shape=True, image=output, options=options,
                      context=item.context)
