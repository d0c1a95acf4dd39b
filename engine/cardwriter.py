"""Writing a model card into an existing ONNX file (``colorfuse models card``), the graph hash computed here."""

from __future__ import annotations

import json
from pathlib import Path

from colorfuse.engine.atomic import write_atomic
from colorfuse.engine.card import CARD_KEY, CARD_VERSION, ModelCard, read_card
from colorfuse.errors import ModelCardError
from colorfuse.engine.onnxfile import OnnxFormatError, read_onnx


def write_card(model_path, card_text: str, out_path=None) -> ModelCard:
    """Embed the card ``card_text`` (JSON, without ``weights_sha256``) in ``model_path``, or a copy at ``out_path``.

    ``card_version`` defaults to the current one. The card is validated, and checked against the
    graph's input and output names, before anything is written; the file is replaced atomically.
    """
    try:
        import onnx
    except ImportError as exc:
        raise ModelCardError("writing a model card needs the onnx package (pip install onnx)") from exc
    source, out_path = str(model_path), Path(out_path or model_path)
    try:
        data = json.loads(card_text)
        contents = read_onnx(model_path)
    except json.JSONDecodeError as exc:
        raise ModelCardError(f"card: not valid JSON ({exc})") from exc
    except OSError as exc:
        raise ModelCardError(f"{source}: cannot read model file ({exc.strerror or exc})") from exc
    except OnnxFormatError as exc:
        raise ModelCardError(f"{source}: not an ONNX model ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelCardError("card: must be a JSON object")
    data = {"card_version": CARD_VERSION, **data, "weights_sha256": contents.graph_sha256}
    card = ModelCard.from_json(json.dumps(data), source)
    proto = onnx.load(source)
    _check_names(card, proto.graph, source)
    kept = [(entry.key, entry.value) for entry in proto.metadata_props if entry.key != CARD_KEY]
    del proto.metadata_props[:]
    for key, value in [*kept, (CARD_KEY, card.to_json())]:
        proto.metadata_props.add(key=key, value=value)

    def save(temporary):
        onnx.save(proto, temporary)
        read_card(temporary)  # the graph hash survived re-serialisation

    write_atomic(out_path, save)
    return card


def _check_names(card: ModelCard, graph, source: str) -> None:
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = {value.name for value in graph.input if value.name not in initializers}
    outputs = {value.name for value in graph.output}
    problems = []
    card_inputs = {spec.name for spec in card.inputs}
    if card_inputs != inputs:
        problems.append(f"card inputs {sorted(card_inputs)} but the graph has {sorted(inputs)}")
    missing = sorted({spec.name for spec in card.outputs} - outputs)
    if missing:
        problems.append(f"card outputs {missing} not in the graph's outputs {sorted(outputs)}")
    if problems:
        raise ModelCardError(f"{source}: the card does not fit the graph: " + "; ".join(problems))
