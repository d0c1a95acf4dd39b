"""Half the size of an ONNX file, float32 arithmetic kept: weights stored as float16.

Each large float32 initializer is replaced by a float16 one and a ``Cast`` back to float32 at the
start of the graph. onnxruntime folds those casts when it loads the model, so it computes exactly
as with float32 weights rounded to float16 (no float16 kernels are needed on the CPU).
"""

from __future__ import annotations

import numpy as np

MIN_ELEMENTS = 256  # smaller tensors (biases, BatchNorm vectors) stay float32: no saving worth a node


def store_weights_fp16(proto, min_elements: int = MIN_ELEMENTS) -> int:
    """Rewrite ``proto`` (an ``onnx.ModelProto``) in place; returns how many tensors were converted."""
    from onnx import TensorProto, helper, numpy_helper

    graph, casts = proto.graph, []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
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


def restore_weights_fp32(proto) -> int:
    """Undo :func:`store_weights_fp16` in place (float32 initializers, no casts); returns tensors restored."""
    from onnx import numpy_helper

    graph = proto.graph
    casts = {n.input[0]: n for n in graph.node if n.op_type == "Cast" and n.input[0].endswith(".fp16")}
    for init in graph.initializer:
        if init.name in casts:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), casts[init.name].output[0]))
    kept = [n for n in graph.node if not (n.op_type == "Cast" and n.input[0] in casts)]
    del graph.node[:]
    graph.node.extend(kept)
    return len(casts)
