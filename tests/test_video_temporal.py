"""Temporal consistency: shot cuts, optical flow, the temporal plugins, flicker metrics, eval-video."""

import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from colorfuse.cli import cli
from colorfuse.engine.video.flow import FlowEstimator, warp
from colorfuse.evaluation.video_metrics import ClipMetrics, psnr
from colorfuse.engine.video.reader import VideoFrame
from colorfuse.engine.video.shots import ShotDetector
from colorfuse.plugins import hookimpl
from colorfuse.plugins.builtin import temporal
from colorfuse.plugins.manager import get_plugin_manager
from tests.test_video import ffmpeg


def texture(height=96, width=128, seed=0):
    """Smooth random luminance (L, 0..100) with features DIS can track."""
    noise = np.random.default_rng(seed).random((height // 8, width // 8)).astype(np.float32)
    return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 80 + 10


def frame(index, new_shot=False, state=None):
    return VideoFrame(index, None, index, 1, 1, new_shot=new_shot, state={} if state is None else state)


def test_shot_cuts_follow_content_changes():
    detector = ShotDetector()
    scene = (texture(seed=1) * 2.55).astype(np.uint8)
    other = cv2.cvtColor(255 - scene // 2, cv2.COLOR_GRAY2RGB)
    assert detector.is_cut(scene)
    assert not detector.is_cut(np.roll(scene, 3, axis=1))  # a pan is not a cut
    assert detector.is_cut(other)
    assert not detector.is_cut(other)


def test_flow_tracks_a_shift_and_is_confident_there():
    estimator = FlowEstimator(max_side=320)
    previous = texture()
    current = np.roll(previous, (2, 3), axis=(0, 1))  # content moved down 2, right 3
    flow, confidence = estimator.aligned(current, previous)
    interior = (slice(16, -16), slice(16, -16))
    assert np.median(flow[interior][..., 0]) == pytest.approx(-3, abs=0.3)
    assert np.median(flow[interior][..., 1]) == pytest.approx(-2, abs=0.3)
    assert np.median(confidence[interior]) > 0.7
    assert np.abs(warp(previous, flow) - current)[interior].mean() < 1.0


def test_flow_smoothing_steadies_noise_restarts_at_cuts_and_ignores_mismatches():
    lum = texture()
    rng = np.random.default_rng(3)
    state, outputs, inputs = {}, [], []
    for index in range(12):
        ab = (20 + rng.normal(0, 5, lum.shape + (2,))).astype(np.float32)
        inputs.append(ab)
        outputs.append(temporal.video_process_ab(ab, lum, frame(index, index == 0, state), {}))
    assert np.array_equal(outputs[0], inputs[0])
    naive = np.mean([np.abs(b - a).mean() for a, b in zip(inputs[4:], inputs[5:])])
    smooth = np.mean([np.abs(b - a).mean() for a, b in zip(outputs[4:], outputs[5:])])
    assert smooth < 0.5 * naive
    cut_ab = np.full(lum.shape + (2,), -30, np.float32)
    assert np.array_equal(temporal.video_process_ab(cut_ab, lum, frame(12, True, state), {}), cut_ab)
    # new content without a detected cut: luminance disagrees, so the old colour is not carried over
    other = 100 - lum
    fresh = temporal.video_process_ab(np.zeros_like(cut_ab), other, frame(13, False, state), {})
    assert np.abs(fresh).mean() < 3.0
    assert temporal.video_process_ab(cut_ab, lum, frame(14, False, state), {"temporal_flow": False}) is None


def test_global_view_is_the_shots_first_running_mean_or_moving_average():
    views = [np.full((1, 8, 8), value, np.float32) for value in (1.0, 3.0, 5.0, 9.0)]
    state, seen = {}, []
    for index, (view, new_shot) in enumerate(zip(views, (True, False, False, True))):
        prepared = SimpleNamespace(global_view=view)
        temporal.video_prepare(prepared, frame(index, new_shot, state), {"temporal_global_mode": "first"})
        seen.append(float(prepared.global_view.mean()))
    assert seen == [1.0, 1.0, 1.0, 9.0]
    state, seen = {}, []
    for index, (view, new_shot) in enumerate(zip(views, (True, False, False, True))):
        prepared = SimpleNamespace(global_view=view)
        temporal.video_prepare(prepared, frame(index, new_shot, state), {"temporal_global_mode": "mean"})
        seen.append(float(prepared.global_view.mean()))
    assert seen == [1.0, 2.0, 3.0, 9.0]
    state, seen = {}, []
    for index, (view, new_shot) in enumerate(zip(views, (True, False, False, True))):
        prepared = SimpleNamespace(global_view=view)
        temporal.video_prepare(prepared, frame(index, new_shot, state), {})  # default: moving average, 0.5
        seen.append(float(prepared.global_view.mean()))
    assert seen == [1.0, 2.0, 3.5, 9.0]
    prepared = SimpleNamespace(global_view=views[2])
    temporal.video_prepare(prepared, frame(5, False, state), {"temporal_global": "false"})
    assert prepared.global_view is views[2]


class Recorder:
    """A test plugin implementing the video hooks: records the calls, and can take the colour away."""

    def __init__(self, grey_out=False):
        self.prepared, self.processed, self.grey_out = [], [], grey_out

    @hookimpl
    def video_prepare(self, prepared, frame, options):
        self.prepared.append((frame.index, frame.new_shot, frame.shot, prepared.full_l.shape))

    @hookimpl
    def video_process_ab(self, ab, lum, frame, options):
        self.processed.append((frame.index, ab.shape, lum.shape, id(frame.state)))
        return np.zeros_like(ab) if self.grey_out else None


@pytest.mark.parametrize("grey_out", [False, True])
def test_video_hooks_run_per_frame_in_order_with_shot_cuts(tmp_path, model_path, grey_out):
    from PIL import Image

    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.engine.video.pipeline import colorize_stream
    from colorfuse.engine.video.reader import FolderReader

    scenes = [texture(48, 64, seed=4), 100 - texture(48, 64, seed=5) * 0.6]
    for index in range(10):
        lum = np.roll(scenes[index // 5], index, axis=1)  # a pan, then a cut at frame 5
        Image.fromarray((lum * 2.55).astype(np.uint8)).save(tmp_path / f"f{index}.png")
    recorder = Recorder(grey_out)
    manager = get_plugin_manager()
    manager.register(recorder, name="test-recorder")
    outputs = []
    try:
        stats = colorize_stream(Colorizer(model_path, device="cpu"), FolderReader(tmp_path, 10),
                                lambda frame, rgb: outputs.append(rgb), batch_size=3)
    finally:
        manager.unregister(name="test-recorder")
    assert stats.frames == 10 and stats.shots == 2
    assert [(i, cut, shot) for i, cut, shot, _ in recorder.prepared] == [
        (i, i in (0, 5), i // 5) for i in range(10)]
    assert [entry[0] for entry in recorder.processed] == list(range(10))
    assert all(ab[:2] == lum and ab[2] == 2 for _, ab, lum, _ in recorder.processed)
    assert len({state for *_, state in recorder.processed}) == 1  # one state dict for the whole run
    colourful = [np.ptp(rgb.astype(int), axis=2).mean() for rgb in outputs]
    assert all(c < 2 for c in colourful) if grey_out else all(c > 5 for c in colourful)


def test_metrics_of_a_still_clip():
    metrics = ClipMetrics()
    lum = texture()
    rgb = cv2.cvtColor((lum * 2.55).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    for _ in range(3):
        metrics.update(lum, {"same": rgb}, rgb)
    assert metrics.flicker("same") == pytest.approx(0.0, abs=1e-3)
    assert metrics.mean_psnr("same") == psnr(rgb, rgb) == 100.0


def test_eval_video_reports_lower_flicker_with_temporal_consistency(tmp_path, global_model_path):
    clip = tmp_path / "still.mp4"  # a still colour scene: all flicker comes from the model (and --jitter)
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=1.6,trim=end_frame=1,loop=loop=15:size=1",
           "-c:v", "libx264", "-pix_fmt", "yuv444p", "-qp", "0", clip)
    report_path = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["eval-video", str(clip), "--json", str(report_path), "--quiet",
                                      "--model", str(global_model_path), "--jitter", "0.1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["frames"] == 16 and report["shots"] == 1 and report["flow_pairs"] == 15
    runs = report["runs"]
    assert runs["gray"]["flicker"] == pytest.approx(0.0, abs=0.05)
    assert runs["reference"]["flicker"] == pytest.approx(0.0, abs=0.05)
    assert runs["consistent"]["flicker"] < 0.5 * runs["naive"]["flicker"]
    assert report["flicker_reduction"] > 0.5
    assert abs(report["psnr_change_db"]) < 1.0 and runs["gray"]["psnr_db"] > 0
    assert report["machine"]["cores"] >= 1 and "flicker" in result.output
    assert get_plugin_manager().get_plugin("colorfuse-eval-jitter") is None  # registered only while building
