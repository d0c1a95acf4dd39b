"""``colorfuse bench paper``: the speed table of Iizuka et al. (2016), on this machine.

The paper times its network (batch 1) at 224, 512, 1024 and 2048 px on an Intel Core i7-5960X
(8 cores) and an NVIDIA GTX TITAN X. Here the same sizes run the paper-size network (untrained:
timing only) with onnxruntime, as:

- model only: ``session.run`` on prepared arrays (normalised L and the 224 px global view);
  on CUDA with IO binding (inputs already on the GPU, output left there);
- end to end: decode a gray JPEG of that size, colorize at full resolution (``max_side=0``),
  encode and write a JPEG;
- PyTorch eager, model only, same inputs, same device (when torch is installed).

Each figure is the median (and p95) of ``repeats`` runs after one warm-up run.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

from colorfuse.benchmarks import report
from colorfuse.benchmarks.export import UNTRAINED
from colorfuse.benchmarks.images import gray_photo, write_jpeg
from colorfuse.benchmarks.measure import time_runs
from colorfuse.benchmarks.ortrun import ModelRunner, cuda_available, model_feeds
from colorfuse.engine import lab
from colorfuse.engine.card import read_card
from colorfuse.engine.machine import describe_machine, load_average
from colorfuse.engine.session import available_providers

PAPER_SECONDS = {224: (0.399, 0.080), 512: (1.676, 0.339), 1024: (5.629, 1.084), 2048: (20.116, 4.218)}
PAPER_MACHINE = {"cpu": "Intel Core i7-5960X (8 cores)", "gpu": "NVIDIA GeForce GTX TITAN X",
                 "source": "Iizuka, Simo-Serra, Ishikawa, Let there be Color!, SIGGRAPH 2016, computation time table"}
COLUMNS = {
    "model_only": "session.run on prepared arrays (L + 224 px global view), batch 1, on onnxruntime (OpenVINO's CPU "
                  "plugin for @openvino rows); CUDA with IO binding",
    "end_to_end": "decode gray JPEG + Colorizer(max_side=0) (L, model, chroma, Lab->RGB) + encode and write JPEG",
    "torch_eager": "PyTorch eager forward pass, inference_mode, batch 1, same inputs and device (fp32 unless fp16 on CUDA)",
}


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_facts(path: Path) -> dict:
    card = read_card(path)
    data = card.training.get("data")
    weights = data if isinstance(data, str) else "trained (see the card's training section)" if data else "not stated"
    return {"name": card.name, "path": str(path), "architecture": card.architecture, "precision": card.precision,
            "parameters": card.parameters, "file_sha256": file_sha256(path), "weights_sha256": card.weights_sha256,
            "weights": weights}


def paper_inputs(card, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A size x size gray photo, its normalised L and its normalised global view."""
    gray, _ = gray_photo(size, size)
    full_l = lab.luminance(gray)
    norm = lambda a: (a - np.float32(card.l_offset)) * np.float32(1.0 / card.l_scale)  # noqa: E731
    view = norm(lab.resize(full_l, card.global_input_size, card.global_input_size)) if card.global_input_size else None
    return gray, norm(full_l), view[None] if view is not None else None


def _runtime_problem(label: str, device: str) -> str | None:
    from colorfuse.engine.openvino_runtime import openvino_problem

    if "@openvino" in label:
        return "OpenVINO runs on the CPU here" if device == "cuda" else openvino_problem()
    return None


def _device_problem(device: str) -> str | None:
    if device == "cuda" and not cuda_available():
        return f"no CUDA provider in this onnxruntime (available: {', '.join(available_providers())})"
    return None


def label_variant(label: str, path: Path):
    """``fp32``, ``int8``, ``fp16`` (onnxruntime) or ``PRECISION@RUNTIME`` as a :class:`Variant` of ``path``."""
    from colorfuse.engine.variants import Variant

    precision, _, runtime = label.partition("@")
    return Variant(precision, runtime or "onnxruntime", Path(path))


def _end_to_end(label: str, path: Path, device: str, gray: np.ndarray, repeats: int, threads: int | None,
                workdir: Path) -> dict:
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.engine.imagefiles import read_image, write_image_atomic

    colorizer = Colorizer(path, device=device, max_side=0, batch_size=1, threads=threads,
                          precision=label_variant(label, path) if "@" in label else "fp32")
    source = write_jpeg(gray, workdir / f"in-{gray.shape[0]}.jpg")
    target = workdir / f"out-{gray.shape[0]}.jpg"

    def once():
        write_image_atomic(colorizer.colorize(read_image(source)), target, "jpeg")

    return time_runs(once, repeats)


