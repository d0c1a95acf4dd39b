"""Colour hints on video keyframes, carried to the following frames along optical flow.

A hints file's ``frames`` section gives hints on chosen frames, numbered as ``--frames`` names its
files: 1 is the first frame colorized. From each keyframe, every hint's point follows the scene: the forward flow from one
frame to the next (DIS on L downscaled to ``side``, the median over the hint's patch) moves it,
and it stops, for the rest of the keyframe's run, when

* its point leaves the frame (``left``);
* the flow there is not confident (``unsure``): the backward flow does not bring the point back
  within ``FB_TOLERANCE`` flow pixels, or the luminance under it changed by more than
  ``LUM_STEP`` L units since the previous frame or ``LUM_DRIFT`` since the keyframe (it slid onto
  another surface);
* a shot cut starts (``cut``), or the next keyframe replaces every hint (``replaced``).

A hint keeps its colour (the ab of its ``#rrggbb``; each frame keeps its own L) and its radius.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import cv2
import numpy as np

from colorfuse.engine import lab
from colorfuse.engine.hints import Hint, HintError
from colorfuse.engine.video.flow import FlowEstimator

FB_TOLERANCE = 1.0  # px at the flow resolution: forward then backward must come back this close
LUM_STEP = 8.0  # L units between consecutive frames, over the hint's patch
LUM_DRIFT = 20.0  # L units from the keyframe, over the hint's patch
STOP_REASONS = ("left", "unsure", "cut", "replaced")


@dataclass
class _Track:
    hint: Hint
    x: float  # the point, at the flow resolution
    y: float
    keyframe_lum: float
    lum: float


def _patch(array: np.ndarray, x: float, y: float, radius: int) -> np.ndarray:
    height, width = array.shape[:2]
    cx, cy = int(round(min(max(x, 0), width - 1))), int(round(min(max(y, 0), height - 1)))
    return array[max(0, cy - radius):cy + radius + 1, max(0, cx - radius):cx + radius + 1]


def _mean_lum(lum: np.ndarray, x: float, y: float, radius: int) -> float:
    """Mean L over the square of ``radius`` centred at the sub-pixel point (x, y), edges replicated."""
    side = 2 * radius + 1
    return float(cv2.getRectSubPix(lum, (side, side), (float(x), float(y))).mean())


def _sample(flow: np.ndarray, x: float, y: float) -> np.ndarray:
    """The flow vector at (x, y), bilinear, edges clamped."""
    height, width = flow.shape[:2]
    x, y = min(max(x, 0.0), width - 1.0), min(max(y, 0.0), height - 1.0)
    x0, y0 = min(int(x), width - 2) if width > 1 else 0, min(int(y), height - 2) if height > 1 else 0
    fx, fy = x - x0, y - y0
    block = flow[y0:y0 + 2, x0:x0 + 2].reshape(-1, 2) if min(height, width) > 1 else flow[y0:y0 + 1, x0:x0 + 1]
    if block.shape[0] < 4:
        return flow[int(round(y)), int(round(x))]
    weights = np.array([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], np.float32)
    return weights @ block


class HintTracker:
    """Give each frame, in order, the hints of its keyframe carried to it (see the module's docstring).

    ``keyframes`` (frame number -> hints) is looked up as each frame arrives, so a caller may add a
    keyframe's hints until its frame is asked for."""

    def __init__(self, keyframes: dict[int, list[Hint]], side: int = 320):
        self.keyframes = keyframes
        self.estimator = FlowEstimator(side)
        self.tracks: list[_Track] = []
        self.scale = 1.0  # flow resolution / frame resolution
        self._previous: np.ndarray | None = None
        self.stopped: Counter = Counter()
        self.hinted_frames = 0  # frames that got at least one hint
        self.carried = 0  # hints given to frames after their keyframe, summed over frames

    def hints_for(self, number: int, image: np.ndarray, new_shot: bool) -> list[Hint]:
        """The hints of frame ``number`` (1: the first; ``image``: gray or RGB, full size; ``new_shot``: a
        cut starts here)."""
        hints = self.keyframes.get(number)
        if hints is None and not self.tracks:
            self._previous = None  # nothing to carry: no flow to compute
            return []
        small = self.estimator.downscale(lab.luminance(image))
        self.scale = small.shape[1] / image.shape[1]
        if hints is not None:
            self.stopped["replaced"] += len(self.tracks)
            self.tracks = [self._start(hint, small) for hint in hints]
        elif new_shot:
            self.stopped["cut"] += len(self.tracks)
            self.tracks = []
        elif self._previous is not None and self._previous.shape == small.shape:
            self._carry(self._previous, small)
        else:
            self.stopped["unsure"] += len(self.tracks)
            self.tracks = []
        self._previous = small if self.tracks else None
        self.hinted_frames += bool(self.tracks)
        self.carried += 0 if hints is not None else len(self.tracks)
        return [replace(track.hint, x=track.x / self.scale, y=track.y / self.scale) for track in self.tracks]

    def _radius(self, hint: Hint) -> int:
        return max(1, round(hint.radius * self.scale))

    def _start(self, hint: Hint, small: np.ndarray) -> _Track:
        lum = _mean_lum(small, hint.x * self.scale, hint.y * self.scale, self._radius(hint))
        return _Track(hint, hint.x * self.scale, hint.y * self.scale, lum, lum)

    def _carry(self, previous: np.ndarray, current: np.ndarray) -> None:
        forward = self.estimator.estimate(previous, current)
        backward = self.estimator.estimate(current, previous)
        height, width = current.shape
        kept = []
        for track in self.tracks:
            radius = self._radius(track.hint)
            dx, dy = np.median(_patch(forward, track.x, track.y, radius).reshape(-1, 2), axis=0)
            x, y = track.x + float(dx), track.y + float(dy)
            if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
                self.stopped["left"] += 1
                continue
            bx, by = _sample(backward, x, y)
            lum = _mean_lum(current, x, y, radius)
            if np.hypot(dx + bx, dy + by) > FB_TOLERANCE or abs(lum - track.lum) > LUM_STEP \
                    or abs(lum - track.keyframe_lum) > LUM_DRIFT:
                self.stopped["unsure"] += 1
                continue
            track.x, track.y, track.lum = x, y, lum
            kept.append(track)
        self.tracks = kept

    def summary(self) -> str:
        """One line: keyframes, frames hinted, and why hints stopped."""
        given = sum(len(hints) for hints in self.keyframes.values())
        stops = ", ".join(f"{self.stopped[reason]} {reason}" for reason in STOP_REASONS if self.stopped[reason])
        return (f"hints: {given} on {len(self.keyframes)} keyframe(s), {self.hinted_frames} frame(s) hinted, "
                f"{self.carried} carried along the flow; stopped: {stops or 'none'}")


def frame_hint_problems(keyframes: dict[int, list[Hint]], size: tuple[int, int] | None, expected: int | None,
                        source: str) -> list[str]:
    """One line per keyframe past the video's end (by its header's estimate) and per point outside
    the frame of ``size`` (width, height), named as ``SOURCE: frames['N'][i]``."""
    lines = []
    for number, hints in sorted(keyframes.items()):
        if number < 1:
            lines.append(f"{source}: frames['{number}']: frames are numbered from 1 (as --frames names its files)")
        elif expected and number > expected * 1.1 + 1:  # the header's frame count is an estimate
            lines.append(f"{source}: frames['{number}'] is past the end of the video (about {expected} frames, "
                         "numbered from 1)")
        for index, hint in enumerate(hints if size else ()):
            if not (0 <= hint.x < size[0] and 0 <= hint.y < size[1]):
                lines.append(f"{source}: frames['{number}'][{index}]: ({hint.x}, {hint.y}) is outside the "
                             f"{size[0]}x{size[1]} frame")
    return lines


def keyframes_of(parsed: dict, source: str) -> dict[int, list[Hint]]:
    """The ``frames`` section of a read hints file as frame number -> hints; HintError when it has none."""
    frames = parsed.get("frames") or {}
    if not frames:
        extra = " (it has an images section: that is for colorize)" if parsed.get("images") else ""
        raise HintError(f"{source}: no \"frames\" section with hints on video frames{extra}")
    return {int(key): hints for key, hints in frames.items()}
