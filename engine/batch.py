"""Colorizing a collection: decoding and encoding in a thread pool, overlapped with inference.

Per-file problems (unreadable input, unwritable output, an existing output) become failed
outcomes with a reason that names the file; they never stop the run. A full disk does: no
later write could succeed, so the run stops at the first (``Summary.stopped``). Inputs are
never written to, and no output path that is an input (see :meth:`Inputs.contains`) is ever
written, whatever the flags.
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
from colorfuse.engine.errors import (ColorfuseError, DiskFullError, ImageReadError, ImageWriteError,
                                     OutputExistsError)
from colorfuse.engine.imagefiles import (output_is_complete, read_image, remove_stale_temporaries,
                                         write_image_atomic)

PREVIEW_SIDE = 256


@dataclass
class Outcome:
    """What happened to one input."""

    source: Path
    status: str  # "done", "skipped", "failed" or "unknown" (a file in a folder that no reader declares)
    output: Path | None = None
    error: str | None = None
    stops_run: bool = False  # a failure no later file can escape (a full disk)
    exists: bool = False  # failed only because the output exists (neither --skip-existing nor --overwrite)


@dataclass
class Summary:
    """Counts, failures and timings of a run, plus small previews for a grid."""

    done: int = 0
    skipped: int = 0
    unknown_type: int = 0  # files in input folders whose extension no reader plugin declares
    failed: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    previews: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early (the first full-disk error)

    def add(self, outcome: Outcome) -> None:
        if outcome.stops_run:
            self.stopped = self.stopped or outcome.error
        elif outcome.status == "done":
            self.done += 1
        elif outcome.status == "skipped":
            self.skipped += 1
        elif outcome.status == "unknown":
            self.unknown_type += 1
        else:
            self.failed.append(outcome)


def failure_message(source, exc: BaseException) -> str:
    """One line naming the file: read and write errors name theirs; others get the input's path."""
    if isinstance(exc, (ImageReadError, ImageWriteError)):
        return str(exc)
    if isinstance(exc, ColorfuseError):
        return f"{source}: {exc}"
    if isinstance(exc, MemoryError):
        return f"{source}: out of memory"
    return f"{source}: {type(exc).__name__}: {exc}"


def _thumbnail(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = min(1.0, PREVIEW_SIDE / max(height, width))
    return lab.resize(image, max(1, round(width * scale)), max(1, round(height * scale)))


def plan(job: Job, out_dir: Path, fmt: str, skip_existing: bool, overwrite: bool,
         inputs: Inputs | None = None) -> tuple[Path | None, Outcome | None]:
    """The output path of ``job``, or an immediate outcome (skipped, unknown type, or failed with a reason).

    An output that is the job's own input, or any of ``inputs``, fails whatever the flags.
    """
    if job.error:
        return None, Outcome(job.source, "failed", error=job.error)
    if job.unknown_type:
        return None, Outcome(job.source, "unknown")
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
                                 f"{target}: already exists (use --overwrite or --skip-existing)", exists=True)
    return target, None


@dataclass
class Task:
    """One planned file: its job, its output, and whether the write may replace an existing file."""

    job: Job
    target: Path
    replace: bool
    loading: Future | None = None  # the decode: a Prepared, or None when the existing output is complete


