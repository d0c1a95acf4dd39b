"""``colorfuse compare``: one picture of several models, looks or styles on the same photos."""

from __future__ import annotations

from pathlib import Path

import click

from colorfuse.engine.session import DEVICES


@click.command("compare")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The picture to write (.jpg or .png).")
@click.option("--model", "models", multiple=True, metavar="NAME[@LOOK]|PATH",
              help="A column per model (repeatable; NAME@vivid picks a look) [default: the default model].")
@click.option("--style", "styles", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also a column per style reference image, for each model with a global input (repeatable).")
@click.option("--max-images", type=click.IntRange(1), default=12, show_default=True)
@click.option("--cell", type=click.IntRange(64, 1024), default=256, show_default=True, help="Image size in the picture.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--max-side", type=click.IntRange(0), default=None, help="Working size (default: each card's).")
def command(inputs, out_path, models, styles, max_images, cell, device, max_side):
    """Colorize INPUTS (files, folders, globs) with each model, look and style, and write one
    picture: a row per photo, the input first, then a column per model (and style)."""
    from itertools import islice

    from colorfuse.engine.collection import iter_jobs
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.errors import ColorfuseError
    from colorfuse.evaluation.scoring import split_look
    from colorfuse.engine.grid import make_grid
    from colorfuse.engine.imagefiles import write_image_atomic
    from colorfuse.engine.lab import as_image

    columns = []
    for spec in models or [None]:
        model, look = split_look(spec) if spec else (None, None)
        colorizer = Colorizer(model, device=device, max_side=max_side, batch_size=1, look=look)
        title = column_title(model, colorizer)
        columns.append((title, colorizer))
        if colorizer.card.global_input_size:
            columns += [(f"{title}, style {style.stem}",
                         Colorizer(model, device=device, max_side=max_side, batch_size=1, look=look, style=style))
                        for style in styles]
    rows = []
    for job in islice(iter_jobs(inputs), max_images):
        try:
            if job.error:
                raise ValueError(job.error)
            image = as_image(columns[0][1].read(job.source))
            rows.append((job.relative.as_posix(), [image] + [c.colorize(image) for _, c in columns]))
        except (ColorfuseError, ValueError, OSError) as exc:  # one bad photo must not stop the picture
            click.echo(f"skipped {job.source}: {exc}", err=True)
    if not rows:
        raise click.ClickException("no photo could be colorized")
    grid = make_grid(rows, ["input"] + [title for title, _ in columns], cell=cell)
    write_image_atomic(grid, out_path, "jpeg" if out_path.suffix.lower() in (".jpg", ".jpeg") else "png")
    click.echo(f"wrote {out_path}: {len(rows)} photo(s) x {len(columns)} column(s)", err=True)


def column_title(model, colorizer) -> str:
    """A column's title: the model's card name (a file's own name first when it differs, so that two
    versions of one model can stand side by side) and its look."""
    name = colorizer.card.name
    if model and str(model).endswith(".onnx") and Path(model).stem != name:
        name = f"{Path(model).stem} ({name})"
    return name + (f" {colorizer.look_name}" if colorizer.card.looks else "")
