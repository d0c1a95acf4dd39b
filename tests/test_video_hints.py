"""Hints on video keyframes carried along the flow (engine/video/hint_track.py), `colorfuse video
--hints`, eval-video's hinted run and CDC (colorfuse/evaluation/video_metrics.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine import lab
from colorfuse.engine.hints import Hint, HintError
from colorfuse.engine.video.hint_track import HintTracker, frame_hint_problems, keyframes_of
from colorfuse.evaluation.video_metrics import ClipMetrics, channel_histograms, js_divergence
from tests import helpers_hints
from tests.helpers_train import one_torch_thread  # noqa: F401  (autouse fixture)
from tests.test_video import make_clip
from tests.test_video_temporal import texture

RED = "#c02010"


def scene(shift: int, seed: int = 0, height: int = 96, width: int = 128) -> np.ndarray:
    """A gray uint8 frame: a texture moved ``shift`` px right and ``shift // 2`` px down."""
    lum = np.roll(texture(height, width, seed), (shift // 2, shift), axis=(0, 1))
    return (lum * 2.55).astype(np.uint8)


def test_a_hint_follows_the_motion_until_it_leaves_the_frame():
    tracker = HintTracker({1: [Hint(40, 30, RED, 3)]}, side=320)
    points = []
    for index in range(50):
        hints = tracker.hints_for(index + 1, scene(2 * index), index == 0)
        points.append((hints[0].x, hints[0].y) if hints else None)
    assert points[0] == (40, 30)
    for index in (1, 5, 10, 20):  # moved 2 px right and 1 down per frame
        assert points[index] == pytest.approx((40 + 2 * index, 30 + index), abs=1.5)
    gone = points.index(None)
    assert 40 + 2 * gone >= 120 and all(p is None for p in points[gone:])  # stops at the right edge
    assert tracker.stopped["left"] == 1
    assert "1 left" in tracker.summary() and f"{gone} frame(s) hinted" in tracker.summary()


def test_a_hint_stops_at_a_cut_at_new_content_and_at_the_next_keyframe():
    keyframes = {0: [Hint(40, 30, RED, 3), Hint(80, 60, "#2040c0", 2)], 3: [Hint(10, 10, RED, 3)]}
    tracker = HintTracker(keyframes, side=320)
    assert len(tracker.hints_for(0, scene(0), True)) == 2
    assert len(tracker.hints_for(1, scene(2), False)) == 2
    assert len(tracker.hints_for(2, scene(4), True)) == 0  # a shot cut
    assert tracker.stopped["cut"] == 2
    assert tracker.hints_for(3, scene(6), False) == [Hint(10, 10, RED, 3)]  # a keyframe
    assert len(tracker.hints_for(4, scene(8), False)) == 1
    assert tracker.hints_for(5, scene(0, seed=7), False) == []  # other content, no cut detected: unsure flow
    assert tracker.stopped["unsure"] == 1
    keyframes[9] = [Hint(5, 5, RED, 1)]  # added before its frame arrives
    assert tracker.hints_for(9, scene(0), False) == [Hint(5, 5, RED, 1)]
    assert len(tracker.hints_for(10, scene(2), False)) == 1
    tracker.keyframes[12] = []
    assert tracker.hints_for(12, scene(6), False) == [] and tracker.stopped["replaced"] == 1


def test_frame_hints_past_the_end_or_outside_the_frame_are_named():
    keyframes = {1: [Hint(10, 10, RED)], 400: [Hint(5, 5, RED)], 20: [Hint(130, 5, RED), Hint(3, 96, RED)],
                 0: [Hint(1, 1, RED)]}
    lines = frame_hint_problems(keyframes, (128, 96), 100, "h.json")
    assert lines == ["h.json: frames['0']: frames are numbered from 1 (as --frames names its files)",
                     "h.json: frames['20'][0]: (130, 5) is outside the 128x96 frame",
                     "h.json: frames['20'][1]: (3, 96) is outside the 128x96 frame",
                     "h.json: frames['400'] is past the end of the video (about 100 frames, numbered from 1)"]
    assert frame_hint_problems({105: [Hint(1, 1, RED)]}, (128, 96), 100, "h.json") == []  # within the estimate
    with pytest.raises(HintError, match="no \"frames\" section.*images section"):
        keyframes_of({"images": {"a.jpg": [Hint(1, 1, RED)]}, "frames": {}}, "h.json")
    assert keyframes_of({"frames": {"7": [Hint(1, 1, RED)]}}, "h.json") == {7: [Hint(1, 1, RED)]}


def test_cdc_is_the_mean_js_divergence_of_channel_histograms_at_gaps_1_2_4():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])
    assert js_divergence(p, p) == 0
    assert js_divergence(p, q) == pytest.approx(0.5 * np.log(2))  # half the mass disjoint
    assert js_divergence(np.array([1.0, 0]), np.array([0, 1.0])) == pytest.approx(np.log(2))
    dark, light = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)
    np.testing.assert_allclose(channel_histograms(dark).sum(axis=1), 1)
    metrics = ClipMetrics(side=32)
    lum = np.zeros((4, 4), np.float32)
    for image in (dark, light, dark, light, dark, light):
        metrics.update(lum, {"blink": image, "still": dark})
    figures = metrics.cdc("blink")
    # odd gaps always cross dark/light (log 2), even gaps never do
    assert figures["gaps"] == pytest.approx({1: np.log(2), 2: 0.0, 4: 0.0})
    assert figures["cdc"] == pytest.approx(np.log(2) / 3)
    assert metrics.cdc("still")["cdc"] == 0


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory):
    return str(helpers_hints.steering_hint_model(tmp_path_factory.mktemp("video-hint-model")))


