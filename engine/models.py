"""Finding models: registered names (from plugins, the shipped ones included) or file paths."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from colorfuse.errors import ModelNotFoundError, PluginWarning

def _exports_dir() -> Path:
    import colorfuse.exports

    return Path(colorfuse.exports.__file__).resolve().parent


def shipped_models() -> dict[str, Path]:
    """The ``.onnx`` files shipped in ``colorfuse.exports``, by file stem."""
    return {path.stem: path for path in sorted(_exports_dir().glob("*.onnx"))}


def default_model_name() -> str:
    """The default model's name, from ``exports/index.json``."""
    index = _exports_dir() / "index.json"
    try:
        return json.loads(index.read_text())["default"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelNotFoundError(f"{index}: no default model is configured ({exc})") from exc


def registered_models() -> dict[str, Path]:
    """Every model registered through the ``register_models`` hook, by name.

    A name registered twice keeps its first path (built-ins register first), with a :class:`PluginWarning`.
    """
    from colorfuse.plugins.manager import call_each_in_turn

    found: dict[str, Path] = {}
    owners: dict[str, str] = {}
    plugin = ""

    def register(name: str, path) -> None:
        if name not in found:
            found[name], owners[name] = Path(path), plugin
        elif Path(path) != found[name]:
            warnings.warn(f"plugin {plugin!r} registers model {name!r}, which plugin {owners[name]!r} already "
                          "registers; the first is kept", PluginWarning, stacklevel=2)

    for plugin in call_each_in_turn("register_models", register=register):
        pass
    return found


def provided_model_names() -> dict[str, str]:
    """Model name -> plugin, for the names plugins say their ``provide_model`` answers to
    (``list_provided_models``); registered file names are left out, and the first plugin keeps a name."""
    from colorfuse.plugins.manager import call_each_named

    registered, found = registered_models(), {}
    for plugin, listed in call_each_named("list_provided_models"):
        for name in listed:
            if str(name) not in registered:
                found.setdefault(str(name), plugin)
    return found


def resolve_model(spec: str | os.PathLike | None) -> Path:
    """Turn a model name, a path, or None (the default model) into a model file path."""
    if spec is None:
        spec = default_model_name()
    path = Path(spec)
    if path.suffix == ".onnx" and path.exists():
        return path
    models = registered_models()
    if str(spec) in models:
        return models[str(spec)]
    if path.suffix == ".onnx":
        raise ModelNotFoundError(f"{spec}: model file does not exist")
    from colorfuse.plugins.manager import broken_note

    known = ", ".join(sorted([*models, *provided_model_names()])) or "none"
    raise ModelNotFoundError(f"unknown model {str(spec)!r} (known: {known}; or give a path to an .onnx file)"
                             f"{broken_note()}")


def style_models() -> list[str]:
    """The registered models with a global input (those ``--style`` works with)."""
    from colorfuse.engine.card import read_card
    from colorfuse.errors import ModelCardError

    names = []
    for name, path in sorted(registered_models().items()):
        try:
            if read_card(path).global_input_size:
                names.append(name)
        except ModelCardError:
            continue
    return names
