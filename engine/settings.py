"""How a run colorizes, in one object: the CLI's ``colorize`` and ``video``, the API, Ray workers and
the web page all build a :class:`RunSettings` and hand it on, and a :class:`Colorizer` is made from it.

What is *where* (inputs, outputs, encoding, hints files) stays with each surface; this is what the
model does to every image: which model on which device, the working size and batch, the look, the
style reference and its strength, the variant (precision, runtime) and the plugins' options.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping


@dataclass(frozen=True)
class RunSettings:
    """One run's colorizing settings, read-only (``options`` is a read-only mapping; ``replace`` makes another).

    - ``model``: a registered name, an ``.onnx`` path or a plugin's model; None: the default;
    - ``device``: ``auto``, ``cuda`` or ``cpu``; ``threads``: onnxruntime threads (None: its choice);
    - ``max_side``: the working size (None: the card's; 0: full resolution); ``batch_size``;
    - ``look``: one of the card's looks (None: its default);
    - ``style``: a reference image (path or array) and ``style_strength`` (0 < s <= 1);
    - ``precision`` and ``runtime``: which variant runs (``auto``: the fastest that keeps quality);
    - ``options``: the plugins' options by name (``saturation``, ``chroma_upsample``, ``quality``, ...).
    """

    model: str | Path | None = None
    device: str = "auto"
    max_side: int | None = None
    batch_size: int = 8
    look: str | None = None
    style: Any = field(default=None, compare=False)
    style_strength: float = 1.0
    precision: str = "auto"
    runtime: str = "auto"
    threads: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def __reduce__(self):  # a read-only mapping does not pickle: Ray workers get a plain dict, wrapped again
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["options"] = dict(self.options)
        return _rebuilt, (values,)

    def replace(self, **changes) -> "RunSettings":
        """These settings with ``changes``; ``options=`` replaces the options, ``option_changes=`` adds to them."""
        extra = changes.pop("option_changes", None)
        if extra:
            changes["options"] = {**self.options, **extra}
        return replace(self, **changes)

    def colorizer(self):
        """A :class:`~colorfuse.engine.colorizer.Colorizer` with these settings."""
        from colorfuse.engine.colorizer import Colorizer

        return Colorizer.from_settings(self)


def _rebuilt(values: dict) -> RunSettings:
    return RunSettings(**values)
