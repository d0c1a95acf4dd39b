"""engine/settings.py and commands/run_options.py: one RunSettings that the CLI, the API, video, Ray and the
web page build; plugin-declared flags; the sectioned --help (#22, "Run settings in one place")."""

import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from colorfuse.cli import cli
from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.settings import RunSettings


def test_settings_are_read_only_and_replace_makes_another():
    settings = RunSettings("tiny", max_side=64, options={"saturation": 0.5})
    with pytest.raises(AttributeError):
        settings.max_side = 32
    with pytest.raises(TypeError):
        settings.options["saturation"] = 2.0
    other = settings.replace(look="vivid", option_changes={"quality": 80})
    assert (other.look, dict(other.options)) == ("vivid", {"saturation": 0.5, "quality": 80})
    assert settings.look is None and dict(settings.options) == {"saturation": 0.5}


def test_settings_pickle_as_ray_sends_them_to_its_workers():
    settings = RunSettings("tiny", style=np.zeros((4, 4), np.uint8), options={"saturation": 0.5})
    again = pickle.loads(pickle.dumps(settings))
    assert again == settings and dict(again.options) == {"saturation": 0.5} and again.style.shape == (4, 4)
    with pytest.raises(TypeError):
        again.options["saturation"] = 1.0


def test_a_colorizer_from_settings_equals_one_from_keywords(model_path, photo):
    settings = RunSettings(model_path, device="cpu", max_side=32, batch_size=2, options={"saturation": 0.5})
    made = settings.colorizer()
    assert made.settings.max_side == 32 and made.settings.options["saturation"] == 0.5
    keywords = Colorizer(model_path, device="cpu", max_side=32, batch_size=2, saturation=0.5)
    assert np.array_equal(made.colorize(photo), keywords.colorize(photo))


def test_colorize_and_video_declare_the_run_options_once():
    from colorfuse.commands import colorize, video

    def options_of(command):
        return {param.name: param for param in command.params}

    shared = {"model", "device", "max_side", "batch_size", "look", "style", "style_strength", "precision", "runtime",
              "extra"}
    image, clip = options_of(colorize.command), options_of(video.command)
    assert shared <= set(image) and shared <= set(clip)
    def declared(option):
        return option.opts, option.help, option.default, repr(option.type)

    assert all(declared(image[name]) == declared(clip[name]) for name in shared)  # one declaration, run_options


def test_plugin_flags_come_from_declarations_and_land_in_the_settings(tmp_path, model_path, monkeypatch):
    from PIL import Image

    from colorfuse.commands import colorize

    seen = {}
    real = Colorizer.from_settings
    monkeypatch.setattr(Colorizer, "from_settings", classmethod(lambda cls, s: seen.setdefault("s", s) and real(s)))
    Image.new("L", (20, 16), 90).save(tmp_path / "a.png")
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path), "--saturation", "0.5", "--quality", "80",
                                      "--option", "quality=70"])
    assert result.exit_code == 0, result.output
    assert seen["s"].options["saturation"] == 0.5 and seen["s"].options["quality"] == 70  # --option wins
    flags = {spec.name for spec, _ in colorize.command.plugin_flags()}
    assert {"saturation", "chroma_upsample", "quality", "max_pixels"} <= flags


def test_a_plugin_flag_is_checked_as_declared(tmp_path, model_path):
    result = CliRunner().invoke(cli, ["colorize", str(tmp_path), "--out", str(tmp_path / "o"), "--quality", "101"])
    assert result.exit_code == 2 and "expected int in [1, 100]" in result.output
    result = CliRunner().invoke(cli, ["video", str(tmp_path / "c.mp4"), "--out", str(tmp_path / "o.mp4"),
                                      "--chroma-upsample", "nearest"])
    assert result.exit_code == 2 and "expected guided|bilinear" in result.output


def test_help_lists_options_in_sections_and_each_plugins_flags_under_its_name():
    text = CliRunner().invoke(cli, ["colorize", "--help"]).output
    titles = ["Model:", "Colour:", "Output:", "Cluster mode (--ray):", "Plugins:", "Plugin colorfuse.plugins.saturation:"]
    assert all(title in text for title in titles)
    assert [text.index(title) for title in titles] == sorted(text.index(title) for title in titles)
    assert text.index("--saturation") > text.index("Plugin colorfuse.plugins.saturation:")
    video_help = CliRunner().invoke(cli, ["video", "--help"]).output
    assert "Temporal consistency:" in video_help and "Encoding:" in video_help and "--saturation" in video_help


def test_the_web_page_builds_the_same_settings():
    from colorfuse.plugins.builtin.web.settings import Settings

    page = Settings("tiny", device="cpu", look="vivid", saturation=1.5, max_side=96)
    settings = page.run_settings(max_pixels=10_000)
    assert (settings.model, settings.device, settings.look, settings.max_side, settings.batch_size) == \
        ("tiny", "cpu", "vivid", 96, 1)
    assert dict(settings.options) == {"saturation": 1.5, "max_pixels": 10_000}


def test_plugins_options_says_which_options_are_flags():
    import json

    rows = {row["name"]: row for row in json.loads(CliRunner().invoke(cli, ["plugins", "--options", "--json"]).output)}
    assert rows["saturation"]["flag"] == "--saturation" and rows["flow_alpha"]["flag"] is None
    assert "also --chroma-upsample of colorize and video" in CliRunner().invoke(cli, ["plugins", "--options"]).output
