"""``colorfuse bench profile``: where the model's time goes, from onnxruntime's own profiler.

One warm-up run, then one profiled run; the profiler's JSON is summed by operator type over
that run. For convolutions and matrix products the arithmetic is counted from the shapes the
profiler records (2 x output elements x weight elements per output channel), which gives the
achieved GFLOP/s: set against the CPU's peak, it says whether a target is bound by compute.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import defaultdict
from pathlib import Path

from colorfuse.benchmarks import report
from colorfuse.benchmarks.ortrun import model_feeds
from colorfuse.benchmarks.paper import model_facts, paper_inputs
from colorfuse.engine.card import read_card
from colorfuse.engine.machine import describe_machine, load_average, physical_cores

_WEIGHT_INDEX = {"Conv": 1, "FusedConv": 1, "NhwcFusedConv": 1, "QLinearConv": 3, "ConvInteger": 1}


def _shapes(arg_list) -> list[list[int]]:
    return [next(iter(entry.values())) for entry in arg_list or []]


def node_flops(op: str, inputs: list[list[int]], outputs: list[list[int]]) -> float:
    """Floating-point (or integer) operations of one convolution or matrix product node; 0 for others."""
    if op in _WEIGHT_INDEX and len(inputs) > _WEIGHT_INDEX[op] and outputs:
        weight = inputs[_WEIGHT_INDEX[op]]
        return 2.0 * math.prod(outputs[0]) * math.prod(weight[1:])
    if op in ("Gemm", "MatMul", "FusedGemm", "QGemm", "MatMulInteger") and len(inputs) >= 2 and outputs:
        return 2.0 * math.prod(outputs[0]) * inputs[0][-1]
    return 0.0


def summarize_profile(events: list[dict]) -> list[dict]:
    """Per operator type over the last ``model_run``: milliseconds, share, GFLOP and GFLOP/s."""
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    if not runs:
        raise ValueError("the profile has no model_run event")
    last = runs[-1]
    start, stop = last["ts"], last["ts"] + last["dur"]
    totals: dict[str, dict] = defaultdict(lambda: {"us": 0.0, "flops": 0.0, "nodes": 0})
    for event in events:
        if event.get("cat") != "Node" or not event.get("name", "").endswith("_kernel_time"):
            continue
        if not start <= event["ts"] <= stop:
            continue
        args = event.get("args", {})
        op = args.get("op_name", "?")
        entry = totals[op]
        entry["us"] += event["dur"]
        entry["nodes"] += 1
        entry["flops"] += node_flops(op, _shapes(args.get("input_type_shape")), _shapes(args.get("output_type_shape")))
    kernel_us = sum(entry["us"] for entry in totals.values())
    rows = []
    for op, entry in sorted(totals.items(), key=lambda item: -item[1]["us"]):
        seconds = entry["us"] / 1e6
        rows.append({"op": op, "nodes": entry["nodes"], "ms": round(entry["us"] / 1e3, 2),
                     "share": round(entry["us"] / kernel_us, 4) if kernel_us else None,
                     "gflop": round(entry["flops"] / 1e9, 2) if entry["flops"] else None,
                     "gflop_per_s": round(entry["flops"] / 1e9 / seconds, 1) if entry["flops"] and seconds else None})
    return [{"run_ms": round(last["dur"] / 1e3, 1), "kernels_ms": round(kernel_us / 1e3, 1)}, *rows]


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
        session.run([card.output_name], feeds)
        session.run([card.output_name], feeds)
        profile_file = session.end_profiling()
        with open(profile_file, encoding="utf-8") as handle:
            events = json.load(handle)
    summary, *ops = summarize_profile(events)
    return {"benchmark": "profile", "created": report.timestamp(), "machine": describe_machine(),
            "load_average_before": load_before, "load_average_after": load_average(),
            "model": model_facts(Path(model_path)), "size": size, "threads": options.intra_op_num_threads,
            **summary, "ops": ops}


def profile_markdown(data: dict) -> str:
    rows = [[o["op"], o["nodes"], o["ms"], f"{100 * o['share']:.1f}%" if o["share"] is not None else None,
             o["gflop"], o["gflop_per_s"]] for o in data["ops"]]
    return "\n".join([
        f"# onnxruntime profile, {data['model']['name']} ({data['model']['weights']}), "
        f"{data['size']}x{data['size']}, {data['created']}", "",
        f"Machine: {report.machine_line(data['machine'])}; load before/after {data['load_average_before']} / "
        f"{data['load_average_after']}; {data['threads']} intra-op threads.", "",
        f"One run: {data['run_ms']} ms, of which kernels {data['kernels_ms']} ms.", "",
        report.markdown_table(["op type", "nodes", "ms", "share", "GFLOP", "GFLOP/s"], rows),
    ]) + "\n"


def profile_plot(data: dict, path) -> Path:
    """Milliseconds per operator type (the ten largest)."""
    fig, axis = report.figure(5.5, 3.2)
    ops = data["ops"][:10][::-1]
    axis.barh([o["op"] for o in ops], [o["ms"] for o in ops])
    axis.set_xlabel("ms in one run")
    axis.set_title(f"{data['model']['name']}, {data['size']} px, {data['run_ms']} ms", fontsize=9)
    return report.save_figure(fig, path)
