"""colorfuse: fast image and video colorization with ONNX models.

The runtime (``colorfuse.engine``) needs only onnxruntime, NumPy and OpenCV; training
(``colorfuse.train``) needs the ``train`` extra (torch, onnx).
"""

__version__ = "0.1.0"

__all__ = ["Colorizer", "Hint", "__version__"]


def __getattr__(name):
    # Lazy, so that `colorfuse --version` and `import colorfuse` stay instant.
    if name == "Colorizer":
        from colorfuse.engine.colorizer import Colorizer

        return Colorizer
    if name == "Hint":
        from colorfuse.engine.hints import Hint

        return Hint
    raise AttributeError(f"module 'colorfuse' has no attribute {name!r}")
