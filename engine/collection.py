"""Turning the user's INPUTS (files, folders, globs) into jobs with output paths.

:meth:`Inputs.check` looks at them before any work (every path exists, every pattern matches,
every folder holds an image). Folders are walked recursively and lazily (a generator, so huge
trees start at once; :meth:`Inputs.count` walks them again, only counting, for a progress total);
the output keeps each file's path relative to the folder or glob base it was found under. An
output folder inside an input folder, or below a glob's base (``'in/**/*.jpg' --out in/out``), is
left out, so results are never colorized again. :class:`Inputs` also answers whether a path is one
of the inputs, so that no output ever replaces an input, whichever order the files are found in.
Paths are compared as the filesystem does (see :mod:`.paths`: case-insensitive volumes, links).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

from colorfuse.errors import InputError
from colorfuse.engine.paths import identity, inside, path_key
from colorfuse.plugins.filetypes import FileTypes, auto_format, file_types, output_formats


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes (``error`` set when the input is unusable).

    ``unknown_type``: found in a folder, with an extension no reader plugin declares; it is only counted.
    ``in_folder``: found under a folder argument (a hints file names it by ``relative``, see :mod:`.hint_jobs`).
    """

    source: Path
    relative: Path
    error: str | None = None
    unknown_type: bool = False
    in_folder: bool = False


def _walk(folder: Path, types: FileTypes, skip: str | None = None) -> Iterator[tuple[Path, bool]]:
    """Files under ``folder``, sorted, each with whether a reader takes it; leaves out the folder of key ``skip``."""
    for root, dirs, files in os.walk(folder, onerror=None):
        dirs[:] = sorted(name for name in dirs if skip is None or path_key(os.path.join(root, name)) != skip)
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name, types.reads(name)


def _glob_base(pattern: str) -> Path:
    parts = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _glob_matches(pattern: str, skip: str | None = None) -> list[Path]:
    """The files ``pattern`` matches, leaving out those in the folder of key ``skip`` if it is below the base."""
    base = path_key(_glob_base(pattern))
    skip = skip if skip is not None and inside(skip, base) else None
    return [Path(match) for match in sorted(glob.iglob(pattern, recursive=True))
            if not os.path.isdir(match) and (skip is None or not inside(path_key(match), skip))]


def _jobs_of(item: str, types: FileTypes, skip: str | None) -> Iterator[Job]:
    path = Path(item)
    if path.is_dir():
        for found, readable in _walk(path, types, skip):
            yield Job(found, found.relative_to(path), unknown_type=not readable, in_folder=True)
    elif path.exists() or os.path.islink(path):
        yield Job(path, Path(path.name))
    elif glob.has_magic(item):
        base = _glob_base(item)
        matches = _glob_matches(item, skip)
        if not matches:
            yield Job(path, Path(path.name), error=f"{item}: no file matches this pattern")
        for found in matches:
            yield Job(found, found.relative_to(base))
    else:
        yield Job(path, Path(path.name), error=f"{item}: no such file or folder")


def iter_jobs(inputs, out_dir=None, with_unknown: bool = False) -> Iterator[Job]:
    """Yield a :class:`Job` per input file; a missing input yields a job with an error.

    A folder inside an input folder (or below a glob's base) that is ``out_dir`` is left out. Files found in folders with
    an extension no reader declares are left out, or with ``with_unknown`` yielded marked ``unknown_type``
    (for runs that count them).
    """
    skip = None if out_dir is None else path_key(out_dir)
    types = file_types()
    for item in inputs:
        for job in _jobs_of(str(item), types, skip):
            if with_unknown or not job.unknown_type:
                yield job


class Inputs:
    """The user's INPUTS for a run into ``out_dir``: :meth:`jobs` lists them lazily; :meth:`contains`
    says whether a path is one."""

    def __init__(self, items, out_dir=None):
        self.items = [str(item) for item in items]
        self.out_dir = None if out_dir is None else path_key(out_dir)

    def check(self) -> None:
        """Raise :class:`InputError` naming every input that is missing, matches nothing or has no image."""
        problems = []
        for item in self.items:
            if os.path.isdir(item):
                if not any(readable for _, readable in _walk(Path(item), self._types, self.out_dir)):
                    problems.append(f"no images found in {item}")
            elif not os.path.lexists(item):
                if not glob.has_magic(item):
                    problems.append(f"{item}: no such file or folder")
                elif not _glob_matches(item, self.out_dir):
                    problems.append(f"{item}: no file matches this pattern")
        if problems:
            raise InputError("; ".join(problems))

    def jobs(self) -> Iterator[Job]:
        return iter_jobs(self.items, self.out_dir, with_unknown=True)

    def count(self) -> int:
        """How many jobs :meth:`jobs` yields (walks the folders again)."""
        return sum(1 for _ in self.jobs())

    @cached_property
    def _files(self) -> tuple[set[str], set[tuple[int, int]]]:
        """Keys and identities of the inputs named one by one or matched by a pattern (globs are listed eagerly anyway)."""
        keys, identities = set(), set()
        for item in self.items:
            if os.path.isdir(item):
                continue
            matches = [item] if os.path.lexists(item) else \
                _glob_matches(item, self.out_dir) if glob.has_magic(item) else []
            keys.update(path_key(match) for match in matches)
            identities.update(found for found in map(identity, matches) if found is not None)
        return keys, identities

    @cached_property
    def _types(self) -> FileTypes:
        return file_types()

    @cached_property
    def _folders(self) -> list[str]:
        return [path_key(item) for item in self.items if os.path.isdir(item)]

    def contains(self, path) -> bool:
        """Whether ``path`` is one of the input files, found already or not (compared as the filesystem does)."""
        keys, identities = self._files
        key = path_key(path)
        if key in keys or identity(path) in identities:
            return True
        if not self._types.reads(os.path.basename(key)):
            return False
        return any(inside(key, folder) and not self._walk_skips(folder, key) for folder in self._folders)

    def _walk_skips(self, folder: str, key: str) -> bool:
        """Whether walking ``folder`` leaves ``key`` out: it is in the output folder, a subfolder of ``folder``."""
        return self.out_dir is not None and inside(self.out_dir, folder) and inside(key, self.out_dir)


def output_format(source: Path, requested: str) -> str:
    """The output format: ``requested``, or for ``auto`` a lossless one for inputs of a declared lossless type."""
    return auto_format(source.name) if requested == "auto" else requested


def output_path(out_dir: Path, job: Job, fmt: str) -> Path:
    """Where the result of ``job`` goes in ``out_dir``, with the format's suffix."""
    suffix = output_formats()[fmt].suffix
    keep = job.relative.suffix.lower() in (".jpeg", ".jpe") and fmt == "jpeg"
    return out_dir / (job.relative if keep else job.relative.with_suffix(suffix))
