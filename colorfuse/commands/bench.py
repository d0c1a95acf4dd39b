"""``colorfuse bench``: speed and memory benchmarks (paper table, throughput, scaling, profile, settings,
video, the web page's re-render).

Every subcommand prints a Markdown summary and can write ``--json``, ``--md`` and ``--plot``
(PNG) files; the JSON records the machine (CPU, cores, GPU and driver, library versions,
providers used), the load average and the model's sha256.
"""

from __future__ import annotations

from pathlib import Path

import click

from colorfuse.commands.shared import precision_option, runtime_option

OUT_FILE = click.Path(dir_okay=False, path_type=Path)


def _numbers(kind, text: str, name: str) -> list:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers", param_hint=name) from None
    if not values or min(values) <= 0:
        raise click.BadParameter(f"{text!r}: give positive numbers", param_hint=name)
    return values


def _outputs(function):
    function = click.option("--plot", "plot_file", type=OUT_FILE, default=None, help="Write a PNG plot.")(function)
    function = click.option("--md", "md_file", type=OUT_FILE, default=None, help="Write the Markdown summary.")(function)
    return click.option("--json", "json_file", type=OUT_FILE, default=None, help="Write the full result as JSON.")(function)


def _emit(data: dict, markdown: str, json_file, md_file, plot_file=None, plot=None) -> None:
    from colorfuse.benchmarks.report import write_json, write_text

    click.echo(markdown)
    for path, write in ((json_file, lambda p: write_json(data, p)), (md_file, lambda p: write_text(markdown, p)),
                        (plot_file, plot)):
        if path is not None and write is not None:
            write(path)
            click.echo(f"wrote {path}", err=True)


@click.group("bench")
def command():
    """Benchmarks: the paper's speed table, end-to-end throughput, scaling with size, profiles."""


def _paper_base_model(model) -> tuple[Path, bool]:
    """(model path, whether it is the built-in paper model that PyTorch can rebuild)."""
    from colorfuse.errors import ColorfuseError
    from colorfuse.engine.models import resolve_model

    if model is not None:
        return resolve_model(model), False
    from colorfuse.benchmarks.torchref import torch_available

    reason = torch_available()
    if reason:
        raise ColorfuseError(f"the paper-size model is exported with PyTorch, but {reason}: "
                             "pip install -e '.[train]' in the clone, or pass --model MODEL.onnx")
    from colorfuse.benchmarks.export import export_paper_model, paper_model_path

    if not paper_model_path().exists():
        click.echo(f"exporting the paper-size network (untrained, timing only) to {paper_model_path()} ...", err=True)
    return export_paper_model(), True


@command.command("paper")
@click.option("--device", type=click.Choice(["cpu", "cuda", "both"]), default="both", show_default=True)
@click.option("--precision", default="fp32", show_default=True,
              help="Comma-separated: fp32, fp16, int8 (int8: static QDQ calibrated on --photos), each on onnxruntime, "
                   "and fp32@openvino, bf16@openvino, int8@openvino (OpenVINO's CPU plugin).")
