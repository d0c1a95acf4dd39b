"""Messages a newcomer met (#21): one line per cause, and each points somewhere that answers."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine.colorizer import Colorizer
from colorfuse.errors import ColorfuseError, ImageReadError
from colorfuse.engine.imagefiles import read_image


def test_rerunning_into_an_existing_folder_is_one_line_with_the_fix(tmp_path, model_path):
    for index in range(5):
        Image.new("L", (20, 16), 40 * index).save(tmp_path / f"p{index}.png")
    args = ["colorize", "--quiet", str(tmp_path), "--out", str(tmp_path / "out"), "--model", str(model_path)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1
    lines = [line for line in again.output.splitlines() if "already exist" in line]
    assert len(lines) == 1, again.output
    assert "and 4 more outputs" in lines[0] and "--skip-existing" in lines[0] and "--overwrite" in lines[0]


def test_the_style_error_names_the_models_that_take_one(photo):
    with pytest.raises(ColorfuseError, match=r"cannot take a style image; models that take one: .*effnet-hints-lite0"):
        Colorizer("tiny", style=photo)


def test_models_info_gives_each_looks_formula_once():
    result = CliRunner().invoke(cli, ["models", "info", "effnet-hints-lite0"])
    assert result.exit_code == 0, result.output
    looks = [line for line in result.output.splitlines() if line.startswith("  look ") and " x (" in line]
    assert len(looks) == 3 and all(line.count(" x (") == 1 for line in looks), looks  # natural, rich, vivid


def test_a_zero_byte_file_is_called_empty_and_a_text_file_not_an_image(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(ImageReadError, match=r"empty\.png: empty file \(0 bytes\)"):
        read_image(tmp_path / "empty.png", {})
    with pytest.raises(ImageReadError, match=r"notes\.png: not an image"):
        read_image(tmp_path / "notes.png", {})


def test_train_lists_the_architectures_it_takes():
    pytest.importorskip("torch")
    assert "colorfuse train --list" in CliRunner().invoke(cli, ["train", "--help"]).output
    listed = CliRunner().invoke(cli, ["train", "--list"])
    assert listed.exit_code == 0, listed.output
    names = [line.split()[0] for line in listed.output.splitlines()]
    assert {"effnet", "iizuka", "tiny", "unet"} <= set(names)
    assert np.all([len(line.split(maxsplit=1)) == 2 for line in listed.output.splitlines()])  # each says what it is
