"""``colorfuse bench profile``: where the model's time goes, from onnxruntime's own profiler.

One warm-up run, then one profiled run; the profiler's JSON is summed by operator type over
that run. The arithmetic of the convolutions and matrix products is counted on the graph (ONNX
shape inference at the profiled size), which gives their achieved GFLOP/s (int8: GOP/s). Next
to it, NumPy's float32 matrix product measured just before says what this CPU reaches at all:
when the convolutions run near that rate, a target is bound by arithmetic, not by overheads.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from colorfuse.benchmarks import report
from colorfuse.benchmarks.ortrun import model_feeds
from colorfuse.benchmarks.paper import model_facts, paper_inputs
from colorfuse.engine.card import read_card
from colorfuse.engine.machine import describe_machine, load_average, physical_cores

CONV_OPS = {"Conv", "FusedConv", "NhwcFusedConv", "QLinearConv", "ConvInteger", "NhwcConv"}
GEMM_OPS = {"Gemm", "FusedGemm", "QGemm", "MatMul", "MatMulInteger", "FusedMatMul"}


def graph_flops(model_path: Path, input_shapes: dict[str, tuple]) -> dict[str, float] | None:
    """Operations of the convolutions and matrix products for concrete input shapes (ONNX shape inference).

    Counted on the exported graph (prepacked weights hide their shapes from the profiler):
    2 x output elements x weight elements per output channel. None without the ``onnx`` package.
    """
    try:
        import onnx
    except ImportError:
        return None
    model = onnx.load(str(model_path))
    for value in model.graph.input:
        for dim, size in zip(value.type.tensor_type.shape.dim, input_shapes[value.name]):
            dim.ClearField("dim_param")
            dim.dim_value = size
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {init.name: list(init.dims) for init in model.graph.initializer}
    for value in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]
    flops = {"conv": 0.0, "gemm": 0.0}
    for node in inferred.graph.node:
        out = shapes.get(node.output[0])
        if not out or None in out:
            continue
        if node.op_type == "Conv" and None not in shapes.get(node.input[1], [None]):
            flops["conv"] += 2.0 * math.prod(out) * math.prod(shapes[node.input[1]][1:])
        elif node.op_type in ("Gemm", "MatMul") and shapes.get(node.input[0]):
            flops["gemm"] += 2.0 * math.prod(out) * shapes[node.input[0]][-1]
    return flops


def matmul_gflops(side: int = 2048, repeats: int = 3) -> float:
    """GFLOP/s of NumPy's float32 matrix product (its BLAS, default threads): a reachable peak to compare with."""
    a = np.random.default_rng(0).standard_normal((side, side), dtype=np.float32)
    a @ a
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2.0 * side**3 / best / 1e9


def summarize_profile(events: list[dict], flops: dict[str, float] | None = None) -> dict:
    """Over the last ``model_run``: milliseconds and share per operator type, and for the convolutions
    and the matrix products (each group as a whole) GFLOP and achieved GFLOP/s."""
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    if not runs:
        raise ValueError("the profile has no model_run event")
    last = runs[-1]
    start, stop = last["ts"], last["ts"] + last["dur"]
    totals: dict[str, dict] = defaultdict(lambda: {"us": 0.0, "nodes": 0})
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time") and start <= event["ts"] <= stop:
            entry = totals[event.get("args", {}).get("op_name", "?")]
            entry["us"] += event["dur"]
            entry["nodes"] += 1
    kernel_us = sum(entry["us"] for entry in totals.values())
    ops = [{"op": op, "nodes": e["nodes"], "ms": round(e["us"] / 1e3, 3),
            "share": round(e["us"] / kernel_us, 4) if kernel_us else None}
           for op, e in sorted(totals.items(), key=lambda item: -item[1]["us"])]
    groups = {}
    for group, members in (("conv", CONV_OPS), ("gemm", GEMM_OPS)):
        us = sum(e["us"] for op, e in totals.items() if op in members)
        gflop = (flops or {}).get(group, 0.0) / 1e9
        if us and gflop:
            groups[group] = {"ms": round(us / 1e3, 1), "gflop": round(gflop, 2), "gflop_per_s": round(gflop / (us / 1e6), 1)}
    return {"run_ms": round(last["dur"] / 1e3, 3), "kernels_ms": round(kernel_us / 1e3, 3), "ops": ops, "groups": groups}


def run_profile(model_path: Path, size: int, threads: int | None = None) -> dict:
    """Profile one batch-1 run of ``model_path`` at size x size on the CPU."""
    import onnxruntime as ort

    card = read_card(model_path)
    _, l_norm, view = paper_inputs(card, size)
    feeds = model_feeds(card, l_norm, view)
    with tempfile.TemporaryDirectory(prefix="colorfuse-profile-") as workdir:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or physical_cores()
        options.log_severity_level = 3
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(workdir) / "ort")
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        load_before = load_average()
        blas_gflops = matmul_gflops()
        session.run([card.output_name], feeds)
        session.run([card.output_name], feeds)
        profile_file = session.end_profiling()
        with open(profile_file, encoding="utf-8") as handle:
            events = json.load(handle)
    shapes = {name: value.shape for name, value in feeds.items()}
    return {"benchmark": "profile", "created": report.timestamp(), "machine": describe_machine(),
            "load_average_before": load_before, "load_average_after": load_average(),
            "model": model_facts(Path(model_path)), "size": size, "threads": options.intra_op_num_threads,
            "numpy_float32_matmul_gflop_per_s": round(blas_gflops, 1),
            **summarize_profile(events, graph_flops(model_path, shapes))}


def profile_markdown(data: dict) -> str:
    rows = [[o["op"], o["nodes"], o["ms"], f"{100 * o['share']:.1f}%" if o["share"] is not None else None]
            for o in data["ops"]]
    lines = [f"# onnxruntime profile, {data['model']['name']} ({data['model']['weights']}), "
             f"{data['size']}x{data['size']}, {data['created']}", "",
             f"Machine: {report.machine_line(data['machine'])}; load before/after {data['load_average_before']} / "
             f"{data['load_average_after']}; {data['threads']} intra-op threads.", "",
             f"One run: {data['run_ms']} ms, of which kernels {data['kernels_ms']} ms.", "",
             report.markdown_table(["op type", "nodes", "ms", "share"], rows)]
    for group, name in (("conv", "convolutions"), ("gemm", "matrix products")):
        if group in data["groups"]:
            g = data["groups"][group]
            lines.append(f"All {name}: {g['gflop']} GFLOP in {g['ms']} ms = {g['gflop_per_s']} GFLOP/s.")
    lines.append(f"NumPy float32 matrix product on this CPU just before: {data['numpy_float32_matmul_gflop_per_s']} GFLOP/s.")
    return "\n".join(lines) + "\n"


def profile_plot(data: dict, path) -> Path:
    """Milliseconds per operator type (the ten largest)."""
    fig, axis = report.figure(5.5, 3.2)
    ops = data["ops"][:10][::-1]
    axis.barh([o["op"] for o in ops], [o["ms"] for o in ops])
    axis.set_xlabel("ms in one run")
    axis.set_title(f"{data['model']['name']}, {data['size']} px, {data['run_ms']} ms", fontsize=9)
    return report.save_figure(fig, path)
