"""Built-in plugin: ``saturation`` option scales the predicted chroma (1.0 leaves it)."""

import math

from colorfuse.plugins import hookimpl


@hookimpl
def postprocess_ab(lum, ab, options):
    factor = float(options.get("saturation", 1.0))
    if factor == 1.0:
        return None
    if not math.isfinite(factor) or factor < 0:  # NaN gave white pictures, infinity garbage
        raise ValueError(f"saturation must be a finite number >= 0, got {factor}")
    return ab * factor


@hookimpl
def declare_options(declare):
    declare("saturation", float, 1.0, "Scale the predicted colour: 0 is gray, above 1 more colourful.", min=0,
            flag=True)
