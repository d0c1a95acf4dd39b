"""Model cards: round trip, validation, and refusal of files without or against their card.

Covers train/onnx_card.py (the card written into the ONNX file at export).
"""

import json

import pytest

from colorfuse.engine.card import CARD_KEY, CARD_VERSION, ModelCard, read_card
from colorfuse.engine.colorizer import Colorizer
from colorfuse.errors import ModelCardError
from colorfuse.engine.onnxfile import OnnxFormatError, parse_onnx
from tests.modelfactory import make_model

onnx = pytest.importorskip("onnx")


def _rewrite_card(path, mutate):
    model = onnx.load(path)
    entry = next(p for p in model.metadata_props if p.key == CARD_KEY)
    data = json.loads(entry.value)
    mutate(data)
    entry.value = json.dumps(data)
    onnx.save(model, path)


def test_card_round_trip(model_path):
    card = read_card(model_path)
    again = ModelCard.from_json(card.to_json())
    assert again == card
    assert card.card_version == CARD_VERSION and len(card.weights_sha256) == 64


def test_card_is_json_not_python(model_path):
    text = parse_onnx(model_path.read_bytes()).metadata[CARD_KEY]
    assert json.loads(text)["name"] == "test"


def test_file_without_card_is_refused(tmp_path):
    path = tmp_path / "nocard.onnx"
    make_model(path, card_overrides={"_skip_validate": True})
    with pytest.raises(ModelCardError, match="no colorfuse model card"):
        read_card(path)


def test_not_an_onnx_file_is_refused(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\xff\xff\xff\xff not protobuf")
    with pytest.raises(ModelCardError, match="not an ONNX model"):
        read_card(path)
    with pytest.raises(OnnxFormatError):
        parse_onnx(b"\x0a\xff")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(card_version=99), "unsupported model card version"),
        (lambda d: d.update(size_multiple=0), "size_multiple"),
        (lambda d: d.update(surprise=1), "unknown model card fields"),
        (lambda d: d.update(global_input_size=224), "L_global"),
        (lambda d: d.update(weights_sha256="0" * 64), "does not match the graph"),
    ],
)
def test_invalid_or_contradicted_card_is_refused(tmp_path, mutate, message):
    path = tmp_path / "model.onnx"
    make_model(path)
    _rewrite_card(path, mutate)
    with pytest.raises(ModelCardError, match=message):
        read_card(path)


def test_card_naming_inputs_the_graph_lacks_is_refused(tmp_path):
    path = tmp_path / "model.onnx"
    make_model(path)
    _rewrite_card(path, lambda d: d["inputs"][0].update(name="gray"))
    with pytest.raises(ModelCardError, match="card inputs"):
        Colorizer(path, device="cpu")
