"""colorfuse.train.export: checked ONNX files with cards, fp16, parity refusals, the command."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from click.testing import CliRunner  # noqa: E402

from colorfuse.cli import cli  # noqa: E402
from colorfuse.engine.card import read_card  # noqa: E402
from colorfuse.engine.onnxfile import read_onnx  # noqa: E402
from colorfuse.train import runs  # noqa: E402
from colorfuse.train.models import build_model  # noqa: E402
from colorfuse.train.export import PARITY_TOLERANCE, ExportParityError, export_model, parity_inputs  # noqa: E402
from colorfuse.train.trainer import train  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests.helpers_train import train_run, train_val_folders  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return train_val_folders(tmp_path_factory.mktemp("export-data"), 30, real=6, val=6)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, data):
    run = tmp_path_factory.mktemp("tiny-run")
    train_run(run, data[0], val=[str(data[1])], epochs=2)
    return run


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_export_writes_a_checked_file_with_its_card(tmp_path, tiny_run):
    out = tmp_path / "tiny.onnx"
    card = export_model(tiny_run, out)
    onnx.checker.check_model(str(out))
    assert read_card(out) == card  # the card reads back and its sha matches the graph
    assert card.weights_sha256 == read_onnx(out).graph_sha256
    assert (card.name, card.architecture, card.precision, card.size_multiple) == ("tiny", "tiny", "fp32", 4)
    assert card.global_input_size is None and [s.name for s in card.inputs] == ["L"] and card.output_name == "ab"
    assert card.parameters == sum(p.numel() for p in build_model("tiny").parameters())
    assert card.training["licence"].startswith("research-only") and card.training["crop"] == 32
    best = min(runs.read_metrics(tiny_run), key=lambda r: r["val_loss"])
    assert card.evaluation["val_psnr"] == best["val_psnr"] and card.evaluation["epoch"] == best["epoch"]
    parity = card.evaluation["export_parity"]
    assert list(parity) == ["100x132", "64x96"] and max(parity.values()) <= card.parity_tolerance
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left


def test_export_has_dynamic_batch_and_size(tmp_path, tiny_run):
    out = tmp_path / "tiny.onnx"
    export_model(runs.checkpoint_path(tiny_run).parent / runs.LAST, out, name="tiny-test", version="0.2.0")
    assert (read_card(out).name, read_card(out).version) == ("tiny-test", "0.2.0")
    (l,) = parity_inputs(36, 52, 3, None)
    assert _session(out).run(["ab"], {"L": l.numpy()})[0].shape == (3, 2, 36, 52)


def test_fp16_export_keeps_float32_io_and_parity(tmp_path, tiny_run):
    out = tmp_path / "tiny16.onnx"
    card = export_model(tiny_run, out, fp16=True)
    assert card.precision == "fp16" and card.parity_tolerance == PARITY_TOLERANCE["fp16"]
    assert max(card.evaluation["export_parity"].values()) <= card.parity_tolerance
    session = _session(out)
    assert [x.type for x in session.get_inputs() + session.get_outputs()] == ["tensor(float)"] * 2
    weights = onnx.load(str(out)).graph.initializer
    assert weights and all(w.data_type == onnx.TensorProto.FLOAT16 for w in weights)
    export_model(tiny_run, tmp_path / "tiny32.onnx")
    assert out.stat().st_size < (tmp_path / "tiny32.onnx").stat().st_size


def test_global_model_export(tmp_path, data):
    run = tmp_path / "iizuka-run"
    train("iizuka", [str(data[0])], run, val=[str(data[1])], epochs=1, batch_size=8, crop=32,
          model_kwargs={"width": 0.125, "global_size": 32})  # fmt: skip
    card = export_model(run, tmp_path / "iizuka.onnx")
    assert card.global_input_size == 32 and [s.role for s in card.inputs] == ["L", "L_global"]
    assert card.classes == ["forest", "sea", "street"] and card.default_max_side == 512
    session = _session(tmp_path / "iizuka.onnx")
    l, g = parity_inputs(40, 48, 2, 32)
    assert session.run(["ab"], {"L": l.numpy(), "L_global": g.numpy()})[0].shape == (2, 2, 40, 48)


def test_parity_failures_are_refused(tmp_path, tiny_run, monkeypatch):
    out = tmp_path / "tiny.onnx"
    with pytest.raises(ExportParityError, match="tolerance"):
        export_model(tiny_run, out, fp16=True, parity_tolerance=1e-9)
    real_export = torch.onnx.export

    def corrupted_export(module, args, *rest, **kwargs):  # ship other weights than the ones tested
        with torch.no_grad():
            for p in module.parameters():
                p.add_(0.05)
            real_export(module, args, *rest, **kwargs)
            for p in module.parameters():
                p.sub_(0.05)

    monkeypatch.setattr(torch.onnx, "export", corrupted_export)
    with pytest.raises(ExportParityError, match="differs"):
        export_model(tiny_run, out)
    assert list(tmp_path.iterdir()) == []


def test_export_command(tmp_path, tiny_run):
    out = tmp_path / "cli.onnx"
    result = CliRunner().invoke(cli, ["export", str(tiny_run), "--out", str(out), "--fp16", "--name", "smoke"])
    assert result.exit_code == 0, result.output
    assert "parity vs PyTorch fp32" in result.output and "100x132" in result.output and "PSNR" in result.output
    assert read_card(out).name == "smoke"
    missing = CliRunner().invoke(cli, ["export", str(tmp_path), "--out", str(tmp_path / "x.onnx")])
    assert missing.exit_code == 1 and "no best.pt or last.pt" in missing.output


def test_fp16_weights_export_halves_the_file_and_computes_in_float32(tmp_path, tiny_run):
    out = tmp_path / "tiny-h.onnx"
    card = export_model(tiny_run, out, fp16_weights=True)
    assert (card.precision, card.weights_precision) == ("fp32", "fp16")
    assert max(card.evaluation["export_parity"].values()) <= card.parity_tolerance == PARITY_TOLERANCE["fp16"]
    proto = onnx.load(str(out))
    halves = [w for w in proto.graph.initializer if w.data_type == onnx.TensorProto.FLOAT16]
    assert halves and all(w.name.endswith(".fp16") for w in halves)
    assert sum(n.op_type == "Cast" for n in proto.graph.node) == len(halves)
    full = tmp_path / "tiny32.onnx"
    export_model(tiny_run, full)
    (l,) = parity_inputs(36, 52, 1, None)
    got, expected = (_session(p).run(["ab"], {"L": l.numpy()})[0] for p in (out, full))
    assert 0 < abs(got - expected).max() < card.parity_tolerance  # weights rounded, arithmetic float32
    with pytest.raises(ValueError, match="not both"):
        export_model(tiny_run, tmp_path / "x.onnx", fp16=True, fp16_weights=True)


def test_fp16_weights_restore_to_float32_and_compute_the_same(tmp_path, tiny_run):
    from colorfuse.train.compact_weights import restore_weights_fp32

    out = tmp_path / "tiny-h.onnx"
    export_model(tiny_run, out, fp16_weights=True)
    proto = onnx.load(str(out))
    halves = sum(w.data_type == onnx.TensorProto.FLOAT16 for w in proto.graph.initializer)
    assert restore_weights_fp32(proto) == halves > 0
    assert not any(n.op_type == "Cast" for n in proto.graph.node)
    assert all(w.data_type == onnx.TensorProto.FLOAT for w in proto.graph.initializer)
    restored = tmp_path / "tiny-r.onnx"
    onnx.save(proto, str(restored))
    (l,) = parity_inputs(36, 52, 1, None)
    got, expected = (_session(p).run(["ab"], {"L": l.numpy()})[0] for p in (restored, out))
    assert abs(got - expected).max() < 1e-6  # the same float16-rounded weights, now stored as float32


def test_int8_weights_store_the_largest_tensors_per_channel_and_restore(tmp_path, tiny_run):
    from colorfuse.train.compact_weights import restore_weights_fp32

    out, full = tmp_path / "tiny-q.onnx", tmp_path / "tiny32.onnx"
    export_model(tiny_run, full)
    sizes = sorted(w.dims[0] * int(np.prod(w.dims[1:])) for w in onnx.load(str(full)).graph.initializer if len(w.dims) > 1)
    with pytest.raises(ExportParityError):  # 17k parameters: int8 moves its output more than fp16's 1e-2 allows
        export_model(tiny_run, out, fp16_weights=True, int8_weights=sizes[-1])
    card = export_model(tiny_run, out, fp16_weights=True, int8_weights=sizes[-1], parity_tolerance=0.05)
    assert card.weights_precision == "fp16+int8" and PARITY_TOLERANCE["fp16"] < card.parity_tolerance
    proto = onnx.load(str(out))
    int8 = [w for w in proto.graph.initializer if w.data_type == onnx.TensorProto.INT8 and w.name.endswith(".int8")]
    assert len(int8) == sizes.count(sizes[-1]) and sum(n.op_type == "DequantizeLinear" for n in proto.graph.node) == len(int8)
    assert any(w.data_type == onnx.TensorProto.FLOAT16 for w in proto.graph.initializer)
    (l,) = parity_inputs(36, 52, 1, None)
    got, expected = (_session(p).run(["ab"], {"L": l.numpy()})[0] for p in (out, full))
    assert 0 < abs(got - expected).max() < card.parity_tolerance
    assert restore_weights_fp32(proto) > len(int8)
    assert all(w.data_type == onnx.TensorProto.FLOAT for w in proto.graph.initializer)
    assert not any(n.op_type in ("Cast", "DequantizeLinear") for n in proto.graph.node)
    restored = tmp_path / "tiny-r.onnx"
    onnx.save(proto, str(restored))
    again = _session(restored).run(["ab"], {"L": l.numpy()})[0]
    assert abs(again - got).max() < 1e-6  # the same rounded weights, now stored as float32
    result = CliRunner().invoke(cli, ["export", str(tiny_run), "--out", str(tmp_path / "c.onnx"), "--fp16-weights",
                                      "--int8-weights", str(sizes[-1])])  # fmt: skip
    assert result.exit_code == 1 and "tolerance" in result.output and not (tmp_path / "c.onnx").exists()


def test_export_command_takes_looks_and_their_figures(tmp_path):
    import json

    data = train_val_folders(tmp_path / "data", 8, real=0, val=4)
    run = tmp_path / "run"
    train("effnet", [str(data[0])], run, val=[str(data[1])], epochs=1, batch_size=4, crop=32,
          model_kwargs={"width": 0.125, "global_size": 32, "cls_weight": 1.0, "pretrained": False})  # fmt: skip
    looks = {"looks": {"calm": {"mix": {"ab": 1.0}, "scale": 1.2}, "loud": {"mix": {"ab": 0.5, "ab_vivid": 0.5}}},
             "default_look": "calm",
             "evaluation": {"looks": {"calm": {"psnr_gain": 0.9, "colorfulness_ratio": 0.55, "photos": 4}}}}
    (tmp_path / "looks.json").write_text(json.dumps(looks))
    out = tmp_path / "looks.onnx"
    result = CliRunner().invoke(cli, ["export", str(run), "--out", str(out), "--fp16-weights",
                                      "--looks", str(tmp_path / "looks.json")])
    assert result.exit_code == 0, result.output
    assert "look calm (default): 1.2 x {'ab': 1.0}" in result.output and "float16 weights" in result.output
    card = read_card(out)
    assert card.default_look == "calm" and card.looks["loud"].mix == {"ab": 0.5, "ab_vivid": 0.5}
    assert [o.name for o in card.outputs] == ["ab", "ab_vivid"] and card.default_max_side == 256
    assert card.evaluation["looks"]["calm"]["psnr_gain"] == 0.9
    info = CliRunner().invoke(cli, ["models", "info", str(out)])
    assert "look calm: PSNR +0.90 dB over gray, colourfulness 55% of the truth's (4 photos)" in info.output


def _wide_conv(channels: int = 300):
    """A one-Conv graph with ``channels`` outputs: more than the float16 pass's size floor."""
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).normal(size=(channels, 4, 1, 1)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="/dec/conv")], "wide",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, 2, 2])],
                              [numpy_helper.from_array(weights, "w")])  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_int8_scales_stay_float32_and_older_float16_scales_restore():
    from onnx import TensorProto, helper, numpy_helper

    from colorfuse.train.compact_weights import restore_weights_fp32, store_weights_fp16, store_weights_int8

    proto = _wide_conv()
    assert store_weights_int8(proto, 1000) == 1 and store_weights_fp16(proto) == 0
    scale = next(w for w in proto.graph.initializer if w.name.endswith(".int8_scale"))
    assert scale.data_type == TensorProto.FLOAT
    # an export before this rule stored the 300 scales as float16 behind a Cast
    scale.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(scale).astype(np.float16), "w.int8_scale.fp16"))
    proto.graph.node.insert(0, helper.make_node("Cast", ["w.int8_scale.fp16"], ["w.int8_scale"], to=TensorProto.FLOAT))
    assert restore_weights_fp32(proto) == 2
    assert [w.name for w in proto.graph.initializer] == ["w"] and [n.op_type for n in proto.graph.node] == ["Conv"]
    restored = numpy_helper.to_array(proto.graph.initializer[0])
    original = numpy_helper.to_array(_wide_conv().graph.initializer[0])
    assert restored.dtype == np.float32 and np.abs(restored - original).max() < np.abs(original).max() / 100
