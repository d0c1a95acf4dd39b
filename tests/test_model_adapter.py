"""#14: a plugin provides a foreign-convention model (NHWC RGB in 0..1 at a fixed 32x32) through provide_model.

The plugin is ``tests/plugin_packages/colorfuse_foreign.py``; here it is registered directly, and once
through its entry point in a fresh process.

Covers engine/adapter.py (a plugin-provided model, run by its plugin).
"""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine.card import ModelCard, TensorSpec
from colorfuse.engine.colorizer import Colorizer
from colorfuse.errors import ModelCardError, OptionError
from colorfuse.plugins import hookimpl
from colorfuse.plugins.manager import get_plugin_manager
from tests.plugin_packages.colorfuse_foreign import ForeignModel

PACKAGES = Path(__file__).resolve().parent / "plugin_packages"


@pytest.fixture
def foreign():
    provided = []

    class Provider:
        @hookimpl
        def provide_model(self, name, device, threads):
            if name != "foreign-nhwc":
                return None
            provided.append(ForeignModel(device, threads))
            return provided[-1]

        @hookimpl
        def list_provided_models(self):
            return ["foreign-nhwc"]

    get_plugin_manager().register(Provider(), name="foreign-provider")
    yield provided
    get_plugin_manager().unregister(name="foreign-provider")


def test_a_provided_model_colorizes_through_the_api(foreign):
    colorizer = Colorizer("foreign-nhwc", device="cpu", threads=1, batch_size=4)
    images = [np.full(shape, 200, np.uint8) for shape in [(20, 30), (20, 30), (64, 40), (7, 9)]]
    results = colorizer.colorize_batch(images)
    assert [r.shape[:2] for r in results] == [(20, 30), (20, 30), (64, 40), (7, 9)]
    assert foreign[0].threads == 1 and colorizer.device == "cpu" and colorizer.model_path is None
    assert sorted(foreign[0].calls) == sorted([(2, 20, 30), (1, 48, 30), (1, 7, 9)])  # batched by shape
    red = results[0].astype(int)  # bright gray: a = 0.4 * 0.78 - 0.2 > 0, b < 0: reddish-blue
    assert red[..., 0].mean() > red[..., 1].mean()


def test_a_provided_model_tiles(foreign):
    colorizer = Colorizer("foreign-nhwc", device="cpu", max_side=0, options={"tile": 32, "tile_overlap": 8})
    assert colorizer.colorize(np.full((50, 70), 120, np.uint8)).shape == (50, 70, 3)
    assert len(foreign[0].calls) > 1


def test_a_provided_model_colorizes_through_the_cli(foreign, tmp_path):
    for name, size in (("a.png", (30, 20)), ("b.png", (90, 60))):
        (tmp_path / "in").mkdir(exist_ok=True)
        Image.fromarray(np.full(size[::-1], 150, np.uint8)).save(tmp_path / "in" / name)
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                      "--model", "foreign-nhwc", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "b.png").size == (90, 60)


def test_models_list_and_info_show_a_provided_model_with_its_plugin(foreign):
    listing = CliRunner().invoke(cli, ["models", "list"])
    assert listing.exit_code == 0, listing.output
    line = next(line for line in listing.output.splitlines() if "foreign-nhwc" in line)
    assert "foreign" in line and "provided by plugin foreign-provider" in line
    rows = {row["name"]: row for row in json.loads(CliRunner().invoke(cli, ["models", "list", "--json"]).output)}
    assert rows["foreign-nhwc"]["architecture"] == "foreign" and rows["foreign-nhwc"]["size_mb"] is None
    info = CliRunner().invoke(cli, ["models", "info", "foreign-nhwc"])
    assert info.exit_code == 0, info.output
    assert "foreign-nhwc 1: foreign" in info.output and "provided by plugin foreign-provider" in info.output
    assert "no file" in info.output
    card = CliRunner().invoke(cli, ["models", "info", "foreign-nhwc", "--json"])
    assert '"name": "foreign-nhwc"' in card.output


def test_an_unknown_model_name_lists_the_provided_ones(foreign):
    result = CliRunner().invoke(cli, ["models", "info", "no-such-model"])
    assert result.exit_code != 0
    assert "unknown model 'no-such-model'" in result.output and "foreign-nhwc" in result.output


