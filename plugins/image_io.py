"""Built-in plugin: reads images with Pillow and writes them with OpenCV.

Reading checks the header's size before decoding (``max_pixels`` option), applies EXIF
orientation, and turns every mode (palette, RGBA, CMYK, 16-bit, 32-bit integer and float, ...)
into gray or RGB. Float images in 0..1 are scaled as such. An animation or a multi-page file
gives its first frame, with an :class:`IgnoredFramesWarning` that says how many were left.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorfuse.engine.errors import IgnoredFramesWarning, ImageReadError, ImageWriteError
from colorfuse.plugins import hookimpl

DEFAULT_MAX_PIXELS = 1_000_000_000
Image.MAX_IMAGE_PIXELS = None  # colorfuse checks the size itself, with a clearer message
WRITE_FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif"}


def _to_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("L", "RGB"):
        return np.asarray(image)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image).astype(np.uint16)
    if mode in ("I", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        peak = values.max(initial=0)
        top = 1.0 if mode == "F" and peak <= 1.0 else 65535.0 if peak > 255 else 255.0
        return np.clip(values / top * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode in ("LA", "RGBA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))  # P, CMYK, YCbCr, LAB, HSV


@hookimpl(trylast=True)
def read_image(path, options):
    limit = int(options.get("max_pixels", DEFAULT_MAX_PIXELS))
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > limit:
                raise ImageReadError(
                    f"{path}: header says {width}x{height} ({width * height / 1e6:,.0f} megapixels), "
                    f"over the limit of {limit / 1e6:,.0f} megapixels; refused before decoding"
                )
            image.load()
            upright = ImageOps.exif_transpose(image)
            array = _to_array(upright)
            frames = getattr(image, "n_frames", 1)
        if frames > 1:
            warnings.warn(f"{path}: {frames} frames (an animation or a multi-page file); only the first is "
                          "colorized", IgnoredFramesWarning, stacklevel=2)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image, or a format colorfuse cannot read") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{path}: corrupt or truncated image ({exc})") from None
    if array.ndim == 3 and array.shape[2] != 3:
        raise ImageReadError(f"{path}: unsupported channel layout {array.shape}")
    return np.ascontiguousarray(array)


@hookimpl(trylast=True)
def write_image(image, path, format, options):
    if format not in WRITE_FORMATS:
        raise ImageWriteError(f"{path}: unsupported output format {format!r} (choose {', '.join(WRITE_FORMATS)})")
    params = []
    quality = int(options.get("quality", 95))
    if format == "jpeg":
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif format == "webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    elif format == "png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(WRITE_FORMATS[format], bgr, params)
    if not ok:
        raise ImageWriteError(f"{path}: OpenCV could not encode {format}")
    with open(path, "wb") as handle:
        handle.write(encoded.tobytes())
    return True