def _frames(folder, count=8):
    folder.mkdir()
    for index in range(count):
        Image.fromarray(scene(2 * index, height=48, width=64)).save(folder / f"f{index:02d}.png")
    return folder


def video(*args):
    return CliRunner().invoke(cli, ["video", "--quiet", "--precision", "fp32", *map(str, args)])


def test_video_hints_colour_the_keyframe_and_follow_it(hint_model, tmp_path):
    source = _frames(tmp_path / "in")
    plain, hinted = tmp_path / "plain", tmp_path / "hinted"
    assert video(source, "--fps", 10, "--frames", plain, "--model", hint_model).exit_code == 0
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps({"version": 1, "frames": {"1": [{"x": 20, "y": 16, "color": RED, "radius": 6}]}}))
    result = video(source, "--fps", 10, "--frames", hinted, "--model", hint_model, "--hints", hints)
    assert result.exit_code == 0, result.output
    assert "hints: 1 on 1 keyframe(s), 8 frame(s) hinted, 7 carried along the flow" in result.output
    target = lab.rgb_to_lab(np.array([[[0xC0, 0x20, 0x10]]], np.uint8))[0, 0, 1:]
    for index in range(8):  # nearer the hint's colour around the point where it moved to, on every frame
        x, y = 20 + 2 * index, 16 + index
        around = (slice(y - 3, y + 4), slice(x - 3, x + 4))
        distance = {name: np.abs(lab.rgb_to_lab(np.asarray(Image.open(folder / f"frame_{index + 1:06d}.png")))[around][..., 1:]
                                 - target).mean() for name, folder in (("plain", plain), ("hinted", hinted))}
        assert distance["hinted"] < distance["plain"] - 2, (index, distance)
    assert sorted(p.name for p in source.iterdir()) == [f"f{i:02d}.png" for i in range(8)]  # input untouched


