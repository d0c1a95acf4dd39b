"""The ``Colorizer``: runs an exported model on images of any size.

The L channel stays at full resolution; the model sees L at a working size (longest side at
most ``max_side``, padded to the card's multiple) plus, for models with a global branch, a
fixed-size view of the whole image. Predicted ab is brought back to full size (guided by the
full-resolution L) and merged with the original L.

Work is split in three steps so callers can overlap them: :meth:`prepare` (CPU, per image),
:meth:`predict` (the model, batched by working shape) and :meth:`finish` (CPU, per image).
Nothing float and image-sized is held: ``prepare`` shrinks L band by band, and ``finish``
upsamples chroma, converts Lab to RGB and fills the uint8 output in strips of rows, so that an
image costs at most 12 bytes per pixel at default settings (input, output and encoding included).
Working sizes over the tile budget (``options["tile"]``) run in overlapping tiles: see
:mod:`colorfuse.engine.tiling`.

A *look* (see :mod:`colorfuse.engine.card`) mixes the model's ab outputs; a *style* reference
image gives its global view to every image, so its palette and mood carry over (Iizuka et al.
2016, section 4.4), for models with a global input, and its palette hint to a model that takes
colour hints (:mod:`colorfuse.engine.style`).
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np

from colorfuse.engine import lab, tiling
from colorfuse.engine import style as styles
from colorfuse.engine.card import ModelCard, read_card
from colorfuse.engine.geometry import output_area, working_size
from colorfuse.errors import ColourInputWarning, ModelCardError, OptionError  # noqa: F401  (ColourInputWarning: its old home)
from colorfuse.engine import hint_spread
from colorfuse.engine import hints as hint_inputs
from colorfuse.engine.card import HINT_ROLES
from colorfuse.engine.hints import complete_feeds
from colorfuse.engine.models import resolve_model
from colorfuse.engine.adapter import provided_model
from colorfuse.engine.precision import choose_variant, open_variant
from colorfuse.engine.settings import RunSettings
from colorfuse.engine.timing import ModelTiming
from colorfuse.plugins.context import ImageContext
from colorfuse.plugins.manager import all_accept, call_chain, call_first, wrap_chain

DEFAULT_OPTIONS = {"saturation": 1.0, "chroma_upsample": "guided"}
KEYWORD_OPTIONS = ("saturation", "chroma_upsample", "max_pixels", "tile", "tile_overlap")  # also Colorizer keywords


@dataclass
class Prepared:
    """One image ready for the model: the input itself, working-size L, and the model's feeds."""

    image: np.ndarray = field(repr=False)  # the input at full size (gray or RGB): finish() takes L from it
    small_l: np.ndarray
    padded: np.ndarray  # normalised L at the padded working size (1, H', W')
    global_view: np.ndarray | None = None  # normalised (1, G, G)
    hints: dict[str, np.ndarray] | None = field(default=None, repr=False)  # hint inputs by role, one image's
    ab: np.ndarray | None = field(default=None, repr=False)  # model output, set by predict()
    unstyled: Prepared | None = field(default=None, repr=False)  # the same without the style, for a strength < 1
    strength: float = 1.0  # the style's strength: predict() blends ab with unstyled.ab
    unhinted: Prepared | None = field(default=None, repr=False)  # without local hints: predict() gates their reach
    hints_spread: bool = False  # the hints were already carried along L (video does it before its smoothing)
    context: ImageContext = field(default_factory=ImageContext, repr=False)  # which image: the per-image hooks get it
    lab: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # full-size (L, ab): finish(keep_lab=True)

    @property
    def shape_key(self) -> tuple[int, int]:
        return self.padded.shape[1:]

    @property
    def full_l(self) -> np.ndarray:
        """Full-size L, computed on demand (4 bytes per pixel: the engine itself never needs it whole)."""
        return lab.luminance(self.image)


