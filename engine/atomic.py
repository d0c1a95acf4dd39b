"""Files written whole or not at all: a temporary name in the target's folder, then one rename.

For the files a run owns alone (reports, run files, caches, exported models, hints files): the
rename replaces an older file of the same name. Colorized images, which must never replace another
run's output, go through ``imagefiles.write_image_atomic`` instead.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

from colorfuse.errors import ColorfuseError

_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary)`` on a fresh temporary file beside ``path``, then rename it to ``path``.

    The folder is created; the file gets the umask's usual mode (not mkstemp's 0600); nothing is
    left under the temporary name, whatever ``write`` raises (an interrupt included). An OSError
    becomes a ColorfuseError naming ``path``."""
    path = Path(path)
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(handle)
        os.chmod(temporary, 0o666 & ~_UMASK)
        write(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise ColorfuseError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    finally:
        if temporary and os.path.exists(temporary):
            os.unlink(temporary)
    return path


def write_text_atomic(text: str, path) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def write_json_atomic(data, path, *, sort_keys: bool = False) -> Path:
    """Write ``data`` as indented JSON (one trailing newline) to ``path`` atomically; values JSON
    cannot hold (paths, dates) are written as their ``str``."""
    return write_text_atomic(json.dumps(data, indent=1, sort_keys=sort_keys, default=str) + "\n", path)
