"""Reading and writing image files through the I/O plugins, with atomic writes.

An output is written to a hidden temporary name in the destination folder and renamed to
its final name only when complete, so a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from colorfuse.engine.errors import ImageReadError, ImageWriteError
from colorfuse.plugins.manager import call_first

_UMASK = os.umask(0)
os.umask(_UMASK)


def read_image(path, options: dict | None = None) -> np.ndarray:
    """Decode ``path`` with the first reader plugin that takes it."""
    image = call_first("read_image", path=str(path), options=options or {})
    if image is None:
        raise ImageReadError(f"{path}: no reader plugin could read this file")
    return image


def write_image_atomic(image: np.ndarray, path, format: str, options: dict | None = None) -> Path:
    """Encode ``image`` to ``path`` via a temporary file in the same folder, then rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(handle)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp's 0600 would stick to the output
    except OSError as exc:
        raise ImageWriteError(f"{path}: cannot write to {path.parent} ({exc.strerror or exc})") from None
    try:
        written = call_first("write_image", image=image, path=temporary, format=format, options=options or {})
        if not written:
            raise ImageWriteError(f"{path}: no writer plugin handles format {format!r}")
        os.replace(temporary, path)
    except OSError as exc:
        raise ImageWriteError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path
