"""The plugin manager: built-in plugins, entry-point plugins, and calls that name a failing plugin."""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from importlib import metadata
from importlib.metadata import entry_points

import pluggy

from colorfuse.errors import ColorfuseError, PluginError, PluginWarning
from colorfuse.plugins import hookspecs

BUILTIN_PLUGINS = (
    "colorfuse.plugins.builtin_models",
    "colorfuse.plugins.image_io",
    "colorfuse.plugins.saturation",
    "colorfuse.plugins.chroma_upsample",
    "colorfuse.plugins.temporal",
    "colorfuse.plugins.web",
)  # their plugin names; each is the module colorfuse.plugins.builtin.<last part> (loaded by name, not imported)
ENTRY_POINT_GROUP = "colorfuse"
DISABLE_ENVIRONMENT = "COLORFUSE_DISABLE_PLUGINS"

_manager: pluggy.PluginManager | None = None
_versions: dict[str, str | None] = {}  # entry-point plugin name -> its distribution's version
_broken: dict[str, str] = {}  # plugin name -> why it could not be loaded or registered
_disabled: set[str] = set()  # names switched off by --disable-plugin or the environment
_switched_off: set[str] = set()  # plugins that exist but were left out because they are disabled
_lock = threading.Lock()
_declarations: dict[str, object] = {}  # what declaration hooks gave, by kind, for the current plugin set


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, refusing wrapper implementations: colorfuse calls hooks in its own loop (below).
    Every change of the plugin set empties the cache of declarations (:func:`declared`)."""

    def register(self, plugin, name: str | None = None):
        self._registering = name or self.get_canonical_name(plugin)
        _declarations.clear()
        return super().register(plugin, name)

    def unregister(self, plugin=None, name: str | None = None):
        _declarations.clear()
        return super().unregister(plugin, name)

    def parse_hookimpl_opts(self, plugin, name: str):
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts and (opts.get("wrapper") or opts.get("hookwrapper")):
            raise pluggy.PluginValidationError(
                plugin, f"plugin {self._registering!r}: hook {name!r} is a pluggy wrapper (wrapper=True or "
                        "hookwrapper=True), which colorfuse does not call; use a chained hook "
                        "(wrap_runner, preprocess_image, ...) instead")
        return opts


def _build() -> pluggy.PluginManager:
    manager = PluginManager("colorfuse")
    manager.add_hookspecs(hookspecs)
    _disabled.update(name.strip() for name in os.environ.get(DISABLE_ENVIRONMENT, "").split(",") if name.strip())
    for module_name in BUILTIN_PLUGINS:
        if _is_disabled(module_name):
            _switched_off.add(module_name)
        else:
            manager.register(importlib.import_module(_builtin_module(module_name)), name=module_name)
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        _versions.setdefault(entry_point.name, getattr(entry_point.dist, "version", None))
        if _is_disabled(entry_point.name):
            _switched_off.add(entry_point.name)
            continue
        if manager.get_plugin(entry_point.name) is not None:
            continue
        try:
            _register_checked(manager, entry_point.load(), entry_point.name)
        except Exception as exc:  # a broken third-party plugin is named and left out; the rest works
            _broken[entry_point.name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"plugin {entry_point.name!r} could not be loaded and is left out: "
                          f"{type(exc).__name__}: {exc}", PluginWarning, stacklevel=2)
            continue
    return manager


def declared(kind: str, collect):
    """``collect()`` (declarations gathered through a declaration hook) once per plugin set: a run
    asks for file types and output formats per image, the plugins are asked once."""
    get_plugin_manager()
    if kind not in _declarations:
        _declarations[kind] = collect()
    return _declarations[kind]


def broken_note() -> str:
    """For an error about something a plugin may supply (a model, an option, a command): a clause
    naming the plugins that could not be loaded and why, or "" when none is broken."""
    get_plugin_manager()
    if not _broken:
        return ""
    named = ", ".join(f"{name!r} ({why})" for name, why in _broken.items())
    return f"; plugin{'s' if len(_broken) > 1 else ''} {named} could not be loaded, and may be what supplies it"


def _builtin_module(name: str) -> str:
    """The module of the built-in plugin named ``name``: ``colorfuse.plugins.saturation`` is ``colorfuse.plugins.builtin.saturation``."""
    return "colorfuse.plugins.builtin." + name.rsplit(".", 1)[-1]


def _register_checked(manager: PluginManager, plugin, name: str) -> None:
    """Register ``plugin``; a hook implementation no hook specification knows (a misspelt name) refuses it."""
    manager.register(plugin, name=name)
    unknown = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [] if not caller.has_spec())
    if unknown:
        manager.unregister(name=name)
        raise pluggy.PluginValidationError(plugin, f"unknown hook {', '.join(map(repr, unknown))}")


def _is_disabled(name: str) -> bool:
    """Whether ``name`` was switched off; built-ins also answer to their short name (``saturation``)."""
    return name in _disabled or (name in BUILTIN_PLUGINS and name.rsplit(".", 1)[-1] in _disabled)


def disable_plugins(names) -> None:
    """Switch plugins off by name (``--disable-plugin``); those already loaded are unregistered."""
    _disabled.update(names)
    with _lock:
        if _manager is not None:
            for plugin_name in [_manager.get_name(plugin) for plugin in _manager.get_plugins()]:
                if _is_disabled(plugin_name):
                    _manager.unregister(name=plugin_name)
                    _switched_off.add(plugin_name)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built on first use)."""
    global _manager
    with _lock:
        if _manager is None:
            _manager = _build()
        return _manager


