"""#14: `colorfuse models card` writes a card into an ONNX file that has none, the hash computed for the user.

Covers engine/cardwriter.py and engine/card_summary.py (`models card`, `models info`).
"""

import json

import numpy as np
from click.testing import CliRunner

from colorfuse.cli import cli
from colorfuse.engine.card import read_card
from colorfuse.engine.colorizer import Colorizer
from tests.modelfactory import make_model

CARD = {"name": "foreign", "architecture": "conv", "version": "1.0", "inputs": [{"name": "L"}],
        "outputs": [{"name": "ab", "role": "ab"}], "default_max_side": 32}


def _bare_model(tmp_path):
    path = tmp_path / "foreign.onnx"
    make_model(path, card_overrides={"_skip_validate": True})
    return path


def _card_file(tmp_path, card):
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card))
    return path


def test_models_card_writes_a_card_with_the_hash(tmp_path):
    model = _bare_model(tmp_path)
    info = CliRunner().invoke(cli, ["models", "info", str(model)])
    assert info.exit_code == 1 and "no colorfuse model card" in info.output
    assert f"colorfuse models card {model} --from CARD.json" in info.output
    result = CliRunner().invoke(cli, ["models", "card", str(model), "--from", str(_card_file(tmp_path, CARD))])
    assert result.exit_code == 0, result.output
    card = read_card(model)
    assert card.name == "foreign" and len(card.weights_sha256) == 64
    image = np.random.default_rng(0).integers(0, 255, (20, 30), np.uint8)
    assert Colorizer(model, device="cpu").colorize(image).shape == (20, 30, 3)


def test_models_card_explains_a_card_that_does_not_fit(tmp_path):
    model = _bare_model(tmp_path)
    wrong = {**CARD, "inputs": [{"name": "gray"}], "size_multiple": 0}
    result = CliRunner().invoke(cli, ["models", "card", str(model), "--from", str(_card_file(tmp_path, wrong))])
    assert result.exit_code == 1 and "invalid model card: size_multiple must be >= 1" in result.output
    fixed = {**wrong, "size_multiple": 1}
    result = CliRunner().invoke(cli, ["models", "card", str(model), "--from", str(_card_file(tmp_path, fixed))])
    assert result.exit_code == 1 and "card inputs ['gray'] but the graph has ['L']" in result.output
    assert "colorfuse.card" not in model.read_bytes().decode("latin-1")


def test_models_card_out_writes_a_copy(tmp_path):
    model = _bare_model(tmp_path)
    before = model.read_bytes()
    out = tmp_path / "carded.onnx"
    result = CliRunner().invoke(cli, ["models", "card", str(model), "--from", str(_card_file(tmp_path, CARD)),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert model.read_bytes() == before and read_card(out).name == "foreign"


def _identity_model(path, shape):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["L"], ["ab"])], "rgb",
                              [helper.make_tensor_value_info("L", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("ab", TensorProto.FLOAT, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def test_models_card_refuses_a_card_that_contradicts_the_graphs_shapes(tmp_path):
    model = tmp_path / "global.onnx"
    make_model(model, global_size=32, card_overrides={"_skip_validate": True})
    card = {**CARD, "inputs": [{"name": "L"}, {"name": "L_global", "role": "L_global"}], "global_input_size": 64,
            "outputs": [{"name": "ab", "role": "ab"}]}
    result = CliRunner().invoke(cli, ["models", "card", str(model), "--from", str(_card_file(tmp_path, card))])
    assert result.exit_code == 1 and "global input 'L_global' is 32x32, the card says global_input_size 64" in result.output
    rgb_model = tmp_path / "rgb.onnx"
    _identity_model(rgb_model, ["N", 3, "H", "W"])
    result = CliRunner().invoke(cli, ["models", "card", str(rgb_model), "--from", str(_card_file(tmp_path, CARD))])
    assert result.exit_code == 1
    assert "'L' (L) has 3 channels, its role needs 1; 'ab' (ab) has 3 channels, its role needs 2" in result.output
    assert "colorfuse.card" not in model.read_bytes().decode("latin-1")
    fitting = {**card, "global_input_size": 32}
    result = CliRunner().invoke(cli, ["models", "card", str(model), "--from", str(_card_file(tmp_path, fitting))])
    assert result.exit_code == 0, result.output
