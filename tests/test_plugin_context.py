"""The per-image ``context`` of the plugin contract (#22 item 1): which file, output, index and frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine.colorizer import Colorizer
from colorfuse.plugins import hookimpl
from colorfuse.plugins.context import ImageContext

PER_IMAGE = ("read_image", "preprocess_image", "upsample_chroma", "postprocess_ab", "postprocess_image", "write_image")


class Recorder:
    """Records the context of every per-image hook call, changing nothing."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ImageContext]] = []

    @hookimpl
    def read_image(self, path, options, context):
        self.seen.append(("read_image", context))

    @hookimpl
    def preprocess_image(self, image, options, context):
        self.seen.append(("preprocess_image", context))

    @hookimpl(tryfirst=True)
    def upsample_chroma(self, ab, small_l, full_l, options, rows, context):
        self.seen.append(("upsample_chroma", context))

    @hookimpl
    def postprocess_ab(self, lum, ab, options, context):
        self.seen.append(("postprocess_ab", context))

    @hookimpl
    def postprocess_image(self, image, options, context):
        self.seen.append(("postprocess_image", context))

    @hookimpl(tryfirst=True)
    def write_image(self, image, path, format, options, context):
        self.seen.append(("write_image", context))

    @hookimpl
    def video_prepare(self, prepared, frame, options, context):
        self.seen.append(("video_prepare", context))

    @hookimpl
    def video_process_ab(self, ab, lum, frame, options, context):
        self.seen.append(("video_process_ab", context))


class OddFailer:
    """The outside author's example: fail every file whose name contains "odd"."""

    @hookimpl
    def preprocess_image(self, image, context):
        if context.input and "odd" in Path(context.input).name:
            raise ValueError("odd files are refused by this plugin")


def _photos(folder: Path, names) -> None:
    folder.mkdir()
    for index, name in enumerate(names):
        Image.fromarray(np.full((20 + index, 30), 60 + 40 * index, np.uint8)).save(folder / name)


def test_every_per_image_hook_knows_its_file_output_and_index(register, model_path, tmp_path):
    recorder = Recorder()
    register(recorder, "recorder")
    _photos(tmp_path / "in", ["a.png", "b.png", "c.png"])
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path), "--device", "cpu", "--workers", "2"])
    assert result.exit_code == 0, result.output
    by_input: dict[str, set] = {}
    for hook, context in recorder.seen:
        name = Path(context.input).name
        assert context.output == str(tmp_path / "out" / name) and context.frame is None
        by_input.setdefault(name, set()).add((hook, context.index))
    assert {name: {hook for hook, _ in calls} for name, calls in by_input.items()} == \
        {name: set(PER_IMAGE) for name in ("a.png", "b.png", "c.png")}
    indexes = {name: {index for _, index in calls} for name, calls in by_input.items()}
    assert indexes == {"a.png": {0}, "b.png": {1}, "c.png": {2}}  # one index per file, in input order
    settings = recorder.seen[0][1].settings
    assert settings["saturation"] == 1.0
    with pytest.raises(TypeError):
        settings["saturation"] = 2.0  # read-only: a hook cannot change the run for the others


def test_a_hook_fails_files_by_name_and_the_rest_of_the_batch_goes_on(register, model_path, tmp_path):
    register(OddFailer(), "odd-failer")
    _photos(tmp_path / "in", ["a.png", "odd-one.png", "c.png"])
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path), "--device", "cpu"])
    assert result.exit_code != 0
    failures = [line for line in result.output.splitlines() if "odd files are refused" in line]
    assert failures and all("odd-one.png" in line and "plugin 'odd-failer'" in line for line in failures)
    assert "done 2, skipped 0, failed 1" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]


def test_the_api_names_paths_and_leaves_arrays_anonymous(register, model_path, tmp_path):
    recorder = Recorder()
    register(recorder, "recorder")
    _photos(tmp_path / "in", ["a.png"])
    colorizer = Colorizer(model_path, device="cpu")
    colorizer.colorize_batch([np.full((16, 16), 90, np.uint8), tmp_path / "in" / "a.png"])
    contexts = {(c.input, c.output, c.index) for hook, c in recorder.seen if hook == "postprocess_image"}
    assert contexts == {(None, None, 0), (str(tmp_path / "in" / "a.png"), None, 1)}
    assert {c.input for hook, c in recorder.seen if hook == "read_image"} == {str(tmp_path / "in" / "a.png")}


def test_video_hooks_get_the_frame_number_and_the_video(register, model_path, tmp_path):
    from colorfuse.engine.video.pipeline import colorize_stream
    from colorfuse.engine.video.reader import FolderReader

    recorder = Recorder()
    register(recorder, "recorder")
    _photos(tmp_path / "frames", [f"f{index}.png" for index in range(3)])
    for path in (tmp_path / "frames").iterdir():  # frames of one size
        Image.fromarray(np.full((24, 32), 100, np.uint8)).save(path)
    colorize_stream(Colorizer(model_path, device="cpu"), FolderReader(tmp_path / "frames", 10), lambda f, rgb: None,
                    batch_size=2, source=tmp_path / "frames")
    for hook in ("video_prepare", "video_process_ab", "preprocess_image", "postprocess_image"):
        frames = [(c.frame, c.index, c.input) for h, c in recorder.seen if h == hook]
        assert frames == [(i, i, str(tmp_path / "frames")) for i in range(3)], hook


def test_a_context_is_read_only():
    context = ImageContext.of({"saturation": 1.5}, input=Path("/x/a.png"), index=3)
    assert context.input == "/x/a.png" and context.settings["saturation"] == 1.5
    with pytest.raises(AttributeError):
        context.index = 4  # type: ignore[misc]
