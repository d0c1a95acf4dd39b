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


def _fit(image: np.ndarray, cell: int) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    height, width = image.shape[:2]
    scale = cell / max(height, width)
    resized = lab.resize(image, max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = np.full((cell, cell, 3), BACKGROUND, np.uint8)
    top, left = (cell - resized.shape[0]) // 2, (cell - resized.shape[1]) // 2
    canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return canvas


def _text(canvas: np.ndarray, text: str, x: int, y: int, width: int, scale: float = 0.45,
          color: tuple[int, int, int] = (20, 20, 20)) -> None:
    while len(text) > 3 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width:
        text = text[:-4] + "..."
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def grid_size(rows: int, columns: int, cell: int = 256, captions: bool = False) -> tuple[int, int]:
    """(height, width) of the picture :func:`make_grid` draws for that many rows and columns."""
    row_height = cell + (CAPTION_HEIGHT if captions else 0) + LABEL_HEIGHT + GAP
    return TITLE_HEIGHT + rows * row_height + GAP, GAP + columns * (cell + GAP)


def make_grid(rows: list[tuple[str, list[np.ndarray]]], titles: list[str], cell: int = 256,
              captions: list[list[str]] | None = None) -> np.ndarray:
    """One RGB picture: a title row, then per row its images side by side and its label below.

    ``captions`` (optional, one list per row) puts a short line of text under each image,
    such as that image's scores.
    """
    columns = len(titles)
    height, width = grid_size(len(rows), columns, cell, captions is not None)
    caption_height = CAPTION_HEIGHT if captions is not None else 0
    row_height = cell + caption_height + LABEL_HEIGHT + GAP
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    for column, title in enumerate(titles):
        _text(canvas, title, GAP + column * (cell + GAP), TITLE_HEIGHT - 9, cell)
    for row, (label, images) in enumerate(rows):
        top = TITLE_HEIGHT + row * row_height
        for column, image in enumerate(images[:columns]):
            left = GAP + column * (cell + GAP)
            canvas[top : top + cell, left : left + cell] = _fit(image, cell)
        if captions is not None:
            for column, caption in enumerate(captions[row][:columns]):
                _text(canvas, caption, GAP + column * (cell + GAP), top + cell + caption_height - 5, cell,
                      scale=0.4, color=CAPTION_COLOR)
        _text(canvas, label, GAP, top + cell + caption_height + LABEL_HEIGHT - 7, width - 2 * GAP)
    return canvas
