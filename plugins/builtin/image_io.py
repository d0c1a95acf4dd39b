"""Built-in plugin: reads and writes images with Pillow.

Reading checks the header's size before decoding (``max_pixels`` option; by default what the
available memory holds, see :func:`memory_pixel_limit`), refuses a header that claims far more
pixels than the file's size can encode in its format (a damaged file or a decompression bomb,
``trust_header_size`` option to decode it anyway), warns of a JPEG whose data ends before its
blocks do (:mod:`.jpeg_scans`) and of libtiff's messages (:mod:`.tiff_messages`), applies EXIF
orientation, and turns every mode (palette, RGBA, CMYK, 16-bit, 32-bit integer and float, ...) into
gray or RGB. Float images in 0..1 are scaled as such. An animation or a multi-page file gives its first frame, with an :class:`IgnoredFramesWarning` that says how many were left.
Pixels are copied out band by band, and writing streams the encoded file out as it is made,
so neither holds more than one extra copy of the image.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorfuse.errors import DecoderWarning, IgnoredFramesWarning, ImageReadError, ImageWriteError
from colorfuse.engine.imagefiles import BYTES_PER_PIXEL, memory_pixel_limit
from colorfuse.engine.lab import strips
from colorfuse.plugins import hookimpl
from colorfuse.plugins.builtin import jpeg_scans, tiff_messages

Image.MAX_IMAGE_PIXELS = None  # colorfuse checks the size itself, with a clearer message
tiff_messages.install()  # libtiff's messages become the file's warnings instead of raw lines on stderr
WRITE_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "tiff": "TIFF"}  # Pillow's names
# The most pixels one byte of each format can encode, with a margin of two or more: Huffman-coded JPEG
# spends at least a bit per 8x8 block (512), deflate at most 1032 bytes per byte of 1-bit PNG rows
# (8256), GIF's 12-bit LZW codes at most 4096 pixels each (2731). Other formats are not bounded here.
MAX_PIXELS_PER_BYTE = {"JPEG": 1024, "MPO": 1024, "PNG": 16384, "GIF": 8192}


def _pixels(image: Image.Image) -> np.ndarray:
    """An L or RGB image's pixels, copied band by band (the whole image's tobytes() holds two more copies)."""
    width, height = image.size
    array = np.empty((height, width) if image.mode == "L" else (height, width, 3), np.uint8)
    for start, stop in strips(height, width):
        array[start:stop] = np.asarray(image.crop((0, start, width, stop)))
    return array


def _to_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("L", "RGB"):
        return _pixels(image)
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


def _check_size(path, width: int, height: int, limit: int | None) -> None:
    """Refuse, before decoding, an image over ``limit`` pixels (None, or the default: what the available
    memory holds, which the message then says)."""
    why = ""
    memory_limit, available = memory_pixel_limit()
    if limit is None or limit == memory_limit:
        limit = memory_limit
        if available is not None:
            why = f" that {available / 2**30:.1f} GiB of available memory holds at {BYTES_PER_PIXEL} bytes per pixel"
    if width * height > limit:
        raise ImageReadError(
            f"{path}: header says {width}x{height} ({width * height / 1e6:,.0f} megapixels), over the limit of "
            f"{limit / 1e6:,.0f} megapixels{why}; refused before decoding (--max-pixels changes the limit)")


def _check_plausible(path, image: Image.Image, options: dict) -> None:
    """Refuse, before decoding, a header claiming more pixels than the file's size can encode in its format."""
    per_byte = MAX_PIXELS_PER_BYTE.get(image.format or "")
    if per_byte is None or options.get("trust_header_size"):
        return
    width, height = image.size
    size = os.path.getsize(path)
    if width * height > per_byte * max(size, 1):
        raise ImageReadError(
            f"{path}: header says {width}x{height} ({width * height / 1e6:,.1f} megapixels), more than a "
            f"{image.format} file of {size:,} bytes can encode: a damaged file or a decompression bomb; refused "
            "before decoding (--option trust_header_size=true decodes it anyway)")


@hookimpl(trylast=True)
def read_image(path, options):
    try:
        with Image.open(path) as image:
            width, height = image.size
            _check_size(path, width, height, options.get("max_pixels"))
            _check_plausible(path, image, options)
            image.load()
            cut_short = image.format in ("JPEG", "MPO") and jpeg_scans.premature_end(path)
            ImageOps.exif_transpose(image, in_place=True)  # a copy only where the EXIF orientation asks for one
            array = _to_array(image)
            frames = getattr(image, "n_frames", 1)
        if cut_short:
            warnings.warn(f"{path}: {cut_short}", DecoderWarning, stacklevel=2)
        if frames > 1:
            warnings.warn(f"{path}: {frames} frames (an animation or a multi-page file); only the first is "
                          "colorized", IgnoredFramesWarning, stacklevel=2)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            raise ImageReadError(f"{path}: empty file (0 bytes)") from None
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
    quality = int(options.get("quality", 95))
    settings = {"png": {"compress_level": 3}, "jpeg": {"quality": quality}, "webp": {"quality": quality},
                "tiff": {"compression": "tiff_lzw"}}[format]
    picture = Image.fromarray(image)  # Pillow's copy (4 bytes per RGB pixel), from which the encoder streams
    with open(path, "wb") as handle:
        picture.save(handle, WRITE_FORMATS[format], **settings)
    return True


@hookimpl
def declare_options(declare):
    declare("quality", int, 95, "JPEG and WebP quality (1-100).", min=1, max=100, flag=True)
    declare("max_pixels", int, None, "Refuse images whose header claims more pixels than this (default: as many as "
            "the available memory holds, at 12 bytes per pixel).", min=1, flag=True)
    declare("trust_header_size", bool, False,
            "Decode images whose header claims far more pixels than the file's size can encode (refused by default).")


@hookimpl
def declare_file_types(declare):
    for extension in (".png", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm"):
        declare(extension, lossless=True)
    for extension in (".jpg", ".jpeg", ".jpe", ".webp"):
        declare(extension, lossless=False)


@hookimpl
def declare_output_formats(declare):
    declare("png", ".png", lossless=True)
    declare("jpeg", ".jpg", lossless=False)
    declare("webp", ".webp", lossless=False)
    declare("tiff", ".tif", lossless=True)
