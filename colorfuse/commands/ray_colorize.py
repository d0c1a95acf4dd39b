"""``colorfuse colorize ... --ray``: the run on Ray with progress, summary and exit status (the ``distributed`` extra)."""

from __future__ import annotations

import sys
import time

import click


def run_colorize(inputs, out_dir, address, settings, *, workers, threads, gpus_per_worker, failures, quiet, grid,
                 **placing):
    """``colorfuse colorize ... --ray``: the run of :func:`colorize_on_ray` with ``settings`` (a
    :class:`~colorfuse.engine.settings.RunSettings`) and a progress bar; ``placing`` as that function takes."""
    from tqdm import tqdm

    from colorfuse.commands.shared import interrupted_line, unknown_type_line
    from colorfuse.engine.signals import signal_status, signals_interrupt
    from colorfuse.engine.batch import Summary
    from colorfuse.engine.distributed import check_address, colorize_on_ray, import_ray
    from colorfuse.errors import one_line

    if grid:
        raise click.UsageError("--grid is not available with --ray")
    check_address(address)
    import_ray()  # without the extra: its one line, before any progress bar
    progress = tqdm(unit="img", disable=quiet, dynamic_ncols=True, desc="colorize (ray)")
    seen = Summary()  # what the run has reported so far, for the summary of an interrupted run

    def on_outcome(outcome):
        seen.add(outcome)
        progress.update(1)
        if outcome.status == "failed":
            progress.write(one_line(f"error: {outcome.error}"), file=sys.stderr)

    def on_start(plan):
        click.echo(f"ray: {plan.describe()}", err=True)

    start = time.perf_counter()
    summary = None
    with signals_interrupt() as stop:
        try:
            with stop.until_stopped():
                summary = colorize_on_ray(inputs, out_dir, settings, address=address, workers=workers, threads=threads,
                                          gpus_per_worker=gpus_per_worker, failures=failures, on_outcome=on_outcome,
                                          on_start=on_start, **placing)
        finally:
            progress.close()
    if summary is None:
        summary, seen.seconds = seen, time.perf_counter() - start
    rate = summary.done / summary.seconds if summary.seconds else 0.0
    click.echo(f"done {summary.done}, skipped {summary.skipped}, failed {len(summary.failed)} "
               f"in {summary.seconds:.1f} s ({rate:.1f} images/s, Ray start-up included)")
    if summary.unknown_type:
        click.echo(unknown_type_line(summary.unknown_type))
    if summary.failed:
        click.echo(f"failures: {failures or out_dir / 'failures.jsonl'}", err=True)
    if stop.received is not None:
        name, status = signal_status(stop.received)
        click.echo(interrupted_line(name, summary.done), err=True)
        raise SystemExit(status)
    if summary.failed:
        raise SystemExit(1)
