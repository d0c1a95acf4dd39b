"""The per-image context every per-image hook receives as ``context`` (plugin contract, #22 item 1).

``options`` is one dict for the whole run, shared by its threads; ``context`` is built for each
image and says which one it is, so a hook can act per file ("fail files named *odd*", "seed the
grain by file name") or per video frame. It is read-only: a frozen dataclass whose ``settings``
is a read-only copy of the run's options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


@dataclass(frozen=True)
class ImageContext:
    """Which image a hook works on.

    - ``input``: the input file's path (str), or None for an array given through the API;
    - ``output``: the final output path the run will write (str), or None when nothing is written
      (the API, the web page, evaluation) or not yet known (``read_image`` of a skip check);
    - ``index``: the image's position in the run (0-based, in input order), or None;
    - ``frame``: the frame number in a video (0-based, display order), else None;
    - ``settings``: the run's options (as hooks get in ``options``), read-only.
    """

    input: str | None = None
    output: str | None = None
    index: int | None = None
    frame: int | None = None
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, options: Mapping[str, Any] | None, input=None, output=None, index: int | None = None,
           frame: int | None = None) -> "ImageContext":
        """A context with a read-only copy of ``options``; paths are given as str."""
        return cls(None if input is None else str(input), None if output is None else str(output), index, frame,
                   MappingProxyType(dict(options or {})))
