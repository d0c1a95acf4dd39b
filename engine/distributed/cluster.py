"""The Ray side of cluster mode: importing Ray, starting or joining it, sizing the actor pool."""

from __future__ import annotations

import logging
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass

from colorfuse.errors import ColorfuseError

INSTALL_HINT = "cluster mode needs Ray: pip install -e '.[distributed]' in the clone (installs ray[data])"
MIN_RAY = (2, 48)  # older Ray Data fuses the row split into the next stage: one actor per listing block
LIST_BLOCK_BYTES = 256 * 1024  # Ray Data emits a block once this much is buffered: listing streams
ADDRESS = re.compile(r"^(local|auto|[a-z][a-z0-9+.-]*://\S+|[\w.-]+:\d+)$")


def import_ray():
    """``ray`` with Ray Data, or a :class:`ColorfuseError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ColorfuseError(f"{INSTALL_HINT} ({exc})") from None
    if tuple(int(part) for part in re.findall(r"\d+", ray.__version__)[:2]) < MIN_RAY:
        raise ColorfuseError(f"Ray {ray.__version__} is too old: cluster mode needs ray[data]>="
                             f"{'.'.join(map(str, MIN_RAY))}: pip install -U -e '.[distributed]' in the clone")
    return ray


def check_address(address: str) -> str:
    """``local``, ``auto``, ``ray://host:port`` or ``host:port``; anything else is refused."""
    if not ADDRESS.match(address):
        raise ColorfuseError(f"--ray {address!r} is not a Ray address: use auto, ray://HOST:PORT or HOST:PORT "
                             "(or write --ray=ADDRESS / put --ray after the inputs)")
    return address


@dataclass
class WorkerPlan:
    """How many colorize actors and what each one reserves."""

    min_workers: int
    max_workers: int
    device: str  # "cuda" or "cpu"
    threads: int | None
    resources: dict  # ray remote args of one actor

    def describe(self) -> str:
        count = str(self.max_workers) if self.min_workers == self.max_workers else \
            f"{self.min_workers}-{self.max_workers}"
        each = f"{self.resources.get('num_gpus', 0):g} GPU" if self.device == "cuda" else f"{self.threads} CPU thread(s)"
        return f"{count} colorize worker(s) on {self.device}, {each} each"


def plan_workers(cluster: dict, device: str = "auto", workers: int | None = None, threads: int = 1,
                 gpus_per_worker: float = 1.0) -> WorkerPlan:
    """Size the actor pool from the cluster's resources (``ray.cluster_resources()``).

    GPU workers reserve ``gpus_per_worker`` GPUs and one CPU; CPU workers reserve ``threads``
    CPUs and run that many onnxruntime threads. At least one CPU stays free for the decode and
    write tasks. ``workers=None`` lets Ray Data scale the pool between 1 and what fits.
    """
    cpus, gpus = int(cluster.get("CPU", 0)), float(cluster.get("GPU", 0))
    use_gpu = device == "cuda" or (device == "auto" and gpus > 0)
    if use_gpu:
        if gpus <= 0:
            raise ColorfuseError("--device cuda but the Ray cluster has no GPU")
        fits, resources, threads = int(gpus // gpus_per_worker), {"num_gpus": gpus_per_worker, "num_cpus": 1}, None
        room = f"{gpus:g} GPU(s) at {gpus_per_worker:g} per worker"
    else:
        threads = max(1, int(threads))
        fits, resources = (cpus - 1) // threads, {"num_cpus": threads}
        room = f"{cpus} CPU(s), one kept for decoding and writing, {threads} per worker"
    if fits < 1 or (workers is not None and workers > fits):
        wanted = "a worker" if workers is None else f"{workers} workers"
        raise ColorfuseError(f"the Ray cluster has room for {max(fits, 0)} colorize worker(s) ({room}); "
                             f"{wanted} asked for more: use fewer workers or threads, or a larger cluster")
    low, high = (1, fits) if workers is None else (workers, workers)
    return WorkerPlan(low, high, "cuda" if use_gpu else "cpu", threads, resources)


@contextmanager
def data_context(ray):
    """Small blocks (so listing streams), no Ray progress bars or logs (the caller shows progress)."""
    context, logger = ray.data.DataContext.get_current(), logging.getLogger("ray.data")
    saved = context.target_max_block_size, context.enable_progress_bars, logger.level
    context.target_max_block_size, context.enable_progress_bars = LIST_BLOCK_BYTES, False
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        context.target_max_block_size, context.enable_progress_bars, _ = saved
        logger.setLevel(saved[2])


@contextmanager
def connect(address: str = "local"):
    """Use the Ray runtime this process already has, or start (``local``) / join one; yield ``ray``.

    The stop-signal handlers the caller set are kept (Ray's own would kill the driver without a summary);
    a SIGTERM while Ray starts, which Ray's own handler turns into ``sys.exit(15)``, goes to the caller's."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            ray.init(address=check_address(address), include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, TimeoutError) as exc:
            raise ColorfuseError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
        except SystemExit as exc:
            if exc.code == signal.SIGTERM and callable(handlers[signal.SIGTERM]):
                handlers[signal.SIGTERM](signal.SIGTERM, None)  # colorize's: Interrupted, the summary, 143
            raise
        finally:
            if threading.current_thread() is threading.main_thread():
                for signum, handler in handlers.items():
                    if handler is not None:
                        signal.signal(signum, handler)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
