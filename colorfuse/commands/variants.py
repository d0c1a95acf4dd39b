"""``colorfuse variants``: a model's reduced-precision variants, their quality, and what runs here."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("variants")
def command():
    """Reduced-precision variants (int8, bf16, other runtimes) and what --precision auto picks."""


@command.command("list")
@click.argument("model", required=False)
@click.option("--threads", type=click.IntRange(1), default=None)
@click.option("--max-side", type=click.IntRange(0), default=None, help="Working size to time at (default: the card's).")
@click.option("--json", "as_json", is_flag=True, help="Print the measured choice as JSON.")
def list_variants(model, threads, max_side, as_json):
    """MODEL's variants with their measured quality, and which one --precision auto runs on this machine
    (timed here on first use, then cached)."""
    from colorfuse.engine.colorizer import Colorizer

    colorizer = Colorizer(model, device="cpu", threads=threads, max_side=max_side)
    if colorizer.precision_choice is not None and colorizer.precision_choice.wait():  # timed just now: the measured one
        colorizer = Colorizer(model, device="cpu", threads=threads, max_side=max_side)
    choice = colorizer.precision_choice
    if choice is None:
        raise click.ClickException(f"model {colorizer.card.name!r} is run by a plugin: it has no variants")
    from colorfuse.engine.variants import load_variants

    variants = load_variants(colorizer.model_path, colorizer.card)
    if as_json:
        click.echo(json.dumps({"model": colorizer.card.name, "chosen": choice.variant.key, "reason": choice.reason,
                               "timings_ms": choice.timings_ms, "rejected": choice.rejected,
                               "variants": [{"key": v.key, "file": str(v.path), "psnr_loss_db": v.psnr_loss_db,
                                             "colourfulness_change_pct": v.colourfulness_change_pct,
                                             "within_auto_limits": v.within_limits()} for v in variants]}, indent=1))
        return
    click.echo(f"{colorizer.card.name}: {len(variants)} way(s) to run it")
    for variant in variants:
        mark = "*" if variant == choice.variant else " "
        timing = choice.timings_ms.get(variant.key)
        note = choice.rejected.get(variant.key) if variant.within_limits() else None  # describe() says why
        click.echo(f"{mark} {variant.describe()}" + (f", {timing:.1f} ms here" if timing else "")
                   + (f" [not used: {note}]" if note else ""))
    click.echo(f"--precision auto runs {choice.variant.key}: {choice.reason}" + (" (cached)" if choice.cached else ""))


@command.command("build")
@click.argument("model")
@click.option("--calibration", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Photos to calibrate int8 on (not the validation photos).")
@click.option("--photos", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Colour photos to measure each variant's quality on.")
@click.option("--max-images", type=click.IntRange(1), default=None)
@click.option("--reduce-range/--full-range", default=None,
              help="7-bit int8 weights, which CPUs without VNNI need (their 8-bit products can saturate), or 8-bit; "
                   "default: what this CPU needs.")
@click.option("--no-int8", "no_int8", is_flag=True,
              help="No int8 file: measure only what the runtimes do with the model itself (OpenVINO fp32 and bf16).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def build(model, calibration, photos, max_images, reduce_range, no_int8, quiet):
    """Quantize MODEL to int8, score every (precision, runtime) against fp32 on PHOTOS, and write the
    manifest (variants/NAME.json) and the int8 file beside the model."""
    from tqdm import tqdm

    from colorfuse.engine.models import resolve_model
    from colorfuse.train.variants import build_variants

    if calibration is None and not no_int8:
        raise click.UsageError("int8 needs --calibration photos (or give --no-int8)")
    path = resolve_model(model)
    with tqdm(total=max_images, unit="photo", disable=quiet, desc="measuring") as bar:
        manifest = build_variants(path, calibration, photos, max_images, reduce_range=reduce_range,
                                  on_photo=lambda *_: bar.update(), int8=not no_int8)
    doc = json.loads(manifest.read_text())
    base = doc["fp32"]
    click.echo(f"wrote {manifest} ({doc['measured_on']['photos']} photos; fp32: PSNR {base['psnr']:.3f} dB, "
               f"colourfulness {base['colourfulness']:.2f})")
    for entry in doc["variants"]:
        click.echo(f"  {entry['precision']}@{entry['runtime']}: PSNR {-entry['psnr_loss_db']:+.3f} dB, colourfulness "
                   f"{entry['colourfulness_change_pct']:+.2f}%, probe |ab diff| {entry['probe_mean_abs_ab']:.3g}")
