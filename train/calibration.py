"""Calibration feeds of real photos for static int8 quantization, prepared exactly as the engine prepares its inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from colorfuse.engine.hints import complete_feeds


CALIBRATION_SIDE = 256


def calibration_feeds(card, photos: list[Path], side: int = CALIBRATION_SIDE):
    """The model's feeds for each photo: L resized to ``side`` (padded to the multiple) plus the global view;
    for a hint-taking model, every other colour photo also gets truth hints and its palette (so the
    hint branch's activations are calibrated too), the rest none."""
    from colorfuse.engine import lab
    from colorfuse.engine.geometry import working_size
    from colorfuse.engine.imagefiles import read_image

    multiple = card.size_multiple
    for index, path in enumerate(photos):
        image = read_image(path)
        full_l = lab.luminance(image)
        height, width = full_l.shape
        small_h, small_w, pad_h, pad_w = working_size(height, width, side, multiple)
        small = lab.resize(full_l, small_w, small_h)
        small = np.pad(small, ((0, pad_h - small_h), (0, pad_w - small_w)), mode="edge")
        norm = lambda a: ((a - np.float32(card.l_offset)) / np.float32(card.l_scale))[None, None].astype(np.float32)  # noqa: E731
        feeds = {card.input_name("L"): norm(small)}
        if card.global_input_size:
            size = card.global_input_size
            feeds[card.input_name("L_global")] = norm(lab.resize(small[:small_h, :small_w], size, size))
        if card.takes_hints and image.ndim == 3 and index % 2 == 0:
            feeds.update(_truth_hints(card, image, (small_h, small_w), (pad_h, pad_w), index))
        yield complete_feeds(card, feeds)


def _truth_hints(card, image: np.ndarray, shape: tuple[int, int], padded: tuple[int, int], seed: int) -> dict:
    """Ten 6x6 hints at random points of the photo at ``shape``, each the truth's mean ab there, and its palette."""
    import cv2

    from colorfuse.engine import hints
    from colorfuse.evaluation import hints as hint_eval

    small = cv2.resize(image[..., :3], shape[::-1], interpolation=cv2.INTER_AREA)
    ab = cv2.cvtColor(small.astype(np.float32) / (65535 if small.dtype == np.uint16 else 255), cv2.COLOR_RGB2Lab)[..., 1:]
    rng = np.random.default_rng(seed)
    points = np.stack([rng.integers(0, max(1, n - hint_eval.PATCH + 1), 10) for n in shape], axis=1)
    hint_ab, mask = hint_eval.truth_hints(np.pad(ab, ((0, padded[0] - shape[0]), (0, padded[1] - shape[1]), (0, 0))),
                                          points, card.hints["ab_scale"])
    names = {role: card.input_name(role) for role in ("hint_ab", "hint_mask", "palette")}
    return {names["hint_ab"]: hint_ab[None], names["hint_mask"]: mask[None],
            names["palette"]: hints.palette_input(card, ab)[None]}


def photo_reader(card, photos):
    from onnxruntime.quantization import CalibrationDataReader

    class PhotoReader(CalibrationDataReader):
        """Feeds one photo at a time to the calibrator."""

        def __init__(self):
            self._feeds = calibration_feeds(card, photos)

        def get_next(self):
            return next(self._feeds, None)

    return PhotoReader()
