"""File types plugins declare: extensions readers read (and which are lossless), formats writers write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class FileTypes:
    """Declared extensions (lower case, with the dot); a name is readable when its extension is in ``readable``."""

    readable: frozenset[str]
    lossless: frozenset[str]

    def reads(self, name: str) -> bool:
        """Whether a folder scan takes the file ``name`` (hidden files never)."""
        return not name.startswith(".") and _extension(name) in self.readable

    def is_lossless(self, name: str) -> bool:
        return _extension(name) in self.lossless


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def file_types() -> FileTypes:
    """What the registered plugins read now, through the ``declare_file_types`` hook (asked once per plugin set)."""
    from colorfuse.plugins.manager import declared

    return declared("file_types", _collect_file_types)


def _collect_file_types() -> FileTypes:
    from colorfuse.plugins.manager import call_each

    readable, lossless_extensions = set(), set()

    def declare(extension: str, lossless: bool = False) -> None:
        extension = "." + extension.lower().lstrip(".")
        readable.add(extension)
        if lossless:
            lossless_extensions.add(extension)

    call_each("declare_file_types", declare=declare)
    return FileTypes(frozenset(readable), frozenset(lossless_extensions))


@dataclass(frozen=True)
class OutputFormat:
    """A format a writer plugin declares: its name (``--format``), the output suffix, whether it is
    lossless, and how ``--skip-existing`` checks an output of it (``verify(path, (height, width))
    -> bool``; None: by decoding it with the reader plugins)."""

    name: str
    suffix: str
    lossless: bool
    verify: Callable[[str, tuple[int, int]], bool] | None = field(default=None, compare=False)


def output_formats() -> dict[str, OutputFormat]:
    """The declared output formats by name, built-ins first (a name declared again keeps the first);
    asked once per plugin set. A copy: the caller may change it."""
    from colorfuse.plugins.manager import declared

    return dict(declared("output_formats", _collect_output_formats))


def _collect_output_formats() -> dict[str, OutputFormat]:
    from colorfuse.plugins.manager import call_each_in_turn

    found: dict[str, OutputFormat] = {}

    def declare(format: str, suffix: str, lossless: bool = False, verify=None) -> None:
        if verify is not None and not callable(verify):
            raise TypeError(f"output format {format!r}: verify must be a function (path, (height, width)) -> bool")
        found.setdefault(format, OutputFormat(format, "." + suffix.lstrip("."), bool(lossless), verify))

    for _plugin in call_each_in_turn("declare_output_formats", declare=declare):
        pass
    return found


def auto_format(source_name: str) -> str:
    """``--format auto``: the first declared lossless format for a lossless input type, else the first lossy one."""
    lossless = file_types().is_lossless(source_name)
    formats = output_formats().values()
    return next((fmt.name for fmt in formats if fmt.lossless == lossless), "png" if lossless else "jpeg")
