"""#23.7, #23.14: a slightly truncated video is reported; file names are never read as ffmpeg protocols.
Each test failed before its fix."""

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
