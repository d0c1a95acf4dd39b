"""#14: readers declare the extensions they read; folder scans, frame folders and the Ray listing use them.

Covers plugins/builtin/tiff_messages.py (TIFF decoding messages).
"""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine.collection import Inputs, iter_jobs, output_format
from colorfuse.engine.video.reader import FolderReader
from colorfuse.plugins import hookimpl
from colorfuse.plugins.filetypes import file_types
from colorfuse.plugins.manager import get_plugin_manager


class RawGray:
    """Reads ``.raw8``: a 16x24 gray picture, one byte per pixel."""

    @hookimpl
    def declare_file_types(self, declare):
        declare("RAW8", lossless=True)

    @hookimpl
    def read_image(self, path, options):
        if not path.endswith(".raw8"):
            return None
        return np.frombuffer(open(path, "rb").read(), np.uint8).reshape(16, 24)


@pytest.fixture
def raw_reader():
    get_plugin_manager().register(RawGray(), name="raw-gray")
    yield
    get_plugin_manager().unregister(name="raw-gray")


def _raw(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.arange(16 * 24, dtype=np.uint8).tobytes())
    return path


def test_built_in_reader_declares_its_types():
    types = file_types()
    assert {".jpg", ".png", ".tif", ".webp"} <= types.readable and ".png" in types.lossless
    assert ".jpg" not in types.lossless and not types.reads(".hidden.png") and not types.reads("notes.txt")


def test_a_declared_type_is_found_in_folders_and_is_lossless(tmp_path, raw_reader):
    _raw(tmp_path / "in" / "a.raw8")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert [job.source.name for job in iter_jobs([tmp_path / "in"])] == ["a.raw8"]
    assert output_format(tmp_path / "in" / "a.raw8", "auto") == "png"
    Inputs([tmp_path / "in"]).check()


def test_without_the_reader_a_folder_of_that_type_has_no_images(tmp_path):
    _raw(tmp_path / "in" / "a.raw8")
    assert [job.unknown_type for job in iter_jobs([tmp_path / "in"], with_unknown=True)] == [True]
    with pytest.raises(Exception, match="no images found"):
        Inputs([tmp_path / "in"]).check()


def test_colorize_reads_a_declared_type_and_counts_unknown_files(tmp_path, model_path, raw_reader):
    _raw(tmp_path / "in" / "a.raw8")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "in" / "b.png")
    for name in ("notes.txt", "data.xyz", "sub/readme.md"):
        (tmp_path / "in" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_text("x")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(tmp_path / "in"), "--out", str(out),
                                      "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["a.png", "b.png"]
    assert Image.open(out / "a.png").size == (24, 16)
    assert "done 2, skipped 0, failed 0" in result.output
    assert "skipped: 3 files of unknown type" in result.output


def test_video_frame_folders_use_the_declared_types(tmp_path, raw_reader):
    for index in range(3):
        _raw(tmp_path / f"frame_{index}.raw8")
    (tmp_path / "notes.txt").write_text("x")
    assert [path.name for path in FolderReader(tmp_path, 10).files] == [f"frame_{i}.raw8" for i in range(3)]


def test_ray_listing_marks_files_of_unknown_type(tmp_path, raw_reader):
    from colorfuse.engine.distributed.listing import iter_planned

    _raw(tmp_path / "in" / "a.raw8")
    (tmp_path / "in" / "notes.txt").write_text("x")
    rows = {row["source"].rsplit("/", 1)[-1]: row["status"]
            for row in iter_planned([str(tmp_path / "in")], tmp_path / "out", "auto", False, False)}
    assert rows == {"a.raw8": "todo", "notes.txt": "unknown"}


class RawWriter:
    """Writes ``raw8``: the gray of the image, one byte per pixel."""

    @hookimpl
    def declare_output_formats(self, declare):
        declare("raw8", ".raw8", lossless=False)

    @hookimpl
    def write_image(self, image, path, format, options):
        if format != "raw8":
            return None
        with open(path, "wb") as handle:
            handle.write(np.asarray(image, np.uint8).mean(axis=2).astype(np.uint8).tobytes())
        return True


def test_a_declared_output_format_is_accepted_and_gets_its_suffix(tmp_path, model_path):
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((16, 24), np.uint8)).save(tmp_path / "in" / "a.png")
    runner = CliRunner()
    refused = runner.invoke(cli, ["colorize", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--format", "raw8"])
    assert refused.exit_code == 2 and "'raw8' is not a declared output format" in refused.output
    get_plugin_manager().register(RawWriter(), name="raw-writer")
    try:
        result = runner.invoke(cli, ["colorize", "--quiet", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                     "--model", str(model_path), "--format", "raw8"])
    finally:
        get_plugin_manager().unregister(name="raw-writer")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "a.raw8").stat().st_size == 16 * 24


def test_auto_format_follows_declared_losslessness(tmp_path):
    assert output_format(tmp_path / "a.tif", "auto") == "png" and output_format(tmp_path / "a.webp", "auto") == "jpeg"


def test_help_lists_the_declared_output_formats():
    assert "--format [auto|png|jpeg|webp|tiff]" in CliRunner().invoke(cli, ["colorize", "--help"]).output
    assert "--frames-format [png|jpeg|webp|tiff]" in CliRunner().invoke(cli, ["video", "--help"]).output


def test_declarations_are_asked_once_per_plugin_set(register, model_path, tmp_path):
    from PIL import Image

    from colorfuse.plugins.filetypes import file_types, output_formats

    class Counting:
        calls = 0

        @hookimpl
        def declare_file_types(self, declare):
            Counting.calls += 1
            declare(".odd")

        @hookimpl
        def declare_output_formats(self, declare):
            Counting.calls += 1

    register(Counting(), "counting")
    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(np.full((8, 8), 50, np.uint8)).save(tmp_path / "in" / name)
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path), "--skip-existing"])
    assert result.exit_code == 0, result.output
    assert Counting.calls == 2  # file types and output formats, once each for the whole run
    register(Counting(), "counting-again")  # a new plugin set: asked again
    assert ".odd" in file_types().readable and "png" in output_formats()
    assert Counting.calls == 2 + 2 + 2
