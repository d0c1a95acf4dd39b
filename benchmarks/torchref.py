"""PyTorch eager on the same machine and device: the second reference for the paper table.

The same untrained paper-size network (same seed, so the same weights as the exported ONNX),
``torch.inference_mode``, batch 1, the same inputs. fp16 runs the half-precision module on CUDA;
CPU and int8 rows use fp32 eager (PyTorch has no drop-in int8 for this network), labelled so.
"""

from __future__ import annotations

import time

import numpy as np

from colorfuse.benchmarks.measure import summarize


def torch_available() -> str | None:
    """None when torch can be imported, else the reason it cannot."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        return f"torch is not installed ({exc})"
    return None


def time_torch(l_norm: np.ndarray, global_view: np.ndarray, device: str, precision: str, repeats: int, warmup: int = 1,
               threads: int | None = None) -> dict:
    """Median/p95 seconds of the paper model's forward pass in eager mode, or ``{"unavailable": reason}``.

    ``l_norm`` (N, 1, H, W) and ``global_view`` (N, 1, 224, 224) are the ONNX model's feeds.
    """
    reason = torch_available()
    if reason:
        return {"unavailable": reason}
    import torch

    from colorfuse.benchmarks.export import paper_model

    if device == "cuda" and not torch.cuda.is_available():
        return {"unavailable": f"torch {torch.__version__} has no CUDA device here"}
    if threads:
        torch.set_num_threads(threads)
    half = precision == "fp16" and device == "cuda"
    model = paper_model().to(device)
    model = model.half() if half else model
    dtype = torch.float16 if half else torch.float32
    l_in, g_in = (torch.from_numpy(value).to(device=device, dtype=dtype) for value in (l_norm, global_view))
    synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    seconds, cpu_seconds = [], []
    with torch.inference_mode():
        for index in range(warmup + repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            model(l_in, g_in)
            synchronize()
            if index >= warmup:
                seconds.append(time.perf_counter() - start)
                cpu_seconds.append(time.process_time() - cpu_start)
    result = summarize(seconds, cpu_seconds)
    result.update(torch=torch.__version__, dtype=str(dtype).replace("torch.", ""), threads=torch.get_num_threads())
    return result
