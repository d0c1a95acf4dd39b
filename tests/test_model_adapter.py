"""#14: a plugin provides a foreign-convention model (NHWC RGB in 0..1 at a fixed 32x32) through provide_model."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine import lab
from colorfuse.engine.card import ModelCard, TensorSpec
from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.errors import ModelCardError
from colorfuse.plugins import hookimpl
from colorfuse.plugins.manager import get_plugin_manager

SIDE = 32


def _foreign_graph():
    """An onnxruntime session of ab01 (N, 32, 32, 2) = [0.4 g - 0.2, 0.2 - 0.4 g], g the mean of rgb (N, 32, 32, 3)."""
    import onnx
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


@pytest.fixture
def foreign():
    provided = []

    class Provider:
        @hookimpl
        def provide_model(self, name, device, threads):
            if name != "foreign-nhwc":
                return None
            provided.append(ForeignModel(device, threads))
            return provided[-1]

    get_plugin_manager().register(Provider(), name="foreign-provider")
    yield provided
    get_plugin_manager().unregister(name="foreign-provider")


def test_a_provided_model_colorizes_through_the_api(foreign):
    colorizer = Colorizer("foreign-nhwc", device="cpu", threads=1, batch_size=4)
    images = [np.full(shape, 200, np.uint8) for shape in [(20, 30), (20, 30), (64, 40), (7, 9)]]
    results = colorizer.colorize_batch(images)
    assert [r.shape[:2] for r in results] == [(20, 30), (20, 30), (64, 40), (7, 9)]
    assert foreign[0].threads == 1 and colorizer.device == "cpu" and colorizer.model_path is None
    assert sorted(foreign[0].calls) == sorted([(2, 20, 30), (1, 48, 30), (1, 7, 9)])  # batched by shape
    red = results[0].astype(int)  # bright gray: a = 0.4 * 0.78 - 0.2 > 0, b < 0: reddish-blue
    assert red[..., 0].mean() > red[..., 1].mean()


def test_a_provided_model_tiles(foreign):
    colorizer = Colorizer("foreign-nhwc", device="cpu", max_side=0, options={"tile": 32, "tile_overlap": 8})
    assert colorizer.colorize(np.full((50, 70), 120, np.uint8)).shape == (50, 70, 3)
    assert len(foreign[0].calls) > 1


def test_a_provided_model_colorizes_through_the_cli(foreign, tmp_path):
    for name, size in (("a.png", (30, 20)), ("b.png", (90, 60))):
        (tmp_path / "in").mkdir(exist_ok=True)
        Image.fromarray(np.full(size[::-1], 150, np.uint8)).save(tmp_path / "in" / name)
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                      "--model", "foreign-nhwc", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out" / "b.png").size == (90, 60)


def test_a_provided_model_with_a_bad_card_is_refused(foreign, monkeypatch):
    monkeypatch.setattr(ForeignModel, "card", ModelCard(name="x", architecture="y", version="1",
                                                        inputs=[TensorSpec("L")], l_scale=0))
    with pytest.raises(ModelCardError, match="model 'foreign-nhwc': invalid model card: l_scale and ab_scale"):
        Colorizer("foreign-nhwc", device="cpu")


def test_a_provided_model_colorizes_video_frames(foreign, tmp_path):
    from colorfuse.engine.video.pipeline import colorize_stream
    from colorfuse.engine.video.reader import FolderReader

    for index in range(4):
        Image.fromarray(np.full((24, 40), 60 + 30 * index, np.uint8)).save(tmp_path / f"f{index}.png")
    outputs = []
    stats = colorize_stream(Colorizer("foreign-nhwc", device="cpu"), FolderReader(tmp_path, 10),
                            lambda frame, rgb: outputs.append(rgb.shape), batch_size=2)
    assert stats.frames == 4 and outputs == [(24, 40, 3)] * 4
