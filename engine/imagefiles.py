"""Reading and writing image files through the I/O plugins, with atomic writes.

An output is written to a hidden temporary name in the destination folder and renamed to
its final name only when complete, so a crash never leaves a half-written file behind. Unless
asked to replace, the final step is a hard link, which fails if the name exists: of two runs
writing one output, the second reports that it already exists instead of replacing it.

Temporary names carry the host and process id of their writer (``.NAME.HOST-PID.RANDOM.partial``,
a video's with its suffix after, NAME shortened where the whole would be over 255 bytes), and the
writer holds a lock on its temporary until it is published: a later run deletes a temporary only
when it can take that lock, so only when its writer is provably gone (killed), whatever host or PID
namespace it ran in. Where the filesystem has no locks, a temporary is deleted when its writer, on
this host, has ended. A working folder (``colorfuse serve``'s) follows the same rule through a
lock file inside it (:func:`owned_folder`, :func:`remove_stale_folders`).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import stat
import tempfile
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no locks, the host and process id decide
    fcntl = None

import numpy as np

from colorfuse.errors import (ColorfuseError, DiskFullError, ImageReadError, ImageWriteError,
                                     OutputExistsError, PluginError)
from colorfuse.plugins.context import ImageContext
from colorfuse.plugins.manager import call_first

BYTES_PER_PIXEL = 12  # an image's peak at default settings: decoding, finishing in strips, encoding
MEMORY_RESERVE = 512 << 20  # the model session, the strips and the rest of the process
MIN_PIXEL_LIMIT = 10_000_000
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_TEMPORARY = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+\.partial(\.[A-Za-z0-9]{1,8})?$")
OWNER_LOCK = ".owner.lock"  # in a working folder: held by the process using it
NAME_MAX = 255  # bytes in a file name on the filesystems colorfuse writes to
_RANDOM_AND_SUFFIX = 8 + len(".partial")  # mkstemp's random part, then the suffix
_NO_LOCKS = {errno.ENOLCK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}

_FULL = {errno.ENOSPC, errno.EDQUOT}
_UMASK = os.umask(0)
os.umask(_UMASK)
_reading = threading.local()


def file_being_read() -> str | None:
    """The file this thread is decoding, if any: lets the CLI tie a decoder's warnings to their file."""
    return getattr(_reading, "path", None)


