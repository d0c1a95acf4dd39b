"""Colorizing a collection: decoding and encoding in a thread pool, overlapped with inference.

Per-file problems (unreadable input, unwritable output, an existing output) become failed
outcomes with a reason; they never stop the run. Inputs are never written to, and no output
path that is an input (see :meth:`Inputs.contains`) is ever written, whatever the flags.
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from colorfuse.engine import lab
from colorfuse.engine.collection import Inputs, Job, output_format, output_path
from colorfuse.engine.colorizer import Colorizer, Prepared
from colorfuse.engine.errors import ColorfuseError, OutputExistsError
from colorfuse.engine.imagefiles import read_image, write_image_atomic

PREVIEW_SIDE = 256


@dataclass
class Outcome:
    """What happened to one input."""

    source: Path
    status: str  # "done", "skipped" or "failed"
    output: Path | None = None
    error: str | None = None


@dataclass
class Summary:
    """Counts, failures and timings of a run, plus small previews for a grid."""

    done: int = 0
    skipped: int = 0
    failed: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    previews: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "done":
            self.done += 1
        elif outcome.status == "skipped":
            self.skipped += 1
        else:
            self.failed.append(outcome)


def _thumbnail(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = min(1.0, PREVIEW_SIDE / max(height, width))
    return lab.resize(image, max(1, round(width * scale)), max(1, round(height * scale)))


def plan(job: Job, out_dir: Path, fmt: str, skip_existing: bool, overwrite: bool,
         inputs: Inputs | None = None) -> tuple[Path | None, Outcome | None]:
    """The output path of ``job``, or an immediate outcome (skipped, or failed with a reason).

    An output that is the job's own input, or any of ``inputs``, fails whatever the flags.
    """
    if job.error:
        return None, Outcome(job.source, "failed", error=job.error)
    target = output_path(out_dir, job, output_format(job.source, fmt))
    if target.resolve() == job.source.resolve():
        return None, Outcome(job.source, "failed", target, f"{job.source}: output would overwrite the input")
    if inputs is not None and os.path.lexists(target) and inputs.contains(target):
        return None, Outcome(job.source, "failed", target,
                             f"{job.source}: output {target} would overwrite the input {target}")
    if target.exists():
        if skip_existing:
            return None, Outcome(job.source, "skipped", target)
        if not overwrite:
            return None, Outcome(job.source, "failed", target,
                                 f"{target}: already exists (use --overwrite or --skip-existing)")
    return target, None


class CollectionRun:
    """One run over many files with a shared colorizer (see :func:`colorize_collection`)."""

    def __init__(self, colorizer: Colorizer, out_dir, fmt: str = "auto", skip_existing: bool = False,
                 overwrite: bool = False, workers: int = 2, previews: int = 0,
                 on_outcome: Callable[[Outcome], None] | None = None, inputs: Inputs | None = None):
        self.colorizer = colorizer
        self.inputs = inputs
        self.out_dir = Path(out_dir)
        self.fmt, self.skip_existing, self.overwrite = fmt, skip_existing, overwrite
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="colorfuse-io")
        self.window = max(2 * colorizer.batch_size, 2 * max(1, workers))
        self.preview_slots = previews
        self.on_outcome = on_outcome
        self.summary = Summary()
        self._writes: deque[Future] = deque()

    def _report(self, outcome: Outcome) -> None:
        self.summary.add(outcome)
        if self.on_outcome:
            self.on_outcome(outcome)

    def _load(self, job: Job) -> Prepared:
        return self.colorizer.prepare(read_image(job.source, self.colorizer.options))

    def _finish_and_write(self, job: Job, target: Path, item: Prepared, preview: bool) -> Outcome:
        try:
            rgb = self.colorizer.finish(item)
            write_image_atomic(rgb, target, output_format(job.source, self.fmt), self.colorizer.options,
                               replace=self.overwrite)
        except OutputExistsError as exc:  # another run wrote it since plan() looked
            return Outcome(job.source, "skipped", target) if self.skip_existing else \
                Outcome(job.source, "failed", target, str(exc))
        except ColorfuseError as exc:
            return Outcome(job.source, "failed", target, str(exc))
        except Exception as exc:  # an unexpected bug still only fails this file
            return Outcome(job.source, "failed", target, f"{job.source}: {type(exc).__name__}: {exc}")
        if preview:
            gray = lab.lab_to_rgb8(item.full_l, np.zeros(item.full_l.shape + (2,), np.float32))
            self.summary.previews.append((job.relative.as_posix(), _thumbnail(gray), _thumbnail(rgb)))
        return Outcome(job.source, "done", target)

    def _drain_writes(self, keep: int) -> None:
        while len(self._writes) > keep or (self._writes and self._writes[0].done()):
            self._report(self._writes.popleft().result())

    def _run_batch(self, loading: deque) -> None:
        batch = [loading.popleft() for _ in range(min(self.colorizer.batch_size, len(loading)))]
        ready = []
        for job, target, future in batch:
            try:
                ready.append((job, target, future.result()))
            except ColorfuseError as exc:
                self._report(Outcome(job.source, "failed", target, str(exc)))
            except Exception as exc:
                self._report(Outcome(job.source, "failed", target, f"{job.source}: {type(exc).__name__}: {exc}"))
        if ready:
            try:
                self.colorizer.predict([item for _, _, item in ready])
            except Exception as exc:
                for job, target, _ in ready:
                    self._report(Outcome(job.source, "failed", target, f"{job.source}: model failed: {exc}"))
                return
        for job, target, item in ready:
            preview = self.preview_slots > 0
            self.preview_slots -= preview
            self._writes.append(self.pool.submit(self._finish_and_write, job, target, item, preview))
        self._drain_writes(keep=self.window)

    def run(self, jobs: Iterable[Job]) -> Summary:
        start = time.perf_counter()
        loading: deque = deque()
        seen: set[Path] = set()
        try:
            for job in jobs:
                target, outcome = plan(job, self.out_dir, self.fmt, self.skip_existing, self.overwrite, self.inputs)
                if target is not None and target in seen:
                    target, outcome = None, Outcome(job.source, "failed", target,
                                                    f"{job.source}: another input also writes {target}")
                if outcome:
                    self._report(outcome)
                    continue
                seen.add(target)
                loading.append((job, target, self.pool.submit(self._load, job)))
                if len(loading) >= self.window:
                    self._run_batch(loading)
            while loading:
                self._run_batch(loading)
            self._drain_writes(keep=0)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.summary.seconds = time.perf_counter() - start
        return self.summary


def colorize_collection(colorizer: Colorizer, jobs: Iterable[Job], out_dir, **settings) -> Summary:
    """Colorize every job into ``out_dir``; see :class:`CollectionRun` for the settings."""
    return CollectionRun(colorizer, out_dir, **settings).run(jobs)
