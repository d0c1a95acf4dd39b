"""Measuring: repeated timings (warm-up, median, p95), and peak memory in child processes."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import numpy as np

from colorfuse.errors import ColorfuseError


def summarize(seconds: list[float], cpu_seconds: list[float] | None = None) -> dict:
    """Median, 95th percentile and minimum of repeated wall-clock timings, the runs themselves, and
    when given the median CPU time of the process per run (all threads) and ``cores_busy``, CPU
    time / wall time: about the thread count when the process had the cores to itself, lower
    when other processes took them."""
    runs = np.asarray(seconds, dtype=np.float64)
    result = {"median_s": float(np.median(runs)), "p95_s": float(np.percentile(runs, 95)),
              "min_s": float(runs.min()), "runs": [round(float(s), 5) for s in runs]}
    if cpu_seconds:
        result["cpu_median_s"] = float(np.median(cpu_seconds))
        result["cores_busy"] = round(result["cpu_median_s"] / result["median_s"], 2) if result["median_s"] else None
    return result


def time_runs(function, repeats: int, warmup: int = 1) -> dict:
    """Call ``function()`` ``warmup`` times untimed, then ``repeats`` times timed; see :func:`summarize`.

    The process CPU time per run is recorded too: on a shared machine the wall time grows with
    other processes' load, the CPU time much less (it still includes onnxruntime's spin-waiting).
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        function()
    seconds, cpu_seconds = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        function()
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
    return summarize(seconds, cpu_seconds)


def peak_rss_mib() -> float:
    """This process's peak resident memory (MiB) since it started its program.

    Linux's ``VmHWM`` (``/proc/self/status``) belongs to the memory map created by ``exec``.
    ``ru_maxrss`` is not used where ``VmHWM`` exists: a child started by ``subprocess`` (vfork,
    then exec) inherits its parent's high-water mark in ``ru_maxrss``, so a 10 MiB child of a
    500 MiB parent reports 500 MiB (measured on the benchmark machine).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_child(args: list[str], timeout: float | None = None) -> dict:
    """Run ``python *args`` in a fresh process; return the JSON object it prints last.

    Children report their own :func:`peak_rss_mib`, so one size's memory never includes another's.
    """
    command = f"python {' '.join(args)}"
    try:
        process = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ColorfuseError(f"{command} timed out after {timeout} s") from None
    if process.returncode != 0:
        raise ColorfuseError(f"{command} failed (exit {process.returncode}): {process.stderr.strip()[-2000:]}")
    lines = [line for line in process.stdout.splitlines() if line.strip()]
    if not lines:
        raise ColorfuseError(f"{command} printed no result")
    return json.loads(lines[-1])
