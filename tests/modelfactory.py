"""Small hand-built ONNX models with colorfuse cards, for engine tests (needs the onnx package)."""

from __future__ import annotations

import numpy as np

from colorfuse.engine.card import Look, ModelCard, TensorSpec, embed_card
from colorfuse.engine.onnxfile import read_onnx


def make_model(path, *, global_size=None, multiple=1, half_output=False, card_overrides=None, seed=0, vivid=False):
    """Write an ONNX colorizer: ab = tanh(conv3x3(L)) (+ mean of the global view), with a card.

    ``vivid`` adds a second output ``ab_vivid`` = 2 * ab and the looks ``natural`` (default),
    ``vivid`` and ``blend`` (0.5 * ab + 0.25 * ab_vivid, times 1.5)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.5, (2, 1, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["L", "w"], ["conv"], pads=[1, 1, 1, 1])]
    last = "conv"
    if half_output:
        nodes.append(helper.make_node("AveragePool", [last], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]))
        last = "pooled"
    inputs = [helper.make_tensor_value_info("L", TensorProto.FLOAT, ["N", 1, "H", "W"])]
    if global_size:
        inputs.append(helper.make_tensor_value_info("L_global", TensorProto.FLOAT, ["N", 1, global_size, global_size]))
        nodes.append(helper.make_node("ReduceMean", ["L_global"], ["gmean"], axes=[2, 3], keepdims=1))
        nodes.append(helper.make_node("Add", [last, "gmean"], ["summed"]))
        last = "summed"
    nodes.append(helper.make_node("Tanh", [last], ["ab"]))
    outputs = [helper.make_tensor_value_info("ab", TensorProto.FLOAT, ["N", 2, "h", "w"])]
    initializers = [numpy_helper.from_array(weight, "w")]
    if vivid:
        nodes.append(helper.make_node("Mul", ["ab", "two"], ["ab_vivid"]))
        outputs.append(helper.make_tensor_value_info("ab_vivid", TensorProto.FLOAT, ["N", 2, "h", "w"]))
        initializers.append(numpy_helper.from_array(np.array(2.0, np.float32), "two"))
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    card = ModelCard(
        name="test", architecture="test-conv", version="0.0.1", size_multiple=multiple,
        global_input_size=global_size, default_max_side=64,
        inputs=[TensorSpec("L")] + ([TensorSpec("L_global", role="L_global")] if global_size else []),
        weights_sha256=read_onnx(path).graph_sha256,
        training={"data": "none: hand-built test graph"},
    )
    if vivid:
        card.outputs = [TensorSpec("ab", role="ab"), TensorSpec("ab_vivid", role="ab")]
        card.looks = {"natural": Look({"ab": 1.0}), "vivid": Look({"ab_vivid": 1.0}),
                      "blend": Look({"ab": 0.5, "ab_vivid": 0.25}, scale=1.5)}
        card.default_look = "natural"
    for key, value in (card_overrides or {}).items():
        setattr(card, key, value)
    metadata = embed_card({}, card) if not (card_overrides or {}).get("_skip_validate") else {}
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, path)
    return card