def test_a_keyframe_hint_fades_in_along_the_flow_smoothing(hint_model, tmp_path):
    """The hints' spread is smoothed with the network's change: no jump at a keyframe (flicker)."""
    source = _frames(tmp_path / "in")
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps({"version": 1, "frames": {"4": [{"x": 26, "y": 19, "color": RED, "radius": 6}]}}))
    target = lab.rgb_to_lab(np.array([[[0xC0, 0x20, 0x10]]], np.uint8))[0, 0, 1:]
    distance = {}
    for name, extra in (("plain", []), ("smoothed", ["--hints", hints]),
                        ("unsmoothed", ["--hints", hints, "--option", "temporal_flow=false"])):
        out = tmp_path / name
        result = video(source, "--fps", 10, "--frames", out, "--model", hint_model, *extra)
        assert result.exit_code == 0, result.output
        for index in (3, 7):  # frames 4 (the keyframe) and 8; the hint moved 2 px right and 1 down a frame
            x, y = 20 + 2 * index, 16 + index
            ab = lab.rgb_to_lab(np.asarray(Image.open(out / f"frame_{index + 1:06d}.png")))[y - 1:y + 2, x - 1:x + 2, 1:]
            distance[name, index] = float(np.abs(ab - target).mean())
    assert distance["unsmoothed", 3] < 3  # the spread is exact on the hint's own pixels
    assert distance["unsmoothed", 3] + 5 < distance["smoothed", 3] < distance["plain", 3] - 2  # faded in, not absent
    assert distance["smoothed", 7] < distance["smoothed", 3] - 2  # and nearer a few frames on


def test_video_hint_problems_are_one_line_each_before_the_model_loads(tmp_path):
    clip = make_clip(tmp_path / "c.mp4")  # 64x48, 15 frames
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps({"version": 1, "frames": {"3": [{"x": 70, "y": 5, "color": RED}],
                                                          "99": [{"x": 1, "y": 1, "color": RED}]}}))
    result = video(clip, "--out", tmp_path / "o.mp4", "--hints", hints, "--model", "no-such-model")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: {hints}: frames['3'][0]: (70, 5) is outside the 64x48 frame",
        f"error: {hints}: frames['99'] is past the end of the video (about 15 frames, numbered from 1)"]
    hints.write_text(json.dumps({"version": 1, "images": {"a.png": [{"x": 1, "y": 1, "color": RED}]}}))
    result = video(clip, "--out", tmp_path / "o.mp4", "--hints", hints)
    assert result.exit_code != 0 and "no \"frames\" section" in result.output
    assert not (tmp_path / "o.mp4").exists()


def test_video_hints_need_a_model_that_takes_them(model_path, tmp_path):
    clip = make_clip(tmp_path / "c.mp4")
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps({"version": 1, "frames": {"1": [{"x": 1, "y": 1, "color": RED}]}}))
    result = video(clip, "--out", tmp_path / "o.mp4", "--hints", hints, "--model", model_path)
    assert result.exit_code != 0 and "takes no colour hints" in result.output, result.output
    assert not (tmp_path / "o.mp4").exists()


def test_eval_video_scores_truth_hints_every_n_frames_and_cdc(hint_model, tmp_path):
    clip = make_clip(tmp_path / "c.mp4", seconds=2)  # 20 frames of a moving colour pattern
    out = tmp_path / "e.json"
    result = CliRunner().invoke(cli, ["eval-video", str(clip), "--json", str(out), "--model", hint_model, "--quiet",
                                      "--hint-every", "10", "--hint-count", "20"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    hints = report["hints"]
    assert hints["psnr_gain_db"]["frames"] == report["frames"] == 20
    assert len(hints["psnr_gain_per_frame_db"]) == 20
    assert hints["psnr_gain_db"]["mean"] > 0  # the truth's colours help on average
    assert hints["psnr_gain_per_frame_db"][0] > 0 and hints["psnr_gain_per_frame_db"][10] > 0  # keyframes 1, 11
    assert "40 on 2 keyframe(s)" in hints["tracking"]
    for name in ("gray", "reference", "naive", "consistent", "hinted"):
        cdc = report["runs"][name]["cdc"]
        assert set(cdc["gaps"]) == {"1", "2", "4"} and 0 < cdc["cdc"] < np.log(2)
        assert cdc["cdc"] == pytest.approx(np.mean(list(cdc["gaps"].values())))
    assert "hinted" in result.output and "CDC" in result.output