@pytest.mark.parametrize("keyword, value", [("precision", "int8"), ("precision", "fp32"), ("runtime", "openvino")])
def test_a_precision_or_runtime_a_provided_model_cannot_take_is_an_error(foreign, keyword, value):
    with pytest.raises(OptionError, match=f"--{keyword} {value} would be ignored: model 'foreign-nhwc' is provided"):
        Colorizer("foreign-nhwc", device="cpu", **{keyword: value})


def test_a_provided_model_with_a_bad_card_is_refused(foreign, monkeypatch):
    monkeypatch.setattr(ForeignModel, "card", ModelCard(name="x", architecture="y", version="1",
                                                        inputs=[TensorSpec("L")], l_scale=0))
    with pytest.raises(ModelCardError, match="model 'foreign-nhwc': invalid model card: l_scale and ab_scale"):
        Colorizer("foreign-nhwc", device="cpu")


def test_a_provided_model_colorizes_video_frames(foreign, tmp_path):
    from colorfuse.engine.video.pipeline import colorize_stream
    from colorfuse.engine.video.reader import FolderReader

    for index in range(4):
        Image.fromarray(np.full((24, 40), 60 + 30 * index, np.uint8)).save(tmp_path / f"f{index}.png")
    outputs = []
    stats = colorize_stream(Colorizer("foreign-nhwc", device="cpu"), FolderReader(tmp_path, 10),
                            lambda frame, rgb: outputs.append(rgb.shape), batch_size=2)
    assert stats.frames == 4 and outputs == [(24, 40, 3)] * 4


def test_the_installed_plugin_package_colorizes_through_the_cli(tmp_path):
    for name, size in (("a.png", (30, 20)), ("b.jpg", (50, 70))):
        (tmp_path / "in").mkdir(exist_ok=True)
        Image.fromarray(np.full(size[::-1], 150, np.uint8)).save(tmp_path / "in" / name)
    env = {"PYTHONPATH": str(PACKAGES), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "colorfuse", "colorize", "--quiet", str(tmp_path / "in"),
                             "--out", str(tmp_path / "out"), "--model", "foreign-nhwc"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out" / "a.png").size == (30, 20)
    assert Image.open(tmp_path / "out" / "b.jpg").size == (50, 70)
    listing = subprocess.run([sys.executable, "-m", "colorfuse", "models", "list"], capture_output=True, text=True,
                             env=env)
    assert listing.returncode == 0 and "provided by plugin foreign" in listing.stdout, listing.stderr


class MinimalModel:
    """A provided model with the least card the README allows, answering in float16 at half size."""

    card = ModelCard(name="minimal", architecture="half-size", version="1")

    def __init__(self):
        self.device, self.feeds = "cpu", []

    def run(self, output_names, feeds):
        l_feed = feeds["L"]
        self.feeds.append((l_feed.dtype, l_feed.flags.c_contiguous, l_feed.shape))
        n, _, h, w = l_feed.shape
        return [np.full((n, 2, max(1, h // 2), max(1, w // 2)), 0.1, np.float16)]


def test_a_minimal_card_and_a_float16_half_size_answer_are_enough(register):
    model = MinimalModel()

    class Provider:
        @hookimpl
        def provide_model(self, name, device, threads):
            return model if name == "minimal" else None

    register(Provider(), "minimal-provider")
    colorizer = Colorizer("minimal", device="cpu", batch_size=2)
    results = colorizer.colorize_batch([np.full((30, 40), 120, np.uint8)] * 3)
    assert [r.shape for r in results] == [(30, 40, 3)] * 3
    assert colorizer.max_side == 512 and model.card.card_version >= 3 and model.card.weights_sha256 == ""
    assert model.feeds == [(np.float32, True, (2, 1, 30, 40)), (np.float32, True, (1, 1, 30, 40))]
    lab = cv2.cvtColor(results[0].astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    assert lab[..., 1].mean() == pytest.approx(11.0, abs=1.5)  # 0.1 x ab_scale 110, through float16 and upsampling
