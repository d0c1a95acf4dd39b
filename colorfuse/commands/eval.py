"""``colorfuse eval``: score models on real colour photos turned gray, against the gray baseline."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from colorfuse.engine.session import DEVICES


@click.command("eval")
@click.argument("photos", nargs=-1, required=True)
@click.option("--model", "models", multiple=True, metavar="NAME|PATH",
              help="Model name or .onnx path, optionally @LOOK (repeatable; default: every registered model).")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the figures (means and per photo) here.")
@click.option("--grid", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a picture: rows of photos, columns gray | each model | truth.")
@click.option("--grid-count", type=click.IntRange(1), default=6, show_default=True, help="Photos in the grid.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a markdown report (date, machine, models, table).")
@click.option("--max-images", type=click.IntRange(1), default=None, help="Evaluate at most this many photos.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--max-side", type=click.IntRange(0), default=None,
              help="Longest side the models see (default: each card's; 0 = full resolution).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(photos, models, json_path, grid, grid_count, report, max_images, device, max_side, quiet):
    """Turn colour PHOTOS (files, folders, globs) gray, colorize them with each model, and score
    the results against the originals: PSNR, SSIM, ab-error AuC, colourfulness, saturation."""
    from tqdm import tqdm

    from colorfuse.evaluation import scoring
    from colorfuse.engine.atomic import write_json_atomic, write_text_atomic
    from colorfuse.engine.collection import iter_jobs
    from colorfuse.engine.imagefiles import write_image_atomic

    contestants = scoring.load_contestants(models, device=device, max_side=max_side)
    for contestant in contestants[1:]:
        colorizer = contestant.colorizer
        click.echo(f"model {contestant.name}: {colorizer.card.architecture} {colorizer.card.version} on "
                   f"{colorizer.device}, working size {colorizer.max_side or 'full'}", err=True)
    progress = tqdm(unit="photo", disable=quiet, dynamic_ncols=True, desc="eval", total=max_images)

    def on_photo(_file, error):
        progress.update(1)
        if error:
            progress.write(f"skipped: {error}", file=sys.stderr)

    run = scoring.evaluate(iter_jobs(photos), contestants, max_images=max_images,
                              previews=grid_count if grid else 0, on_photo=on_photo)
    progress.close()
    if not run.photos:
        raise click.ClickException(f"no photo could be evaluated ({len(run.failed)} skipped)")
    settings = {"inputs": list(photos), "device": device, "max_side": max_side}
    doc = scoring.summarise(run, settings)
    write_json_atomic(doc, json_path)
    click.echo(f"figures: {json_path}", err=True)
    if grid:
        fmt = "jpeg" if grid.suffix.lower() in (".jpg", ".jpeg") else "png"
        write_image_atomic(scoring.render_grid(run), grid, fmt)
        click.echo(f"grid: {grid}", err=True)
    if report:
        write_text_atomic(scoring.render_report(doc), report)
        click.echo(f"report: {report}", err=True)
    click.echo(scoring.format_table(doc))
    click.echo(scoring.truth_line(doc))
