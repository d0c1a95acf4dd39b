"""Command-line parameters the commands share: click types (finite floats, output formats) and ``KEY=VALUE`` options."""

from __future__ import annotations

import json
import math

import click


def parse_key_values(pairs, param_hint: str = "--option") -> dict:
    """``key=value`` pairs to a dict; values are parsed as JSON when they can be."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint=param_hint)
        try:
            parsed[key] = json.loads(value)
        except ValueError:
            parsed[key] = value
    return parsed


def parse_plugin_options(pairs) -> dict:
    """``--option`` pairs, checked against the options plugins declare and converted to their types."""
    from colorfuse.engine.options import validate_options

    return validate_options(parse_key_values(pairs))


class FiniteFloat(click.ParamType):
    """A float that is a number: ``nan`` and ``inf``, which click's FLOAT takes, are usage errors."""

    name = "float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class OutputFormatChoice(click.ParamType):
    """A format some writer plugin declares (``declare_output_formats``), or ``auto`` where allowed."""

    name = "format"

    def __init__(self, auto: bool = True):
        self.auto = auto

    def choices(self) -> list[str]:
        from colorfuse.plugins.filetypes import output_formats

        return (["auto"] if self.auto else []) + list(output_formats())

    def get_metavar(self, param, ctx=None):
        return "[" + "|".join(self.choices()) + "]"

    def convert(self, value, param, ctx):
        if value in self.choices():
            return value
        self.fail(f"{value!r} is not a declared output format (choose from {', '.join(self.choices())})", param, ctx)
