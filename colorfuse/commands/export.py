"""``colorfuse export``: turn a training run or checkpoint into one ONNX file with a model card."""

from __future__ import annotations

import json
from pathlib import Path

import click

from colorfuse.commands.shared import NEEDS_TORCH, TRAIN_DEPS


@click.command("export")
@click.argument("source", type=click.Path(exists=True, path_type=Path), metavar="RUN_DIR|CHECKPOINT")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .onnx file to write.")
@click.option("--fp16", is_flag=True, help="Half-precision weights and compute (float32 inputs and output).")
@click.option("--fp16-weights", is_flag=True, help="Half-precision weights, float32 compute: half the file.")
@click.option("--int8-weights", type=click.IntRange(1), metavar="ELEMENTS",
              help="Store weight tensors of at least this many elements as int8 (a scale per output channel), "
                   "float32 compute; with --fp16-weights the rest are float16.")
@click.option("--max-side", type=click.IntRange(0), help="The card's working size: the longest side the model "
              "sees by default (0 = full resolution) [default: the model's own].")
@click.option("--name", help="Model name in the card [default: the architecture].")
@click.option("--version", "model_version", default="1.0.0", show_default=True, help="Model version in the card.")
@click.option("--looks", "looks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON {"looks": {NAME: {"mix": {OUTPUT: WEIGHT}, "scale": S, "description": TEXT}}, '
                   '"default_look": NAME, "evaluation": {"looks": {NAME: FIGURES}}} for the card '
                   '(default: the model\'s own looks).')
@click.option("--member", "members", multiple=True, type=click.Path(exists=True, path_type=Path),
              metavar="RUN_DIR|CHECKPOINT",
              help="Another trained model: the file becomes an ensemble, the mean of all their outputs "
                   "(members with the same frozen encoder share it). Repeatable.")
def command(source, out_path, fp16, fp16_weights, int8_weights, max_side, name, model_version, looks_file, members):
    """Export a run directory (its best.pt, else last.pt) or a checkpoint file, check the graph,
    and compare onnxruntime with PyTorch at two sizes; nothing is written if they disagree."""
    try:
        from colorfuse.train.export import export_model
    except ModuleNotFoundError as exc:
        if exc.name not in TRAIN_DEPS:
            raise
        raise click.ClickException(f"{NEEDS_TORCH} (no module {exc.name!r})") from exc
    looks = json.loads(looks_file.read_text()) if looks_file else {}
    try:
        card = export_model(source, out_path, fp16=fp16, fp16_weights=fp16_weights, name=name, version=model_version,
                            looks=looks.get("looks"), default_look=looks.get("default_look"),
                            evaluation=looks.get("evaluation"), members=members, int8_weights=int8_weights,
                            max_side=max_side)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise click.ClickException(str(exc)) from exc
    parity = ", ".join(f"{size} {error:.2g}" for size, error in card.evaluation["export_parity"].items())
    weights = {"fp32": "", "fp16": ", float16 weights", "int8": ", int8 weights",
               "fp16+int8": ", float16 weights (the largest int8)"}.get(card.weights_precision, "")
    ensemble = f", mean of {len(members) + 1} models" if members else ""
    click.echo(f"wrote {out_path}: {card.name} {card.version} ({card.architecture}{ensemble}, {card.precision}{weights}, "
               f"{card.parameters:,} parameters)")
    click.echo(f"parity vs PyTorch fp32, max |error| in ab/110 units: {parity} (tolerance {card.parity_tolerance:g})")
    for look_name, look in card.looks.items():
        default = " (default)" if look_name == card.default_look else ""
        click.echo(f"look {look_name}{default}: {look.scale:g} x {look.mix}")
    figures = card.evaluation
    if "val_psnr" in figures:
        click.echo(f"validation (epoch {figures['epoch']}): PSNR {figures['val_psnr']:.2f} dB vs gray "
                   f"{figures['val_psnr_gray_baseline']:.2f}, colourfulness {figures['val_colorfulness']:.1f} "
                   f"vs truth {figures['val_colorfulness_truth']:.1f}")