class CollectionRun:
    """One run over many files with a shared colorizer (see :func:`colorize_collection`).

    With ``skip_existing`` an existing output is skipped only if it decodes completely to the
    input's size; otherwise it is done again. Stale temporaries of killed runs are deleted from
    each output folder. On an interrupt (Ctrl-C, or SIGTERM raised as :class:`Interrupted`) the
    writes under way finish, nothing new starts, and ``summary`` counts what was done.
    """

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
        self._cleaned: set[Path] = set()

    def _report(self, outcome: Outcome) -> None:
        self.summary.add(outcome)
        if self.on_outcome:
            self.on_outcome(outcome)

    def _load(self, job: Job, existing: Path | None) -> Prepared | None:
        image = read_image(job.source, self.colorizer.options)
        if existing is not None and output_is_complete(existing, image.shape[:2], self.colorizer.options):
            return None
        return self.colorizer.prepare(image)

    def _finish_and_write(self, task: Task, item: Prepared, preview: bool) -> Outcome:
        job, target = task.job, task.target
        try:
            rgb = self.colorizer.finish(item)
            small_input = _thumbnail(item.image) if preview else None
            item.image = None  # the decoded input goes before the output is encoded
            write_image_atomic(rgb, target, output_format(job.source, self.fmt), self.colorizer.options,
                               replace=task.replace)
        except OutputExistsError as exc:  # another run wrote it since plan() looked
            return Outcome(job.source, "skipped", target) if self.skip_existing else \
                Outcome(job.source, "failed", target, str(exc), exists=True)
        except DiskFullError as exc:
            return Outcome(job.source, "failed", target, str(exc), stops_run=True)
        except Exception as exc:  # an unexpected bug, or an allocation failure, still only fails this file
            return Outcome(job.source, "failed", target, failure_message(job.source, exc))
        if preview:
            gray = lab.lab_to_rgb8(lab.luminance(small_input), np.zeros(small_input.shape[:2] + (2,), np.float32))
            self.summary.previews.append((job.relative.as_posix(), gray, _thumbnail(rgb)))
        return Outcome(job.source, "done", target)

    def _drain_writes(self, keep: int) -> None:
        while len(self._writes) > keep or (self._writes and self._writes[0].done()):
            self._report(self._writes.popleft().result())

    def _run_batch(self, loading: deque[Task]) -> None:
        batch = [loading.popleft() for _ in range(min(self.colorizer.batch_size, len(loading)))]
        ready = []
        for task in batch:
            source = task.job.source
            try:
                item = task.loading.result()
            except Exception as exc:
                self._report(Outcome(source, "failed", task.target, failure_message(source, exc)))
            else:
                if item is None:
                    self._report(Outcome(source, "skipped", task.target))
                else:
                    ready.append((task, item))
        if ready:
            try:
                self.colorizer.predict([item for _, item in ready])
            except Exception as exc:
                for task, _ in ready:
                    self._report(Outcome(task.job.source, "failed", task.target,
                                         f"{task.job.source}: model failed: {exc}"))
                return
        for task, item in ready:
            if self.summary.stopped:
                break
            preview = self.preview_slots > 0
            self.preview_slots -= preview
            self._writes.append(self.pool.submit(self._finish_and_write, task, item, preview))
        self._drain_writes(keep=self.window)

    def _plan(self, job: Job, seen: set[Path]) -> Task | None:
        """The job's task, or None once its outcome (skipped or failed) is reported."""
        target, outcome = plan(job, self.out_dir, self.fmt, self.skip_existing, self.overwrite, self.inputs)
        existing = None
        if outcome is not None and outcome.status == "skipped":  # skipped only once known to be complete
            target, existing, outcome = outcome.output, outcome.output, None
        if target is not None and target in seen:
            outcome = Outcome(job.source, "failed", target, f"{job.source}: another input also writes {target}")
        if outcome:
            self._report(outcome)
            return None
        seen.add(target)
        if target.parent not in self._cleaned:
            self._cleaned.add(target.parent)
            remove_stale_temporaries(target.parent)
        task = Task(job, target, replace=self.overwrite or existing is not None)
        task.loading = self.pool.submit(self._load, job, existing)
        return task

    def run(self, jobs: Iterable[Job]) -> Summary:
        start = time.perf_counter()
        loading: deque[Task] = deque()
        seen: set[Path] = set()
        try:
            for job in jobs:
                if self.summary.stopped:
                    break
                task = self._plan(job, seen)
                if task is not None:
                    loading.append(task)
                if len(loading) >= self.window:
                    self._run_batch(loading)
            while loading and not self.summary.stopped:
                self._run_batch(loading)
            self._drain_writes(keep=0)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)  # after an interrupt: lets writes under way end
            while self._writes:
                finished = self._writes.popleft()
                if not finished.cancelled():
                    self._report(finished.result())
            self.summary.seconds = time.perf_counter() - start
        return self.summary


def colorize_collection(colorizer: Colorizer, jobs: Iterable[Job], out_dir, **settings) -> Summary:
    """Colorize every job into ``out_dir``; see :class:`CollectionRun` for the settings."""
    return CollectionRun(colorizer, out_dir, **settings).run(jobs)
