"""Colorizing a collection: decoding and encoding in a thread pool, overlapped with inference.

Per-file problems (unreadable input, unwritable output, an existing output) become failed
outcomes with a reason that names the file; they never stop the run. A full disk does: no
later write could succeed, so the run stops at the first (``Summary.stopped``). Planning,
resuming and publishing follow :mod:`.planning`, the rules cluster mode shares.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from colorfuse.engine import lab
from colorfuse.engine.collection import Inputs, Job
from colorfuse.engine.colorizer import Colorizer, Prepared
from colorfuse.engine.hint_jobs import HintPlan
from colorfuse.engine.imagefiles import output_is_complete, read_image
from colorfuse.engine.planning import Outcome, Planned, Planner, failure_message, write_output
from colorfuse.plugins.context import ImageContext
from colorfuse.plugins.manager import any_accept

PREVIEW_SIDE = 256


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


def _thumbnail(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = min(1.0, PREVIEW_SIDE / max(height, width))
    return lab.resize(image, max(1, round(width * scale)), max(1, round(height * scale)))


@dataclass
class Task:
    """One planned file: its job, its output, and its decode (a Prepared, or None when the output is complete)."""

    job: Job
    planned: Planned
    context: ImageContext
    loading: Future | None = None


class CollectionRun:
    """One run over many files with a shared colorizer (see :func:`colorize_collection`).

    With ``skip_existing`` an existing output is skipped only if it decodes completely to the
    input's size; otherwise it is done again. Stale temporaries of killed runs are deleted from
    each output folder. On an interrupt (Ctrl-C, or SIGTERM raised as :class:`Interrupted`) the
    writes under way finish, nothing new starts, and ``summary`` counts what was done. ``hints``
    gives each job its colour hints (prepared with its image, so batching is unchanged).
    ``check_stop``, called before each batch, may raise to stop the run as an interrupt does.
    """

    def __init__(self, colorizer: Colorizer, out_dir, fmt: str = "auto", skip_existing: bool = False,
                 overwrite: bool = False, workers: int = 2, previews: int = 0,
                 on_outcome: Callable[[Outcome], None] | None = None, inputs: Inputs | None = None,
                 hints: HintPlan | None = None, check_stop: Callable[[], None] | None = None):
        self.colorizer = colorizer
        self.check_stop = check_stop or (lambda: None)
        self.hints = hints
        self.fmt, self.skip_existing = fmt, skip_existing
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="colorfuse-io")
        self.window = max(2 * colorizer.batch_size, 2 * max(1, workers))
        self.preview_slots = previews
        self.on_outcome = on_outcome
        self.summary = Summary()
        self.planner = Planner(out_dir, fmt, skip_existing, overwrite, inputs)
        self.keep_lab = any_accept("write_image", "lab")  # a writer wants the full-size Lab: asked once per run
        self._writes: deque[Future] = deque()

    def _report(self, outcome: Outcome) -> None:
        self.summary.add(outcome)
        if self.on_outcome:
            self.on_outcome(outcome)

    def _load(self, task: Task) -> Prepared | None:
        job, planned = task.job, task.planned
        image = read_image(job.source, self.colorizer.options, task.context)
        if planned.existing and output_is_complete(planned.target, image.shape[:2], self.colorizer.options):
            return None
        return self.colorizer.prepare(image, hints=self.hints.for_job(job) if self.hints else (), context=task.context)

    def _finish_and_write(self, task: Task, item: Prepared, preview: bool) -> Outcome:
        job, target = task.job, task.planned.target
        try:
            rgb = self.colorizer.finish(item, keep_lab=self.keep_lab)
            small_input = _thumbnail(item.image) if preview else None
        except Exception as exc:  # an unexpected bug, or an allocation failure, still only fails this file
            return Outcome(job.source, "failed", target, failure_message(job.source, exc))
        item.image = None  # the decoded input goes before the output is encoded
        outcome = write_output(rgb, job.source, task.planned, self.fmt, self.colorizer.options, self.skip_existing,
                               task.context, getattr(item, "lab", None))
        if preview and outcome.status == "done":
            gray = lab.lab_to_rgb8(lab.luminance(small_input), np.zeros(small_input.shape[:2] + (2,), np.float32))
            self.summary.previews.append((job.relative.as_posix(), gray, _thumbnail(rgb)))
        return outcome

    def _drain_writes(self, keep: int) -> None:
        while len(self._writes) > keep or (self._writes and self._writes[0].done()):
            self._report(self._writes.popleft().result())

    def _run_batch(self, loading: deque[Task]) -> None:
        self.check_stop()
        batch = [loading.popleft() for _ in range(min(self.colorizer.batch_size, len(loading)))]
        ready = []
        for task in batch:
            source = task.job.source
            try:
                item = task.loading.result()
            except Exception as exc:
                self._report(Outcome(source, "failed", task.planned.target, failure_message(source, exc)))
            else:
                if item is None:
                    self._report(Outcome(source, "skipped", task.planned.target))
                else:
                    ready.append((task, item))
        if ready:
            try:
                self.colorizer.predict([item for _, item in ready])
            except Exception as exc:
                for task, _ in ready:
                    self._report(Outcome(task.job.source, "failed", task.planned.target,
                                         f"{task.job.source}: model failed: {exc}"))
                return
        for task, item in ready:
            if self.summary.stopped:
                break
            preview = self.preview_slots > 0
            self.preview_slots -= preview
            self._writes.append(self.pool.submit(self._finish_and_write, task, item, preview))
        self._drain_writes(keep=self.window)

    def _plan(self, job: Job, index: int) -> Task | None:
        """The job's task (``index``: its place in the run), or None once its outcome (skipped or
        failed) is reported."""
        planned = self.planner.plan(job)
        if isinstance(planned, Outcome):
            self._report(planned)
            return None
        task = Task(job, planned, self.colorizer.context(job.source, planned.target, index))
        task.loading = self.pool.submit(self._load, task)
        return task

    def run(self, jobs: Iterable[Job]) -> Summary:
        start = time.perf_counter()
        loading: deque[Task] = deque()
        try:
            for index, job in enumerate(jobs):
                if self.summary.stopped:
                    break
                task = self._plan(job, index)
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
