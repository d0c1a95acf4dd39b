"""libtiff's own warnings and errors become the warnings of the file being read, one line each.

libtiff prints them from C straight to stderr, naming Pillow's made-up ``tempfile.tif`` or no file
at all. :func:`install` replaces libtiff's two handlers (in the libtiff that Pillow loaded, found
in this process's memory map: Linux) with one that formats the message and warns it as a
:class:`DecoderWarning` from the decoding thread, so the CLI names the file (see
:func:`colorfuse.engine.imagefiles.file_being_read`) and escapes the line. Elsewhere nothing changes.
"""

from __future__ import annotations

import ctypes
import warnings

from colorfuse.errors import DecoderWarning

_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)  # module, format, va_list
_MESSAGE_BYTES = 1024
_installed: list = []  # the handler and libc, kept alive while libtiff may call them


def _loaded_libtiff() -> str | None:
    """The path of the libtiff this process has loaded (Pillow's), from /proc/self/maps."""
    try:
        with open("/proc/self/maps") as maps:
            return next((line.split()[-1] for line in maps if "/libtiff" in line), None)
    except OSError:
        return None


def install() -> bool:
    """Route libtiff's warnings and errors through :class:`DecoderWarning`; whether it could be done."""
    if _installed:
        return True
    import PIL._imaging  # noqa: F401 (loads libtiff)

    path = _loaded_libtiff()
    if path is None:
        return False
    try:
        libtiff, libc = ctypes.CDLL(path), ctypes.CDLL(None)
        libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
    except (OSError, AttributeError):
        return False

    def handle(module, form, args):
        text = ctypes.create_string_buffer(_MESSAGE_BYTES)
        libc.vsnprintf(text, _MESSAGE_BYTES, form, args)
        where = (module or b"").decode("utf-8", "replace")
        where = "" if not where or where.endswith(".tif") else f" {where}"  # Pillow names every file tempfile.tif
        warnings.warn(f"libtiff{where}: {text.value.decode('utf-8', 'replace')}", DecoderWarning, stacklevel=1)

    handler = _HANDLER(handle)
    for setter in (libtiff.TIFFSetWarningHandler, libtiff.TIFFSetErrorHandler):
        setter.restype = ctypes.c_void_p
        setter(handler)
    _installed.extend((handler, libc, libtiff))
    return True
