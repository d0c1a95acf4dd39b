"""`colorfuse video`: size, timing (VFR too), duration, audio, rotation, parts, frame folders.

Clips are generated in tmp_path with the imageio-ffmpeg binary (lavfi testsrc), 64x48 or smaller.
"""

import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine.video.ffmpeg import ffmpeg_exe, probe
from colorfuse.evaluation.video_metrics import psnr
from colorfuse.engine.video.reader import FfmpegReader


def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *map(str, args)],
                   check=True, timeout=60)


def make_clip(path, size="64x48", rate=10, seconds=1.5, audio=None, vf=None, pix_fmt="yuv420p", before=()):
    """A testsrc clip (moving colour pattern) with an optional sine audio track in codec ``audio``."""
    args = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=8000:duration={seconds}", "-c:a", audio]
    if vf:
        args += ["-vf", vf, "-fps_mode", "passthrough"]
    ffmpeg(*args, "-c:v", "libx264", "-pix_fmt", pix_fmt, *before, path)
    return path


def frames_of(path, pix_fmt="gray"):
    return list(FfmpegReader(path, pix_fmt))


def run(*args):
    return CliRunner().invoke(cli, ["video", "--quiet", *map(str, args)], catch_exceptions=False)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


def test_keeps_size_rate_duration_timestamps_and_audio(tmp_path, model_path):
    source = make_clip(tmp_path / "in.mp4", audio="aac")
    out = tmp_path / "out.mp4"
    result = run(source, "--out", out, "--model", model_path, "--batch-size", 4)
    assert result.exit_code == 0, result.output
    assert "done 15 frames (64x48)" in result.output and "audio: copy" in result.output
    before, after = probe(source), probe(out)
    assert (after.width, after.height, after.fps) == (64, 48, 10)
    assert after.duration == pytest.approx(before.duration, abs=0.03)
    assert after.audio_codecs == ["aac"]
    assert [f.time for f in frames_of(out)] == pytest.approx([f.time for f in frames_of(source)], abs=1e-3)
    assert leftovers(tmp_path) == []


def test_variable_frame_rate_passes_through(tmp_path, model_path):
    # frame times 0 .. 0.5 every 0.1 s, then jumps of 0.4 s and 0.3 s
    vf = "setpts='(N*0.1+if(gte(N,6),0.3,0)+if(gte(N,9),0.2,0))/TB'"
    source = make_clip(tmp_path / "vfr.mp4", seconds=1.2, vf=vf)
    times = [f.time for f in frames_of(source)]
    assert np.ptp(np.diff(times)) > 0.25  # really variable
    out = tmp_path / "out.mkv"
    assert run(source, "--out", out, "--model", model_path).exit_code == 0
    assert [f.time for f in frames_of(out)] == pytest.approx(times, abs=1e-3)
    assert probe(out).duration == pytest.approx(times[-1] + 0.1, abs=0.03)  # last frame shown its 0.1 s


def test_rotated_phone_video_comes_out_upright(tmp_path, model_path):
    plain = tmp_path / "plain.mp4"  # dark frame, bright box near the top-left corner
    ffmpeg("-f", "lavfi", "-i", "color=c=0x202020:size=64x48:rate=10:duration=0.5,"
           "drawbox=x=4:y=4:w=16:h=10:color=white:t=fill", "-c:v", "libx264", "-pix_fmt", "yuv420p", plain)
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation:v:0", 90, "-i", plain, "-c", "copy", rotated)
    assert probe(rotated).rotation in (90.0, -90.0) and probe(rotated).upright_size == (48, 64)
    out = tmp_path / "out.mp4"
    assert run(rotated, "--out", out, "--model", model_path).exit_code == 0
    info = probe(out)
    assert (info.width, info.height, info.rotation) == (48, 64, 0.0)

    def box_centre(image):
        ys, xs = np.nonzero(image > 128)
        return ys.mean(), xs.mean()

    upright = frames_of(rotated)[0].image  # ffmpeg applies the display matrix when decoding
    result = frames_of(out)[0].image
    assert upright.shape == result.shape == (64, 48)
    assert box_centre(result) == pytest.approx(box_centre(upright), abs=1.0)
    assert box_centre(upright) != pytest.approx(box_centre(frames_of(plain)[0].image), abs=3.0)


