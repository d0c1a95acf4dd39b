"""Built-in plugin: ``colorfuse serve``, a local web page on the same engine (needs the ``web`` extra).

It adds its command through ``register_commands``, as any plugin would; the web stack is imported
only when the command runs, so colorfuse works without it.
"""

from colorfuse.plugins import hookimpl


@hookimpl
def register_commands(cli):
    from colorfuse.plugins.builtin.web.command import command

    cli.add_command(command)
