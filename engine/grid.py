"""Side-by-side comparison pictures: rows of images under column titles, with labels."""

from __future__ import annotations

import cv2
import numpy as np

from colorfuse.engine import lab

BACKGROUND = 255
TITLE_HEIGHT = 28
LABEL_HEIGHT = 22
CAPTION_HEIGHT = 18
CAPTION_COLOR = (90, 90, 90)
GAP = 6


def _fitted_size(image: np.ndarray, cell: int) -> tuple[int, int]:
    """(height, width) of ``image`` scaled so that its longest side is ``cell``."""
    height, width = image.shape[:2]
    scale = cell / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _fit(image: np.ndarray, cell: int, row_height: int) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    height, width = _fitted_size(image, cell)
    resized = lab.resize(image, width, height)
    canvas = np.full((row_height, cell, 3), BACKGROUND, np.uint8)
    top, left = (row_height - height) // 2, (cell - width) // 2
    canvas[top : top + height, left : left + width] = resized
    return canvas


def _text(canvas: np.ndarray, text: str, x: int, y: int, width: int, scale: float = 0.45,
          color: tuple[int, int, int] = (20, 20, 20)) -> None:
    while len(text) > 3 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width:
        text = text[:-4] + "..."
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def make_grid(rows: list[tuple[str, list[np.ndarray]]], titles: list[str], cell: int = 256,
              captions: list[list[str]] | None = None) -> np.ndarray:
    """One RGB picture: a title row, then per row its images side by side and its label below.

    Each image is scaled so its longest side is ``cell``; a row is as tall as its tallest
    image. ``captions`` (optional, one list per row) puts a short line of text under each
    image, such as that image's scores.
    """
    columns = len(titles)
    width = GAP + columns * (cell + GAP)
    caption_height = CAPTION_HEIGHT if captions is not None else 0
    image_heights = [max((_fitted_size(image, cell)[0] for image in images[:columns]), default=cell)
                     for _, images in rows]
    height = TITLE_HEIGHT + sum(h + caption_height + LABEL_HEIGHT + GAP for h in image_heights) + GAP
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    for column, title in enumerate(titles):
        _text(canvas, title, GAP + column * (cell + GAP), TITLE_HEIGHT - 9, cell)
    top = TITLE_HEIGHT
    for row, ((label, images), row_height) in enumerate(zip(rows, image_heights)):
        for column, image in enumerate(images[:columns]):
            left = GAP + column * (cell + GAP)
            canvas[top : top + row_height, left : left + cell] = _fit(image, cell, row_height)
        if captions is not None:
            for column, caption in enumerate(captions[row][:columns]):
                _text(canvas, caption, GAP + column * (cell + GAP), top + row_height + caption_height - 5, cell,
                      scale=0.4, color=CAPTION_COLOR)
        _text(canvas, label, GAP, top + row_height + caption_height + LABEL_HEIGHT - 7, width - 2 * GAP)
        top += row_height + caption_height + LABEL_HEIGHT + GAP
    return canvas
