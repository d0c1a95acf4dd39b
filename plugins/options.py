"""Option declarations: what ``--option KEY=VALUE`` may set (type, default, help), collected from the plugins."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from colorfuse.errors import OptionError, PluginWarning

ENGINE = "colorfuse"  # the owner of the options the engine itself reads
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class OptionSpec:
    """One declared option; ``type`` is bool, int, float, str or a tuple of the allowed strings; an int
    or float option may have an inclusive range (``min``, ``max``; None: unbounded). With ``flag`` it is
    also a flag of the colorizing commands (``--name-with-dashes``), grouped with its plugin in ``--help``."""

    name: str
    type: type | tuple
    default: object
    help: str
    plugin: str
    min: float | None = None
    max: float | None = None
    flag: bool = False

    @property
    def flag_name(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def type_name(self) -> str:
        if isinstance(self.type, tuple):
            return "|".join(self.type)
        if self.min is None and self.max is None:
            return self.type.__name__
        low, high = ("" if bound is None else f"{bound:g}" for bound in (self.min, self.max))
        return f"{self.type.__name__} in [{low or '-inf'}, {high or 'inf'}]"

    def convert(self, value):
        """``value`` (as parsed from the command line) as this option's type, in its range; :class:`OptionError`
        if it is not one."""
        converted = _convert(self.type, value)
        if converted is None or (self.min is not None and converted < self.min) \
                or (self.max is not None and converted > self.max):
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
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if number else None
    return value if isinstance(value, str) else str(value)


def collect_options(own) -> dict[str, OptionSpec]:
    """Every declared option by name: ``own(declare)``'s (the engine's), then the built-ins', then the other plugins'.

    A name declared again with another type keeps the first declaration, with a :class:`PluginWarning`.
    """
    from colorfuse.plugins.manager import call_each_in_turn

    found: dict[str, OptionSpec] = {}
    plugin = ENGINE

    def declare(name: str, type, default=None, help: str = "", min: float | None = None,
                max: float | None = None, flag: bool = False) -> None:
        spec = OptionSpec(name, tuple(type) if isinstance(type, list) else type, default, help, plugin, min, max, flag)
        if not (isinstance(spec.type, tuple) or spec.type in (bool, int, float, str)):
            raise TypeError(f"option {name!r}: type must be bool, int, float, str or a tuple of strings")
        if (min is not None or max is not None) and spec.type not in (int, float):
            raise TypeError(f"option {name!r}: only int and float options take a range")
        first = found.setdefault(name, spec)
        if first.type != spec.type:
            warnings.warn(f"plugin {plugin!r} declares option {name!r} as {spec.type_name}, but {first.plugin!r} "
                          f"declares it as {first.type_name}; the first is kept", PluginWarning, stacklevel=2)

    own(declare)
    for plugin in call_each_in_turn("declare_options", declare=declare):
        pass
    return found
