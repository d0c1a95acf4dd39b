"""``colorfuse colorize``: colorize files, folders and globs into an output folder."""

from __future__ import annotations

import sys
import threading
from functools import partial
from pathlib import Path

import click

from colorfuse.commands.parameters import OutputFormatChoice
from colorfuse.commands.run_options import RunCommand, run_options, run_settings
from colorfuse.commands.shared import describe, interrupted_line, print_summary, summary_line, warnings_as_lines
from colorfuse.engine.signals import signal_status, signals_interrupt


def _parse_hints(ctx, param, values):
    from colorfuse.engine.hint_jobs import parse_hint_option
    from colorfuse.engine.hints import HintError

    try:
        return [parse_hint_option(value) for value in values]
    except HintError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def hint_plan(inputs, out_dir, hint, hints_file):
    """The run's :class:`HintPlan` (None without hints); every problem one line, before the model loads."""
    from colorfuse.errors import one_line
    from colorfuse.engine.hint_jobs import HintPlan
    from colorfuse.engine.hints_file import read_hints

    if not hint and hints_file is None:
        return None
    if hint and hints_file is not None:
        raise click.UsageError("give --hint or --hints FILE, not both")
    if hint and (len(inputs) != 1 or not Path(inputs[0]).is_file()):
        raise click.UsageError("--hint is for a run over one file; for several, give a hints file (--hints FILE)")
    plan = HintPlan({inputs[0]: hint}, "--hint") if hint else HintPlan(read_hints(hints_file)["images"], str(hints_file))
    problems = plan.problems(inputs, out_dir)
    for line in problems:
        click.echo(one_line(f"error: {line}"), err=True)
    if problems:
        raise SystemExit(1)
    return plan


def stopped_before_the_run(name: str) -> None:
    """The words of a run stopped before its model loaded (imports under way: nothing more is imported)."""
    click.echo(summary_line(0, 0, 0, 0.0, 0.0))
    click.echo(interrupted_line(name, 0), err=True)


def write_grid(summary, path: Path) -> bool:
    """Write the input | result picture; on failure say why and return False."""
    from colorfuse.errors import ColorfuseError, one_line
    from colorfuse.engine.grid import make_grid
    from colorfuse.engine.imagefiles import write_image_atomic

    rows = [(name, [gray, result]) for name, gray, result in sorted(summary.previews)]
    fmt = "jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"
    try:
        write_image_atomic(make_grid(rows, ["input (L)", "colorized"]), path, fmt)
    except ColorfuseError as exc:
        click.echo(one_line(f"error: grid not written: {exc}"), err=True)
        return False
    click.echo(f"grid: {path}", err=True)
    return True


@click.command("colorize", cls=RunCommand, sections=(
    ("Output", ("out_dir", "fmt", "workers", "skip_existing", "overwrite", "grid", "grid_count", "quiet")),
    ("Cluster mode (--ray)", ("ray_address", "ray_workers", "ray_threads", "ray_gpus", "failures"))))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; the inputs' relative layout and names are kept.")
@run_options
@click.option("--workers", type=int, default=2, show_default=True,
              help="Threads decoding and encoding images, overlapped with inference.")
@click.option("--format", "fmt", type=OutputFormatChoice(), default="auto", show_default=True,
              help="auto: PNG for lossless inputs, JPEG otherwise (plugins may declare more formats).")
@click.option("--hint", "hint", multiple=True, metavar="X,Y,#RRGGBB[,R]", callback=_parse_hints,
              help="A colour at pixel X,Y of the input (x from the left, y from the top) over radius R px (default 3); "
                   "repeatable, for a run over one file; needs a model that takes hints.")
@click.option("--hints", "hints_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Hints file (JSON) with the hints of each image of the run, keyed by path (see the README).")
@click.option("--skip-existing", is_flag=True, help="Skip inputs whose output exists (resume a run).")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--grid", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a side-by-side picture (input | result).")
@click.option("--grid-count", type=int, default=8, show_default=True, help="Images in the grid.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Run on Ray (pip install -e '.[distributed]' in the clone): alone, a local Ray instance; "
                   "auto or ray://HOST:PORT joins a cluster.")
