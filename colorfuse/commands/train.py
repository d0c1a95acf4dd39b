"""``colorfuse train``: train a colorization model on image folders and tar shards."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from colorfuse.commands.shared import NEEDS_TORCH, TRAIN_DEPS
from colorfuse.commands.parameters import parse_key_values


class _EchoHandler(logging.Handler):
    """Log records of ``colorfuse.*`` as plain lines on stderr (data warnings, run summary)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def echo_logs() -> None:
    logger = logging.getLogger("colorfuse")
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler())


def format_record(record: dict) -> str:
    """One progress line from a ``metrics.jsonl`` record."""
    partial = "" if record["epoch_progress"] >= 1 else f" ({record['epoch_progress']:.0%})"
    return (
        f"epoch {record['epoch']}{partial} step {record['step']} {record['elapsed_s']:.0f}s: "
        f"train {record['train_loss']:.4g} val {record['val_loss']:.4g} | "
        f"PSNR {record['val_psnr']:.2f} dB (gray {record['val_psnr_gray_baseline']:.2f}) | "
        f"colourfulness {record['val_colorfulness']:.1f} (truth {record['val_colorfulness_truth']:.1f}) | "
        f"gain at 50% colour {record.get('val_psnr_gain_at_half_colour', float('nan')):+.2f} dB | "
        f"lr {record['lr']:.2g} | {record['images_per_s']:.0f} img/s"
    )


@click.command("train")
@click.argument("model", required=False)
@click.option("--data", multiple=True,
              help="Image folder or .tar shard (repeatable; folders are searched recursively).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Run directory to create.")
@click.option("--val", multiple=True, help="Validation folder/shard (default: a 2% hash split of --data).")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), help="Training time budget (all sessions).")
@click.option("--epochs", type=click.IntRange(1), help="Number of epochs (in all).")
@click.option("--batch-size", type=click.IntRange(1), help="[default: 64]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Peak learning rate (cosine decay) [default: 0.001].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--crop", type=click.IntRange(8), help="Training crop size in pixels [default: 128].")
@click.option("--workers", type=click.IntRange(0), default=2, show_default=True, help="Data-loading processes.")
@click.option("--cache", is_flag=True, help="Keep the decoded (downscaled) images in RAM.")
@click.option("--checkpoint-minutes", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True)
@click.option("--resume", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Continue this run directory (its model, data and settings are kept).")
@click.option("--seed", type=int, help="[default: 0]")
@click.option("--set", "set_pairs", multiple=True, metavar="KEY=VALUE", help="Model keyword argument (JSON value).")
@click.option("--max-images", type=click.IntRange(1), help="Train on at most this many images.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
              help="auto: bf16 autocast on CUDA, and on CPUs with native bf16 for models that run faster so.")
@click.option("--ema", type=click.FloatRange(0, 1, min_open=True, max_open=True), metavar="DECAY",
              help="Validate and keep a moving average of the weights (e.g. 0.999).")
@click.option("--select", type=click.Choice(["loss", "gain"]),
              help="best.pt by lowest validation loss, or by highest PSNR gain at half the truth's "
                   "colourfulness (the natural look's figure) [default: loss].")
@click.option("--list", "list_models", is_flag=True, help="List the architectures MODEL may name, and exit.")
@click.option("--init", "init", type=click.Path(exists=True, path_type=Path),
              help="Start a new run from this checkpoint or run directory (its model and weights).")
def command(model, data, out_dir, val, minutes, epochs, batch_size, lr, device, crop, workers, cache,
            checkpoint_minutes, resume, seed, set_pairs, max_images, precision, ema, select, init, list_models):  # fmt: skip
    """Train MODEL, an architecture (`colorfuse train --list` lists them; optional with --resume), and print
    one line per epoch. The run directory gets metrics.jsonl, loss_curve.png, run.json, last.pt and best.pt."""
    try:
        from colorfuse.train.trainer import train
    except ModuleNotFoundError as exc:
        if exc.name not in TRAIN_DEPS:
            raise
        raise click.ClickException(f"{NEEDS_TORCH} (no module {exc.name!r})") from exc
    if list_models:
        from colorfuse.train.models.registry import MODELS

        for name, cls in sorted(MODELS.items()):
            about = (sys.modules[cls.__module__].__doc__ or '').strip().splitlines()
            click.echo(f"{name:<17}{about[0] if about else ''}")
        return
    if not resume and not ((model or init) and data and out_dir):
        raise click.UsageError("a new run needs MODEL (or --init), --data and --out (or --resume RUN_DIR)")
    if minutes is None and epochs is None:
        raise click.UsageError("give --minutes or --epochs")
    echo_logs()
    try:
        last = train(
            model, list(data) or None, out_dir, minutes=minutes, epochs=epochs, batch_size=batch_size, lr=lr,
            device=device, crop=crop, model_kwargs=parse_key_values(set_pairs, "--set") or None, val=list(val) or None,
            checkpoint_minutes=checkpoint_minutes, resume=resume, seed=seed, workers=workers,
            max_train_images=max_images, cache=cache, precision=precision, ema=ema, select=select, init=init, on_epoch=lambda r: click.echo(format_record(r)),
        )  # fmt: skip
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise click.ClickException(str(exc)) from exc
    run_dir = resume or out_dir
    if not last:
        click.echo(f"{run_dir}: nothing left to do (the budget is spent)")
    else:
        click.echo(f"run directory: {run_dir} (best.pt, last.pt, metrics.jsonl, loss_curve.png)")
