"""#23.7, #23.13, #23.14: a slightly truncated video is reported (on one line); file names are never read as
ffmpeg protocols, nor searched for ffmpeg's words. Each test failed before its fix."""

from colorfuse.engine.video.reader import FfmpegReader
from tests.test_video import make_clip, run


def test_slightly_truncated_video_is_a_loss(tmp_path, model_path):
    """#23.7: a cut video that lost under ~10% of its frames (203 of 221) exited 0 with no message."""
    full = make_clip(tmp_path / "full.mkv", rate=25, seconds=8.84)  # 221 frames
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.95)])
    result = run(cut, "--out", tmp_path / "out.mp4", "--model", model_path)
    assert result.exit_code == 1, result.output
    assert f"error: {cut}: the input ended early" in result.output and "of about 221 frames" in result.output
    assert run(full, "--out", tmp_path / "whole.mp4", "--model", model_path).exit_code == 0


def test_names_with_a_colon_are_files(tmp_path, model_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_clip(tmp_path / "clip.mp4", seconds=0.5)  # 5 frames: what the concat protocol would read
    make_clip(tmp_path / "concat:clip.mp4", seconds=1.5)  # 15 frames: the file named
    make_clip(tmp_path / "a:b.mp4", seconds=1.0)
    for name, frames in (("concat:clip.mp4", 15), ("a:b.mp4", 10)):
        result = run(name, "--out", f"out:{name}", "--model", model_path)
        assert result.exit_code == 0, result.output
        assert f"done {frames} frames" in result.output and (tmp_path / f"out:{name}").stat().st_size > 0


def test_quietly_cut_video_is_a_loss(tmp_path, model_path):
    """#23.7: cuts ffmpeg says nothing about (201 of 221 frames in a .mov, 204 in an MPEG-4 .mkv) exited 0."""
    from tests.test_video import ffmpeg

    for name, codec, kept in (("cut.mov", "libx264", 0.95), ("cut.mkv", "mpeg4", 0.93)):
        full = tmp_path / f"full-{name}"
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=8.84", "-c:v", codec, "-pix_fmt", "yuv420p",
               "-movflags", "+faststart", full)  # the index first, as a camera or a web upload has it
        cut = tmp_path / name
        cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * kept)])
        result = run(cut, "--out", tmp_path / f"out-{name}.mp4", "--model", model_path)
        assert result.exit_code == 1, result.output
        assert f"error: {cut}: the input ended early" in result.output and "of about 221 frames" in result.output
        assert run(full, "--out", tmp_path / f"whole-{name}.mp4", "--model", model_path).exit_code == 0


def test_cut_video_with_audio_is_a_loss_when_ffmpeg_reports_the_damage(tmp_path, model_path):
    """#23.7: with an audio track the header states no duration of the video's own, so its frame count is an
    estimate: a cut ffmpeg reports ("partial file", 210 of 221 frames, under the 10% margin) exited 0."""
    from tests.test_video import ffmpeg

    full = tmp_path / "full.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=8.84", "-f", "lavfi", "-i", "sine=duration=8.84",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", full)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.95)])
    result = run(cut, "--out", tmp_path / "out.mp4", "--model", model_path)
    assert result.exit_code == 1, result.output
    assert f"error: {cut}: the input ended early" in result.output and "ffmpeg: " in result.output
    assert run(full, "--out", tmp_path / "whole.mp4", "--model", model_path).exit_code == 0


def test_a_file_name_is_not_damage(tmp_path):
    """A whole clip in a folder named "truncated" was said to be damaged: the name was searched for ffmpeg's words."""
    (tmp_path / "truncated").mkdir()
    clip = make_clip(tmp_path / "truncated" / "corrupt.mkv")
    reader = FfmpegReader(clip)
    assert len(list(reader)) == 15 and reader.damage is None


def test_video_loss_is_one_line_whatever_the_name(tmp_path, model_path):
    """#23.13: the loss line of `colorfuse video` printed a newline or an escape sequence in the name raw."""
    full = make_clip(tmp_path / "full.mkv", rate=25, seconds=8.84)
    cut = tmp_path / "cut\n\x1b[1m.mkv"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.95)])
    result = run(cut, "--out", tmp_path / "out.mp4", "--model", model_path)
    assert result.exit_code == 1 and "\x1b" not in result.output, result.output
    assert any(line.startswith(f"error: {tmp_path}/cut\\n\\x1b[1m.mkv: the input ended early")
               for line in result.output.splitlines()), result.output


def test_partial_video_of_a_killed_run_is_removed_by_the_next(tmp_path, model_path):
    """#23.15: the .partial.mp4 of a `colorfuse video` killed with -9 stayed for ever; a live run's is kept."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from colorfuse.engine.imagefiles import locked_temporary

    clip = make_clip(tmp_path / "long.mp4", rate=25, seconds=60)
    out = tmp_path / "out"
    out.mkdir()
    killed = subprocess.Popen([sys.executable, "-m", "colorfuse", "video", "--quiet", str(clip), "--out",
                               str(out / "a.mp4"), "--model", str(model_path)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(".partial" in name for name in os.listdir(out)) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    left = [name for name in os.listdir(out) if ".partial" in name]
    assert len(left) == 1 and left[0].endswith(".partial.mp4"), left
    with locked_temporary(out / "b.mp4", ".mp4") as live:  # another run, alive, writing b.mp4
        result = run(make_clip(tmp_path / "short.mp4"), "--out", out / "c.mp4", "--model", model_path)
        assert result.exit_code == 0, result.output
        assert sorted(os.listdir(out)) == sorted(["c.mp4", os.path.basename(live)])
