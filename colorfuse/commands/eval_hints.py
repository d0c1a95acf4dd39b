"""``colorfuse eval-hints``: PSNR gain from random colour hints (Zhang et al. 2017's protocol)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from colorfuse.commands.shared import runtime_option
from colorfuse.engine.session import DEVICES
from colorfuse.engine.variants import CHOICES


@click.command("eval-hints")
@click.argument("photos", nargs=-1, required=True)
@click.option("--model", default=None, metavar="NAME|PATH[@LOOK]", help="A model that takes hints (default: the default model).")
@click.option("--counts", default="0,1,2,5,10,20,50", show_default=True, help="Hint counts, comma-separated.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the hint positions.")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the figures here.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also plot the gain per count beside Zhang et al.'s (PNG).")
@click.option("--grid", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a picture of the first --grid-count photos: no hints, 10 hints, palettes.")
@click.option("--grid-count", type=click.IntRange(2), default=4, show_default=True)
@click.option("--max-images", type=click.IntRange(1), default=None, help="Score at most this many photos.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(CHOICES), default="fp32", show_default=True,
              help="Precision variant (as colorize --precision).")
@runtime_option
@click.option("--hint-spread", type=click.FloatRange(0), default=None,
              help="Reach (px) of the edge-aware spread of the hints after the model (default: the engine's; 0: off).")
@click.option("--hint-locality", type=click.FloatRange(0), default=None,
              help="Reach (px) of the model's response to local hints (default: the engine's; 0: the model's own).")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An earlier --json of eval-hints to draw beside this curve in --plot.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(photos, model, counts, seed, json_path, plot, grid, grid_count, max_images, device, precision, runtime,
            hint_spread, hint_locality, baseline, quiet):
    """Colorize colour PHOTOS (files, folders, globs), resized to 256x256 and turned gray, with 0,
    1, 2, ... random 6x6 hints of their true colour, and with their own palette; print the PSNR
    gain over no hints per count, beside Zhang et al. (SIGGRAPH 2017)."""
    from tqdm import tqdm

    from colorfuse.evaluation import hints as hint_eval
    from colorfuse.engine.collection import iter_jobs
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.engine.atomic import write_json_atomic
    from colorfuse.evaluation.scoring import split_look
    from colorfuse.engine.machine import machine_summary
    from colorfuse.engine.hint_spread import LOCALITY, reach_of

    try:
        numbers = [int(c) for c in counts.split(",") if c.strip()]
    except ValueError:
        raise click.BadParameter(f"{counts!r}: give whole numbers separated by commas", param_hint="--counts") from None
    if not numbers or min(numbers) < 0:
        raise click.BadParameter("give hint counts of 0 or more", param_hint="--counts")
    name, look = split_look(model) if model else (None, None)
    options = {name: value for name, value in (("hint_spread", hint_spread), ("hint_locality", hint_locality))
               if value is not None}
    colorizer = Colorizer(name, device=device, max_side=hint_eval.SIDE, look=look, precision=precision,
                          runtime=runtime, options=options)
    progress = tqdm(unit="photo", disable=quiet, dynamic_ncols=True, desc="eval-hints", total=max_images)

    def on_photo(_path, error):
        progress.update(1)
        if error:
            progress.write(f"skipped: {error}", file=sys.stderr)

    photo_paths = [job.source for job in iter_jobs(photos) if job.error is None]
    curve = hint_eval.hint_curve(colorizer, photo_paths, numbers, seed=seed, max_images=max_images, on_photo=on_photo)
    progress.close()
    summary = curve.summary()
    if not summary["photos"]:
        raise click.ClickException(f"no photo could be scored ({len(curve.failed)} skipped)")
    doc = {"model": colorizer.card.name, "look": colorizer.look_name, "precision": precision, "seed": seed,
           "variant": colorizer.precision_choice.variant.key if colorizer.precision_choice else None,
           "hint_spread": reach_of(colorizer.options),
           "hint_locality": reach_of(colorizer.options, "hint_locality", LOCALITY),
           "protocol": f"{hint_eval.SIDE}x{hint_eval.SIDE}, random {hint_eval.PATCH}x{hint_eval.PATCH} truth patches",
           "inputs": list(photos), "machine": machine_summary(), **summary}  # fmt: skip
    write_json_atomic(doc, json_path)
    click.echo(f"figures: {json_path}", err=True)
    if plot:
        others = [] if baseline is None else [json.loads(baseline.read_text())]
        hint_eval.plot_curve(summary, plot, _label(colorizer.card.name, doc["hint_spread"]),
                             [(other, _label(other["model"], other.get("hint_spread", 0))) for other in others])
        click.echo(f"plot: {plot}", err=True)
    if grid:
        from colorfuse.engine.imagefiles import write_image_atomic

        picture = hint_eval.hint_grid(colorizer, photo_paths[:grid_count], seed=seed)
        write_image_atomic(picture, grid, "jpeg" if grid.suffix.lower() in (".jpg", ".jpeg") else "png")
        click.echo(f"grid: {grid}", err=True)
    click.echo(f"{'hints':>5}  {'PSNR':>6}  {'gain':>6}  {'Zhang gain':>10}  colourfulness/truth")
    for k, row in summary["counts"].items():
        zhang = f"{row['zhang_gain']:+.2f}" if row["zhang_gain"] is not None else "-"
        click.echo(f"{k:>5}  {row['psnr']:6.2f}  {row['gain']:+6.2f}  {zhang:>10}  {row['colourfulness_vs_truth']:.0%}")
    palette = summary["truth_palette"]
    if palette:
        click.echo(f"truth's palette: PSNR {palette['psnr']:.2f} ({palette['gain']:+.2f} dB), "
                   f"colourfulness {palette['colourfulness_vs_truth']:.0%} of the truth's")


def _label(model: str, reach: float) -> str:
    return f"{model}, hints spread {reach:g} px" if reach else f"{model}, the network alone"
