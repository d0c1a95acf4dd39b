"""Size arithmetic shared by the colorizer, tiling, video and the variant timings: the working size,
padding to the model's size multiple, and the part of a model output that covers the image."""

from __future__ import annotations


def padded(side: int, multiple: int) -> int:
    """``side`` rounded up to a multiple of ``multiple``."""
    return -(-side // multiple) * multiple


def working_size(height: int, width: int, max_side: int, multiple: int) -> tuple[int, int, int, int]:
    """(h, w) after scaling the longest side down to ``max_side`` (0: no limit), and padded (H', W')."""
    longest = max(height, width)
    scale = 1.0 if max_side <= 0 or longest <= max_side else max_side / longest
    small_h, small_w = max(1, round(height * scale)), max(1, round(width * scale))
    return small_h, small_w, padded(small_h, multiple), padded(small_w, multiple)


def output_area(image: tuple[int, int], padded_size: tuple[int, int], output: tuple[int, int]) -> tuple[int, int]:
    """The (h, w) of a model output of size ``output`` that covers an ``image`` (h, w) fed padded to
    ``padded_size``: a model may answer at a stride (a half-size output covers half of each side)."""
    (height, width), (pad_h, pad_w), (out_h, out_w) = image, padded_size, output
    return max(1, round(height * out_h / pad_h)), max(1, round(width * out_w / pad_w))
