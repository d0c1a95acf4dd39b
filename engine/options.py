"""The run's options: the engine's own declarations plus the plugins', and their checking."""

from __future__ import annotations

import difflib
from types import MappingProxyType
from typing import Mapping

from colorfuse.engine.hint_spread import LOCALITY, REACH
from colorfuse.engine.tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from colorfuse.errors import OptionError
from colorfuse.plugins.manager import broken_note, declared, plugin_table
from colorfuse.plugins.options import OptionSpec, collect_options


def _engine_options(declare) -> None:
    declare("tile", int, DEFAULT_TILE, "Tile side (px) over which the model runs in overlapping tiles; 0 never tiles.",
            min=0)
    declare("tile_overlap", int, DEFAULT_OVERLAP, "Overlap of neighbouring tiles (px), at most a quarter of the tile.",
            min=0)
    declare("hint_spread", float, REACH, "Reach (working-size px) of the edge-aware spread of colour hints after "
            "the model; 0: off.", min=0)
    declare("hint_locality", float, LOCALITY, "Reach (working-size px) of the model's response to local hints, "
            "beyond which the automatic colours stay; 0: the model's own response (one run fewer).", min=0)


def declared_options() -> Mapping[str, OptionSpec]:
    """Every declared option by name: the engine's, then the built-ins', then the other plugins'; collected
    once per plugin set (as file types and output formats are) and read-only."""
    return MappingProxyType(declared("options", lambda: collect_options(_engine_options)))


def validate_options(values: dict) -> dict:
    """``values`` (from ``--option``) converted to their declared types; :class:`OptionError` for an unknown key."""
    declared = declared_options()
    checked = {}
    for name, value in values.items():
        if name not in declared:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise OptionError(f"--option {name}: no plugin declares this option{hint} "
                              f"(`colorfuse plugins --options` lists them){broken_note()}")
        checked[name] = declared[name].convert(value)
    return checked


def check_applied(values: dict, defaults: dict) -> None:
    """Refuse an option of ``defaults`` set away from its default when no enabled plugin declares it
    (its plugin is switched off, say): it would be silently ignored. :class:`OptionError` says which."""
    declared = None
    for name, default in defaults.items():
        if values.get(name, default) == default:
            continue
        declared = declared_options() if declared is None else declared
        if name not in declared:
            off = [row["name"] for row in plugin_table() if row["status"] == "disabled"]
            hint = f"; disabled plugins: {', '.join(off)}" if off else ""
            raise OptionError(f"{name}={values[name]!r} (--{name.replace('_', '-')}) would be ignored: "
                              f"no enabled plugin applies it{hint}")
