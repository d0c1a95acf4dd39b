"""Turning the user's INPUTS (files, folders, globs) into jobs with output paths.

Folders are walked recursively and lazily (a generator, so huge trees start at once); the
output keeps each file's path relative to the folder or glob base it was found under.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pbm"}
LOSSLESS_EXTENSIONS = {".png", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm"}
FORMAT_SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif"}
FORMATS = ("auto", *FORMAT_SUFFIX)


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes (``error`` set when the input is unusable)."""

    source: Path
    relative: Path
    error: str | None = None


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, onerror=None):
        dirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in IMAGE_EXTENSIONS and not name.startswith("."):
                yield Path(root) / name


def _glob_base(pattern: str) -> Path:
    parts = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def iter_jobs(inputs) -> Iterator[Job]:
    """Yield a :class:`Job` per input file; a missing input yields a job with an error."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for found in _walk(path):
                yield Job(found, found.relative_to(path))
        elif path.exists() or os.path.islink(path):
            yield Job(path, Path(path.name))
        elif glob.has_magic(str(item)):
            base = _glob_base(str(item))
            matches = sorted(glob.iglob(str(item), recursive=True))
            if not matches:
                yield Job(path, Path(path.name), error=f"{item}: no file matches this pattern")
            for match in matches:
                found = Path(match)
                if found.is_file():
                    yield Job(found, found.relative_to(base))
        else:
            yield Job(path, Path(path.name), error=f"{item}: no such file or folder")


def output_format(source: Path, requested: str) -> str:
    """The output format: ``requested``, or for ``auto`` PNG for lossless inputs, else JPEG."""
    if requested != "auto":
        return requested
    return "png" if source.suffix.lower() in LOSSLESS_EXTENSIONS else "jpeg"


def output_path(out_dir: Path, job: Job, fmt: str) -> Path:
    """Where the result of ``job`` goes in ``out_dir``, with the format's suffix."""
    suffix = FORMAT_SUFFIX[fmt]
    keep = job.relative.suffix.lower() in (".jpeg", ".jpe") and fmt == "jpeg"
    return out_dir / (job.relative if keep else job.relative.with_suffix(suffix))