def _implementations(hook_name: str):
    """Implementations in pluggy's call order (last registered / tryfirst first)."""
    caller = getattr(get_plugin_manager().hook, hook_name)
    return list(reversed(caller.get_hookimpls()))


def _call(impl, hook_name: str, kwargs: dict):
    try:
        return impl.function(*[kwargs[name] for name in impl.argnames])
    except ColorfuseError:
        raise  # colorfuse's own typed errors (a bad image, say) already say what is wrong
    except Exception as exc:
        raise PluginError(impl.plugin_name, hook_name, exc) from exc


def call_each(hook_name: str, **kwargs) -> list:
    """Call every implementation; return the non-None results."""
    results = []
    for impl in _implementations(hook_name):
        result = _call(impl, hook_name, kwargs)
        if result is not None:
            results.append(result)
    return results


def call_each_named(hook_name: str, **kwargs) -> list[tuple[str, object]]:
    """Call every implementation, built-ins first; return (plugin name, result) for each non-None result."""
    implementations = sorted(_implementations(hook_name), key=lambda impl: impl.plugin_name not in BUILTIN_PLUGINS)
    return [(impl.plugin_name, result) for impl in implementations
            if (result := _call(impl, hook_name, kwargs)) is not None]


def call_each_in_turn(hook_name: str, **kwargs):
    """Call every implementation, built-ins first; yield each plugin's name just before calling it.

    For registration hooks, whose callers note who registers what (and keep what was there first).
    """
    implementations = sorted(_implementations(hook_name), key=lambda impl: impl.plugin_name not in BUILTIN_PLUGINS)
    for impl in implementations:
        yield impl.plugin_name
        _call(impl, hook_name, kwargs)


def call_first(hook_name: str, **kwargs):
    """Return the first non-None result (for ``firstresult`` hooks), or None."""
    for impl in _implementations(hook_name):
        result = _call(impl, hook_name, kwargs)
        if result is not None:
            return result
    return None


def call_chain(hook_name: str, value_arg: str, keep_shape: bool = False, **kwargs):
    """Pass ``kwargs[value_arg]`` through every implementation, each getting the last result; with
    ``keep_shape`` a result of another height or width is the plugin's error."""
    for impl in _implementations(hook_name):
        result = _call(impl, hook_name, kwargs)
        if result is not None:
            before = kwargs[value_arg].shape[:2] if keep_shape else None
            if keep_shape and getattr(result, "shape", (None, None))[:2] != before:
                shape = getattr(result, "shape", type(result).__name__)
                raise PluginError(impl.plugin_name, hook_name, ValueError(
                    f"returned shape {shape} for {before[0]}x{before[1]} pixels; this hook must keep the size"))
            kwargs[value_arg] = result
    return kwargs[value_arg]


def wrap_chain(hook_name: str, value_arg: str, **kwargs):
    """Like :func:`call_chain` for hooks that wrap a callable: an error raised by a wrapper names its plugin.

    An error that only passes through a wrapper (raised by the callable it wrapped) keeps its origin.
    """
    kwargs[value_arg] = _passing_through(kwargs[value_arg])
    for impl in _implementations(hook_name):
        result = _call(impl, hook_name, kwargs)
        if result is not None:
            kwargs[value_arg] = _passing_through(_naming(result, impl.plugin_name, hook_name))
    return kwargs[value_arg]


def _passing_through(function):
    """``function`` whose errors are marked as already attributed, so outer wrappers do not claim them."""
    def marked(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            exc.colorfuse_attributed = True
            raise
    return marked


def _naming(function, plugin: str, hook_name: str):
    """``function`` whose own errors become a :class:`PluginError` naming ``plugin``."""
    def named(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ColorfuseError:
            raise
        except Exception as exc:
            if getattr(exc, "colorfuse_attributed", False):
                raise
            raise PluginError(plugin, hook_name, exc) from exc
    return named


def all_accept(hook_name: str, argument: str) -> bool:
    """Whether every implementation of ``hook_name`` takes ``argument`` (newer hook arguments are optional)."""
    return all(argument in impl.argnames for impl in _implementations(hook_name))


def any_accept(hook_name: str, argument: str) -> bool:
    """Whether some implementation of ``hook_name`` takes ``argument`` (one that costs to compute)."""
    return any(argument in impl.argnames for impl in _implementations(hook_name))


def has_implementations(hook_name: str) -> bool:
    return bool(_implementations(hook_name))


def _version_of(name: str) -> str | None:
    """A built-in's version is colorfuse's; an entry point's, its distribution's (also when broken or
    switched off); a plugin registered from code has none."""
    if name in BUILTIN_PLUGINS:
        try:
            return metadata.version("colorfuse")
        except metadata.PackageNotFoundError:  # run from a checkout that is not installed
            return None
    return _versions.get(name)


def plugin_table() -> list[dict]:
    """Every plugin with the hooks it implements and its status (for ``colorfuse plugins``).

    ``status`` is ``loaded``, ``broken`` (with ``error``: why it could not be loaded) or ``disabled``.
    """
    manager = get_plugin_manager()
    rows = []
    for plugin in manager.get_plugins():
        name = manager.get_name(plugin)
        hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])
        rows.append({"name": name, "hooks": hooks, "builtin": name in BUILTIN_PLUGINS,
                     "version": _version_of(name), "status": "loaded"})
    for name, error in _broken.items():
        rows.append({"name": name, "hooks": [], "builtin": False, "version": _version_of(name), "status": "broken",
                     "error": error})
    for name in _switched_off:
        rows.append({"name": name, "hooks": [], "builtin": name in BUILTIN_PLUGINS, "version": _version_of(name),
                     "status": "disabled"})
    return sorted(rows, key=lambda row: (not row["builtin"], row["name"]))
