"""The colorizing commands' run settings, declared once: the model options every such command takes,
the flags plugins declare (``declare(..., flag=True)``), one :class:`RunSettings` built from them, and a
``--help`` in sections.

``colorize`` and ``video`` are :class:`RunCommand` instances decorated with :func:`run_options`; their
callback takes ``plugin_flags`` (the declared flags given, by option name) and hands the click values
to :func:`run_settings`, which returns the :class:`~colorfuse.engine.settings.RunSettings` the run uses.
"""

from __future__ import annotations

import json

import click

from colorfuse.commands.parameters import parse_plugin_options
from colorfuse.commands.shared import look_option, precision_option, runtime_option, style_option, style_strength_option
from colorfuse.engine.session import DEVICES

MODEL_SECTION = ("Model", ("model", "device", "max_side", "batch_size", "precision", "runtime"))
COLOUR_SECTION = ("Colour", ("look", "style", "style_strength", "hint", "hints_file"))
PLUGIN_SECTION = ("Plugins", ("extra",))
RUN_FIELDS = ("model", "device", "max_side", "batch_size", "look", "style", "style_strength", "precision", "runtime")

_RUN_OPTIONS = (
    click.option("--model", default=None, help="Model name (see `colorfuse models list`) or path to an .onnx file."),
    click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True),
    click.option("--max-side", type=click.IntRange(min=0), default=None,
                 help="Longest side the model sees (default: the model card's; 0 = full resolution)."),
    click.option("--batch-size", type=click.IntRange(1, 256), default=8, show_default=True,
                 help="Images (or frames) per model call."),
    look_option, style_option, style_strength_option, precision_option, runtime_option,
    click.option("--option", "extra", multiple=True, metavar="KEY=VALUE",
                 help="Any option a plugin declares, e.g. flow_alpha=0.8 (repeatable; `colorfuse plugins --options`)."),
)


def run_options(command):
    """Decorate a command with the run settings' options (model, device, working size, batch, look,
    style, precision, runtime, ``--option``)."""
    for option in reversed(_RUN_OPTIONS):
        command = option(command)
    return command


def run_settings(values: dict):
    """The :class:`RunSettings` of a run from its click values (:data:`RUN_FIELDS`, ``extra`` and
    ``plugin_flags``, taken out of ``values``): the declared flags given, then ``--option`` pairs (which win)."""
    from colorfuse.engine.settings import RunSettings

    flags = {name: value for name, value in values.pop("plugin_flags", {}).items() if value is not None}
    options = {**flags, **parse_plugin_options(values.pop("extra"))}
    return RunSettings(**{name: values.pop(name) for name in RUN_FIELDS}, options=options)


class DeclaredValue(click.ParamType):
    """The value of a plugin's flag, converted and checked as its declaration says."""

    def __init__(self, spec):
        self.spec = spec
        self.name = spec.type_name

    def get_metavar(self, param, ctx=None):
        kind = self.spec.type
        return "[" + "|".join(kind) + "]" if isinstance(kind, tuple) else kind.__name__.upper()

    def convert(self, value, param, ctx):
        from colorfuse.errors import OptionError

        if isinstance(value, str) and self.spec.type in (int, float):
            try:
                value = json.loads(value)
            except ValueError:
                self.fail(f"{value!r}: expected {self.spec.type_name}", param, ctx)
        try:
            return self.spec.convert(value)
        except OptionError:
            self.fail(f"{value!r}: expected {self.spec.type_name} (declared by {self.spec.plugin!r})", param, ctx)


def _flag_option(spec) -> click.Option:
    default = "" if spec.default is None else f" [default: {spec.default}]"
    if spec.type is bool:
        return click.Option([spec.name, f"{spec.flag_name}/--no-{spec.flag_name[2:]}"], default=None,
                            help=spec.help + default)
    return click.Option([spec.name, spec.flag_name], type=DeclaredValue(spec), default=None, help=spec.help + default)


class RunCommand(click.Command):
    """A colorizing command: the enabled plugins' declared flags join its options, and ``--help`` lists
    them in ``sections`` ((title, parameter names) pairs), then each plugin's flags under its name."""

    def __init__(self, *args, sections=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.sections = (MODEL_SECTION, COLOUR_SECTION, *sections, PLUGIN_SECTION)
        self._flags: tuple[tuple, list] = ((), [])  # (the flag specs, their click options), made once per plugin set

    def plugin_flags(self) -> list:
        """The declared flags, as (spec, click option), in declaration order; a name the command
        already uses stays an ``--option`` only. Click asks several times per run: the options are
        made again only when the declarations change."""
        from colorfuse.engine.options import declared_options

        taken = {name for param in self.params for name in (param.name, *param.opts)}
        specs = tuple(spec for spec in declared_options().values()
                      if spec.flag and spec.name not in taken and spec.flag_name not in taken)
        if specs != self._flags[0]:
            self._flags = (specs, [(spec, _flag_option(spec)) for spec in specs])
        return self._flags[1]

    def get_params(self, ctx):
        params = super().get_params(ctx)
        flags = [option for _, option in self.plugin_flags()]
        return params[:len(self.params)] + flags + params[len(self.params):]  # the help option stays last

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            from colorfuse.plugins.manager import plugin_table

            off = [row["name"] for row in plugin_table() if row["status"] == "disabled"]
            if off:
                exc.message += f" (disabled plugins, whose flags are gone: {', '.join(off)})"
            raise

    def invoke(self, ctx):
        names = {spec.name for spec, _ in self.plugin_flags()}
        ctx.params["plugin_flags"] = {name: ctx.params.pop(name) for name in list(ctx.params) if name in names}
        return super().invoke(ctx)

    def format_options(self, ctx, formatter):
        records = {param.name: param.get_help_record(ctx) for param in self.get_params(ctx)
                   if not isinstance(param, click.Argument)}
        groups = [(title, [records.pop(name) for name in names if records.get(name)]) for title, names in self.sections]
        by_plugin: dict[str, list] = {}
        for spec, _ in self.plugin_flags():
            if records.get(spec.name):
                by_plugin.setdefault(f"Plugin {spec.plugin}", []).append(records.pop(spec.name))
        groups += [*by_plugin.items(), ("Other options", [record for record in records.values() if record])]
        for title, rows in groups:
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

