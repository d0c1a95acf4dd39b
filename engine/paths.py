"""Comparing paths as the filesystem does, so that no output is ever taken for another file.

Two existing paths are the same file when their device and inode are (hard links, bind mounts,
another case of the name on a case-insensitive volume). Paths that do not both exist are compared
by :func:`path_key`: the real path, case-folded where the volume ignores case (exFAT, NTFS and
APFS by default). Nothing here raises on a symlink loop or an unreadable path.
"""

from __future__ import annotations

import os
from functools import lru_cache

_PROBED_ENTRIES = 64


def real_path(path) -> str:
    """The absolute path with symlinks resolved as far as they go (a loop stays as it is)."""
    try:
        return os.path.realpath(path)
    except (OSError, ValueError, RuntimeError):
        return os.path.abspath(path)


def identity(path) -> tuple[int, int] | None:
    """(device, inode) of the file ``path`` names, or None where it names none."""
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return found.st_dev, found.st_ino


def _names_same_file(path: str, other: str) -> bool:
    try:
        return other != path and os.path.samestat(os.lstat(path), os.lstat(other))
    except OSError:
        return False


@lru_cache(maxsize=4096)
def folds_case(folder: str) -> bool:
    """Whether the volume of ``folder`` (a real path) ignores the case of names.

    The nearest existing folder answers: one of its entries, or else its own name, in the other
    case names the same file. A folder with no name that has a case counts as case-sensitive.
    """
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for _, entry in zip(range(_PROBED_ENTRIES), entries)]
    except OSError:
        names = []
    for name in names:
        if name.swapcase() != name:
            return _names_same_file(os.path.join(folder, name), os.path.join(folder, name.swapcase()))
    parent, name = os.path.split(folder)
    return name.swapcase() != name and _names_same_file(folder, os.path.join(parent, name.swapcase()))


def path_key(path) -> str:
    """The real path as the filesystem compares names: case-folded on a case-insensitive volume."""
    real = real_path(path)
    return real.casefold() if folds_case(os.path.dirname(real)) else real


def same_file(path, other) -> bool:
    """Whether ``path`` and ``other`` name one file: by device and inode if both exist, else by key."""
    first, second = identity(path), identity(other)
    if first is not None and second is not None:
        return first == second
    return path_key(path) == path_key(other)


def inside(key: str, folder_key: str) -> bool:
    """Whether the path of ``key`` lies below the folder of ``folder_key`` (both from :func:`path_key`)."""
    return key.startswith(folder_key.rstrip(os.sep) + os.sep)
