"""``colorfuse eval-semantic``: would an ImageNet classifier recognise the colorized photo? (Zhang et al. 2016)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from colorfuse.engine.session import DEVICES


@click.command("eval-semantic")
@click.argument("photos", nargs=-1, required=True)
@click.option("--model", "models", multiple=True, metavar="NAME|PATH[@LOOK]",
              help="Model name or .onnx path, optionally @LOOK (repeatable; default: the default model).")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the figures (accuracies and each photo's label rank) here.")
@click.option("--md", "md_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table as Markdown.")
@click.option("--max-images", type=click.IntRange(1), default=None, help="Classify at most this many photos.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(photos, models, json_path, md_path, max_images, device, quiet):
    """Classify colour PHOTOS (ImageNet files named by their synset, as n01440764_tench.jpg) with
    EfficientNet-Lite1, which no model here trains with: gray, each model's colorization, and
    the original. Prints top-1/top-5 and the share of the gray-to-truth gap each model closes.
    Needs the train extra (torch and the classifier's weights package)."""
    from tqdm import tqdm

    try:
        from colorfuse.train.semantic import run_semantic, semantic_markdown
    except ImportError as exc:
        raise click.ClickException(f"eval-semantic needs torch and its classifier: pip install 'colorfuse[train]' ({exc})")
    from colorfuse.engine.atomic import write_json_atomic, write_text_atomic
    from colorfuse.engine.collection import iter_jobs
    from colorfuse.engine.models import default_model_name

    progress = tqdm(unit="photo", disable=quiet, dynamic_ncols=True, desc="eval-semantic", total=max_images)

    def on_photo(_file, error):
        progress.update(1)
        if error:
            progress.write(f"skipped: {error}", file=sys.stderr)

    doc = run_semantic(iter_jobs(photos), list(models) or [default_model_name()], max_images=max_images,
                       device=device, on_photo=on_photo)
    progress.close()
    if not doc["evaluated"]:
        raise click.ClickException(f"no photo could be classified ({doc['skipped']} skipped)")
    doc["settings"] = {"inputs": list(photos), "models": list(models), "max_images": max_images}
    write_json_atomic(doc, json_path)
    click.echo(f"figures: {json_path}", err=True)
    markdown = semantic_markdown(doc)
    if md_path:
        write_text_atomic(markdown, md_path)
        click.echo(f"table: {md_path}", err=True)
    click.echo(markdown, nl=False)
