"""What several commands share: the run options (look, precision, runtime, style), the run's lines, the train extra."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import click

from colorfuse.engine.variants import CHOICES, RUNTIME_CHOICES


look_option = click.option(
    "--look", default=None,
    help="One of the model's looks, e.g. natural or vivid (default: the model's; see `colorfuse models info`).")
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
