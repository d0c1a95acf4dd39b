"""Declared options: what ``--option KEY=VALUE`` may set, with type, default and help, and their checking."""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass

from colorfuse.engine.errors import OptionError, PluginWarning

ENGINE = "colorfuse"  # the owner of the options the engine itself reads
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class OptionSpec:
    """One declared option; ``type`` is bool, int, float, str or a tuple of the allowed strings."""

    name: str
    type: type | tuple
    default: object
    help: str
    plugin: str

    @property
    def type_name(self) -> str:
        return "|".join(self.type) if isinstance(self.type, tuple) else self.type.__name__

    def convert(self, value):
        """``value`` (as parsed from the command line) as this option's type; :class:`OptionError` if it is not one."""
        converted = _convert(self.type, value)
        if converted is None:
            raise OptionError(f"--option {self.name}={value!r}: expected {self.type_name} (declared by {self.plugin!r})")
        return converted


def _convert(kind, value):
    if isinstance(kind, tuple):
        return value if value in kind else None
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        return True if text in _TRUE else False if text in _FALSE else None
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind is float:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return value if isinstance(value, str) else str(value)


def _engine_options(declare) -> None:
    from colorfuse.engine.hint_spread import REACH
    from colorfuse.engine.tiling import DEFAULT_OVERLAP, DEFAULT_TILE

    declare("tile", int, DEFAULT_TILE, "Tile side (px) over which the model runs in overlapping tiles; 0 never tiles.")
    declare("tile_overlap", int, DEFAULT_OVERLAP, "Overlap of neighbouring tiles (px), at most a quarter of the tile.")
    declare("hint_spread", float, REACH, "Reach (working-size px) of the edge-aware spread of colour hints after "
            "the model; 0: off.")


def declared_options() -> dict[str, OptionSpec]:
    """Every declared option by name: the engine's, then the built-ins', then the other plugins'.

    A name declared again with another type keeps the first declaration, with a :class:`PluginWarning`.
    """
    from colorfuse.plugins.manager import call_each_in_turn

    found: dict[str, OptionSpec] = {}
    plugin = ENGINE

    def declare(name: str, type, default=None, help: str = "") -> None:
        spec = OptionSpec(name, tuple(type) if isinstance(type, list) else type, default, help, plugin)
        if not (isinstance(spec.type, tuple) or spec.type in (bool, int, float, str)):
            raise TypeError(f"option {name!r}: type must be bool, int, float, str or a tuple of strings")
        first = found.setdefault(name, spec)
        if first.type != spec.type:
            warnings.warn(f"plugin {plugin!r} declares option {name!r} as {spec.type_name}, but {first.plugin!r} "
                          f"declares it as {first.type_name}; the first is kept", PluginWarning, stacklevel=2)

    _engine_options(declare)
    for plugin in call_each_in_turn("declare_options", declare=declare):
        pass
    return found


def validate_options(values: dict) -> dict:
    """``values`` (from ``--option``) converted to their declared types; :class:`OptionError` for an unknown key."""
    declared = declared_options()
    checked = {}
    for name, value in values.items():
        if name not in declared:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise OptionError(f"--option {name}: no plugin declares this option{hint} "
                              "(`colorfuse plugins --options` lists them)")
        checked[name] = declared[name].convert(value)
    return checked


def check_applied(values: dict, defaults: dict) -> None:
    """Refuse an option of ``defaults`` set away from its default when no enabled plugin declares it
    (its plugin is switched off, say): it would be silently ignored. :class:`OptionError` says which."""
    from colorfuse.plugins.manager import plugin_table

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
