"""A description of the machine a measurement ran on: CPU, cores, memory, GPU, runtime versions.

Nothing here imports torch (the runtime never does): library versions are read from the
installed distributions' metadata. The GPU is described by ``nvidia-smi`` when it is present.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata


def _cpuinfo() -> list[str]:
    """The lines of /proc/cpuinfo (none where there is no such file): the one place it is read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return handle.read().splitlines()
    except OSError:
        return []


def _cpu_model() -> str:
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def physical_cores() -> int:
    """Physical cores available to this process (logical CPUs when the topology is unknown)."""
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cores = set()
    physical = core = None
    for line in _cpuinfo():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip() and core is not None:
            cores.add((physical, core))
            physical = core = None
    if core is not None:
        cores.add((physical, core))
    return max(1, min(logical, len(cores))) if cores else logical


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


CGROUP_ROOT = "/sys/fs/cgroup"
PROC_CGROUP = "/proc/self/cgroup"
MEMINFO = "/proc/meminfo"


def _own_cgroups() -> list[tuple[str, str]]:
    """(limit file, usage file) of every memory cgroup this process is in, its own first, then each parent."""
    try:
        with open(PROC_CGROUP, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    places = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # cgroup v2
            places.append(("", path, "memory.max", "memory.current"))
        elif "memory" in controllers.split(","):  # cgroup v1
            places.append(("memory", path, "memory.limit_in_bytes", "memory.usage_in_bytes"))
    found = []
    for mount, path, limit, usage in places or [("", "/", "memory.max", "memory.current"),
                                                ("memory", "/", "memory.limit_in_bytes", "memory.usage_in_bytes")]:
        parts = [part for part in path.split("/") if part]
        for depth in range(len(parts), -1, -1):
            folder = os.path.join(CGROUP_ROOT, mount, *parts[:depth])
            found.append((os.path.join(folder, limit), os.path.join(folder, usage)))
    return found


def available_memory() -> int | None:
    """Bytes that can still be allocated: the kernel's MemAvailable, or less where a cgroup limits this
    process (its own, read from ``/proc/self/cgroup``, or any parent of it)."""
    found = []
    try:
        with open(MEMINFO, encoding="utf-8") as handle:
            found += [int(line.split()[1]) * 1024 for line in handle if line.startswith("MemAvailable:")]
    except OSError:
        pass
    for limit, usage in _own_cgroups():
        limit_bytes, usage_bytes = _read_int(limit), _read_int(usage)
        if limit_bytes is not None and usage_bytes is not None and limit_bytes < 1 << 60:
            found.append(max(0, limit_bytes - usage_bytes))
    return min(found) if found else None


def gpus() -> list[dict]:
    """Name, memory and driver of each NVIDIA GPU that ``nvidia-smi`` reports (empty without one)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in result.stdout.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3:
            found.append({"name": parts[0], "memory": parts[1], "driver": parts[2]})
    return found


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None (never imports it)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine_summary() -> dict:
    """CPU model, logical CPUs, OS and Python: the short form evaluation reports record."""
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version()}


def describe_machine() -> dict:
    """Everything a benchmark result should record about where it ran."""
    try:
        import onnxruntime

        ort_version, providers = onnxruntime.__version__, list(onnxruntime.get_available_providers())
    except ImportError:
        ort_version, providers = None, []
    gpu_ort = package_version("onnxruntime-gpu")
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "memory_gib": _memory_gib(),
        "gpus": gpus(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": ort_version,
        "onnxruntime_package": "onnxruntime-gpu" if gpu_ort else "onnxruntime",
        "onnxruntime_providers": providers,
        "torch": package_version("torch"),
        "numpy": package_version("numpy"),
        "opencv": package_version("opencv-python-headless") or package_version("opencv-python"),
        "load_average": load_average(),
    }


def cpu_identity() -> dict:
    """What decides which kernels run fastest here: the CPU model and its wide-vector and matrix extensions."""
    flags = next((set(line.split(":", 1)[1].split()) for line in _cpuinfo() if line.startswith("flags")), set())
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni")
    found = {"cpu": _cpu_model(), "cores": physical_cores(), "flags": [flag for flag in wanted if flag in flags]}
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()  # OpenVINO's (oneDNN's) ISA limit: AVX2, AVX2_VNNI, ...
    if limit in ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"):  # below AVX-512: what the kernels may use
        allowed = {"avx2"} if limit == "AVX2" else {"avx2", "avx_vnni"} if limit.startswith("AVX2_") else set()
        found["flags"] = [flag for flag in found["flags"] if flag in allowed]
        found["isa_limit"] = limit
    return found
