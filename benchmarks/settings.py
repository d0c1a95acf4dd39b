"""``colorfuse bench settings``: onnxruntime CPU session settings, one at a time, on the same inputs.

Each variant changes one setting from the engine's (all graph optimisations, one intra-op
thread per physical core, worker threads that do not spin, the memory arena); the runs are interleaved
(A, B, C, A, B, C, ...) so a change in the machine's load hits every variant alike, with a pause
before each run: every session has its own thread pool, whose threads spin for a while after a
run and would otherwise take the cores from the next session's run.
"""

from __future__ import annotations

import time

from colorfuse.benchmarks import report
from colorfuse.benchmarks.measure import summarize
from colorfuse.benchmarks.ortrun import model_feeds
from colorfuse.benchmarks.paper import model_facts, paper_inputs
from colorfuse.engine.card import read_card
from colorfuse.engine.machine import describe_machine, load_average, physical_cores

SETTLE_S = 0.05
NO_SPIN = {"session.intra_op.allow_spinning": "0"}
VARIANTS = {
    "engine (all optimisations, threads = physical cores, no spinning)": {"config": NO_SPIN},
    "one thread": {"threads": 1, "config": NO_SPIN},
    "spinning worker threads (onnxruntime's default)": {},
    "no memory arena": {"arena": False, "config": NO_SPIN},
    "QDQ int8 kernels with signed activations allowed": {"config": {**NO_SPIN, "session.qdqisint8allowed": "1"}},
    "extended optimisations only (no layout transforms)": {"level": "ORT_ENABLE_EXTENDED", "config": NO_SPIN},
    "basic optimisations only": {"level": "ORT_ENABLE_BASIC", "config": NO_SPIN},
}


def _session(path, threads: int | None = None, config: dict | None = None, arena: bool = True,
             level: str = "ORT_ENABLE_ALL"):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.intra_op_num_threads = threads or physical_cores()
    options.enable_cpu_mem_arena = arena
    options.log_severity_level = 3
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_settings(model_paths: dict[str, object], size: int, repeats: int) -> dict:
    """Interleaved timings of every variant for every model (``{label: path}``) at size x size."""
    load_before = load_average()
    entries = []
    for label, path in model_paths.items():
        card = read_card(path)
        _, l_norm, view = paper_inputs(card, size)
        feeds = model_feeds(card, l_norm, view)
        for name, settings in VARIANTS.items():
            session = _session(path, **settings)
            session.run([card.output_name], feeds)  # warm-up
            entries.append({"model": label, "variant": name, "session": session, "feeds": feeds,
                            "output": card.output_name, "wall": [], "cpu": []})
    for _ in range(repeats):
        for entry in entries:
            time.sleep(SETTLE_S)  # the previous session's worker threads stop spinning before this one runs
            start, cpu_start = time.perf_counter(), time.process_time()
            entry["session"].run([entry["output"]], entry["feeds"])
            entry["wall"].append(time.perf_counter() - start)
            entry["cpu"].append(time.process_time() - cpu_start)
    rows = [{"model": e["model"], "variant": e["variant"], **summarize(e["wall"], e["cpu"])} for e in entries]
    return {"benchmark": "settings", "created": report.timestamp(), "machine": describe_machine(),
            "load_average_before": load_before, "load_average_after": load_average(), "size": size,
            "repeats": repeats, "models": {label: model_facts(path) for label, path in model_paths.items()},
            "variants": {name: {k: v for k, v in settings.items()} for name, settings in VARIANTS.items()},
            "rows": rows}


def settings_markdown(data: dict) -> str:
    rows = [[r["model"], r["variant"], f"{r['median_s']:.3f}", f"{r['p95_s']:.3f}", f"{r['cpu_median_s']:.3f}",
             r["cores_busy"]] for r in data["rows"]]
    return "\n".join([
        f"# onnxruntime CPU settings at {data['size']}x{data['size']}, {data['created']}", "",
        f"Machine: {report.machine_line(data['machine'])}; load before/after {data['load_average_before']} / "
        f"{data['load_average_after']}; {data['repeats']} interleaved runs per variant after a warm-up.", "",
        report.markdown_table(["model", "variant", "median s", "p95 s", "process CPU s", "cores busy"], rows),
    ]) + "\n"


def settings_plot(data: dict, path):
    """Median seconds per variant, one bar group per model."""
    fig, axis = report.figure(7.0, 3.4)
    labels = list(dict.fromkeys(r["variant"] for r in data["rows"]))
    models = list(dict.fromkeys(r["model"] for r in data["rows"]))
    width = 0.8 / max(1, len(models))
    for index, model in enumerate(models):
        values = {r["variant"]: r["median_s"] for r in data["rows"] if r["model"] == model}
        axis.barh([i + index * width for i in range(len(labels))], [values[v] for v in labels], height=width, label=model)
    axis.set_yticks([i + width * (len(models) - 1) / 2 for i in range(len(labels))], labels, fontsize=7)
    axis.set_xlabel(f"seconds per run at {data['size']} px (median)")
    axis.legend(fontsize=7)
    return report.save_figure(fig, path)
