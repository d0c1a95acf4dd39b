"""colorfuse's plugins: the hook specifications, the manager, and the built-in plugins.

Write a plugin with ``from colorfuse.plugins import hookimpl`` and register it under the
``colorfuse`` entry-point group (see README, "Plugins").
"""

import pluggy

hookimpl = pluggy.HookimplMarker("colorfuse")
