"""The package list, from the tree: every folder with an ``__init__.py`` under the top-level folders, as ``colorfuse.*``.

The rest of the configuration is in pyproject.toml; this only maps the design's top-level folders (engine,
train, plugins, exports, benchmarks) into ``colorfuse``, so a new subpackage cannot be left out of the wheel.
"""

from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
FOLDERS = {"colorfuse": "colorfuse", "colorfuse.engine": "engine", "colorfuse.train": "train",
           "colorfuse.plugins": "plugins", "colorfuse.exports": "exports", "colorfuse.benchmarks": "benchmarks"}


def packages() -> list[str]:
    """Each top-level folder's package and every package folder below it, by its ``colorfuse.*`` name."""
    found = []
    for name, folder in FOLDERS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            found.append(".".join((name, *init.parent.relative_to(ROOT / folder).parts)))
    return found


setup(package_dir=FOLDERS, packages=packages())