@click.option("--sizes", default="224,512,1024,2048", show_default=True, help="Square image sides (px).")
@click.option("--repeats", type=click.IntRange(1), default=5, show_default=True, help="Timed runs after one warm-up.")
@click.option("--model", default=None, help="Model to time (default: the paper-size network, untrained, exported here).")
@click.option("--threads", type=click.IntRange(1), default=None, help="Intra-op threads (default: physical cores).")
@click.option("--photos", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Calibration photos for int8 (default: the shared validation photos).")
@click.option("--no-torch", is_flag=True, help="Skip the PyTorch eager reference.")
@click.option("--no-end-to-end", is_flag=True, help="Time the model only.")
@click.option("--cuda-graph", is_flag=True, help="CUDA: capture the model in a CUDA graph (fixed shapes) and replay it.")
@_outputs
def paper(device, precision, sizes, repeats, model, threads, photos, no_torch, no_end_to_end, cuda_graph, json_file, md_file,
          plot_file):
    """The speed table of Iizuka, Simo-Serra and Ishikawa (2016) at 224-2048 px, batch 1, on this machine."""
    from colorfuse.benchmarks.paper import paper_markdown, paper_plot, run_paper
    from colorfuse.benchmarks.quantize import DEFAULT_PHOTOS, precision_variant

    labels = [p.strip() for p in precision.split(",") if p.strip()]
    known = ("fp32", "fp16", "int8", "fp32@openvino", "bf16@openvino", "int8@openvino")
    unknown = sorted(set(labels) - set(known))
    if unknown or not labels:
        raise click.BadParameter(f"unknown precision {unknown or precision!r}: use {', '.join(known)}",
                                 param_hint="--precision")
    base, is_paper_model = _paper_base_model(model)
    files = {p: precision_variant(base, p, photos or DEFAULT_PHOTOS) for p in {label.split("@")[0] for label in labels}
             if p != "bf16"}
    paths = {label: files[label.split("@")[0] if not label.startswith("bf16") else "fp32"] for label in labels}
    devices = ["cpu", "cuda"] if device == "both" else [device]
    data = run_paper(paths, devices, _numbers(int, sizes, "--sizes"), repeats, threads=threads,
                     torch_reference=is_paper_model and not no_torch, end_to_end=not no_end_to_end, cuda_graph=cuda_graph)
    _emit(data, paper_markdown(data), json_file, md_file, plot_file, lambda p: paper_plot(data, p))


@command.command("throughput")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--model", default=None, help="Model name or .onnx path (default: the default model).")
@click.option("--max-side", type=click.IntRange(0), default=None, help="Working size (default: the card's).")
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=None)
@click.option("--repeats", type=click.IntRange(1), default=1, show_default=True, help="Passes over the folder.")
@click.option("--limit", type=click.IntRange(0), default=0, help="Use only the first N images (0: all).")
@click.option("--bucket", type=click.IntRange(0), default=0,
              help="Pad working shapes up to multiples of this so more images share a batch (0: off).")
@precision_option
@runtime_option
@click.option("--peers", is_flag=True,
              help="Also run a plain onnxruntime loop and a PyTorch-eager loop over the same photos, in turn.")
@click.option("--torch-checkpoint", type=click.Path(exists=True, path_type=Path), default=None,
              help="The PyTorch model for --peers (default: the repository's checkpoints/NAME/last.pt).")
@click.option("--png", is_flag=True, help="Write the photos as gray PNGs first (untimed) and colorize those into PNGs.")
@click.option("--stages", type=click.IntRange(0), default=0,
              help="Also time each step (decode, prepare, model, finish, encode) on this many photos, one at a time.")
@_outputs
def throughput(folder, device, model, max_side, batch_size, workers, threads, repeats, limit, bucket, precision, runtime,
               peers, torch_checkpoint, png, stages, json_file, md_file, plot_file):
    """End-to-end images/s colorizing FOLDER (decode, model, encode, write), and how busy the model was."""
    from colorfuse.benchmarks.throughput import run_throughput, throughput_markdown, throughput_plot

    data = run_throughput(folder, device, model, max_side, batch_size, workers, threads, repeats, limit, bucket,
                          precision, runtime, peers, torch_checkpoint, png, stages)
    _emit(data, throughput_markdown(data), json_file, md_file, plot_file, lambda p: throughput_plot(data, p))


@command.command("scaling")
@click.option("--sizes", default="0.25,0.5,1,2,4,8,16,32,64", show_default=True, help="Megapixels.")
@click.option("--model", default=None, help="Model name or .onnx path (default: the default model).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=click.IntRange(1), default=None)
@click.option("--repeats", type=click.IntRange(1), default=1, show_default=True)
@click.option("--tile", type=click.IntRange(0), default=None, help="Tile side (default: the engine's; 0: never tile).")
@click.option("--seam", default="1024,512,128", show_default=True,
              help="SIZE,TILE,OVERLAP of the tiled-vs-untiled check ('none' to skip).")
@click.option("--warmup", type=click.IntRange(0), default=1, show_default=True,
              help="Untimed runs of each image first (0 for huge images where memory is the point).")
@click.option("--timeout", type=float, default=None, help="Seconds allowed per size.")
@precision_option
@runtime_option
@_outputs
def scaling(sizes, model, device, threads, repeats, tile, seam, warmup, timeout, precision, runtime, json_file, md_file,
            plot_file):
    """Time and peak memory against pixel count at full resolution (one child process per size)."""
    from colorfuse.benchmarks.scaling import run_scaling, scaling_markdown, scaling_plot

    seam_check = None if seam.lower() == "none" else tuple(_numbers(int, seam, "--seam"))
    if seam_check is not None and len(seam_check) != 3:
        raise click.BadParameter("give SIZE,TILE,OVERLAP", param_hint="--seam")
    data = run_scaling(_numbers(float, sizes, "--sizes"), model, device, threads, repeats, tile, seam_check, timeout,
                       warmup, precision, runtime)
    _emit(data, scaling_markdown(data), json_file, md_file, plot_file, lambda p: scaling_plot(data, p))


@command.command("profile")
@click.option("--model", default=None, help="Model (default: the paper-size network, untrained).")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True)
@click.option("--size", type=click.IntRange(8), default=2048, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=None)
@_outputs
def profile(model, precision, size, threads, json_file, md_file, plot_file):
    """onnxruntime's profile of one CPU run, by operator type, with achieved GFLOP/s."""
    from colorfuse.benchmarks.profile import profile_markdown, profile_plot, run_profile
    from colorfuse.benchmarks.quantize import DEFAULT_PHOTOS, precision_variant

    base, _ = _paper_base_model(model)
    data = run_profile(precision_variant(base, precision, DEFAULT_PHOTOS), size, threads)
    _emit(data, profile_markdown(data), json_file, md_file, plot_file, lambda p: profile_plot(data, p))


