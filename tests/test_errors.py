"""The public errors module: every typed error and warning of the runtime in one importable place."""

from __future__ import annotations

import importlib
import pkgutil

import colorfuse
from colorfuse import errors
from colorfuse.errors import ColorfuseError, ColorfuseWarning


def _runtime_modules():
    """Every module of the runtime and the plugin contract (not training, not the web app)."""
    import colorfuse.engine
    import colorfuse.plugins

    for package in (colorfuse.engine, colorfuse.plugins):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".web" not in info.name:
                yield importlib.import_module(info.name)


def _subclasses(base):
    found = set()
    for cls in base.__subclasses__():
        found |= {cls} | _subclasses(cls)
    return found


def test_every_typed_error_and_warning_of_the_runtime_is_public():
    modules = list(_runtime_modules())
    assert len(modules) > 20
    runtime = {cls for cls in _subclasses(ColorfuseError) | _subclasses(ColorfuseWarning)
               if cls.__module__.startswith(("colorfuse.engine", "colorfuse.plugins")) and ".web" not in cls.__module__}  # fmt: skip
    public = {getattr(errors, name) for name in errors.__all__}
    assert runtime - public == set()
    assert all(issubclass(cls, (ColorfuseError, ColorfuseWarning, KeyboardInterrupt)) for cls in public)


def test_errors_import_from_the_package_and_keep_their_old_homes():
    from colorfuse import HintError, ImageReadError  # noqa: F401  (the import is the test)
    from colorfuse.engine.colorizer import ColourInputWarning
    from colorfuse.engine.hints import HintError as old_home

    assert colorfuse.ImageReadError is errors.ImageReadError and old_home is errors.HintError
    assert ColourInputWarning is errors.ColourInputWarning
    try:
        colorfuse.NoSuchError  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchError" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
