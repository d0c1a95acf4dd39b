"""Model-only runs: ``session.run`` on prepared arrays, the way the benchmarks time the model.

CPU: the engine's own cached session (:func:`colorfuse.engine.session.get_session`), so the
figures are what ``colorfuse colorize`` gets. CUDA: a session with the engine's CUDA provider
options (exhaustive cuDNN search, NHWC) and IO binding: the inputs are copied to the GPU once and
the output stays there, so the time is the GPU's. With ``cuda_graph`` the session is created with
``enable_cuda_graph`` and binds preallocated device buffers (CUDA graphs need fixed shapes and
addresses): the first run captures the graph, later runs replay it.
"""

from __future__ import annotations

import numpy as np

from colorfuse.engine.card import read_card
from colorfuse.engine.hints import complete_feeds
from colorfuse.engine.machine import physical_cores
from colorfuse.engine.session import CPU, CUDA, available_providers, get_session, requested_providers


def model_feeds(card, l_norm: np.ndarray, global_view: np.ndarray | None, batch: int = 1) -> dict[str, np.ndarray]:
    """The model's inputs for ``batch`` copies of one normalised L (h, w) and its global view (1, G, G)."""
    feeds = {card.input_name("L"): np.ascontiguousarray(np.broadcast_to(l_norm, (batch, 1) + l_norm.shape), np.float32)}
    if card.input_name("L_global"):
        feeds[card.input_name("L_global")] = np.ascontiguousarray(
            np.broadcast_to(global_view, (batch,) + global_view.shape), np.float32)
    return complete_feeds(card, feeds)


def cuda_available() -> bool:
    return CUDA in available_providers()


class ModelRunner:
    """Runs one model on fixed feeds; ``run()`` is what gets timed. ``providers`` lists those used.

    ``io_binding`` (always on for CUDA) binds the inputs as device values once and the output to
    the device; it also works on the CPU, where the tests check it against ``session.run``.
    """

    def __init__(self, path, device: str, feeds: dict[str, np.ndarray], threads: int | None = None,
                 cuda_graph: bool = False, io_binding: bool = False, runtime: str = "onnxruntime",
                 precision: str = "fp32"):
        self.card = read_card(path)
        self.output_name = self.card.output_name
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be cpu or cuda, got {device!r}")
        if device == "cpu" and not io_binding:
            model_session = get_session(path, "cpu", threads, runtime=runtime,
                                        precision="bf16" if precision == "bf16" else "fp32")
            self.session, self.providers = model_session.session, model_session.providers
            self.feeds = feeds
            self.run = self._run_plain
        else:
            self._bind(path, device, feeds, threads, cuda_graph and device == "cuda")
            self.run = self._run_bound

    def _run_plain(self) -> None:
        self.session.run([self.output_name], self.feeds)

    def _bind(self, path, device: str, feeds, threads: int | None, cuda_graph: bool) -> None:
        import onnxruntime as ort

        if device == "cuda" and not cuda_available():
            raise RuntimeError(f"onnxruntime has no CUDA provider here (available: {', '.join(available_providers())})")
        name, provider_options = requested_providers("cuda")[0] if device == "cuda" else (CPU, {})
        provider_options = dict(provider_options)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or physical_cores()
        options.log_severity_level = 3
        output_shape = None
        if cuda_graph:
            probe = ort.InferenceSession(str(path), options, providers=[(name, provider_options)])
            output_shape = probe.run([self.output_name], feeds)[0].shape
            provider_options["enable_cuda_graph"] = "1"
        providers = [(name, provider_options)] + ([CPU] if name != CPU else [])
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.providers = self.session.get_providers()
        if self.providers[0] != name:
            raise RuntimeError(f"onnxruntime did not use {name} for {path} (providers: {self.providers})")
        self._inputs = {key: ort.OrtValue.ortvalue_from_numpy(value, device, 0) for key, value in feeds.items()}
        self.binding = self.session.io_binding()
        for key, value in self._inputs.items():
            self.binding.bind_ortvalue_input(key, value)
        if output_shape is not None:
            self._output = ort.OrtValue.ortvalue_from_shape_and_type(output_shape, np.float32, device, 0)
            self.binding.bind_ortvalue_output(self.output_name, self._output)
        else:
            self.binding.bind_output(self.output_name, device, 0)

    def _run_bound(self) -> None:
        self.session.run_with_iobinding(self.binding)  # returns when the device is done

    def output(self) -> np.ndarray:
        """The last run's output, copied to the host."""
        if hasattr(self, "binding"):
            return self.binding.copy_outputs_to_cpu()[0]
        return self.session.run([self.output_name], self.feeds)[0]
