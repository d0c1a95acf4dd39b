"""The rules every run shares, on one machine or on Ray: planning outputs, resuming, publishing.

:class:`Planner` gives each job its output path or an immediate outcome: an output that is any
input fails whatever the flags; two inputs writing one output fail; an existing output is
skipped (``--skip-existing``, once :func:`output_is_complete` says so), replaced (``--overwrite``)
or refused; stale temporaries are deleted from each output folder once. :func:`write_output` is
the last step: the atomic write, with its outcome. Paths are compared as the filesystem does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from colorfuse.engine.collection import Inputs, Job, output_format, output_path
from colorfuse.errors import ColorfuseError, DiskFullError, ImageReadError, ImageWriteError, OutputExistsError
from colorfuse.engine.imagefiles import remove_stale_temporaries, write_image_atomic
from colorfuse.engine.paths import identity, path_key, same_file


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
class Planned:
    """Where a job's result goes; ``existing``: an output is there, to skip if complete (``--skip-existing``)."""

    target: Path
    replace: bool
    existing: bool = False


def failure_message(source, exc: BaseException) -> str:
    """One line naming the file: a read error names it already; a write error (which names the output)
    and every other error are prefixed with the input's path."""
    if isinstance(exc, ImageReadError):
        return str(exc)
    if isinstance(exc, ImageWriteError):
        return f"{source} -> {exc}"
    if isinstance(exc, ColorfuseError):
        return f"{source}: {exc}"
    if isinstance(exc, MemoryError):
        return f"{source}: out of memory"
    return f"{source}: {type(exc).__name__}: {exc}"


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
    if same_file(target, job.source):
        return None, Outcome(job.source, "failed", target, f"{job.source}: output would overwrite the input")
    if inputs is not None and inputs.contains(target):
        return None, Outcome(job.source, "failed", target,
                             f"{job.source}: output {target} would overwrite the input {target}")
    if identity(target) is not None:
        if skip_existing:
            return None, Outcome(job.source, "skipped", target)
        if not overwrite:
            return None, Outcome(job.source, "failed", target,
                                 f"{target}: already exists (use --overwrite or --skip-existing)", exists=True)
    return target, None


class Planner:
    """Plans the jobs of one run into ``out_dir`` (see the module's rules)."""

    def __init__(self, out_dir, fmt: str, skip_existing: bool, overwrite: bool, inputs: Inputs | None = None):
        self.out_dir = Path(out_dir)
        self.fmt, self.skip_existing, self.overwrite, self.inputs = fmt, skip_existing, overwrite, inputs
        self._seen: set[str] = set()
        self._cleaned: set[str] = set()

    def plan(self, job: Job) -> Planned | Outcome:
        """The job's :class:`Planned` output, or its outcome (skipped, failed or of unknown type)."""
        target, outcome = plan(job, self.out_dir, self.fmt, self.skip_existing, self.overwrite, self.inputs)
        existing = outcome is not None and outcome.status == "skipped"  # skipped only once known to be complete
        if existing:
            target, outcome = outcome.output, None
        if outcome:
            return outcome
        key = path_key(target)
        if key in self._seen:
            return Outcome(job.source, "failed", target, f"{job.source}: another input also writes {target}")
        self._seen.add(key)
        folder = path_key(target.parent)
        if folder not in self._cleaned:
            self._cleaned.add(folder)
            remove_stale_temporaries(target.parent)
        return Planned(target, replace=self.overwrite or existing, existing=existing)


def write_output(image, source, planned: Planned, fmt: str, options: dict, skip_existing: bool,
                 context=None, lab=None) -> Outcome:
    """Publish ``image`` as ``planned.target`` atomically; the outcome says how it went (the writer
    gets ``context``, the image's, and ``lab``, its full-size (L, ab), when given)."""
    target = planned.target
    try:
        write_image_atomic(image, target, output_format(Path(source), fmt), options, replace=planned.replace,
                           context=context, lab=lab)
    except OutputExistsError as exc:  # another run wrote it since it was planned
        return (Outcome(source, "skipped", target) if skip_existing
                else Outcome(source, "failed", target, str(exc), exists=True))
    except DiskFullError as exc:
        return Outcome(source, "failed", target, str(exc), stops_run=True)
    except Exception as exc:  # an unexpected bug, or an allocation failure, still only fails this file
        return Outcome(source, "failed", target, failure_message(source, exc))
    return Outcome(source, "done", target)