@command.command("settings")
@click.option("--model", default=None, help="Model (default: the paper-size network, untrained).")
@click.option("--precision", default="fp32,int8", show_default=True, help="Comma-separated precisions to compare.")
@click.option("--size", type=click.IntRange(8), default=1024, show_default=True)
@click.option("--repeats", type=click.IntRange(1), default=5, show_default=True)
@_outputs
def settings(model, precision, size, repeats, json_file, md_file, plot_file):
    """onnxruntime CPU session settings (threads, spinning, arena, graph optimisation), one at a time."""
    from colorfuse.benchmarks.quantize import DEFAULT_PHOTOS, precision_variant
    from colorfuse.benchmarks.settings import run_settings, settings_markdown, settings_plot

    base, _ = _paper_base_model(model)
    paths = {p.strip(): precision_variant(base, p.strip(), DEFAULT_PHOTOS) for p in precision.split(",") if p.strip()}
    data = run_settings(paths, size, repeats)
    _emit(data, settings_markdown(data), json_file, md_file, plot_file, lambda p: settings_plot(data, p))


@command.command("video")
@click.option("--model", "models", multiple=True, help="Model (repeatable; default: the default model and a test model).")
@click.option("--source", type=click.Path(path_type=Path), default=None,
              help="Clip to scale and loop (default: the shared solidWhiteRight.mp4, else a synthetic test pattern).")
@click.option("--heights", default="360,480,720,1080", show_default=True)
@click.option("--frames", type=click.IntRange(1), default=60, show_default=True, help="Frames per clip.")
@click.option("--preset", default="veryfast", show_default=True, help="x264 preset.")
@click.option("--max-side", type=click.IntRange(0), default=None, help="Working size (default: the card's).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@precision_option
@runtime_option
@click.option("--json", "json_file", type=OUT_FILE, default=None, help="Write the full result as JSON.")
def video(models, source, heights, frames, preset, max_side, device, precision, runtime, json_file):
    """`colorfuse video` file to file at each height: frames/s, CPU per frame, and at 480p the time of each step."""
    from colorfuse.benchmarks.video_speed import DEFAULT_SOURCE, run_video_bench
    from colorfuse.engine.atomic import write_json_atomic

    report = run_video_bench(list(models), source or DEFAULT_SOURCE, _numbers(int, heights, "--heights"), frames, preset,
                             max_side, precision, runtime, echo=click.echo, device=device)
    if json_file is not None:
        write_json_atomic(report, json_file)


@command.command("web")
@click.option("--model", default=None, help="A model that takes hints (default: the default model).")
@click.option("--photo", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=Path("samples/imagenet/n11939491_daisy.jpg"), show_default=True, help="Photo to scale and gray.")
@click.option("--megapixels", type=click.FloatRange(0.01), default=1.0, show_default=True)
@click.option("--renders", type=click.IntRange(1), default=10, show_default=True, help="Re-renders to time.")
@click.option("--hints", "hint_count", type=click.IntRange(1), default=5, show_default=True, help="Hints per re-render.")
@click.option("--json", "json_file", type=OUT_FILE, default=None, help="Write the full result as JSON.")
@click.option("--md", "md_file", type=OUT_FILE, default=None, help="Write the Markdown summary.")
def web(model, photo, megapixels, renders, hint_count, json_file, md_file):
    """`colorfuse serve`'s re-render time as a photo's hints change (its app behind a test client)."""
    from colorfuse.benchmarks.web_render import run_web_render, web_render_markdown

    data = run_web_render(model, photo, megapixels, renders, hint_count)
    _emit(data, web_render_markdown(data), json_file, md_file)
