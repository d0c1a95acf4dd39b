"""Built-in plugin: registers the models shipped in ``colorfuse.exports``."""

from colorfuse.plugins import hookimpl


@hookimpl
def register_models(register):
    from colorfuse.engine.models import shipped_models

    for name, path in shipped_models().items():
        register(name, path)
