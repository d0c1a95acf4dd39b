"""Colorizing a stream of frames in batches, in display order, with the video hooks.

:class:`FrameColorizer` is the per-run state: shot detection, then for each batch
``Colorizer.prepare`` (with the hints carried from the last keyframe, when the run has any:
:mod:`.hint_track`) -> ``video_prepare`` hooks (e.g. the shot's global view) -> one batched
``predict`` -> the hints carried along L (:mod:`..hint_spread`) -> ``video_process_ab`` hooks
(e.g. smoothing along optical flow) -> ``finish``.
:func:`colorize_stream` drives it from a frame source into sinks; memory stays flat because
frames are decoded ahead, colorized and handed to the encoder a batch at a time.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from colorfuse.engine import hint_spread, lab
from colorfuse.engine.colorizer import Colorizer, Prepared
from colorfuse.engine.geometry import output_area
from colorfuse.engine.hints import Hint
from colorfuse.engine.video import SHOT_THRESHOLD
from colorfuse.engine.video.hint_track import HintTracker
from colorfuse.engine.video.reader import VideoFrame
from colorfuse.engine.video.shots import ShotDetector
from colorfuse.errors import ColorfuseError, VideoFrameError
from colorfuse.plugins.manager import call_chain, call_each, has_implementations


class FrameColorizer:
    """Colorize consecutive frames of one video with one :class:`Colorizer`; ``hints``: keyframe
    number -> hints (a model that takes hints), carried along the flow to the following frames.
    ``source``: the video's path, which the per-image hooks' context names as the input."""

    def __init__(self, colorizer: Colorizer, shot_threshold: float = SHOT_THRESHOLD,
                 hints: dict[int, list[Hint]] | None = None, source=None):
        self.colorizer, self.source = colorizer, source
        self.shots = ShotDetector(shot_threshold)
        self.tracker = HintTracker(hints, int(colorizer.options.get("flow_side", 320))) \
            if hints is not None else None
        self.state: dict = {}
        self.shot_count = 0

    def _prepare(self, frame: VideoFrame) -> Prepared:
        frame.new_shot = self.shots.is_cut(frame.image)
        self.shot_count += frame.new_shot
        frame.shot, frame.state = self.shot_count - 1, self.state
        hints = self.tracker.hints_for(frame.index + 1, frame.image, frame.new_shot) if self.tracker else ()
        context = self.colorizer.context(self.source, index=frame.index, frame=frame.index)
        item = self.colorizer.prepare(frame.image, hints, context=context)
        if isinstance(item, Prepared):  # not a huge frame the colorizer streams tile by tile
            call_each("video_prepare", prepared=item, frame=frame, options=self.colorizer.options, context=context)
        return item

    def _process_ab(self, item: Prepared, frame: VideoFrame) -> None:
        """Run the ``video_process_ab`` hooks on the predicted ab of the image area, in Lab units."""
        small_h, small_w = item.small_l.shape
        crop_h, crop_w = output_area(item.small_l.shape, item.shape_key, item.ab.shape[1:])
        scale = np.float32(self.colorizer.card.ab_scale)
        ab = np.ascontiguousarray(item.ab[:, :crop_h, :crop_w].transpose(1, 2, 0), dtype=np.float32) * scale
        lum = lab.resize(item.small_l, crop_w, crop_h)
        if item.hints is not None and (crop_h, crop_w) == (small_h, small_w):
            # spread before the smoothing, so a hint's colour fades in and out along the flow as the
            # network's own change does, instead of jumping at keyframes and where a hint stops
            ab = hint_spread.spread_inputs(ab, item.small_l, item.hints, self.colorizer.card.hints["ab_scale"],
                                           self.colorizer.options)  # fmt: skip
            item.hints_spread = True
        result = call_chain("video_process_ab", "ab", keep_shape=True, ab=ab, lum=lum, frame=frame,
                            options=self.colorizer.options, context=item.context)
        if result is not ab or item.hints_spread:
            raw = item.ab.astype(np.float32)  # a copy: the model's batch output stays untouched
            raw[:, :crop_h, :crop_w] = result.transpose(2, 0, 1) / scale
            item.ab = raw

    def process(self, frames: list[VideoFrame]) -> list[np.ndarray]:
        """Colorize frames that follow the previous call's; returns RGB uint8 arrays. A colorfuse error
        (a plugin's included) comes back as :class:`VideoFrameError` naming the frame or batch."""
        prepared = []
        for frame in frames:
            with _naming(f"frame {frame.index + 1}"):
                prepared.append(self._prepare(frame))
        with _naming(f"frames {frames[0].index + 1}-{frames[-1].index + 1}" if len(frames) > 1
                     else f"frame {frames[0].index + 1}"):
            self.colorizer.predict(prepared)
        smoothing = has_implementations("video_process_ab")
        results = []
        for frame, item in zip(frames, prepared):
            with _naming(f"frame {frame.index + 1}"):
                if smoothing and isinstance(item, Prepared) and item.ab is not None:
                    self._process_ab(item, frame)
                results.append(self.colorizer.finish(item))
        return results


@contextmanager
def _naming(frames: str):
    """Re-raise a colorfuse error inside as :class:`VideoFrameError` naming ``frames``."""
    try:
        yield
    except VideoFrameError:
        raise
    except ColorfuseError as exc:
        raise VideoFrameError(frames, exc) from exc


@dataclass
class StreamStats:
    """What one run did."""

    frames: int = 0
    shots: int = 0
    seconds: float = 0.0  # wall time
    size: tuple[int, int] | None = None  # (width, height) of the frames
    notices: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def batches(frames: Iterable[VideoFrame], size: int):
    """Group consecutive frames into lists of ``size`` (the last may be shorter)."""
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def colorize_stream(colorizer: Colorizer, frames: Iterable[VideoFrame],
                    sink: Callable[[VideoFrame, np.ndarray], None], batch_size: int = 8,
                    shot_threshold: float = SHOT_THRESHOLD, on_batch: Callable[[int], None] | None = None,
                    hints: dict[int, list[Hint]] | None = None, source=None) -> StreamStats:
    """Colorize ``frames`` in batches and call ``sink(frame, rgb)`` for each, in order; ``hints`` and
    ``source`` as in :class:`FrameColorizer` (what became of the hints is the last of ``notices``)."""
    engine = FrameColorizer(colorizer, shot_threshold, hints, source)
    stats = StreamStats()
    start = time.perf_counter()
    for batch in batches(frames, max(1, batch_size)):
        for frame, rgb in zip(batch, engine.process(batch)):
            sink(frame, rgb)
            frame.image = None  # let the decoded frame go as soon as it is written
        stats.frames += len(batch)
        stats.size = stats.size or (rgb.shape[1], rgb.shape[0])
        if on_batch:
            on_batch(len(batch))
    stats.seconds = time.perf_counter() - start
    stats.shots = engine.shot_count
    if engine.tracker is not None:
        stats.notices.append(engine.tracker.summary())
    return stats
