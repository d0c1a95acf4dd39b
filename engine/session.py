"""onnxruntime sessions: provider choice in one place, one cached session per model and device.

``device`` is ``auto`` (CUDA when onnxruntime offers it, else CPU), ``cuda`` or ``cpu``. CUDA
is asked of onnxruntime only when it offers it; when ``cuda`` cannot be had, the model runs on
the CPU and one :class:`ProviderFallbackWarning` says so (onnxruntime's own logs are quiet).
``runtime`` ``openvino`` runs the file on OpenVINO's CPU plugin instead
(:mod:`colorfuse.engine.openvino_runtime`), at ``precision`` fp32 or bf16.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass

from colorfuse.errors import ColorfuseError, ProviderFallbackWarning  # noqa: F401  (its old home)

DEVICES = ("auto", "cuda", "cpu")
RUNTIMES = ("onnxruntime", "openvino")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

_cache: dict[tuple, "ModelSession"] = {}
_lock = threading.Lock()


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ColorfuseError(
            "onnxruntime is not installed: pip install -e '.[cpu]' in the clone (or '.[gpu]' for CUDA)"
        ) from exc
    onnxruntime.set_default_logger_severity(3)  # errors only: colorfuse reports fallbacks itself
    return onnxruntime


def available_providers() -> list[str]:
    return list(_onnxruntime().get_available_providers())


def requested_providers(device: str) -> list:
    """The provider list to ask onnxruntime for, with CUDA options tuned for convolution nets."""
    if device not in DEVICES:
        raise ColorfuseError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    cuda = (
        CUDA,
        {"cudnn_conv_algo_search": "EXHAUSTIVE", "prefer_nhwc": "1", "do_copy_in_default_stream": "1"},
    )
    if device == "cpu" or CUDA not in available_providers():
        return [CPU]
    return [cuda, CPU]


@dataclass
class ModelSession:
    """A live onnxruntime session and the device it actually runs on."""

    session: object
    device: str  # "cuda" or "cpu": what onnxruntime actually uses
    providers: list[str]

    def run(self, output_names: list[str], feeds: dict):
        return self.session.run(output_names, feeds)


def _session_options(threads: int | None):
    from colorfuse.engine.machine import physical_cores

    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # CPU: one intra-op thread per physical core available to this process (its CPU affinity);
    # hyper-threads share a core's vector units and only add contention.
    options.intra_op_num_threads = threads or physical_cores()
    # Worker threads that spin after a run take the cores from the decode and encode threads
    # that run beside the model: without spinning, 400 JPEGs went 12-17% faster end to end.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def get_session(path, device: str = "auto", threads: int | None = None, runtime: str = "onnxruntime",
                precision: str = "fp32") -> ModelSession:
    """Return the cached session for ``path`` on ``device`` and ``runtime`` (created on first use)."""
    path = os.path.realpath(path)
    key = (path, os.path.getmtime(path), device, threads, runtime, precision)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        if runtime == "openvino":
            cached = _cache[key] = _openvino_session(path, device, threads, precision)
            return cached
        if runtime != "onnxruntime":
            raise ColorfuseError(f"unknown runtime {runtime!r}: choose one of {', '.join(RUNTIMES)}")
        ort = _onnxruntime()
        wanted = requested_providers(device)
        session = ort.InferenceSession(path, sess_options=_session_options(threads), providers=wanted)
        used = session.get_providers()
        actual = "cuda" if CUDA in used else "cpu"
        if device == "cuda" and actual != "cuda":
            warnings.warn(
                f"CUDA was requested but is not available to onnxruntime (it offers "
                f"{', '.join(available_providers())}): running {os.path.basename(path)} on the CPU; for CUDA, "
                "install the gpu extra ('.[gpu]') on a machine with an NVIDIA GPU and driver",
                ProviderFallbackWarning,
                stacklevel=2,
            )
        cached = _cache[key] = ModelSession(session, actual, used)
        return cached


def _openvino_session(path: str, device: str, threads: int | None, precision: str) -> ModelSession:
    from colorfuse.engine.openvino_runtime import OpenVINOSession, openvino_problem

    if device == "cuda":
        raise ColorfuseError("the OpenVINO runtime runs on the CPU: use --device cpu, or --runtime onnxruntime for CUDA")
    problem = openvino_problem()
    if problem:
        raise ColorfuseError(problem)
    session = OpenVINOSession(path, precision, threads)
    return ModelSession(session, "cpu", session.get_providers())


def clear_cache() -> None:
    with _lock:
        _cache.clear()
