"""#23.6-10: bad values are usage errors, a read-only video folder is one line, implausible image headers
are refused before decoding, the default pixel limit is fixed once per run from this process's limits.
Each test failed before its fix."""

import errno
import os

import pytest
from click.testing import CliRunner

from colorfuse.cli import cli
from tests.test_cli_colorize import _photo, _save


def invoke(*args):
    return CliRunner().invoke(cli, [*map(str, args)], catch_exceptions=False)


@pytest.mark.parametrize("flags", [["--max-side", "-5"], ["--max-side", "-5", "--ray"], ["--saturation", "nan"],
                                   ["--saturation", "inf"], ["--saturation", "-inf"]])
def test_bad_numbers_are_usage_errors(tmp_path, model_path, flags):
    """#23.6: --max-side -5 ended in a traceback; #23.10: --saturation nan wrote white pictures, exit 0."""
    source = _save(tmp_path / "a.png", _photo())
    for command in (["colorize", source, "--out", tmp_path / "out"],
                    ["video", tmp_path, "--frames", tmp_path / "frames", "--fps", "10"]):
        if "--ray" in flags and command[0] == "video":
            continue
        result = invoke(*command, "--model", model_path, *flags)
        assert result.exit_code == 2 and "Invalid value" in result.output, result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "frames").exists()


def test_video_into_a_read_only_folder_is_one_line(tmp_path, model_path, monkeypatch):
    """#23.6: the failed cleanup of a temporary that could never be created (EROFS) raised a traceback."""
    from tests.test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4")
    readonly = str(tmp_path / "ro")
    os.mkdir(readonly)
    real_open, real_unlink = os.open, os.unlink

    def read_only(call):
        def guarded(path, *args, **kwargs):
            if os.fspath(path).startswith(readonly + os.sep):
                raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
            return call(path, *args, **kwargs)
        return guarded

    monkeypatch.setattr(os, "open", read_only(real_open))
    monkeypatch.setattr(os, "unlink", read_only(real_unlink))
    result = invoke("video", clip, "--out", f"{readonly}/o.mp4", "--model", model_path, "--quiet")
    assert result.exit_code == 1, result.output
    assert f"{readonly}/o.mp4: cannot write to {readonly} (Read-only file system)" in result.output


def _bomb_jpeg(path, width, height):
    """A real 16x16 JPEG whose header is made to claim ``width`` x ``height``."""
    import io
    import struct

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (16, 16), 90).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    frame = data.index(b"\xff\xc0")
    data[frame + 5:frame + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path


def test_implausible_header_is_refused_before_decoding(tmp_path, model_path):
    """#23.8: a tiny JPEG claiming 30000x30000 was decoded into a gray picture and gigabytes of memory."""
    bomb = _bomb_jpeg(tmp_path / "bomb.jpg", 3000, 2000)  # 6 megapixels in about 330 bytes
    result = invoke("colorize", bomb, "--out", tmp_path / "out", "--model", model_path, "--quiet")
    assert result.exit_code == 1, result.output
    assert f"{bomb}: header says 3000x2000 (6.0 megapixels), more than a JPEG file of" in result.output
    assert "--option trust_header_size=true" in result.output and not (tmp_path / "out").exists()
    allowed = invoke("colorize", bomb, "--out", tmp_path / "out", "--model", model_path, "--quiet",
                     "--option", "trust_header_size=true")
    assert allowed.exit_code == 0, allowed.output
    assert f"warning: {bomb}: premature end of JPEG data: a scan holds" in allowed.output  # libjpeg's, never shown


def test_premature_end_is_never_said_of_a_whole_jpeg(tmp_path):
    """The bound is a floor: flat pictures at their smallest (optimized, progressive, subsampled) pass."""
    from PIL import Image

    from colorfuse.plugins.builtin.jpeg_scans import premature_end

    for mode, options in (("L", {"optimize": True}), ("RGB", {"optimize": True, "progressive": True}),
                          ("RGB", {"subsampling": 2, "restart_marker_blocks": 1}), ("RGB", {"subsampling": 0})):
        path = tmp_path / "flat.jpg"
        Image.new(mode, (1600, 1200), 128).save(path, "JPEG", **options)
        assert premature_end(path) is None, options
    Image.new("L", (1600, 1200), 128).save(path, "JPEG", optimize=True)  # 30,000 blocks at 2 bits, and headers
    path.write_bytes(path.read_bytes()[:-400] + b"\xff\xd9")  # cut, and ended as a whole file is
    assert premature_end(path).startswith("premature end of JPEG data: a scan holds")


def test_default_pixel_limit_reads_this_processs_own_cgroup(tmp_path, monkeypatch):
    """#23.9: inside an 800 MB child cgroup a 144-megapixel image was OOM-killed instead of refused."""
    import colorfuse.engine.machine as machine

    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cgroup").write_text("0::/jobs/colorize\n")
    (tmp_path / "proc" / "meminfo").write_text("MemTotal: 134217728 kB\nMemAvailable: 104857600 kB\n")
    own = tmp_path / "cg" / "jobs" / "colorize"
    own.mkdir(parents=True)
    (own / "memory.max").write_text(f"{800 << 20}\n")
    (own / "memory.current").write_text(f"{100 << 20}\n")
    (own.parent / "memory.max").write_text("max\n")
    monkeypatch.setattr(machine, "PROC_CGROUP", str(tmp_path / "proc" / "cgroup"))
    monkeypatch.setattr(machine, "MEMINFO", str(tmp_path / "proc" / "meminfo"))
    monkeypatch.setattr(machine, "CGROUP_ROOT", str(tmp_path / "cg"))
    assert machine.available_memory() == 700 << 20


def test_default_pixel_limit_is_fixed_once_per_run(tmp_path, model_path, monkeypatch, fresh_pixel_limit):
    """#23.9: the limit was measured again at each read: a file's fate hung on what else was in flight."""
    import colorfuse.engine.machine as machine
    from colorfuse.engine.imagefiles import BYTES_PER_PIXEL, MEMORY_RESERVE

    measured = []

    def shrinking():  # plenty at the start of the run, then other work takes it all
        measured.append(1)
        return MEMORY_RESERVE + BYTES_PER_PIXEL * (10**9 if len(measured) == 1 else 0)

    monkeypatch.setattr(machine, "available_memory", shrinking)
    for name in ("a.png", "b.png", "c.png"):
        _save(tmp_path / "in" / name, _photo())
    result = invoke("colorize", tmp_path / "in", "--out", tmp_path / "out", "--model", model_path, "--quiet")
    assert result.exit_code == 0 and "done 3, skipped 0, failed 0" in result.output, result.output
    assert len(measured) == 1
