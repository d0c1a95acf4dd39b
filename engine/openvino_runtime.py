"""OpenVINO as an optional CPU runtime for the same ONNX files (``pip install -e '.[openvino]' in the clone``).

:class:`OpenVINOSession` answers the part of onnxruntime's ``InferenceSession`` the engine uses
(``run``, ``get_inputs``, ``get_outputs``), so a Colorizer runs on it unchanged. ``precision``
is OpenVINO's inference precision hint: ``f32``, or ``bf16`` on CPUs with native bf16 (AVX512-BF16,
AMX). The graph keeps its dynamic shapes; one infer request per thread, as requests are not
thread-safe. Callers verify a reduced-precision runtime against fp32 before trusting it
(:mod:`colorfuse.engine.precision`).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from importlib import metadata

import numpy as np

HINTS = {"fp32": "f32", "bf16": "bf16"}  # colorfuse precision -> OpenVINO's inference precision hint
_TYPES = {"f32": "tensor(float)", "f16": "tensor(float16)"}


def openvino_problem() -> str | None:
    """None when OpenVINO is installed, else why it cannot be used (one line); imports nothing."""
    if importlib.util.find_spec("openvino") is None:
        return "OpenVINO is not installed (pip install -e '.[openvino]' in the clone)"
    return None


def openvino_version() -> str | None:
    """The installed distribution's version, read without importing OpenVINO (0.1 s at start-up)."""
    try:
        return metadata.version("openvino")
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def _core():
    """One OpenVINO Core for the whole process, never released.

    The CPU plugin changes the thread's alternate signal stack when it is loaded and when compiled
    models are released. With a Core per session, releasing them left a signal stack the kernel
    could not use: the next signal caught by a Python handler (SIGCHLD as an ffmpeg child ended,
    after PyTorch's DataLoader had installed one) killed the process with SIGSEGV.
    """
    import openvino

    return openvino.Core()


@dataclass
class NodeArg:
    """A graph input or output as onnxruntime describes it: name, shape (ints or names), type."""

    name: str
    shape: list
    type: str


def _port_name(port) -> str:
    """The ONNX name of a port: OpenVINO may give an input that feeds a Cast straight away the Cast's
    output name too (``/Cast_14_output_0`` beside ``hint_mask``); the exporter's own names start with "/"."""
    names = sorted(port.get_names())
    return next((name for name in names if not name.startswith("/")), port.get_any_name())


def _node_args(ports) -> list[NodeArg]:
    args = []
    for port in ports:
        shape = [dim.get_length() if dim.is_static else f"dim{i}" for i, dim in enumerate(port.get_partial_shape())]
        args.append(NodeArg(_port_name(port), shape, _TYPES.get(port.get_element_type().get_type_name(), "?")))
    return args


class OpenVINOSession:
    """One ONNX file compiled by OpenVINO for the CPU, run like an onnxruntime session."""

    def __init__(self, path, precision: str = "fp32", threads: int | None = None):
        from colorfuse.engine.machine import physical_cores

        if precision not in HINTS:
            raise ValueError(f"OpenVINO runs precision fp32 or bf16 (an int8 file runs as fp32), not {precision!r}")
        self.precision = precision
        self.compiled = _core().compile_model(str(path), "CPU", {
            "INFERENCE_PRECISION_HINT": HINTS[precision],
            "INFERENCE_NUM_THREADS": int(threads or physical_cores()),
            "PERFORMANCE_HINT": "LATENCY",
        })
        self._inputs, self._outputs = _node_args(self.compiled.inputs), _node_args(self.compiled.outputs)
        self._local = threading.local()

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_providers(self) -> list[str]:
        return [f"OpenVINO CPU ({self.precision})"]

    def run(self, output_names, feeds: dict) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        results = request.infer({name: np.ascontiguousarray(value) for name, value in feeds.items()})
        by_name = {_port_name(port): value for port, value in results.items()}
        names = output_names or [arg.name for arg in self._outputs]
        return [np.array(by_name[name], copy=True) for name in names]  # the request reuses its buffers
