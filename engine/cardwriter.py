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
    problems += _shape_problems(card, graph)
    if problems:
        raise ModelCardError(f"{source}: the card does not fit the graph: " + "; ".join(problems))


CHANNELS = {"L": 1, "L_global": 1, "hint_ab": 2, "hint_mask": 1, "ab": 2}  # by role, where the role fixes them


def _dims(value) -> list:
    """A graph value's dimensions: ints where static, names (or None) where not."""
    return [dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None)
            for dim in value.type.tensor_type.shape.dim]


def _shape_problems(card: ModelCard, graph) -> list[str]:
    """What the card says of its tensors' shapes that the graph contradicts: NCHW rank 4, the
    channels a role fixes, and the global view's size."""
    values = {value.name: value for value in [*graph.input, *graph.output]}
    problems = []
    for spec in [*card.inputs, *card.outputs]:
        if spec.name not in values:
            continue
        dims = _dims(values[spec.name])
        if len(dims) != 4:
            problems.append(f"{spec.name!r} has rank {len(dims)}, the card says {spec.layout}")
            continue
        channels = CHANNELS.get(spec.role)
        if channels is not None and isinstance(dims[1], int) and dims[1] != channels:
            problems.append(f"{spec.name!r} ({spec.role}) has {dims[1]} channels, its role needs {channels}")
        if spec.role == "L_global" and all(isinstance(d, int) for d in dims[2:]) \
                and tuple(dims[2:]) != (card.global_input_size,) * 2:
            problems.append(f"global input {spec.name!r} is {dims[2]}x{dims[3]}, the card says "
                            f"global_input_size {card.global_input_size}")
    return problems
