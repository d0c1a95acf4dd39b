"""Smaller ONNX files, float32 arithmetic kept: weights stored as float16, the largest as int8.

Each large float32 initializer is replaced by a float16 one and a ``Cast`` back to float32 at the
start of the graph. onnxruntime folds those casts when it loads the model, so it computes exactly
as with float32 weights rounded to float16 (no float16 kernels are needed on the CPU).
:func:`store_weights_int8` does the same for the very largest tensors with int8 values, a float32
scale per output channel (symmetric, the tensor's first axis) and a ``DequantizeLinear``: a
quarter of float32's bytes where half is not small enough.
"""

from __future__ import annotations

import numpy as np

MIN_ELEMENTS = 256  # smaller tensors (biases, BatchNorm vectors) stay float32: no saving worth a node


def constants_to_initializers(proto, min_elements: int = MIN_ELEMENTS) -> int:
    """Turn large float ``Constant`` nodes (weights torch's export folded, such as a transposed
    ``Linear`` weight) into initializers, in place, so the passes below compact them too; returns
    how many. The consumers keep their names, so scopes still apply."""
    from onnx import TensorProto, numpy_helper

    graph, moved = proto.graph, 0
    for node in list(graph.node):
        if node.op_type != "Constant" or len(node.attribute) != 1 or node.attribute[0].name != "value":
            continue
        tensor = node.attribute[0].t
        if tensor.data_type != TensorProto.FLOAT or int(np.prod(tensor.dims)) < min_elements:
            continue
        graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(tensor), node.output[0]))
        graph.node.remove(node)
        moved += 1
    return moved


def store_weights_fp16(proto, min_elements: int = MIN_ELEMENTS) -> int:
    """Rewrite ``proto`` (an ``onnx.ModelProto``) in place; returns how many tensors were converted."""
    from onnx import TensorProto, helper, numpy_helper

    graph, casts = proto.graph, []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or init.name.endswith(".int8_scale"):
            continue  # int8 scales stay float32: their rounding would move every weight of a channel
        weights = numpy_helper.to_array(init)
        half = weights.astype(np.float16)
        if weights.size < min_elements or not np.isfinite(half).all():
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, f"{name}.fp16"))
        casts.append(helper.make_node("Cast", [f"{name}.fp16"], [name], to=TensorProto.FLOAT, name=f"{name}.to_fp32"))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return len(casts)


def store_weights_int8(proto, min_elements: int, scopes: tuple[str, ...] | None = None) -> int:
    """Store float32 initializers of at least ``min_elements`` (and two or more axes) as int8 with
    per-output-channel scales, in place; returns how many tensors were converted. With ``scopes``,
    only tensors whose every consumer is a node named with one of those prefixes (torch's export
    names nodes after their modules: ``/dec32/...``). Run it before :func:`store_weights_fp16`,
    which leaves int8 tensors alone."""
    from onnx import TensorProto, helper, numpy_helper

    graph, dequantize, scales = proto.graph, [], []
    consumers: dict[str, list[str]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.name)
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        if scopes is not None and not all(n.startswith(scopes) for n in consumers.get(init.name, [""])):
            continue
        weights = numpy_helper.to_array(init)
        if weights.size < min_elements or weights.ndim < 2 or not np.isfinite(weights).all():
            continue
        rows = weights.reshape(weights.shape[0], -1)
        scale = np.abs(rows).max(axis=1) / 127
        scale[scale == 0] = 1.0
        values = np.clip(np.round(rows / scale[:, None]), -127, 127).astype(np.int8).reshape(weights.shape)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(values, f"{name}.int8"))
        scales += [numpy_helper.from_array(scale.astype(np.float32), f"{name}.int8_scale"),
                   numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{name}.int8_zero")]
        dequantize.append(helper.make_node("DequantizeLinear", [f"{name}.int8", f"{name}.int8_scale", f"{name}.int8_zero"],
                                           [name], axis=0, name=f"{name}.to_fp32"))  # fmt: skip
    graph.initializer.extend(scales)
    nodes = dequantize + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return len(dequantize)


def restore_weights_fp32(proto) -> int:
    """Undo :func:`store_weights_fp16` and :func:`store_weights_int8` in place (float32
    initializers, no casts or dequantization); returns tensors restored."""
    from onnx import numpy_helper

    graph = proto.graph
    casts = {n.input[0]: n for n in graph.node if n.op_type == "Cast" and n.input[0].endswith(".fp16")}
    dequantize = {n.input[0]: n for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0].endswith(".int8")}
    for init in graph.initializer:  # casts first: an older export stored some int8 scales as float16
        if init.name in casts:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), casts[init.name].output[0]))
    arrays = {init.name: init for init in graph.initializer}
    for init in graph.initializer:
        if init.name in dequantize:
            node = dequantize[init.name]
            scale = numpy_helper.to_array(arrays[node.input[1]])
            values = numpy_helper.to_array(init).astype(np.float32)
            restored = values * scale.reshape((-1,) + (1,) * (values.ndim - 1))
            init.CopyFrom(numpy_helper.from_array(restored.astype(np.float32), node.output[0]))
    helpers = {name for node in dequantize.values() for name in node.input[1:]}
    kept_inits = [init for init in graph.initializer if init.name not in helpers]
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    kept = [n for n in graph.node if not (n.op_type == "Cast" and n.input[0] in casts)
            and not (n.op_type == "DequantizeLinear" and n.input[0] in dequantize)]
    del graph.node[:]
    graph.node.extend(kept)
    return len(casts) + len(dequantize)
