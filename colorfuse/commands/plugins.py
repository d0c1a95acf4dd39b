"""``colorfuse plugins``: the plugins (loaded, broken, disabled), their hooks, and the options they declare."""

from __future__ import annotations

import json

import click


@click.command("plugins")
@click.option("--options", "list_options", is_flag=True, help="List the declared options (for --option KEY=VALUE).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(list_options, as_json):
    """List plugins (built-in and from the `colorfuse` entry-point group), loaded, broken or disabled."""
    from colorfuse.plugins.manager import plugin_table
    from colorfuse.engine.options import declared_options

    options = declared_options()
    if list_options:
        _print_options(options.values(), as_json)
        return
    rows = plugin_table()
    for row in rows:
        row["options"] = sorted(name for name, spec in options.items() if spec.plugin == row["name"])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        origin = "built-in" if row["builtin"] else f"entry point {row['version'] or ''}".strip()
        status = {"loaded": "", "disabled": ", disabled", "broken": f", broken: {row.get('error')}"}[row["status"]]
        click.echo(f"{row['name']}  ({origin}{status})")
        for hook in row["hooks"]:
            click.echo(f"    {hook}")
        if row["options"]:
            click.echo(f"    options: {', '.join(row['options'])}")


def _print_options(specs, as_json: bool) -> None:
    specs = sorted(specs, key=lambda spec: spec.name)
    if as_json:
        click.echo(json.dumps([{"name": spec.name, "type": spec.type_name, "default": spec.default,
                                "help": spec.help, "plugin": spec.plugin, "flag": spec.flag_name if spec.flag else None}
                               for spec in specs], indent=2))
        return
    for spec in specs:
        flag = f"; also {spec.flag_name} of colorize and video" if spec.flag else ""
        click.echo(f"{spec.name}={spec.type_name} (default {spec.default!r}; {spec.plugin}{flag})")
        click.echo(f"    {spec.help}")
