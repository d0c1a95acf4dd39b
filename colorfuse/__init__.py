"""colorfuse: fast image and video colorization with ONNX models.

The runtime (``colorfuse.engine``) needs only onnxruntime, NumPy and OpenCV; training
(``colorfuse.train``) needs the ``train`` extra (torch, onnx).
"""

import os as _os

__version__ = "0.1.0"

# In a checkout, the subpackages (engine, plugins, train, ...) sit beside this folder (pyproject's package-dir):
# found through __path__, they import from any install mode, editable (compat) installs included.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_checkout, "engine", "colorizer.py")):
    __path__.append(_checkout)

__all__ = ["Colorizer", "Hint", "__version__", "errors"]  # and every name of colorfuse.errors


def __getattr__(name):
    # Lazy, so that `colorfuse --version` and `import colorfuse` stay instant.
    if name == "Colorizer":
        from colorfuse.engine.colorizer import Colorizer

        return Colorizer
    if name == "Hint":
        from colorfuse.engine.hints import Hint

        return Hint
    import importlib

    errors = importlib.import_module("colorfuse.errors")  # not `from colorfuse import`: that calls this again
    if name == "errors":
        return errors
    if name in errors.__all__:
        return getattr(errors, name)
    raise AttributeError(f"module 'colorfuse' has no attribute {name!r}")
