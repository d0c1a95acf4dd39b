"""The built-in plugins: colorfuse's own readers, writers, models, looks and the web app, on top of the engine.

The manager loads them by name (``colorfuse.plugins.manager.BUILTIN_PLUGINS``); nothing else imports them.
"""
