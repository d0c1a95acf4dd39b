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
