"""``colorfuse eval-front``: PSNR gain against colourfulness over ab scales and output mixes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from colorfuse.engine.session import DEVICES
from colorfuse.engine.variants import MAX_COLOURFULNESS_CHANGE_PCT


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r}: give numbers separated by commas") from None


@click.command("eval-front")
@click.argument("photos", nargs=-1, required=True)
@click.option("--model", "models", multiple=True, required=True, metavar="NAME|PATH", help="Model (repeatable).")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also draw the fronts.")
@click.option("--scales", default="0.75,1,1.25,1.5,1.75,2", show_default=True, help="ab scales to try.")
@click.option("--mixes", default="0,0.25,0.5,0.75,1", show_default=True,
              help="Weights of a model's second output (the rest on its first).")
@click.option("--choose-looks", "looks_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the looks of the first model (natural: best PSNR at >= 50% colourfulness, the default; "
                   "rich: at >= 60%; vivid: at >= 80%) as a `colorfuse export --looks` file.")
@click.option("--look-margin", type=click.FloatRange(0, 0.5), default=MAX_COLOURFULNESS_CHANGE_PCT / 100,
              show_default=True, help="--choose-looks asks each look for its floor x (1 + this) of the colourfulness, "
                                      "so that precision variants within --precision auto's limit stay above the floor.")
@click.option("--keep", "kept_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="JSON", help="An earlier eval-front --json on the same photos: its points are kept beside "
                                   "the new ones (in --json and --plot). Repeatable.")
@click.option("--max-images", type=click.IntRange(1), default=None)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(photos, models, json_path, plot, scales, mixes, looks_out, look_margin, kept_files, max_images, device, quiet):
    """Turn colour PHOTOS gray and score each model at every ab scale and output mix, and each of
    its looks: PSNR gain over the gray image and colourfulness against the real photos."""
    from itertools import islice

    from tqdm import tqdm

    from colorfuse.evaluation import front
    from colorfuse.engine.collection import iter_jobs
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.engine.atomic import write_json_atomic
    from colorfuse.engine.machine import machine_summary

    colorizers, points = {}, {}
    for spec in models:
        colorizer = Colorizer(spec, device=device, batch_size=1)
        name = colorizer.card.name if colorizer.card.name not in colorizers else f"{colorizer.card.name} ({spec})"
        colorizers[name] = colorizer
        points[name] = front.sweep_points(name, [o.name for o in colorizer.card.outputs], _floats(scales),
                                          _floats(mixes))
        points[name] += [front.Point(name, dict(look.mix), look.scale, look_name)
                         for look_name, look in colorizer.card.looks.items()]
    sources = [job.source for job in islice(iter_jobs(photos), max_images) if not job.error]
    progress = tqdm(sources, unit="photo", disable=quiet, dynamic_ncols=True, desc="eval-front")

    def on_photo(_file, error):
        progress.update(1)
        if error:
            progress.write(f"skipped: {error}", file=sys.stderr)

    doc = front.measure(colorizers, sources, points, on_photo=on_photo)
    progress.close()
    doc.update(machine=machine_summary(), settings={"inputs": list(photos), "device": device,
               "models": {n: {"path": str(c.model_path), "max_side": c.max_side} for n, c in colorizers.items()}})
    for kept in kept_files:
        try:
            front.keep_points(doc, json.loads(kept.read_text()))
        except (ValueError, KeyError) as exc:
            raise click.ClickException(f"--keep {kept}: {exc}") from exc
    write_json_atomic(doc, json_path)
    if looks_out:
        chosen = front.choose_looks(doc, next(iter(colorizers)), margin=look_margin)
        write_json_atomic(chosen, looks_out)
        for look, figures in chosen["evaluation"]["looks"].items():
            click.echo(f"look {look}: {chosen['looks'][look]['description']} -> PSNR {figures['psnr_gain']:+.2f} dB, "
                       f"colourfulness {100 * figures['colorfulness_ratio']:.0f}%")
    if plot:
        front.plot_front(doc, plot)
    click.echo(f"{doc['photos']} photos: gray PSNR {doc['gray_psnr']:.2f} dB, truth colourfulness "
               f"{doc['truth_colorfulness']:.1f}")
    for row in doc["points"] + doc["looks"]:
        label = f"{row['model']} look {row['look']}" if row["look"] else f"{row['model']} {row['mix']}"
        click.echo(f"{label:<48} x{row['scale']:<5g} PSNR {row['psnr_gain']:+.2f} dB, colourfulness "
                   f"{100 * row['colorfulness_ratio']:.0f}%")