@click.option("--ray-workers", type=int, default=None, help="With --ray: model workers (default: as many as fit).")
@click.option("--ray-threads", type=int, default=1, show_default=True,
              help="With --ray: onnxruntime threads per worker on CPU nodes.")
@click.option("--ray-gpus", type=float, default=1.0, show_default=True, help="With --ray: GPUs per worker on GPU nodes.")
@click.option("--failures", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --ray: JSONL report of the failed inputs (default: OUT/failures.jsonl).")
def command(inputs, out_dir, workers, fmt, hint, hints_file, skip_existing, overwrite, grid, grid_count, quiet,
            ray_address, ray_workers, ray_threads, ray_gpus, failures, **run_values):
    """Colorize INPUTS (files, folders searched recursively, or globs) into --out."""
    from tqdm import tqdm

    from colorfuse.engine.batch import CollectionRun, Summary
    from colorfuse.engine.collection import Inputs
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.errors import one_line
    from colorfuse.engine.hints import require_hints
    from colorfuse.engine.imagefiles import memory_pixel_limit

    if skip_existing and overwrite:
        raise click.UsageError("--skip-existing and --overwrite contradict each other")
    settings = run_settings(run_values)
    if ray_address is not None:  # ---- cluster mode: the same run through Ray Data ----
        from colorfuse.commands.ray_colorize import run_colorize
        from colorfuse.engine.imagefiles import read_image

        style = None if settings.style is None else read_image(settings.style, settings.options)
        return run_colorize(inputs, out_dir, ray_address, settings.replace(style=style), workers=ray_workers,
                            threads=ray_threads, gpus_per_worker=ray_gpus, failures=failures, quiet=quiet, grid=grid,
                            fmt=fmt, skip_existing=skip_existing, overwrite=overwrite,
                            hints=hint_plan(inputs, out_dir, hint, hints_file))
    sources = Inputs(inputs, out_dir)
    sources.check()  # the cheap checks, before the model loads
    hints = hint_plan(inputs, out_dir, hint, hints_file)
    if settings.options.get("max_pixels") is None:
        memory_pixel_limit()  # the default limit, fixed for the whole run before anything is read
    total: list[int] = []  # the count of inputs, once the background walk has made it
    threading.Thread(target=lambda: total.append(sources.count()), daemon=True, name="colorfuse-count").start()
    echo = partial(tqdm.write, file=sys.stderr)
    progress = tqdm(unit="img", disable=True)  # replaced by the real bar once the model is loaded
    run = None

    def show_total():
        if total and progress.total is None:
            progress.total = total[0]

    def on_outcome(outcome):
        show_total()
        progress.update(1)
        if outcome.status == "failed" and not (outcome.stops_run or outcome.exists):  # said once, at the end
            echo(one_line(f"error: {outcome.error}"))

    with signals_interrupt() as stop, warnings_as_lines(echo):
        with stop.until_stopped():  # a signal from here on ends in the summary and 128 + N, during model loading too
            colorizer = Colorizer.from_settings(settings)
            if hints is not None:
                require_hints(colorizer.card)
            click.echo(describe(colorizer), err=True)
            progress = tqdm(unit="img", disable=quiet, dynamic_ncols=True, desc="colorize")
            run = CollectionRun(colorizer, out_dir, fmt=fmt, skip_existing=skip_existing, overwrite=overwrite,
                                workers=workers, previews=grid_count if grid else 0, on_outcome=on_outcome,
                                inputs=sources, hints=hints, check_stop=stop.check)
            run.run(sources.jobs())
        summary = run.summary if run is not None else Summary()
        show_total()
        progress.close()
        print_summary(summary, colorizer.timing.model_s if run is not None else 0.0)
        if run is not None and colorizer.colour_inputs:
            from colorfuse.engine.colorizer import colour_inputs_line

            echo("warning: " + colour_inputs_line(colorizer.colour_inputs, summary.done + len(summary.failed)))
        grid_failed = bool(grid and summary.previews and stop.received is None and not write_grid(summary, grid))
    if stop.received is not None:
        name, status = signal_status(stop.received)
        click.echo(interrupted_line(name, summary.done), err=True)
        raise SystemExit(status)
    if summary.failed or summary.stopped or grid_failed:
        raise SystemExit(1)


command.stopped_words = stopped_before_the_run  # a stop signal before the run: see colorfuse.cli
