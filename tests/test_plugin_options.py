"""#14: plugins declare the options they read; --option is checked against them before a run."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.errors import OptionError
from colorfuse.plugins import hookimpl
from colorfuse.plugins.manager import get_plugin_manager
from colorfuse.engine.options import declared_options, validate_options


@pytest.fixture
def sharpen_plugin():
    class Sharpen:
        @hookimpl
        def declare_options(self, declare):
            declare("sharpen_amount", float, 0.0, "How much to sharpen.")
            declare("sharpen_mode", ("soft", "hard"), "soft", "Kernel.")
            declare("sharpen_radius", int, 2, "Kernel radius (px).", min=1, max=9)

    get_plugin_manager().register(Sharpen(), name="sharpen")
    yield
    get_plugin_manager().unregister(name="sharpen")


def test_built_in_and_engine_options_are_declared():
    declared = declared_options()
    expected = {"saturation", "chroma_upsample", "quality", "max_pixels", "tile", "tile_overlap", "temporal_global",
                "temporal_flow", "temporal_global_mode", "temporal_global_rate", "flow_alpha", "flow_fb_tolerance",
                "flow_lum_sigma", "flow_side"}
    assert expected <= set(declared)
    assert declared["tile"].plugin == "colorfuse" and declared["saturation"].plugin == "colorfuse.plugins.saturation"
    assert all(spec.help for spec in declared.values())


def test_values_are_converted_to_the_declared_type(sharpen_plugin):
    assert validate_options({"sharpen_amount": 2, "sharpen_mode": "hard", "temporal_flow": "off", "tile": 0}) == {
        "sharpen_amount": 2.0, "sharpen_mode": "hard", "temporal_flow": False, "tile": 0}
    with pytest.raises(OptionError, match=r"sharpen_mode='round': expected soft\|hard \(declared by 'sharpen'\)"):
        validate_options({"sharpen_mode": "round"})
    with pytest.raises(OptionError, match="flow_side='wide': expected int"):
        validate_options({"flow_side": "wide"})


def test_a_value_outside_the_declared_range_is_refused_before_the_run(sharpen_plugin, tmp_path):
    assert validate_options({"sharpen_radius": 9, "quality": 1}) == {"sharpen_radius": 9, "quality": 1}
    with pytest.raises(OptionError, match=r"sharpen_radius=0: expected int in \[1, 9\] \(declared by 'sharpen'\)"):
        validate_options({"sharpen_radius": 0})
    with pytest.raises(OptionError, match=r"quality=101: expected int in \[1, 100\]"):
        validate_options({"quality": 101})
    with pytest.raises(OptionError, match=r"flow_side=4: expected int in \[16, inf\]"):
        validate_options({"flow_side": 4})
    with pytest.raises(TypeError, match="only int and float options take a range"):
        from colorfuse.plugins.options import collect_options

        collect_options(lambda declare: declare("mode", str, "a", "A mode.", min=1))
    source = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(source)
    result = CliRunner().invoke(cli, ["colorize", str(source), "--out", str(tmp_path / "out"), "--model", "tiny",
                                      "--option", "sharpen_radius=12"])
    assert result.exit_code != 0 and not (tmp_path / "out").exists()
    assert "sharpen_radius=12: expected int in [1, 9]" in result.output


def test_a_misspelt_option_stops_the_run_before_it_starts_with_a_suggestion(tmp_path):
    source = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(source)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["colorize", str(source), "--out", str(out), "--model", "no-such-model",
                                      "--option", "satruation=0.5"])
    assert result.exit_code == 1 and not out.exists()
    assert "--option satruation: no plugin declares this option; did you mean 'saturation'?" in result.output


def test_plugins_options_lists_declared_options(sharpen_plugin):
    result = CliRunner().invoke(cli, ["plugins", "--options", "--json"])
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["sharpen_mode"] == {"name": "sharpen_mode", "type": "soft|hard", "default": "soft",
                                    "help": "Kernel.", "plugin": "sharpen", "flag": None}
    text = CliRunner().invoke(cli, ["plugins"]).output
    assert "sharpen  (entry point)\n    declare_options\n    options: sharpen_amount, sharpen_mode, sharpen_radius\n" in text
    assert "flow_alpha=float in [0, inf] (default 0.95; colorfuse.plugins.temporal)" in \
        CliRunner().invoke(cli, ["plugins", "--options"]).output
