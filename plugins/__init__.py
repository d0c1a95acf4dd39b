"""colorfuse's plugin contract: the hook specifications, the manager, the option and file-type declarations.

The built-in plugins are in :mod:`colorfuse.plugins.builtin`, on top of the engine; this package imports
no engine module.

Write a plugin with ``from colorfuse.plugins import hookimpl`` and register it under the
``colorfuse`` entry-point group (see README, "Plugins").
"""

import pluggy

hookimpl = pluggy.HookimplMarker("colorfuse")