def run_paper(model_paths: dict[str, Path], devices: list[str], sizes: list[int], repeats: int,
              threads: int | None = None, torch_reference: bool = True, end_to_end: bool = True,
              cuda_graph: bool = False) -> dict:
    """Time every precision's model (``{precision: path}``) on every device at every size.

    ``torch_reference`` is only meaningful for the built-in paper model (same seed, same weights).
    """
    from colorfuse.benchmarks.torchref import time_torch

    load_before = load_average()
    first = next(iter(model_paths))  # PyTorch runs once per size: fp32 (and fp16 on CUDA)
    results = []
    with tempfile.TemporaryDirectory(prefix="colorfuse-bench-") as workdir:
        for precision, path in model_paths.items():
            card = read_card(path)
            for device in devices:
                problem = _device_problem(device) or _runtime_problem(precision, device)
                for size in sizes:
                    row = {"size": size, "precision": precision, "device": device}
                    if problem:
                        results.append({**row, "unavailable": problem})
                        continue
                    gray, l_norm, view = paper_inputs(card, size)
                    feeds = model_feeds(card, l_norm, view)
                    variant = label_variant(precision, path)
                    runner = ModelRunner(path, device, feeds, threads, cuda_graph=cuda_graph and device == "cuda",
                                         runtime=variant.runtime, precision=variant.precision)
                    row["providers"] = runner.providers
                    row["model_only"] = time_runs(runner.run, repeats)
                    if end_to_end:
                        row["end_to_end"] = time_runs_safe(_end_to_end, precision, path, device, gray, repeats, threads, Path(workdir))
                    if torch_reference and (precision == first or (precision == "fp16" and device == "cuda")):
                        row["torch_eager"] = time_torch(l_norm[None, None], view[None], device, precision, repeats,
                                                        threads=threads)
                    results.append(row)
    return {
        "benchmark": "paper", "created": report.timestamp(), "machine": describe_machine(),
        "load_average_before": load_before, "load_average_after": load_average(),
        "models": {precision: model_facts(path) for precision, path in model_paths.items()},
        "settings": {"sizes": sizes, "repeats": repeats, "warmup": 1, "batch": 1, "devices": devices, "cuda_graph": cuda_graph,
                     "threads": threads or "onnxruntime default (physical cores)"},
        "columns": COLUMNS, "paper": {**PAPER_MACHINE, "seconds_cpu_gpu": PAPER_SECONDS},
        "results": results, "table": table_rows(results), "fastest": fastest_by_size(table_rows(results)),
    }


def time_runs_safe(function, *args) -> dict:
    """``function(*args)``, or ``{"error": ...}`` when it fails (one failed column keeps the others)."""
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001 - recorded in the result, not hidden
        return {"error": f"{type(exc).__name__}: {exc}"}


def _median(row: dict | None, key: str) -> float | None:
    value = (row or {}).get(key) or {}
    return value.get("median_s")


def _ratio(numerator, denominator):
    return round(numerator / denominator, 2) if numerator and denominator else None


def table_rows(results: list[dict]) -> list[dict]:
    """One row per (precision, size): our CPU and GPU times, the paper's, and the speedups."""
    by_key = {(r["precision"], r["size"], r["device"]): r for r in results}
    rows = []
    for precision, size in dict.fromkeys((r["precision"], r["size"]) for r in results):
        cpu, gpu = by_key.get((precision, size, "cpu")), by_key.get((precision, size, "cuda"))
        paper_cpu, paper_gpu = PAPER_SECONDS.get(size, (None, None))
        cpu_s, gpu_s = _median(cpu, "model_only"), _median(gpu, "model_only")
        rows.append({
            "precision": precision, "size": size,
            "cpu_model_s": cpu_s, "cpu_model_p95_s": (cpu or {}).get("model_only", {}).get("p95_s"),
            "cpu_model_cpu_s": (cpu or {}).get("model_only", {}).get("cpu_median_s"),
            "cpu_model_cores_busy": (cpu or {}).get("model_only", {}).get("cores_busy"),
            "cpu_end_to_end_cores_busy": ((cpu or {}).get("end_to_end") or {}).get("cores_busy"),
            "cpu_end_to_end_s": _median(cpu, "end_to_end"), "gpu_model_s": gpu_s,
            "gpu_end_to_end_s": _median(gpu, "end_to_end"), "gpu_vs_cpu": _ratio(cpu_s, gpu_s),
            "paper_cpu_s": paper_cpu, "paper_gpu_s": paper_gpu,
            "vs_paper_cpu": _ratio(paper_cpu, cpu_s), "vs_paper_gpu": _ratio(paper_gpu, gpu_s),
            "torch_cpu_s": _median(cpu, "torch_eager"), "torch_gpu_s": _median(gpu, "torch_eager"),
        })
    return rows


def fastest_by_size(rows: list[dict]) -> dict:
    """Per device and size, the precision (and runtime) with the lowest model-only median."""
    fastest = {}
    for device, key in (("cpu", "cpu_model_s"), ("cuda", "gpu_model_s")):
        for row in rows:
            best = fastest.setdefault(device, {}).get(str(row["size"]))
            if row[key] and (best is None or row[key] < best["seconds"]):
                fastest[device][str(row["size"])] = {"precision": row["precision"], "seconds": row[key]}
    return {device: sizes for device, sizes in fastest.items() if sizes}


