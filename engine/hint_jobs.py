"""Colour hints for the jobs of a run: ``--hint`` for one file, a hints file for a collection.

A hints file's ``images`` keys (:mod:`colorfuse.engine.hints_file`) name the inputs as the run
finds them: the path as given for a file argument (or a glob's match), the path relative to the
folder for a file found under a folder argument (``photos/1916/family.jpg`` under ``photos/`` is
``1916/family.jpg``). :meth:`HintPlan.problems` finds, before the model loads, every key that
names no input and every point outside its image (the size read from the file's header, upright
as colorfuse reads it). A plan holds only plain dicts, so it travels to Ray's listing task.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from colorfuse.engine.collection import Inputs, Job, iter_jobs
from colorfuse.engine.hints import Hint, HintError, color_ab
from colorfuse.engine.paths import path_key

HINT_FORMAT = "X,Y,#rrggbb[,RADIUS] (pixels of the input, x from the left, y from the top)"
ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def parse_hint_option(text: str, default_radius: int = 3) -> Hint:
    """One ``--hint`` value, ``X,Y,#rrggbb[,RADIUS]``, as a :class:`Hint`; HintError if malformed."""
    parts = [part.strip() for part in str(text).split(",")]
    try:
        if len(parts) not in (3, 4):
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
        radius = int(parts[3]) if len(parts) == 4 else default_radius
    except ValueError:
        raise HintError(f"--hint {text!r}: give {HINT_FORMAT}") from None
    if x < 0 or y < 0 or radius < 0:
        raise HintError(f"--hint {text!r}: x, y and the radius are 0 or more")
    try:
        color_ab(parts[2])
    except HintError as exc:
        raise HintError(f"--hint {text!r}: {exc}") from None
    return Hint(int(x) if x.is_integer() else x, int(y) if y.is_integer() else y, parts[2], radius)


def header_size(path) -> tuple[int, int] | None:
    """(height, width) of an image file as colorfuse reads it (upright), from its header; None when
    Pillow cannot tell (the engine checks the points when it has decoded the file)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                width, height = image.size
                orientation = image.getexif().get(0x0112, 1)
    except Exception:  # not Pillow's format, or a bomb: the reader plugins will say what it is
        return None
    return (width, height) if orientation in ROTATED else (height, width)


class HintPlan:
    """The hints of each job of a run, from ``images`` (key -> hints) of ``source`` (a hints file, or ``--hint``)."""

    def __init__(self, images: dict[str, list[Hint]], source: str = "hints"):
        self.images, self.source = dict(images), source
        self._relative = {Path(key).as_posix(): hints for key, hints in self.images.items()}
        self._paths = {path_key(key): hints for key, hints in self.images.items()}

    def for_job(self, job: Job) -> list[Hint]:
        """The hints of ``job`` (none if the file names none for it)."""
        if job.in_folder:
            return list(self._relative.get(job.relative.as_posix(), ()))
        return list(self._paths.get(path_key(job.source), ()))

    def problems(self, items, out_dir=None) -> list[str]:
        """One line per key that names none of the input ``items`` (local ones: remote inputs are not
        listed ahead) and per point outside its image."""
        items = [str(item) for item in items]
        inputs = Inputs(items, out_dir)
        named = {path_key(job.source): job.source for item in items if not os.path.isdir(item)
                 for job in iter_jobs([item], out_dir) if job.error is None}  # fmt: skip
        folders = [item for item in items if os.path.isdir(item)]
        remote = any("://" in item for item in items)
        lines = []
        for key, hints in self.images.items():
            files = [named[path_key(key)]] if path_key(key) in named else []
            if ".." not in Path(key).parts and not Path(key).name.startswith("."):
                files += [found for found in (Path(folder) / key for folder in folders)
                          if found.is_file() and inputs.contains(found)]  # fmt: skip
            if not files and not remote:
                lines.append(f"{self.source}: images[{key!r}] is not one of the inputs (a key is the path as given "
                             "for a file, or the path relative to the folder for a file found under a folder)")
            for path in files:
                size = header_size(path)
                for index, hint in enumerate(hints if size else ()):
                    if not (0 <= hint.x < size[1] and 0 <= hint.y < size[0]):
                        where = f"--hint {index + 1}" if self.source == "--hint" else \
                            f"{self.source}: images[{key!r}][{index}]"
                        lines.append(f"{where}: ({hint.x}, {hint.y}) is outside {path} ({size[1]}x{size[0]})")
        return lines
