"""The input file types reader plugins declare: which extensions are read, and which are lossless."""

from __future__ import annotations

from dataclasses import dataclass


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
    """What the registered plugins read now, through the ``declare_file_types`` hook."""
    from colorfuse.plugins.manager import call_each

    readable, lossless_extensions = set(), set()

    def declare(extension: str, lossless: bool = False) -> None:
        extension = "." + extension.lower().lstrip(".")
        readable.add(extension)
        if lossless:
            lossless_extensions.add(extension)

    call_each("declare_file_types", declare=declare)
    return FileTypes(frozenset(readable), frozenset(lossless_extensions))
