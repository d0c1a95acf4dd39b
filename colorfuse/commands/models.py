"""``colorfuse models``: list the registered models, print their cards, write a card into an ONNX file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from colorfuse.engine.card_summary import summary


@click.group("models")
def command():
    """List models and show their model cards."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_models(as_json):
    """Every registered model (name, architecture, precision, size and file), and those plugins provide."""
    from colorfuse.engine.card import read_card
    from colorfuse.errors import ColorfuseError, ModelCardError
    from colorfuse.engine.models import default_model_name, provided_model_names, registered_models

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
    for name, plugin in sorted(provided_model_names().items()):
        where = f"provided by plugin {plugin}"
        try:
            card = _provided_card(name)
            rows.append({"name": name, "default": name == default, "architecture": card.architecture,
                         "version": card.version, "precision": card.precision, "parameters": card.parameters,
                         "size_mb": None, "path": where})
        except ColorfuseError as exc:
            rows.append({"name": name, "default": name == default, "error": str(exc), "path": where})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = "*" if row["default"] else " "
        if "error" in row:
            click.echo(f"{mark} {row['name']:<20} INVALID: {row['error']}")
        else:
            size = "      -   " if row["size_mb"] is None else f"{row['size_mb']:>7.2f} MB"
            click.echo(f"{mark} {row['name']:<20} {row['architecture']:<12} {row['version']:<8} {row['precision']:<5} "
                       f"{row['parameters'] or 0:>11,} params {size}  {row['path']}")
    click.echo("(* default)")


@command.command("info")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the raw model card (JSON).")
def info(name, as_json):
    """Describe NAME (a registered or plugin-provided name, or an .onnx path; default model if omitted)."""
    from colorfuse.engine.card import read_card
    from colorfuse.errors import ModelCardError
    from colorfuse.engine.models import provided_model_names, resolve_model

    plugin = provided_model_names().get(name) if name else None
    if plugin is not None:
        card = _provided_card(name)
        click.echo(card.to_json() if as_json else summary(card, None, plugin))
        return
    path = resolve_model(name)
    try:
        card = read_card(path)
    except ModelCardError as exc:
        raise ModelCardError(f"{exc}\n(write a valid card with: colorfuse models card {path} --from CARD.json)") from exc
    click.echo(card.to_json() if as_json else summary(card, path))


def _provided_card(name: str):
    """The card of the model a plugin provides as ``name`` (provided once, on the CPU)."""
    from colorfuse.engine.adapter import provided_model
    from colorfuse.errors import ModelNotFoundError

    adapter = provided_model(name, "cpu", None)
    if adapter is None:
        raise ModelNotFoundError(f"model {name!r}: listed by a plugin, but its provide_model returns nothing for it")
    return adapter.card


@command.command("card")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "card_file", type=click.File("r"), required=True,
              help="The card as JSON (see README, 'Model cards'); weights_sha256 is computed, card_version defaults.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a copy with the card here instead of changing MODEL.")
def card(model, card_file, out_path):
    """Write a model card into the ONNX file MODEL (needs the onnx package)."""
    from colorfuse.engine.cardwriter import write_card

    written = write_card(model, card_file.read(), out_path)
    click.echo(f"{out_path or model}: card {written.name!r} {written.version} written "
               f"(weights_sha256 {written.weights_sha256[:12]}...)")
