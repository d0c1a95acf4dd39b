"""Models provided by plugins (the ``provide_model`` hook) instead of a carded ONNX file."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from colorfuse.engine.card import ModelCard
from colorfuse.errors import ModelCardError


def provided_model(model, device: str, threads: int | None):
    """The object a plugin provides for the model name ``model``, its card checked; None for files and unknown names."""
    from colorfuse.plugins.manager import call_first

    if model is None or isinstance(model, os.PathLike) or Path(model).suffix == ".onnx":
        return None
    adapter = call_first("provide_model", name=str(model), device=device, threads=threads)
    if adapter is None:
        return None
    card = getattr(adapter, "card", None)
    if not isinstance(card, ModelCard) or not callable(getattr(adapter, "run", None)) \
            or not isinstance(getattr(adapter, "device", None), str):
        raise ModelCardError(f"model {model!r}: the provided model needs a ModelCard 'card', a 'device' and 'run'")
    dataclasses.replace(card, weights_sha256=card.weights_sha256 or "0" * 64).validate(f"model {model!r}")
    return adapter
