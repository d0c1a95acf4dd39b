"""The ``colorfuse`` command line: a click group whose commands live one per module.

Built-in commands are the modules of :mod:`colorfuse.commands` that expose ``command`` (the others hold
what commands share); plugins add more through the ``register_commands`` hook. Heavy imports happen
inside the commands, so ``colorfuse --version`` answers instantly.
"""

from __future__ import annotations

import importlib
import pkgutil
import signal
import warnings

import click

from colorfuse import __version__
from colorfuse import commands as _commands_package
from colorfuse.errors import ColorfuseError, PluginWarning, one_line

_STOPPING = "colorfuse.stopping"  # ctx.meta: (signals_interrupt(), its StopSignals, the command's stopped_words)


class ColorfuseGroup(click.Group):
    """Adds plugin commands on first use; turns colorfuse's typed errors into clean ``click`` errors."""

    plugins_loaded = False
    registering_plugin: str | None = None  # the plugin whose register_commands hook is running

    def add_command(self, command, name=None):
        name = name or command.name
        if self.registering_plugin and name in self.commands:
            warnings.warn(f"plugin {self.registering_plugin!r} registers command {name!r}, which already exists; "
                          "the existing one is kept", PluginWarning, stacklevel=2)
            return
        super().add_command(command, name)

    def _load_plugin_commands(self) -> None:
        if not self.plugins_loaded:
            self.plugins_loaded = True
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", PluginWarning)
                try:
                    _add_plugin_commands(self)
                except ColorfuseError as exc:
                    raise click.ClickException(str(exc)) from exc
            for warning in caught:
                if issubclass(warning.category, PluginWarning):
                    click.echo(f"Warning: {warning.message}", err=True)
                else:
                    warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)

    def list_commands(self, ctx):
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._load_plugin_commands()
        return super().get_command(ctx, name)

    def resolve_command(self, ctx, args):
        """The command to run. A built-in one with ``stopped_words`` (colorize, video) takes the stop signals
        from here on, while the plugins load, its options are parsed and its engine imports (half a second,
        Ray's two more), until its run takes over."""
        from colorfuse.engine.signals import signals_interrupt

        words = getattr(self.commands.get(args[0]) if args else None, "stopped_words", None)
        if words is not None and _STOPPING not in ctx.meta:
            handling = signals_interrupt()
            ctx.meta[_STOPPING] = handling, handling.__enter__(), words
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:  # no such command: a broken plugin may be the one that adds it
            from colorfuse.plugins.manager import broken_note

            if args and self.get_command(ctx, args[0]) is None:
                exc.message += broken_note()
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ColorfuseError, KeyboardInterrupt) as exc:
            _, stop, words = ctx.meta.get(_STOPPING, (None, None, None))
            if stop is not None and (isinstance(exc, KeyboardInterrupt) or stop.received is not None):
                _stopped(stop, words)  # before the run took over: nothing was written
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise click.ClickException(one_line(str(exc))) from exc
        finally:
            if _STOPPING in ctx.meta:
                ctx.meta.pop(_STOPPING)[0].__exit__(None, None, None)


def _stopped(stop, words) -> None:
    """End a command stopped by a signal with its words and 128 + N: also where the signal, raised inside an
    import, came back as another error (onnxruntime's "initialization failed")."""
    from colorfuse.engine.signals import signal_status

    stop.disarm()  # later signals are only recorded
    name, status = signal_status(stop.received or signal.SIGINT)
    words(name)
    raise SystemExit(status) from None


def _disable_plugins(ctx, param, names):
    if names:
        from colorfuse.plugins.manager import disable_plugins

        disable_plugins(names)


@click.group(cls=ColorfuseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="colorfuse")
@click.option("--disable-plugin", "disabled_plugins", multiple=True, metavar="NAME", is_eager=True,
              expose_value=False, callback=_disable_plugins,
              help="Switch a plugin off (repeatable; also COLORFUSE_DISABLE_PLUGINS=a,b).")
def cli():
    """colorfuse: colorize black-and-white photos and video with ONNX models."""


def _add_builtin_commands(group: click.Group) -> None:
    for module_info in sorted(pkgutil.iter_modules(_commands_package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"colorfuse.commands.{module_info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            group.add_command(command)


def _add_plugin_commands(group: click.Group) -> None:
    from colorfuse.plugins.manager import call_each_in_turn

    try:
        for plugin in call_each_in_turn("register_commands", cli=group):
            group.registering_plugin = plugin
    finally:
        group.registering_plugin = None


_add_builtin_commands(cli)


def main(argv=None):
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="colorfuse")
