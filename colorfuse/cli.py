"""The ``colorfuse`` command line: a click group whose commands live one per module.

Built-in commands are the modules of :mod:`colorfuse.commands` (each exposes ``command``);
plugins add more through the ``register_commands`` hook. Heavy imports happen inside the
commands, so ``colorfuse --version`` answers instantly.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from colorfuse import __version__
from colorfuse import commands as _commands_package
from colorfuse.engine.errors import ColorfuseError


class ColorfuseGroup(click.Group):
    """Adds plugin commands on first use; turns colorfuse's typed errors into clean ``click`` errors."""

    plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if not self.plugins_loaded:
            self.plugins_loaded = True
            try:
                _add_plugin_commands(self)
            except ColorfuseError as exc:
                raise click.ClickException(str(exc)) from exc

    def list_commands(self, ctx):
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._load_plugin_commands()
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ColorfuseError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=ColorfuseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="colorfuse")
def cli():
    """colorfuse: colorize black-and-white photos and video with ONNX models."""


def _add_builtin_commands(group: click.Group) -> None:
    for module_info in sorted(pkgutil.iter_modules(_commands_package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"colorfuse.commands.{module_info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            group.add_command(command)


def _add_plugin_commands(group: click.Group) -> None:
    from colorfuse.plugins.manager import call_each

    call_each("register_commands", cli=group)


_add_builtin_commands(cli)


def main(argv=None):
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="colorfuse")
