"""Side-by-side comparison pictures: rows of images under column titles, with labels."""

from __future__ import annotations

import cv2
import numpy as np

from colorfuse.engine import lab

BACKGROUND = 255
TITLE_HEIGHT = 28
LABEL_HEIGHT = 22
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


def _text(canvas: np.ndarray, text: str, x: int, y: int, width: int) -> None:
    scale = 0.45
    while len(text) > 3 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width:
        text = text[:-4] + "..."
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1, cv2.LINE_AA)


def make_grid(rows: list[tuple[str, list[np.ndarray]]], titles: list[str], cell: int = 256) -> np.ndarray:
    """One RGB picture: a title row, then per row its images side by side and its label below."""
    columns = len(titles)
    width = GAP + columns * (cell + GAP)
    height = TITLE_HEIGHT + len(rows) * (cell + LABEL_HEIGHT + GAP) + GAP
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    for column, title in enumerate(titles):
        _text(canvas, title, GAP + column * (cell + GAP), TITLE_HEIGHT - 9, cell)
    for row, (label, images) in enumerate(rows):
        top = TITLE_HEIGHT + row * (cell + LABEL_HEIGHT + GAP)
        for column, image in enumerate(images[:columns]):
            left = GAP + column * (cell + GAP)
            canvas[top : top + cell, left : left + cell] = _fit(image, cell)
        _text(canvas, label, GAP, top + cell + LABEL_HEIGHT - 7, width - 2 * GAP)
    return canvas