def _fmt(value):
    return None if value is None else f"{value:.4g}"


def paper_markdown(data: dict) -> str:
    """The table with its caption: what each column is, the machine, the load."""
    header = ["precision", "size (px)", "our CPU model (s)", "CPU p95 (s)", "CPU model, process CPU time (s)",
              "cores busy (model / e2e)", "our CPU end-to-end (s)",
              "our GPU model (s)", "our GPU end-to-end (s)", "GPU vs CPU", "paper CPU (s)", "paper GPU (s)",
              "vs paper CPU", "vs paper GPU", "PyTorch CPU (s)", "PyTorch GPU (s)"]
    rows = [[r["precision"], r["size"], _fmt(r["cpu_model_s"]), _fmt(r["cpu_model_p95_s"]), _fmt(r["cpu_model_cpu_s"]),
             f"{r['cpu_model_cores_busy']} / {r['cpu_end_to_end_cores_busy']}", _fmt(r["cpu_end_to_end_s"]),
             _fmt(r["gpu_model_s"]), _fmt(r["gpu_end_to_end_s"]), r["gpu_vs_cpu"], r["paper_cpu_s"], r["paper_gpu_s"],
             r["vs_paper_cpu"], r["vs_paper_gpu"], _fmt(r["torch_cpu_s"]), _fmt(r["torch_gpu_s"])] for r in data["table"]]
    missing = sorted({f"{r['device']}: {r['unavailable']}" for r in data["results"] if "unavailable" in r})
    models = "; ".join(f"{p}: {m['name']} ({m['weights']}, sha256 {m['file_sha256'][:12]})" for p, m in data["models"].items())
    lines = [f"# Paper table (Iizuka et al. 2016), {data['created']}", "",
             f"Machine: {report.machine_line(data['machine'])}; load before/after "
             f"{data['load_average_before']} / {data['load_average_after']}.", "",
             f"Models: {models}. Batch 1, median of {data['settings']['repeats']} runs after a warm-up.", "",
             report.markdown_table(header, rows),
             "Columns: model = " + data["columns"]["model_only"] + "; end-to-end = " + data["columns"]["end_to_end"]
             + "; PyTorch = " + data["columns"]["torch_eager"] + ". \"vs paper\" = paper time / our time (above 1: faster). "
             "Process CPU time = CPU seconds of all threads per run: on a shared machine it grows much less than the "
             "wall time. Cores busy = CPU time / wall time: near the thread count when the run had the cores to "
             "itself, lower when other processes took them (then the wall time is inflated).",
             f"Paper: {PAPER_MACHINE['cpu']} / {PAPER_MACHINE['gpu']}."]
    lines += [f"Not measured: {reason}." for reason in missing]
    for device, sizes in data.get("fastest", {}).items():
        lines.append(f"Fastest on {device.upper()}, model only: " + "; ".join(
            f"{size} px: {best['precision']} ({best['seconds']:.3g} s)" for size, best in sizes.items()) + ".")
    return "\n".join(lines) + "\n"


def paper_plot(data: dict, path) -> Path:
    """Seconds against image size (log-log): ours per precision and device, the paper's, PyTorch."""
    fig, axis = report.figure()
    sizes = sorted(PAPER_SECONDS)
    axis.plot(sizes, [PAPER_SECONDS[s][0] for s in sizes], "k--o", label="paper CPU (i7-5960X)")
    axis.plot(sizes, [PAPER_SECONDS[s][1] for s in sizes], "k:s", label="paper GPU (TITAN X)")
    for key, label, style in (("cpu_model_s", "CPU", "-o"), ("gpu_model_s", "GPU", "-s"), ("torch_cpu_s", "PyTorch CPU", "-.^")):
        for precision in dict.fromkeys(r["precision"] for r in data["table"]):
            if key == "torch_cpu_s" and precision != next(iter(data["models"])):
                continue
            points = [(r["size"], r[key]) for r in data["table"] if r["precision"] == precision and r[key]]
            if points:
                name = label if key == "torch_cpu_s" else f"ours {label} {precision}"
                axis.plot(*zip(*points), style, label=name)
    axis.set_xscale("log")
    axis.set_yscale("log")
    measured = sorted({r["size"] for r in data["table"]} | set(sizes))
    axis.set_xticks(measured, [str(s) for s in measured])
    axis.minorticks_off()
    axis.set_xlabel("image side (px), square, batch 1")
    axis.set_ylabel("seconds (median)")
    axis.set_title(f"Paper-size network, {UNTRAINED}", fontsize=9)
    axis.legend(fontsize=7)
    return report.save_figure(fig, path)
