"""A third-party-style plugin (entry point ``foreign``, installed only for the tests): it provides
``foreign-nhwc``, an ONNX colorizer of foreign conventions (NHWC RGB in 0..1 at a fixed 32x32, ab in
-1..1, NHWC), built with ``onnx.helper`` and adapted to colorfuse's runner contract."""

import numpy as np

from colorfuse.engine import lab
from colorfuse.engine.card import ModelCard, TensorSpec
from colorfuse.plugins import hookimpl

SIDE = 32


def _foreign_graph():
    """An onnxruntime session of ab01 (N, 32, 32, 2) = [0.4 g - 0.2, 0.2 - 0.4 g], g the mean of rgb (N, 32, 32, 3)."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceMean", ["rgb"], ["gray"], axes=[3], keepdims=1),
             helper.make_node("Concat", ["gray", "gray"], ["pair"], axis=3),
             helper.make_node("Mul", ["pair", "scale"], ["scaled"]),
             helper.make_node("Add", ["scaled", "shift"], ["ab01"])]
    graph = helper.make_graph(
        nodes, "foreign", [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["N", SIDE, SIDE, 3])],
        [helper.make_tensor_value_info("ab01", TensorProto.FLOAT, ["N", SIDE, SIDE, 2])],
        [numpy_helper.from_array(np.array([0.4, -0.4], np.float32), "scale"),
         numpy_helper.from_array(np.array([-0.2, 0.2], np.float32), "shift")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


class ForeignModel:
    """Adapts the NHWC graph to the engine's contract: NCHW normalised L in, NCHW ab out."""

    card = ModelCard(name="foreign-nhwc", architecture="foreign", version="1", l_offset=0.0, l_scale=100.0,
                     ab_scale=100.0, default_max_side=48, inputs=[TensorSpec("L")],
                     outputs=[TensorSpec("ab", role="ab")])

    def __init__(self, device, threads):
        self.device, self.threads, self.session, self.calls = "cpu", threads, _foreign_graph(), []

    def run(self, output_names, feeds):
        gray = feeds["L"][:, 0]  # (N, H, W) in 0..1
        self.calls.append(gray.shape)
        height, width = gray.shape[1:]
        rgb = np.stack([np.repeat(lab.resize(g, SIDE, SIDE)[..., None], 3, axis=2) for g in gray])
        ab01 = self.session.run(["ab01"], {"rgb": rgb.astype(np.float32)})[0]
        ab = np.stack([lab.resize(item, width, height) for item in ab01]).transpose(0, 3, 1, 2)
        return [ab.astype(np.float32)]


@hookimpl
def provide_model(name, device, threads):
    return ForeignModel(device, threads) if name == "foreign-nhwc" else None


@hookimpl
def list_provided_models():
    return ["foreign-nhwc"]