@lru_cache(maxsize=1)
def memory_pixel_limit() -> tuple[int, int | None]:
    """(pixels, available bytes): the largest image the available memory holds at :data:`BYTES_PER_PIXEL`,
    the default of the ``max_pixels`` option (1,000 megapixels where the memory cannot be read).

    Measured once per process (commands call it before their first read), so that whether a file is
    refused never depends on what else is in flight."""
    from colorfuse.engine.machine import available_memory

    available = available_memory()
    if available is None:
        return 1_000_000_000, None
    return max(MIN_PIXEL_LIMIT, (available - MEMORY_RESERVE) // BYTES_PER_PIXEL), available


def not_regular(path) -> str | None:
    """What ``path`` is when it is not a regular file (a FIFO would block a reader forever), else None."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken link" if os.path.islink(path) else None
    except OSError as exc:
        return "a symlink loop" if exc.errno == errno.ELOOP else None  # else the reader says why it cannot open it
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
             (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder"))
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def read_image(path, options: dict | None = None, context: ImageContext | None = None) -> np.ndarray:
    """Decode ``path`` with the first reader plugin that takes it; only regular files are read.
    Readers get ``context`` (default: one naming ``path`` as the input)."""
    kind = not_regular(path)
    if kind:
        raise ImageReadError(f"{path}: {kind}, not a regular file; only regular files are read")
    options = dict(options or {})
    if options.get("max_pixels") is None:  # readers always get the limit in force
        options["max_pixels"] = memory_pixel_limit()[0]
    _reading.path = str(path)
    try:
        image = call_first("read_image", path=str(path), options=options,
                           context=context or ImageContext.of(options, input=path))
    except PluginError as exc:
        raise ImageReadError(f"{path}: {exc}") from None
    finally:
        _reading.path = None
    if image is None:
        raise ImageReadError(f"{path}: no reader plugin could read this file")
    return image


def output_is_complete(path, size: tuple[int, int], options: dict | None = None) -> bool:
    """Whether the output ``path`` is a complete result of ``size`` (height, width): by its format's
    ``verify`` when the writer declared one (an error in it counts as incomplete), else by decoding
    it completely with the reader plugins."""
    from colorfuse.plugins.filetypes import output_formats

    suffix = Path(path).suffix.lower()
    declared = next((fmt for fmt in output_formats().values() if fmt.suffix.lower() == suffix), None)
    if declared is not None and declared.verify is not None:
        try:
            return bool(declared.verify(str(path), tuple(size)))
        except Exception:
            return False
    try:
        return read_image(path, options).shape[:2] == tuple(size)
    except ColorfuseError:
        return False


def temporary_prefix(path: Path, pid: int | None = None, suffix: str = "") -> str:
    """The start of the temporary names for ``path`` written by process ``pid`` (this one by default).

    The name part is shortened (never the output's own name) so that the temporary's name fits."""
    owner = f".{HOST}-{os.getpid() if pid is None else pid}."
    room = NAME_MAX - _RANDOM_AND_SUFFIX - len(os.fsencode(suffix + owner)) - 1
    name = path.name
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}{owner}"


def process_running(pid: int) -> bool:
    """Whether process ``pid`` of this host (and PID namespace) may still be running."""
    if os.name != "posix":
        return True  # no safe liveness test: keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's live process
    return True


def _lock(handle: int, wait: bool) -> bool | None:
    """Take the exclusive lock of an open file: True, False when another holds it, None without locks."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in _NO_LOCKS:
            return None
        raise
    return True


def _same_file(handle: int, path: str) -> bool:
    try:
        return os.path.samestat(os.fstat(handle), os.stat(path))
    except OSError:
        return False


def _open_lock(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None  # gone already, or not ours to judge


def _owner_gone(handle: int, host: str, pid: int) -> bool:
    """Whether the writer holding the lock of ``handle`` is provably gone: the lock is free (or, without
    locks, the writer ran on this host and has ended). The lock stays taken until ``handle`` is closed."""
    locked = _lock(handle, wait=False)
    return host == HOST and not process_running(pid) if locked is None else locked


def _remove_if_stale(path: str, host: str, pid: int) -> bool:
    """Delete the temporary ``path`` if its writer is provably gone."""
    handle = _open_lock(path)
    if handle is None:
        return False
    try:
        if _owner_gone(handle, host, pid) and _same_file(handle, path):
            os.unlink(path)
            return True
    except OSError:
        pass
    finally:
        os.close(handle)
    return False


def _names(folder) -> list[str]:
    """The names in ``folder``; none when it cannot be listed."""
    try:
        return os.listdir(folder)
    except OSError:
        return []


def remove_stale_temporaries(folder) -> int:
    """Delete the temporaries of colorfuse's naming in ``folder`` whose writer has provably ended."""
    removed = 0
    for name in _names(folder):
        found = _TEMPORARY.match(name)
        if found:
            removed += _remove_if_stale(os.path.join(folder, name), found["host"], int(found["pid"]))
    return removed


def owned_folder(parent, prefix: str) -> tuple[Path, int]:
    """A new folder ``PREFIX-HOST-PID-RANDOM`` in ``parent`` and the handle of the lock held on it (close it
    after deleting the folder): :func:`remove_stale_folders` deletes it only once this process is gone."""
    folder = tempfile.mkdtemp(prefix=f"{prefix}{HOST}-{os.getpid()}-", dir=parent)
    handle, name = tempfile.mkstemp(dir=folder)
    _lock(handle, wait=True)
    os.rename(name, os.path.join(folder, OWNER_LOCK))  # it appears locked already
    return Path(folder), handle


def remove_stale_folders(parent, prefix: str) -> int:
    """Delete the folders of :func:`owned_folder` in ``parent`` whose owner is provably gone (a folder
    without its lock file yet is judged by its host and process id)."""
    pattern = re.compile(re.escape(prefix) + r"(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)-[A-Za-z0-9_]+$")
    removed = 0
    for name in _names(parent):
        found = pattern.match(name)
        folder = os.path.join(parent, name)
        if not found or os.path.islink(folder) or not os.path.isdir(folder):
            continue
        handle = _open_lock(os.path.join(folder, OWNER_LOCK))
        try:
            host, pid = found["host"], int(found["pid"])
            if host == HOST and not process_running(pid) if handle is None else _owner_gone(handle, host, pid):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:
            pass
        finally:
            if handle is not None:
                os.close(handle)
    return removed


@contextmanager
def locked_temporary(path: Path, suffix: str = ""):
    """Create a temporary file for ``path`` in its folder and yield its name, locked while inside (other
    runs never delete it); ``suffix`` ends the name (a video's, for ffmpeg). Its mode is the umask's, as
    a new file's. The name is deleted on the way out, unless it was renamed away."""
    while True:
        handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(path, suffix=suffix), suffix=".partial" + suffix,
                                             dir=path.parent)
        try:
            _lock(handle, wait=True)
            if _same_file(handle, temporary):  # not taken in between by a run deleting stale temporaries
                break
        except BaseException:
            os.close(handle)
            raise
        os.close(handle)
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp's 0600 would stick to the output
        yield temporary
    finally:
        try:
            if _same_file(handle, temporary):
                os.unlink(temporary)
        finally:
            os.close(handle)


def _publish(temporary: str, path: Path, replace: bool) -> None:
    """Give the complete temporary file its final name; without ``replace``, never over an existing file."""
    if replace:
        os.replace(temporary, path)
        return
    try:
        try:
            os.link(temporary, path)  # atomic, and fails if ``path`` exists
        except OSError as exc:
            if isinstance(exc, FileExistsError) or exc.errno not in _NO_HARD_LINKS:
                raise
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # no hard links: claim the name
            os.replace(temporary, path)
    except FileExistsError:
        raise OutputExistsError(f"{path}: already exists (use --overwrite or --skip-existing)") from None


def _write_error(path: Path, error: BaseException, doing: str = "cannot write") -> ImageWriteError:
    """The error for a failed write of ``path``: :class:`DiskFullError` when the disk is full."""
    cause = error.error if isinstance(error, PluginError) else error
    if isinstance(cause, OSError) and cause.errno in _FULL:
        return DiskFullError(f"{path}: {doing} ({cause.strerror or cause})")
    reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else error
    return ImageWriteError(f"{path}: {doing} ({reason})")


def write_image_atomic(image: np.ndarray, path, format: str, options: dict | None = None,
                       replace: bool = True, context: ImageContext | None = None, lab=None) -> Path:
    """Encode ``image`` to ``path`` via a locked temporary file in the same folder, then rename.

    With ``replace`` False an existing ``path`` is never replaced: :class:`OutputExistsError`.
    Writers get ``context`` (default: one naming ``path`` as the output) and ``lab``, the result's
    full-size (L, ab) float32 arrays, or None.
    """
    path = Path(path)
    doing = f"cannot write to {path.parent}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with locked_temporary(path) as temporary:
            doing = "cannot write"
            written = call_first("write_image", image=image, path=temporary, format=format, options=options or {},
                                 context=context or ImageContext.of(options, output=path), lab=lab)
            if not written:
                raise ImageWriteError(f"{path}: no writer plugin handles format {format!r}")
            _publish(temporary, path, replace)
    except (OSError, PluginError) as exc:
        raise _write_error(path, exc, doing) from None
    return path
