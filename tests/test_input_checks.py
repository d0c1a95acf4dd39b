"""No silent wrong results: float ranges, options nothing applies, colour inputs, keywords, a shadowing checkout;
and the tests' own cache."""

import os
import re
import shlex
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine.colorizer import Colorizer, ColourInputWarning
from colorfuse.errors import OptionError
from colorfuse.plugins.manager import get_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
SATURATION = "colorfuse.plugins.saturation"


@pytest.fixture
def saturation_off():
    """The saturation plugin switched off for one test (registered again afterwards)."""
    manager = get_plugin_manager()
    plugin = manager.unregister(name=SATURATION)
    yield
    manager.register(plugin, name=SATURATION)


def _gray(height=24, width=32):
    return np.tile(np.linspace(0, 255, width, dtype=np.float64), (height, 1))


def test_float_images_outside_0_1_are_refused_with_the_fix(model_path):
    colorizer = Colorizer(model_path)
    with pytest.raises(ValueError, match=r"0\.\.1.*spans 0\.\.255.*divide by 255"):
        colorizer.colorize(_gray())
    with pytest.raises(ValueError, match=r"spans -3\.\.2.*rescale"):
        colorizer.colorize(np.linspace(-3, 2, 64).reshape(8, 8))
    assert colorizer.colorize(_gray() / 255.0).shape == (24, 32, 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_images_with_nan_or_infinity_are_refused(model_path, bad):
    image = _gray() / 255.0
    image[3, 4] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        Colorizer(model_path).colorize(image)


@pytest.mark.parametrize("saturation", [np.nan, np.inf, -1.0])
def test_saturation_that_is_not_a_finite_factor_is_refused_in_the_api(model_path, saturation):
    """#23.10: Colorizer(saturation=nan) wrote all-white pictures, inf garbage, without a word."""
    from colorfuse.errors import PluginError

    with pytest.raises(PluginError, match="saturation must be a finite number >= 0"):
        Colorizer(model_path, saturation=saturation).colorize(_gray() / 255.0)


def test_saturation_nothing_applies_is_an_error(model_path, saturation_off):
    with pytest.raises(OptionError, match=r"saturation=0.*--saturation.*no enabled plugin applies it"):
        Colorizer(model_path, saturation=0)
    assert Colorizer(model_path, saturation=1.0).options["saturation"] == 1.0  # the default asks for nothing


def test_cli_saturation_with_its_plugin_disabled_fails_before_any_work(tmp_path, model_path, saturation_off):
    Image.new("L", (20, 16), 90).save(tmp_path / "a.png")
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path), "--saturation", "0"])
    assert result.exit_code == 2  # #22: a plugin's flag exists only while the plugin is enabled
    assert "No such option '--saturation'" in result.output
    assert not (tmp_path / "out").exists()


def test_cli_names_the_disabled_plugin_whose_flag_was_given(tmp_path, model_path):
    Image.new("L", (20, 16), 90).save(tmp_path / "a.png")
    result = subprocess.run([sys.executable, "-m", "colorfuse", "--disable-plugin", "saturation", "colorize", "--quiet",
                             str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--model", str(model_path),
                             "--saturation", "0"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "disabled plugins, whose flags are gone: colorfuse.plugins.saturation" in result.stderr
    assert not (tmp_path / "out").exists()


def test_colorizer_takes_the_cli_options_as_keywords(model_path, photo):
    gray = Colorizer(model_path, saturation=0).colorize(photo).astype(int)
    assert np.abs(gray - gray[:, :, :1]).max() <= 1  # saturation 0: no colour
    colorizer = Colorizer(model_path, chroma_upsample="bilinear", max_pixels=1000, tile=256, tile_overlap=32)
    assert {key: colorizer.options[key] for key in ("chroma_upsample", "max_pixels", "tile", "tile_overlap")} == \
        {"chroma_upsample": "bilinear", "max_pixels": 1000, "tile": 256, "tile_overlap": 32}
    assert Colorizer(model_path, options={"saturation": 2.0}, saturation=0.5).options["saturation"] == 0.5


def test_colour_inputs_are_warned_in_the_api(model_path, photo):
    colorizer = Colorizer(model_path)
    gray_as_rgb = np.repeat(photo[:, :, :1], 3, axis=2)
    with pytest.warns(ColourInputWarning, match="1 of 2 inputs was already in colour"):
        colorizer.colorize_batch([photo, gray_as_rgb])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        colorizer.colorize(gray_as_rgb)
    assert colorizer.colour_inputs == 1


def test_colour_inputs_are_warned_once_per_run_with_the_count(tmp_path, model_path, photo):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a", "b"):
        Image.fromarray(photo).save(src / f"{name}.png")
    Image.fromarray(photo[:, :, 0]).convert("RGB").save(src / "gray.png")
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(src), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "already in colour" in line]
    assert lines == ["warning: 2 of 3 inputs were already in colour: colorize keeps only their lightness and "
                     "replaces their colours"]


def _readme_clone_install() -> list[str]:
    """The options of the README's install from a clone (`pip install -e '.[...]' ...`)."""
    line = re.search(r"^pip install (-e '\.\[[^]]+\]'[^#\n]*)", (ROOT / "README.md").read_text(), re.M).group(1)
    return shlex.split(line)


@pytest.mark.slow
def test_a_checkout_named_like_the_package_does_not_shadow_it(tmp_path):
    """Installed as the README says, the package imports from the folder above a clone called colorfuse."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # numpy, setuptools, ...
    options = [arg.replace(".[", f"{ROOT}[", 1) if arg.startswith(".[") else arg for arg in _readme_clone_install()]
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
                    "--no-build-isolation", "--no-cache-dir", *options], cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    (tmp_path / "colorfuse").symlink_to(ROOT, target_is_directory=True)
    script = tmp_path / "script.py"
    script.write_text("from colorfuse import Colorizer\nprint(Colorizer.__module__)\n")
    result = subprocess.run([python, str(script)], cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "colorfuse.engine.colorizer"


def test_tests_keep_colorfuses_cache_out_of_the_users_home():
    from colorfuse.engine.precision import _cache_path

    home_cache = os.path.join(os.path.expanduser("~"), ".cache")
    assert os.environ.get("COLORFUSE_CACHE_DIR")  # the commands tests start inherit it
    assert not str(_cache_path()).startswith(home_cache)
