"""``colorfuse eval-video``: flicker and PSNR of a colour clip colorized with and without temporal consistency."""

from __future__ import annotations

from pathlib import Path

import click

from colorfuse.commands.parameters import parse_plugin_options
from colorfuse.engine.session import DEVICES

LOW_SATURATION = 10.0  # mean HSV saturation (0..255) under which a clip is effectively gray


def _figure(value, unit="") -> str:
    return "-" if value is None else f"{value:.3f}{unit}"


@click.command("eval-video")
@click.argument("clip", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the figures here.")
@click.option("--model", default=None, help="Model name or path to an .onnx file.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--max-side", type=click.IntRange(min=0), default=None, help="Longest side the model sees (default: the card's).")
@click.option("--batch-size", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--start", type=click.FloatRange(min=0), default=None, help="Start at this time (seconds).")
@click.option("--end", type=float, default=None, help="Stop at this time (seconds).")
@click.option("--option", "extra", multiple=True, metavar="KEY=VALUE", help="Option for plugins (repeatable).")
@click.option("--jitter", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Stress test: add fresh low-frequency noise of this standard deviation (model output "
                   "units, ab/ab_scale) to every frame's prediction, a known flicker for the plugins to remove.")
@click.option("--hint-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also run with hints from the truth on every N-th frame, carried along the flow (0: no hinted "
                   "run; needs a model that takes hints).")
@click.option("--hint-count", type=click.IntRange(min=1), default=10, show_default=True,
              help="Hints on each hinted keyframe (7x7 patches at random points, the truth's colour).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the hints' points.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(clip, json_path, model, device, max_side, batch_size, start, end, extra, jitter, hint_every, hint_count,
            seed, quiet):
    """Turn the colour CLIP to gray, colorize it without and with the temporal plugins, and compare.

    Reports PSNR against the real colours, flicker (mean absolute ab change between consecutive
    frames after flow warping, on pixels whose luminance did not change) and CDC (Jensen-Shannon
    divergence of the RGB histograms of frames 1, 2 and 4 apart, TCVC's figure).
    """
    from tqdm import tqdm

    from colorfuse.errors import VideoReadError
    from colorfuse.evaluation.video import evaluate_clip
    from colorfuse.engine.atomic import write_json_atomic
    from colorfuse.engine.machine import machine_summary

    if end is not None and end <= (start or 0.0):
        raise click.BadParameter("--end must be after --start", param_hint="--end")
    progress = tqdm(unit="frame", disable=quiet, dynamic_ncols=True, desc="eval-video")
    try:
        report = evaluate_clip(clip, model, device, max_side, batch_size, start, end, parse_plugin_options(extra), jitter,
                               hint_every, hint_count, seed, on_total=lambda total: setattr(progress, "total", total), on_batch=progress.update)
    finally:
        progress.close()
    if report["frames"] < 2:
        raise VideoReadError(f"{clip}: {report['frames']} frame(s); flicker needs at least two")
    report["machine"] = machine_summary()
    report["warning"] = None
    if report["mean_hsv_saturation"] is not None and report["mean_hsv_saturation"] < LOW_SATURATION:
        report["warning"] = (f"the clip is nearly gray (mean HSV saturation {report['mean_hsv_saturation']:.1f}/255): "
                             "PSNR against it says little about colour")
    write_json_atomic(report, json_path)
    click.echo(f"{'run':<11} {'PSNR dB':>9} {'flicker':>9} {'CDC':>9}")
    for name, run in report["runs"].items():
        cdc = run["cdc"]["cdc"] if run["cdc"] else None
        click.echo(f"{name:<11} {_figure(run.get('psnr_db')):>9} {_figure(run['flicker']):>9} {_figure(cdc, ''):>9}")
    if "flicker_reduction" in report:
        click.echo(f"temporal consistency: flicker {report['flicker_reduction'] * 100:.1f}% lower, "
                   f"PSNR {report.get('psnr_change_db', 0.0):+.3f} dB")
    if "hints" in report:
        hints, gain = report["hints"], report["hints"]["psnr_gain_db"]
        ratio = hints["flicker_ratio"]
        click.echo(f"hints from the truth every {hint_every} frames ({hint_count} each): PSNR {gain['mean']:+.3f} dB "
                   f"over the automatic run (min {gain['min']:+.3f}, raised on {gain['frames_raised']} of "
                   f"{gain['frames']} frames), flicker x{_figure(ratio)}")
        click.echo(hints["tracking"])
    if report["warning"]:
        click.echo(f"warning: {report['warning']}", err=True)
    click.echo(f"wrote {json_path}")