@pytest.mark.parametrize("size, pix_fmt", [("33x17", "yuv444p"), ("2x2", "yuv420p")])
def test_odd_and_tiny_sizes_are_kept(tmp_path, model_path, size, pix_fmt):
    source = make_clip(tmp_path / "in.mkv", size=size, seconds=0.8, pix_fmt="yuv444p")
    out = tmp_path / "out.mp4"
    result = run(source, "--out", out, "--model", model_path)
    assert result.exit_code == 0, result.output
    width, height = map(int, size.split("x"))
    info = probe(out)
    assert (info.width, info.height) == (width, height)
    assert pix_fmt in subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True,
                                     text=True).stderr
    assert ("4:4:4" in result.output) == (pix_fmt == "yuv444p")


def test_no_audio_track_and_a_part(tmp_path, model_path):
    source = make_clip(tmp_path / "in.mp4", seconds=2.0)
    out = tmp_path / "part.mp4"
    result = run(source, "--out", out, "--model", model_path, "--start", 0.5, "--end", 1.2)
    assert result.exit_code == 0, result.output
    assert "audio: none" in result.output
    info = probe(out)
    assert info.audio_codecs == [] and info.duration == pytest.approx(0.7, abs=0.05)
    assert len(frames_of(out)) == 7


@pytest.mark.parametrize("audio, suffix, codec, expected", [
    ("libopus", ".avi", "mpeg4", "aac"),          # AVI cannot hold Opus: re-encoded to AAC
    ("aac", ".webm", "libvpx-vp9", "default"),    # WebM cannot hold AAC: the container's own (Opus)
])
def test_audio_is_reencoded_where_the_container_refuses_it(tmp_path, model_path, audio, suffix, codec, expected):
    source = make_clip(tmp_path / "in.mkv", seconds=0.5, audio=audio)
    out = tmp_path / f"out{suffix}"
    result = run(source, "--out", out, "--model", model_path, "--codec", codec)
    assert result.exit_code == 0, result.output
    assert f"audio: {expected}" in result.output
    assert len(probe(out).audio_codecs) == 1


def test_frames_out_then_frames_in(tmp_path, model_path):
    source = make_clip(tmp_path / "in.mp4", seconds=0.6)
    frames, video = tmp_path / "frames", tmp_path / "out.mp4"
    result = run(source, "--frames", frames, "--out", video, "--model", model_path, "--crf", 4, "--pix-fmt", "yuv444p")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in frames.iterdir())
    assert names == [f"frame_{i:06d}.png" for i in range(1, 7)]
    assert run(source, "--frames", tmp_path / "only", "--frames-format", "jpeg", "--model", model_path).exit_code == 0
    assert len(list((tmp_path / "only").glob("frame_*.jpg"))) == 6
    # the encoded video shows the frame images' colours (the colour matrix and range agree; 4:4:4, so
    # chroma subsampling of the test model's busy colours does not blur the comparison)
    decoded = frames_of(video, "rgb24")
    for name, frame in zip(names, decoded):
        assert psnr(frame.image, np.asarray(Image.open(frames / name))) > 40
    rebuilt = tmp_path / "rebuilt.mp4"
    result = run(frames, "--out", rebuilt, "--fps", "12.5", "--model", model_path)
    assert result.exit_code == 0, result.output
    assert [f.time for f in frames_of(rebuilt)] == pytest.approx([i / 12.5 for i in range(6)], abs=1e-3)
    assert (probe(rebuilt).width, probe(rebuilt).height) == (64, 48)


def test_codec_choice_and_temporal_switches(tmp_path, model_path):
    source = make_clip(tmp_path / "in.mp4", seconds=0.5)
    out = tmp_path / "out.mkv"
    result = run(source, "--out", out, "--model", model_path, "--codec", "mpeg4", "--no-temporal")
    assert result.exit_code == 0, result.output
    assert probe(out).video_codec == "mpeg4"
    assert "temporal: off" in result.output
    result = run(source, "--out", out, "--model", model_path, "--no-temporal-flow", "--overwrite")
    assert result.exit_code == 0 and "temporal: temporal_global" in result.output


def test_video_runs_without_torch_or_onnx(tmp_path, model_path):
    import sys

    from tests.test_packaging import BLOCK_HEAVY

    source = make_clip(tmp_path / "in.mp4", seconds=0.3)
    code = BLOCK_HEAVY + """
from colorfuse.cli import main
try:
    main(['video', sys.argv[1], '--out', sys.argv[2], '--model', sys.argv[3], '--quiet'])
except SystemExit as exit:
    assert not exit.code, exit.code
assert not any(m.split('.')[0] in ('torch', 'onnx') for m in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code, str(source), str(tmp_path / "out.mp4"), str(model_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert probe(tmp_path / "out.mp4").width == 64
