"""Name -> model class registry."""

from __future__ import annotations

from colorfuse.train.models.base import ColorizationModel

MODELS: dict[str, type] = {}


class UnknownModelError(KeyError):
    """Raised by :func:`build_model` for a name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def register_model(name: str):
    """Class decorator: register a :class:`ColorizationModel` subclass under ``name``."""

    def decorate(cls: type) -> type:
        if not issubclass(cls, ColorizationModel):
            raise TypeError(f"{cls.__name__} is not a ColorizationModel")
        if MODELS.get(name, cls) is not cls:
            raise ValueError(f"model name {name!r} is already registered to {MODELS[name].__name__}")
        cls.name = name
        MODELS[name] = cls
        return cls

    return decorate


def model_names() -> list[str]:
    return sorted(MODELS)


def build_model(name: str, **kwargs) -> ColorizationModel:
    """Instantiate the model registered as ``name`` with ``kwargs``."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(model_names())}") from None
    return cls(**kwargs)
