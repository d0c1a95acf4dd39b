"""Built-in plugin: ``saturation`` option scales the predicted chroma (1.0 leaves it)."""

from colorfuse.plugins import hookimpl


@hookimpl
def postprocess_ab(lum, ab, options):
    factor = float(options.get("saturation", 1.0))
    if factor == 1.0:
        return None
    if factor < 0:
        raise ValueError(f"saturation must be >= 0, got {factor}")
    return ab * factor


@hookimpl
def declare_options(declare):
    declare("saturation", float, 1.0, "Chroma multiplier: 0 is gray, above 1 more colourful.")
