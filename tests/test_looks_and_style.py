"""Looks (named mixes of a model's ab outputs) and style images (another image's global view)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine.card import ModelCard, read_card
from colorfuse.engine.colorizer import Colorizer
from colorfuse.errors import ColorfuseError, ModelCardError
from tests.modelfactory import make_model
from tests.test_card import _rewrite_card

pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def global_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("style") / "global.onnx"
    make_model(path, global_size=16)
    return path


def _gray(seed=0, shape=(40, 56)):
    return (np.random.default_rng(seed).random(shape) * 200 + 20).astype(np.uint8)


def _model_ab(colorizer, image):
    item = colorizer.prepare(image)
    colorizer.predict([item])
    return item.ab


def test_card_lists_looks_and_default(vivid_model):
    card = read_card(vivid_model)
    assert card.card_version == 3 and [o.name for o in card.outputs] == ["ab", "ab_vivid"]
    assert card.default_look == "natural" and set(card.looks) == {"natural", "vivid", "blend"}
    assert ModelCard.from_json(card.to_json()) == card


def test_each_look_mixes_the_outputs(vivid_model):
    image = _gray()
    natural = _model_ab(Colorizer(vivid_model, device="cpu"), image)
    default = Colorizer(vivid_model, device="cpu")
    assert default.look_name == "natural"
    vivid = _model_ab(Colorizer(vivid_model, device="cpu", look="vivid"), image)
    blend = _model_ab(Colorizer(vivid_model, device="cpu", look="blend"), image)
    assert np.abs(natural).max() > 0.05
    np.testing.assert_allclose(vivid, 2 * natural, atol=1e-6)
    np.testing.assert_allclose(blend, 1.5 * (0.5 * natural + 0.25 * vivid), atol=1e-6)
    rgb_natural = Colorizer(vivid_model, device="cpu").colorize(image)
    rgb_vivid = Colorizer(vivid_model, device="cpu", look="vivid").colorize(image)
    chroma = lambda rgb: np.ptp(rgb.astype(int), axis=2).mean()  # noqa: E731
    assert chroma(rgb_vivid) > chroma(rgb_natural)


def test_unknown_look_names_the_known_ones(vivid_model, model_path):
    with pytest.raises(ModelCardError, match="no look 'sepia'.*blend, natural, vivid"):
        Colorizer(vivid_model, device="cpu", look="sepia")
    with pytest.raises(ModelCardError, match="no look 'vivid'.*one look"):
        Colorizer(model_path, device="cpu", look="vivid")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["looks"]["vivid"].update(mix={"ab_missing": 1.0}), "look 'vivid' must mix outputs"),
        (lambda d: d["looks"]["vivid"].update(scale=0), "scale must be positive"),
        (lambda d: d.update(default_look="sepia"), "default_look 'sepia'"),
        (lambda d: d["outputs"][1].update(role="L"), "at least one output with role 'ab'"),
    ],
)
def test_invalid_looks_are_refused(vivid_model, tmp_path, mutate, message):
    path = tmp_path / "bad.onnx"
    path.write_bytes(vivid_model.read_bytes())
    _rewrite_card(path, mutate)
    with pytest.raises(ModelCardError, match=message):
        read_card(path)


def test_version_1_cards_still_load(model_path, tmp_path):
    path = tmp_path / "v1.onnx"
    path.write_bytes(model_path.read_bytes())

    def as_version_1(data):
        del data["looks"], data["default_look"], data["weights_precision"]
        data["card_version"] = 1

    _rewrite_card(path, as_version_1)
    colorizer = Colorizer(path, device="cpu")
    assert colorizer.look_name == "default" and colorizer.colorize(_gray()).shape == (40, 56, 3)


def test_style_image_replaces_every_global_view(global_model):
    image, dark, bright = _gray(1), np.full((30, 30), 20, np.uint8), np.full((50, 20), 235, np.uint8)
    own = _model_ab(Colorizer(global_model, device="cpu"), image)
    styled_dark = Colorizer(global_model, device="cpu", style=dark)
    styled_bright = Colorizer(global_model, device="cpu", style=bright)
    ab_dark, ab_bright = _model_ab(styled_dark, image), _model_ab(styled_bright, image)
    # the test graph adds the global view's mean to the local prediction
    assert ab_bright.mean() > own.mean() > ab_dark.mean()
    other = _gray(7, (64, 64))
    item = styled_dark.prepare(other)
    np.testing.assert_array_equal(item.global_view, styled_dark.style_view)
    # a tiled full-resolution run uses the style view too
    tiled = Colorizer(global_model, device="cpu", max_side=0, style=dark, options={"tile": 32, "tile_overlap": 8})
    assert tiled.colorize(other).shape == (64, 64, 3)


def test_style_from_a_file_equals_style_from_its_pixels(global_model, tmp_path):
    reference = _gray(3, (48, 80))
    path = tmp_path / "ref.png"
    Image.fromarray(reference).save(path)
    from_file = Colorizer(global_model, device="cpu", style=path).style_view
    from_array = Colorizer(global_model, device="cpu", style=reference).style_view
    np.testing.assert_array_equal(from_file, from_array)


def test_style_needs_a_global_input(model_path):
    with pytest.raises(ColorfuseError, match="no global input, so it cannot take a style image"):
        Colorizer(model_path, device="cpu", style=_gray())


def test_cli_look_and_style(vivid_model, global_model, model_path, tmp_path):
    photos = tmp_path / "in"
    photos.mkdir()
    Image.fromarray(_gray(5)).save(photos / "a.png")
    Image.fromarray(np.full((20, 20), 230, np.uint8)).save(tmp_path / "style.png")
    runner = CliRunner()
    result = runner.invoke(cli, ["colorize", str(photos), "--out", str(tmp_path / "o1"), "--model", str(vivid_model),
                                 "--look", "vivid", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "(vivid look)" in result.output and (tmp_path / "o1" / "a.png").exists()
    result = runner.invoke(cli, ["colorize", str(photos), "--out", str(tmp_path / "o2"), "--model", str(global_model),
                                 "--style", str(tmp_path / "style.png"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "with a style image" in result.output
    result = runner.invoke(cli, ["colorize", str(photos), "--out", str(tmp_path / "o3"), "--model", str(model_path),
                                 "--style", str(tmp_path / "style.png"), "--quiet"])
    assert result.exit_code != 0 and "cannot take a style image" in result.output
    assert not (tmp_path / "o3" / "a.png").exists()


def test_compare_writes_one_column_per_model_look_and_style(vivid_model, global_model, tmp_path):
    photos = tmp_path / "in"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(_gray(i, (30 + 10 * i, 40))).save(photos / f"p{i}.png")
    (photos / "broken.png").write_bytes(b"not a png")
    Image.fromarray(np.full((20, 20), 230, np.uint8)).save(tmp_path / "bright.png")
    out = tmp_path / "grid.png"
    result = CliRunner().invoke(cli, ["compare", str(photos), "--out", str(out), "--model", str(vivid_model),
                                      "--model", f"{vivid_model}@vivid", "--model", str(global_model),
                                      "--style", str(tmp_path / "bright.png"), "--cell", "64"])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "broken.png" in result.output
    assert "3 photo(s) x 6 column(s)" in result.output  # 3 models, each with a global input and one style
    grid = np.asarray(Image.open(out))
    assert grid.shape[1] == 6 + 7 * (64 + 6) and grid.shape[0] > 3 * 64


def test_models_info_describes_looks_and_json_gives_the_card(vivid_model, model_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["models", "info", str(vivid_model)])
    assert result.exit_code == 0, result.output
    assert "look natural (default): 1 x (1 ab)" in result.output
    assert "look blend: 1.5 x (0.5 ab + 0.25 ab_vivid)" in result.output
    assert "16 px view of the whole image (--style works)" in result.output
    plain = runner.invoke(cli, ["models", "info", str(model_path)])
    assert plain.exit_code == 0 and "global input: none (--style does not apply)" in plain.output
    raw = runner.invoke(cli, ["models", "info", str(vivid_model), "--json"])
    assert json.loads(raw.output)["default_look"] == "natural"


def test_compare_titles_a_renamed_file_by_its_name_and_its_card():
    from types import SimpleNamespace

    from colorfuse.commands.compare import column_title

    colorizer = SimpleNamespace(card=SimpleNamespace(name="effnet-hints-lite0", looks={"natural": 1}),
                                look_name="natural")
    assert column_title("runs/before.onnx", colorizer) == "before (effnet-hints-lite0) natural"
    assert column_title("exports/effnet-hints-lite0.onnx", colorizer) == "effnet-hints-lite0 natural"
    assert column_title("effnet-hints-lite0", colorizer) == "effnet-hints-lite0 natural"
