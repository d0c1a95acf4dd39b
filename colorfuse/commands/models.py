"""``colorfuse models``: list the registered models and print their cards."""

from __future__ import annotations

import json

import click


@click.group("models")
def command():
    """List models and show their model cards."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_models(as_json):
    """Every registered model: name, architecture, precision, size and file."""
    from colorfuse.engine.card import read_card
    from colorfuse.engine.errors import ModelCardError
    from colorfuse.engine.models import default_model_name, registered_models

    default = default_model_name()
    rows = []
    for name, path in sorted(registered_models().items()):
        try:
            card = read_card(path)
            rows.append({"name": name, "default": name == default, "architecture": card.architecture,
                         "version": card.version, "precision": card.precision, "parameters": card.parameters,
                         "size_mb": round(path.stat().st_size / 1e6, 2), "path": str(path)})
        except ModelCardError as exc:
            rows.append({"name": name, "default": name == default, "error": str(exc), "path": str(path)})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = "*" if row["default"] else " "
        if "error" in row:
            click.echo(f"{mark} {row['name']:<20} INVALID: {row['error']}")
        else:
            click.echo(f"{mark} {row['name']:<20} {row['architecture']:<12} {row['version']:<8} {row['precision']:<5} "
                       f"{row['parameters']:>11,} params {row['size_mb']:>7.2f} MB  {row['path']}")
    click.echo("(* default)")


@command.command("info")
@click.argument("name", required=False)
def info(name):
    """Print the model card of NAME (a registered name or an .onnx path; default model if omitted)."""
    from colorfuse.engine.card import read_card
    from colorfuse.engine.models import resolve_model

    click.echo(read_card(resolve_model(name)).to_json())
