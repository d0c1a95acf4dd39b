"""Benchmark inputs: gray photos of any size made from the real validation photos.

A real photo (resized) is used rather than noise so that decoding, encoding and the model see
ordinary image statistics; without the shared data a smooth synthetic scene stands in, and the
result records which source was used.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from colorfuse.benchmarks.quantize import DEFAULT_PHOTOS


def _source_photo(photos_dir: Path, index: int) -> tuple[np.ndarray, str]:
    photos = sorted(p for p in Path(photos_dir).glob("*.jpg")) if Path(photos_dir).is_dir() else []
    if photos:
        path = photos[index % len(photos)]
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is not None:
            return image, str(path)
    y, x = np.mgrid[0:256, 0:256].astype(np.float32)
    scene = 128 + 60 * np.sin(x / 23.0) * np.cos(y / 31.0) + 40 * (x > y)
    return scene.clip(0, 255).astype(np.uint8), "synthetic"


def gray_photo(height: int, width: int, index: int = 0, photos_dir: Path = DEFAULT_PHOTOS) -> tuple[np.ndarray, str]:
    """A (height, width) uint8 gray photo and where it came from."""
    image, source = _source_photo(photos_dir, index)
    interpolation = cv2.INTER_AREA if height * width < image.size else cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interpolation), source


def write_jpeg(image: np.ndarray, path: Path, quality: int = 90) -> Path:
    """Write ``image`` as a JPEG (inputs for end-to-end timings)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"{path}: could not write JPEG")
    return path


def megapixel_shape(megapixels: float, aspect: float = 4 / 3) -> tuple[int, int]:
    """(height, width) with about ``megapixels`` million pixels and the given width/height ratio."""
    height = max(1, round((megapixels * 1e6 / aspect) ** 0.5))
    return height, max(1, round(height * aspect))