class Colorizer:
    """Colorize images with one model on one device.

    ``model`` is a registered name, a path to an ``.onnx`` file, or None for the default;
    ``device`` is ``auto``, ``cuda`` or ``cpu``; ``max_side`` overrides the card's working
    size (0 runs at full resolution); ``options`` go to the plugins (``saturation``,
    ``chroma_upsample``, ...); ``look`` names one of the card's looks (None: its default);
    ``style`` is a reference image (path or array) whose global view, and palette for a model that
    takes colour hints, every image gets, at ``style_strength`` (0 < s <= 1: from a touch to following it);
    ``precision`` (``auto``, ``fp32``, ``int8``, ``bf16``) and ``runtime`` (``auto``,
    ``onnxruntime``, ``openvino``) pick the variant that runs (:mod:`colorfuse.engine.precision`;
    ``precision_choice`` says which and why). The CLI's ``--saturation``, ``--chroma-upsample`` and
    ``--max-pixels`` and the ``tile`` and ``tile_overlap`` options are keywords too (``Colorizer(saturation=1.5)``);
    an option no enabled plugin applies is an error. ``colour_inputs`` counts the inputs that were
    already in colour; ``timing`` the seconds and calls inside the model. ``settings`` holds the run's
    settings as one :class:`~colorfuse.engine.settings.RunSettings` (:meth:`from_settings` takes one).
    """

    def __init__(self, model=None, device: str = "auto", max_side: int | None = None,
                 batch_size: int = 8, options: dict | None = None, threads: int | None = None,
                 look: str | None = None, style=None, precision: str = "auto", runtime: str = "auto",
                 saturation: float | None = None, chroma_upsample: str | None = None, max_pixels: int | None = None,
                 tile: int | None = None, tile_overlap: int | None = None, style_strength: float = 1.0):
        from colorfuse.engine.options import check_applied

        named = dict(zip(KEYWORD_OPTIONS, (saturation, chroma_upsample, max_pixels, tile, tile_overlap)))
        self.options = {**DEFAULT_OPTIONS, **(options or {}), **{k: v for k, v in named.items() if v is not None}}
        check_applied(self.options, DEFAULT_OPTIONS)  # before the model loads
        self.settings = RunSettings(model, device, max_side, batch_size, look, style, style_strength, precision,
                                    runtime, threads, self.options)
        self.timing = ModelTiming()
        self.colour_inputs = 0
        self._count_lock = threading.Lock()
        adapter = provided_model(model, device, threads)
        if adapter is None:
            self.model_path = resolve_model(model)
            self.card: ModelCard = read_card(self.model_path)
        else:  # a plugin's model (provide_model): no file, the plugin runs it
            self.model_path, self.card, self.model_session = None, adapter.card, adapter
            for flag, value in (("--precision", precision), ("--runtime", runtime)):
                if value not in ("auto", None):
                    raise OptionError(f"{flag} {value} would be ignored: model {str(model)!r} is provided by a "
                                      "plugin, which runs it its own way (leave it at auto)")
        self.max_side = self.card.default_max_side if max_side is None else int(max_side)
        if self.max_side < 0:
            raise ValueError("max_side must be >= 0 (0 runs the model at full resolution)")
        self.precision_choice = None
        if adapter is None:
            self.precision_choice = choose_variant(self.model_path, self.card, precision, runtime, device, threads)
            self.model_session = open_variant(self.precision_choice.variant, device, threads)
        self.device = self.model_session.device
        self.batch_size = max(1, int(batch_size))
        self.look_name, self.look = self.card.look(look)
        self._outputs = list(self.look.mix)
        self._input_types = (self._check_card_against_model() if adapter is None
                             else {spec.name: np.float32 for spec in self.card.inputs})
        self.style_strength = styles.check_strength(style_strength)
        self._plain_cache = hint_spread.PlainCache()
        self.style = None if style is None else styles.make_style(self, style, self.style_strength)
        self.style_view = None if self.style is None else self.style.global_view
        self._runner = self.timing.timed(wrap_chain("wrap_runner", "runner", runner=self._run_session,
                                                    card=self.card, options=self.options))

    @classmethod
    def from_settings(cls, settings: RunSettings) -> "Colorizer":
        """A colorizer for ``settings`` (what the CLI, video, Ray workers and the web page build)."""
        return cls(settings.model, device=settings.device, max_side=settings.max_side, batch_size=settings.batch_size,
                   options=dict(settings.options), threads=settings.threads, look=settings.look, style=settings.style,
                   precision=settings.precision, runtime=settings.runtime, style_strength=settings.style_strength)

    # ---- checks ------------------------------------------------------------------------------
    def _check_card_against_model(self) -> dict[str, np.dtype]:
        source = str(self.model_path)
        session = self.model_session.session
        inputs = {arg.name: arg for arg in session.get_inputs()}
        outputs = {arg.name: arg for arg in session.get_outputs()}
        card_inputs = {spec.name for spec in self.card.inputs}
        if set(inputs) != card_inputs:
            raise ModelCardError(f"{source}: card inputs {sorted(card_inputs)} but the graph has {sorted(inputs)}")
        for spec in self.card.outputs:
            if spec.name not in outputs:
                raise ModelCardError(f"{source}: card output {spec.name!r} not in the graph ({sorted(outputs)})")
        types = {}
        for name, arg in inputs.items():
            if len(arg.shape) != 4:
                raise ModelCardError(f"{source}: input {name!r} has rank {len(arg.shape)}, the card says NCHW")
            if arg.type not in ("tensor(float)", "tensor(float16)"):
                raise ModelCardError(f"{source}: input {name!r} has type {arg.type}, expected float")
            types[name] = np.float16 if arg.type == "tensor(float16)" else np.float32
        global_name = self.card.input_name("L_global")
        if global_name:
            size = self.card.global_input_size
            static = inputs[global_name].shape[2:]
            if all(isinstance(dim, int) for dim in static) and tuple(static) != (size, size):
                raise ModelCardError(f"{source}: global input is {static}, the card says {size}x{size}")
        return types

    # ---- the three steps -----------------------------------------------------------------------
    def prepare(self, image: np.ndarray, hints=(), palette: np.ndarray | None = None, style=None,
                context: ImageContext | None = None) -> Prepared:
        """Take L at full size and build the model's inputs for one image array; ``hints``
        (:class:`~colorfuse.engine.hints.Hint`, in the image's pixels) and ``palette`` (a
        reference's ab, (H, W, 2) in ab units) steer a model that takes colour hints; ``style`` (a
        reference path or array, or a :class:`~colorfuse.engine.style.Style`) replaces the colorizer's.
        ``context`` says which image this is to the per-image hooks (default: an array of the API)."""
        image = lab.as_image(image)
        if lab.is_colour(image):
            with self._count_lock:
                self.colour_inputs += 1
        context = context or self.context()
        image = call_chain("preprocess_image", "image", keep_shape=True, image=image, options=self.options,
                           context=context)
        style = self._style_of(style)
        chosen = hint_inputs.palette_input(self.card, palette) if palette is not None else \
            style.palette if style is not None else None
        if tiling.streams(self, image.shape[:2]):  # tiling: huge full-size images go tile by tile in finish()
            if hints:
                hint_inputs.require_hints(self.card)
                hint_inputs.check_points(hints, image.shape[:2])
            given = hint_inputs.palette_input(self.card, palette) if palette is not None else None
            return tiling.StreamedImage(image, tuple(hints), given, style, context)
        height, width = image.shape[:2]
        small_h, small_w, pad_h, pad_w = working_size(height, width, self.max_side, self.card.size_multiple)
        small_l = lab.luminance_resized(image, small_w, small_h)
        normalised = (small_l - np.float32(self.card.l_offset)) * np.float32(1.0 / self.card.l_scale)
        if (pad_h, pad_w) != (small_h, small_w):
            normalised = cv2.copyMakeBorder(normalised, 0, pad_h - small_h, 0, pad_w - small_w, cv2.BORDER_REPLICATE)
        prepared = Prepared(image, small_l, normalised[None], context=context)
        if hints or chosen is not None:
            hint_ab, mask = hint_inputs.local_inputs(self.card, hints, (height, width), (small_h, small_w), (pad_h, pad_w))
            prepared.hints = {"hint_ab": hint_ab, "hint_mask": mask,
                              "palette": chosen if chosen is not None else hint_inputs.palette_input(self.card, None)}
        own_view = self._global_view(small_l) if self.card.global_input_size else None
        prepared.global_view = own_view if style is None else style.global_view
        if style is not None and style.strength < 1:
            plain = {**prepared.hints, "palette": hint_inputs.palette_input(self.card, palette)} \
                if hints or palette is not None else None
            prepared.unstyled = Prepared(image, small_l, prepared.padded, own_view, plain)
            prepared.strength = style.strength
        prepared.unhinted = hint_spread.without_local_hints(prepared, self.options)
        return prepared

    def _style_of(self, style) -> styles.Style | None:
        """The colorizer's style for None, else ``style`` (a Style, or a reference made one at ``style_strength``)."""
        if style is None or isinstance(style, styles.Style):
            return self.style if style is None else style
        return styles.make_style(self, style, self.style_strength)

    def _global_view(self, small_l: np.ndarray) -> np.ndarray:
        size = self.card.global_input_size
        view = lab.resize(small_l, size, size)
        return ((view - np.float32(self.card.l_offset)) * np.float32(1.0 / self.card.l_scale))[None]

    def _run_session(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The look's ab (model units): its mix of the model's outputs, times its scale."""
        outputs = self.model_session.run(self._outputs, complete_feeds(self.card, feeds))
        weights = [self.look.mix[name] for name in self._outputs]
        if weights == [1] and self.look.scale == 1:  # a plain model: its output as it is, no copy
            return outputs[0]
        mixed = sum(np.float32(w) * out for w, out in zip(weights, outputs))
        return mixed * np.float32(self.look.scale) if self.look.scale != 1 else mixed

    def predict(self, items: list[Prepared]) -> None:
        """Run the model on prepared images, batching those with the same working shape (an image
        with a style below full strength runs twice, styled and not, and gets their blend; one with
        local hints runs without them too, and keeps their change near them: ``hint_spread.gate_response``)."""
        items = [item for item in items if not isinstance(item, tiling.StreamedImage)]  # tiling: runs in finish()
        hinted = [item for item in items if item.unhinted is not None]
        keys = {id(item.unhinted): self._plain_cache.key(item.unhinted) for item in hinted}
        pending = [item.unhinted for item in hinted if not self._plain_cache.fill(item.unhinted, keys[id(item.unhinted)])]
        items = items + pending
        groups: dict[tuple, list[Prepared]] = {}
        for item in items + [item.unstyled for item in items if item.unstyled is not None]:
            if tiling.over_budget(self.options, item.shape_key):  # tiling: too big for one run
                tiling.predict_tiled(self, item)
                continue
            groups.setdefault(item.shape_key, []).append(item)
        for group in groups.values():
            for start in range(0, len(group), self.batch_size):
                chunk = group[start : start + self.batch_size]
                output = self._runner(self._feeds(chunk))
                for item, ab in zip(chunk, output):
                    item.ab = ab
        for item in items:
            if item.unstyled is not None:
                item.ab, item.unstyled = styles.blend(item.ab, item.unstyled.ab, item.strength), None
        for item in pending:
            self._plain_cache.store(item, keys[id(item)])
        for item in hinted:
            item.ab = hint_spread.gate_response(item.ab, item.unhinted.ab, item.hints["hint_mask"][0], item.small_l,
                                                self.options)
            item.unhinted = None

    def _feeds(self, chunk: list[Prepared]) -> dict[str, np.ndarray]:
        """The model's inputs for prepared images of one working shape."""
        l_name, g_name = self.card.input_name("L"), self.card.input_name("L_global")
        feeds = {l_name: np.stack([item.padded for item in chunk]).astype(self._input_types[l_name], copy=False)}
        if g_name:
            feeds[g_name] = np.stack([item.global_view for item in chunk]).astype(self._input_types[g_name], copy=False)
        if any(item.hints is not None for item in chunk):
            feeds.update(self._hint_feeds(chunk, feeds[l_name]))
        return feeds

    def suggest_colors(self, image, x: float, y: float, k: int = 5, hints=()) -> list[dict]:
        """The model's ``k`` most likely colours at pixel ``(x, y)`` of ``image`` (array or path),
        given ``hints``: dicts of ``color`` (``#rrggbb``, at the photo's own lightness there),
        ``ab`` and ``probability``, most likely first (Zhang et al. 2017's suggested colours)."""
        hint_inputs.require_hints(self.card)
        name = next((s.name for s in self.card.outputs if s.role == "ab_distribution"), None)
        if name is None:
            raise hint_inputs.HintError(f"model {self.card.name!r} gives no colour distribution to suggest from")
        image = lab.as_image(self.read(image) if isinstance(image, (str, os.PathLike)) else image)
        height, width = image.shape[:2]
        if not (0 <= x < width and 0 <= y < height):
            raise hint_inputs.HintError(f"point ({x}, {y}) is outside the {width}x{height} image")
        item = self.prepare(image, hints, palette=None)
        if isinstance(item, tiling.StreamedImage):
            raise hint_inputs.HintError("suggested colours need the whole image in one run: give a smaller --max-side")
        (probs,) = self.model_session.run([name], complete_feeds(self.card, self._feeds([item])))
        small_h, small_w = item.small_l.shape
        pad_h, pad_w = item.shape_key
        cell_y = min(probs.shape[2] - 1, int(y * small_h / height * probs.shape[2] / pad_h))
        cell_x = min(probs.shape[3] - 1, int(x * small_w / width * probs.shape[3] / pad_w))
        column = probs[0, :, cell_y, cell_x].astype(np.float64)
        bins = np.asarray(self.card.hints["palette"]["bins"], np.float32)
        lum = lab.luminance(image[int(y) : int(y) + 1, int(x) : int(x) + 1])
        suggestions = []
        for index in np.argsort(-column)[:k]:
            rgb = lab.lab_to_rgb8(lum, bins[index][None, None])[0, 0]
            suggestions.append({"color": "#%02x%02x%02x" % tuple(int(v) for v in rgb),
                                "ab": [float(v) for v in bins[index]], "probability": float(column[index])})
        return suggestions

    def _hint_feeds(self, chunk: list[Prepared], l_feed: np.ndarray) -> dict[str, np.ndarray]:
        """The hint inputs of a batch: each image's own, zeros for those without."""
        zeros = hint_inputs.complete_feeds(self.card, {self.card.input_name("L"): l_feed[:1]})
        feeds = {}
        for role in HINT_ROLES:
            name = self.card.input_name(role)
            parts = [item.hints[role] if item.hints is not None else zeros[name][0] for item in chunk]
            feeds[name] = np.stack(parts).astype(self._input_types[name], copy=False)
        return feeds

    def finish(self, item: Prepared, keep_lab: bool = False) -> np.ndarray:
        """Upsample the predicted chroma, merge it with the full-size L, return RGB uint8.

        Strip by strip of rows: L, the ``upsample_chroma`` and ``postprocess_ab`` hooks and the
        conversion to RGB see one strip at a time (all at once if an ``upsample_chroma``
        implementation takes no ``rows``, as plugins written before strips do). With ``keep_lab``
        the full-size L and final ab (float32, before ``postprocess_image``) are kept in
        ``item.lab`` (12 bytes a pixel more; not for an image colorized tile by tile).
        """
        if isinstance(item, tiling.StreamedImage):  # tiling
            return tiling.finish_streamed(self, item)
        if item.ab is None:
            raise RuntimeError("finish() needs predict() first")
        small_h, small_w = item.small_l.shape
        crop_h, crop_w = output_area(item.small_l.shape, item.shape_key, item.ab.shape[1:])
        ab = np.ascontiguousarray(item.ab[:, :crop_h, :crop_w].transpose(1, 2, 0), dtype=np.float32)
        ab = lab.resize(ab, small_w, small_h) * np.float32(self.card.ab_scale)
        if item.hints is not None and not item.hints_spread:
            ab = hint_spread.spread_inputs(ab, item.small_l, item.hints, self.card.hints["ab_scale"], self.options)
        height, width = item.image.shape[:2]
        rgb = np.empty((height, width, 3), np.uint8)
        if keep_lab:
            item.lab = np.empty((height, width), np.float32), np.empty((height, width, 2), np.float32)
        in_strips = all_accept("upsample_chroma", "rows")
        for start, stop in lab.strips(height, width) if in_strips else [(0, height)]:
            lum = lab.luminance(item.image[start:stop])
            strip = call_first("upsample_chroma", ab=ab, small_l=item.small_l, full_l=lum, options=self.options,
                               rows=(start, stop, height), context=item.context)
            strip = call_chain("postprocess_ab", "ab", keep_shape=True, lum=lum, ab=strip, options=self.options,
                               context=item.context)
            rgb[start:stop] = lab.lab_to_rgb8(lum, strip)
            if keep_lab:
                item.lab[0][start:stop], item.lab[1][start:stop] = lum, strip
        return call_chain("postprocess_image", "image", keep_shape=True, image=rgb, options=self.options,
                          context=item.context)

    # ---- conveniences ---------------------------------------------------------------------------
    def context(self, input=None, output=None, index: int | None = None, frame: int | None = None) -> ImageContext:
        """The per-image hooks' context for one image of this colorizer's run."""
        return ImageContext.of(self.options, input, output, index, frame)

    def read(self, path, context: ImageContext | None = None) -> np.ndarray:
        """Read an image file through the reader plugins."""
        from colorfuse.engine.imagefiles import read_image

        return read_image(path, self.options, context or self.context(path))

    def _prepared(self, image, index: int | None = None, **steering) -> Prepared:
        """``image`` (an array, or a path: read first) prepared, with its context."""
        if isinstance(image, (str, os.PathLike)):
            context = self.context(image, index=index)
            return self.prepare(self.read(image, context), context=context, **steering)
        return self.prepare(image, context=self.context(index=index), **steering)

    def colorize(self, image, hints=(), palette: np.ndarray | None = None, style=None) -> np.ndarray:
        """Colorize one image (array or path); returns RGB uint8 at the input's exact size.
        ``hints``, ``palette`` and ``style`` as in :meth:`prepare`."""
        if not hints and palette is None and style is None:
            return self.colorize_batch([image])[0]
        item = self._prepared(image, hints=hints, palette=palette, style=style)
        self.predict([item])
        return self.finish(item)

    def colorize_batch(self, images) -> list[np.ndarray]:
        """Colorize several images (arrays or paths) in batches; returns RGB uint8 arrays."""
        before = self.colour_inputs
        prepared = [self._prepared(image, index) for index, image in enumerate(images)]
        if self.colour_inputs > before:
            warnings.warn(colour_inputs_line(self.colour_inputs - before, len(prepared)), ColourInputWarning, stacklevel=2)
        self.predict(prepared)
        return [self.finish(item) for item in prepared]


def colour_inputs_line(count: int, total: int) -> str:
    """The one warning for the colour inputs of a run."""
    return (f"{count} of {total} input{'s' if total != 1 else ''} {'were' if count != 1 else 'was'} already in colour: "
            "colorize keeps only their lightness and replaces their colours")
