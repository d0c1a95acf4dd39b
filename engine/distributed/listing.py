"""Listing and reading inputs for cluster mode: local and NFS paths, or any pyarrow filesystem.

Listing is lazy: local inputs go through ``collection.Inputs`` (a generator), URIs such as
``s3://bucket/photos/`` are walked one folder level at a time with ``pyarrow.fs``. Every file is
planned by the single-machine run's :class:`~colorfuse.engine.planning.Planner` as it is found
(layout, naming, inputs never replaced, ``--skip-existing``, ``--overwrite``, stale temporaries).
"""

from __future__ import annotations

import json
import tempfile
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Iterator

import numpy as np

from colorfuse.engine.collection import Inputs, Job
from colorfuse.errors import ImageReadError
from colorfuse.engine.planning import Outcome, Planner
from colorfuse.plugins.context import ImageContext
from colorfuse.plugins.filetypes import file_types


def is_uri(item: str) -> bool:
    return "://" in str(item)


def iter_remote_jobs(uri: str) -> Iterator[tuple[str, str, Job]]:
    """Yield (source URI, filesystem path, job) for a file or folder on any pyarrow filesystem.

    Folders are walked one level at a time (sorted, hidden names left out, files of undeclared types
    marked ``unknown_type``, like local folders), so only one folder's listing is in memory at once.
    """
    import pyarrow.fs as pafs

    fs, root = pafs.FileSystem.from_uri(uri)
    info = fs.get_file_info(root)
    name = PurePosixPath(root).name
    if info.type == pafs.FileType.File:
        yield uri, root, Job(Path(uri), Path(name))
        return
    if info.type != pafs.FileType.Directory:
        yield uri, root, Job(Path(uri), Path(name or "input"), error=f"{uri}: no such file or folder")
        return
    base = uri.rstrip("/")
    types = file_types()
    folders = [root]
    while folders:
        entries = sorted(fs.get_file_info(pafs.FileSelector(folders.pop(), recursive=False)),
                         key=lambda entry: entry.path)
        for entry in entries:
            if entry.type == pafs.FileType.File and not entry.base_name.startswith("."):
                relative = PurePosixPath(entry.path).relative_to(root).as_posix()
                yield f"{base}/{relative}", entry.path, Job(Path(f"{base}/{relative}"), Path(relative),
                                                            unknown_type=not types.reads(entry.base_name),
                                                            in_folder=True)
        folders.extend(entry.path for entry in reversed(entries) if entry.type == pafs.FileType.Directory)


def iter_planned(inputs, out_dir: Path, fmt: str, skip_existing: bool, overwrite: bool, hints=None) -> Iterator[dict]:
    """One row per input file: where it goes, whether it may replace it (``replace``: an existing output to
    check, ``existing``), whether it is to do, skipped, failed or of unknown type, and its colour hints
    from ``hints`` (a :class:`~colorfuse.engine.hint_jobs.HintPlan`) as a hints-file list in JSON ("": none)."""
    local = Inputs([item for item in inputs if not is_uri(item)], out_dir)
    planner = Planner(out_dir, fmt, skip_existing, overwrite, local)
    for item in inputs:
        found = iter_remote_jobs(item) if is_uri(item) else \
            ((str(job.source), "", job) for job in Inputs([item], out_dir).jobs())
        for source, fspath, job in found:
            planned = planner.plan(job)
            outcome = planned if isinstance(planned, Outcome) else None
            if outcome is not None and outcome.error:
                outcome.error = outcome.error.replace(str(job.source), source, 1)
            yield {"source": source, "fspath": fspath,
                   "target": str(outcome.output or "") if outcome else str(planned.target),
                   "replace": bool(outcome is None and planned.replace),
                   "existing": bool(outcome is None and planned.existing),
                   "status": outcome.status if outcome else "todo", "error": (outcome.error or "") if outcome else "",
                   "hints": _hints_json(hints.for_job(job)) if hints is not None else ""}


def _hints_json(hints) -> str:
    from colorfuse.engine.hints_file import hints_document

    return json.dumps(hints_document({"row": hints})["images"]["row"]) if hints else ""


@lru_cache(maxsize=16)
def _filesystem(scheme_and_host: str):
    import pyarrow.fs as pafs

    return pafs.FileSystem.from_uri(scheme_and_host + "/")[0]


def read_input(source: str, fspath: str, options: dict) -> np.ndarray:
    """Decode a local file, or stage a remote one in a temporary file for the reader plugins."""
    from colorfuse.engine.imagefiles import read_image

    if not fspath:
        return read_image(source, options)
    scheme, rest = source.split("://", 1)
    try:
        with _filesystem(f"{scheme}://{rest.split('/', 1)[0]}").open_input_stream(fspath) as stream:
            data = stream.read()
    except OSError as exc:
        raise ImageReadError(f"{source}: cannot read ({exc})") from None
    with tempfile.NamedTemporaryFile(suffix=PurePosixPath(fspath).suffix) as staged:
        staged.write(data)
        staged.flush()
        try:
            return read_image(staged.name, options, ImageContext.of(options, input=source))
        except ImageReadError as exc:
            raise ImageReadError(str(exc).replace(staged.name, source)) from None
