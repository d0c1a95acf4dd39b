"""What several commands share: the run options (look, precision, runtime, style), the run's lines, the train extra."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import click

from colorfuse.engine.variants import CHOICES, RUNTIME_CHOICES


look_option = click.option(
    "--look", default=None,
    help="One of the model's looks, e.g. natural, rich or vivid (default: the model's; see `colorfuse models info`).")
precision_option = click.option(
    "--precision", type=click.Choice(CHOICES), default="auto", show_default=True,
    help="Variant to run: auto takes the fastest one here whose measured quality loss is within 0.05 dB PSNR and "
         "2% colourfulness (see `colorfuse variants list`).")
runtime_option = click.option(
    "--runtime", type=click.Choice(RUNTIME_CHOICES), default="auto", show_default=True,
    help="onnxruntime, or OpenVINO on the CPU (pip install -e '.[openvino]' in the clone); auto: the fastest here.")
style_option = click.option(
    "--style", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="Reference image whose global features (palette, mood) every image gets, and its palette as a colour hint "
         "for a model that takes hints; needs a model with a global input.")
style_strength_option = click.option(
    "--style-strength", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
    help="How far --style moves the colours: from a touch (0.2) to following the reference (1).")


def describe(colorizer) -> str:
    """The run's first line: model, look, style, device, precision and runtime, working size."""
    style = "" if colorizer.style is None else \
        f", with a style image{f' at strength {colorizer.style.strength:g}' if colorizer.style.strength < 1 else ''}"
    choice = colorizer.precision_choice
    variant = f" ({choice.variant.precision} on {choice.variant.runtime})" if choice else ""
    return (f"model {colorizer.card.name} {colorizer.card.version} ({colorizer.look_name} look{style}) on "
            f"{colorizer.device}{variant}, working size {colorizer.max_side or 'full'}")


def interrupted_line(name: str, done: int) -> str:
    return (f"interrupted by {name}: the {done} outputs written are complete, no partial file is left; "
            "run again with --skip-existing to go on")


@contextmanager
def warnings_as_lines(echo):
    """While inside, every warning is one line given to ``echo``, naming the file whose decoding raised it."""
    from colorfuse.errors import ColorfuseWarning, one_line
    from colorfuse.engine.imagefiles import file_being_read

    def show(message, category, filename, lineno, file=None, line=None):
        text, path = str(message), file_being_read()
        echo(one_line(f"warning: {path}: {text}" if path and path not in text else f"warning: {text}"))

    with warnings.catch_warnings():
        warnings.filterwarnings("always", module=r"PIL\.")  # each file's own, not only the first
        warnings.filterwarnings("always", category=ColorfuseWarning)
        warnings.showwarning = show
        yield


def unknown_type_line(count: int) -> str:
    return f"skipped: {count} file{'s' if count != 1 else ''} of unknown type (no reader plugin declares their extension)"


NEEDS_TORCH = "training and export need torch and onnx: install them with pip install -e '.[train]' in the clone"
TRAIN_DEPS = {"torch", "onnx", "onnxruntime", "matplotlib"}


def summary_line(done: int, skipped: int, failed: int, seconds: float, model_s: float) -> str:
    rate = done / seconds if seconds else 0.0
    return (f"done {done}, skipped {skipped}, failed {failed} in {seconds:.1f} s "
            f"({rate:.1f} images/s; model {model_s:.1f} s)")


def print_summary(summary, model_s: float) -> None:
    """The run's counts and speed, then each failure, then why it stopped early, if it did."""
    from colorfuse.errors import one_line

    click.echo(summary_line(summary.done, summary.skipped, len(summary.failed), summary.seconds, model_s))
    if summary.unknown_type:
        click.echo(unknown_type_line(summary.unknown_type))
    existing = [outcome for outcome in summary.failed if outcome.exists]
    for outcome in summary.failed:
        if not outcome.exists:
            click.echo(f"  failed: {one_line(outcome.error)}", err=True)
    if existing:
        click.echo(existing_line(existing), err=True)
    if summary.stopped:
        click.echo(f"stopped at the first full-disk error: {one_line(summary.stopped)}; the images after it were "
                   "not done", err=True)


def existing_line(existing) -> str:
    """One line for every output that was there already, with the two ways on."""
    more = f" and {len(existing) - 1} more output{'s' if len(existing) > 2 else ''}" if len(existing) > 1 else ""
    return (f"  failed: {existing[0].output}{more}: already exist{'s' if not more else ''}; run again with "
            "--skip-existing to keep them and do the rest, or --overwrite to replace them")
