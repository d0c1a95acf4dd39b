"""``colorfuse plugins``: the loaded plugins and the hooks each implements."""

from __future__ import annotations

import json

import click


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(as_json):
    """List plugins (built-in and from the `colorfuse` entry-point group), loaded, broken or disabled."""
    from colorfuse.plugins.manager import plugin_table

    rows = plugin_table()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        origin = "built-in" if row["builtin"] else f"entry point {row['version'] or ''}".strip()
        status = {"loaded": "", "disabled": ", disabled", "broken": f", broken: {row.get('error')}"}[row["status"]]
        click.echo(f"{row['name']}  ({origin}{status})")
        for hook in row["hooks"]:
            click.echo(f"    {hook}")
