"""A style reference photo as the model's inputs, at a strength.

Every image gets the reference's global view (Iizuka et al. 2016, section 4.4: the model colours
it as the kind of scene the reference is) and, for a model that takes colour hints, the
reference's palette (:func:`colorfuse.engine.hints.palette_input` of its ab at the working size).
``strength`` (0 < s <= 1, from "a touch" to "follow it") blends the result with the automatic
one: ``ab = auto + s * (styled - auto)``, per pixel in model units; below 1 the model runs twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from colorfuse.engine import hints as hint_inputs
from colorfuse.engine import lab
from colorfuse.errors import ColorfuseError


@dataclass(frozen=True)
class Style:
    """A reference's global view (1, G, G), its palette input (None: the model takes no hints) and the strength."""

    global_view: np.ndarray
    palette: np.ndarray | None
    strength: float = 1.0


def check_strength(strength) -> float:
    strength = float(strength)
    if not 0 < strength <= 1:
        raise ValueError(f"style_strength must be above 0 and at most 1 (1: follow the reference), not {strength:g}")
    return strength


def make_style(colorizer, reference, strength: float = 1.0) -> Style:
    """The :class:`Style` of ``reference`` (a path or an array) for ``colorizer``'s model and working size."""
    from colorfuse.engine.geometry import working_size

    card = colorizer.card
    strength = check_strength(strength)
    if not (card.global_input_size or card.takes_hints):
        from colorfuse.engine.models import style_models

        raise ColorfuseError(f"model {card.name!r} has no global input, so it cannot take a style image; "
                             f"models that take one: {', '.join(style_models()) or 'none registered'}")
    image = lab.as_image(colorizer.read(reference) if isinstance(reference, (str, os.PathLike)) else reference)
    small_h, small_w, _, _ = working_size(*image.shape[:2], colorizer.max_side, card.size_multiple)
    view = colorizer._global_view(lab.resize(lab.luminance(image), small_w, small_h)) if card.global_input_size else None
    palette = None
    if card.takes_hints:
        small = lab.resize(image, small_w, small_h)
        ab = lab.rgb_to_lab(small)[..., 1:] if small.ndim == 3 else np.zeros((small_h, small_w, 2), np.float32)
        palette = hint_inputs.palette_input(card, ab)
    return Style(view, palette, strength)


def blend(styled: np.ndarray, auto: np.ndarray, strength: float) -> np.ndarray:
    """``auto + strength * (styled - auto)``: the styled ab at ``strength``."""
    if strength == 1:
        return styled
    return auto + np.float32(strength) * (styled.astype(np.float32, copy=False) - auto)
