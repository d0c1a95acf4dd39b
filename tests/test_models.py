"""Tests for colorfuse.train.models: shapes, training, ONNX parity, rebuild, model specifics."""

from __future__ import annotations

import copy
import json
import sys
import types

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from colorfuse.train.models import MODELS, build_model, model_names  # noqa: E402
from colorfuse.train.models.ab_bins import ab_bins, lut_index, rebalance_weights, soft_encoding_lut  # noqa: E402
from colorfuse.train.export import output_names  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)


# Tiny configurations of every registered model, and the side of their square training batch.
TINY = {
    "effnet": ({"width": 0.125, "global_size": 32, "cls_weight": 1.0, "pretrained": False}, 32),
    "iizuka": ({"width": 0.125, "global_size": 32}, 16),
    "koala": ({"width": 0.125, "global_size": 32, "embed_dim": 16}, 16),
    "unet": ({"base": 4, "depth": 2}, 16),
    "pix2pix": ({"base": 4, "depth": 2, "disc_base": 8}, 32),
    "tiny": ({}, 16),
    "zhang": ({"width": 0.125}, 16),
    "zhang_regression": ({"width": 0.125}, 16),
}


def make_batch(model, n=4, h=16, w=16, seed=0, labels=None):
    """A fixed, learnable batch: ab is a smooth function of l."""
    gen = torch.Generator().manual_seed(seed)
    l = F.avg_pool2d(torch.rand(n, 1, h + 3, w + 3, generator=gen), 4, stride=1) * 2 - 1  # noqa: E741
    ab = torch.cat([0.6 * l, -0.4 * l.square() + 0.2], dim=1)
    batch = {"l": l, "ab": ab, "label": torch.full((n,), -1) if labels is None else torch.tensor(labels)}
    if model.global_input_size:
        g = model.global_input_size
        batch["l_global"] = F.interpolate(l, size=(g, g), mode="bilinear", align_corners=False)
    return batch


def tiny_model(name, **extra):
    torch.manual_seed(0)
    kwargs, _ = TINY[name]
    return build_model(name, **{**kwargs, **extra})


def calibrate_batchnorm(model, batch):
    """Set BatchNorm running statistics to those of ``batch`` and return the model in eval mode,
    so that eval-mode outputs depend on the input as much as in training."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(batch["l"], batch.get("l_global"))
    return model.eval()


def test_every_model_has_a_tiny_config():
    built_on_trained_members = {"effnet_hints"}  # tests/test_hints_model.py trains its members and covers it
    assert set(TINY) == set(model_names()) - built_on_trained_members == set(MODELS) - built_on_trained_members


def test_unknown_model_lists_known_names():
    with pytest.raises(KeyError, match="known models: .*tiny"):
        build_model("no_such_model")


@pytest.mark.parametrize("name", sorted(TINY))
def test_forward_shape(name):
    model = tiny_model(name)
    assert model.name == name
    m = model.size_multiple
    for h, w in [(2 * m, 3 * m), (3 * m, 2 * m)]:
        batch = make_batch(model, n=2, h=h, w=w)
        out = model(batch["l"], batch.get("l_global"))
        assert out.shape == (2, 2, h, w)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(TINY))
def test_train_step_lowers_loss(name):
    model = tiny_model(name)
    model.train()
    batch = make_batch(model, h=TINY[name][1], w=TINY[name][1])
    optimizers = model.configure_optimizers(3e-3)
    with torch.no_grad():
        before, _ = model.training_loss(batch)
    for _ in range(15):
        logs = model.train_step(batch, optimizers)
        assert "loss" in logs and all(isinstance(v, float) for v in logs.values())
    with torch.no_grad():
        after, _ = model.training_loss(batch)
    assert after.item() < before.item(), (before.item(), after.item())


@pytest.mark.parametrize("name", ["tiny", "pix2pix"])
def test_train_step_with_scaler_and_autocast(name):
    model = tiny_model(name).train()
    before = copy.deepcopy(model.state_dict())
    scaler = torch.amp.GradScaler("cpu")
    logs = model.train_step(
        make_batch(model, h=32, w=32),
        model.configure_optimizers(1e-3),
        scaler=scaler,
        autocast=lambda: torch.autocast("cpu", dtype=torch.bfloat16),
    )
    assert torch.isfinite(torch.tensor(logs["loss"]))
    changed = [k for k, v in before.items() if v.is_floating_point() and not torch.equal(v, model.state_dict()[k])]
    assert any(k.startswith("net.") or k.startswith("generator.") for k in changed)
    if name == "pix2pix":
        assert any(k.startswith("discriminator.") for k in changed)


@pytest.mark.parametrize("name", sorted(TINY))
def test_onnx_export_matches_pytorch(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = tiny_model(name)
    m, g = model.size_multiple, model.global_input_size
    calibrate_batchnorm(model, make_batch(model, h=4 * m, w=4 * m, seed=9))
    module = model.export_module().eval()
    sizes = [(4 * m, 6 * m), (5 * m, 3 * m)]
    names = ["l"] + (["l_global"] if g else [])
    outputs = output_names(model)
    dyn = {"l": {0: "batch", 2: "height", 3: "width"}, **{o: {0: "batch", 2: "height", 3: "width"} for o in outputs}}
    if g:
        dyn["l_global"] = {0: "batch"}
    example = make_batch(model, n=1, h=sizes[0][0], w=sizes[0][1])
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(
        module,
        tuple(example[k] for k in names),
        str(path),
        input_names=names,
        output_names=outputs,
        dynamic_axes=dyn,
        opset_version=17,
        dynamo=False,
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for seed, (h, w) in enumerate(sizes):
        batch = make_batch(model, n=2, h=h, w=w, seed=seed + 5)
        with torch.no_grad():
            expected = module(*(batch[k] for k in names))
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, {k: batch[k].numpy() for k in names})
        assert len(got) == len(expected) == len(outputs)
        for out, ref in zip(got, expected):
            assert out.shape == (2, 2, h, w)
            assert abs(out - ref.numpy()).max() < 1e-4


@pytest.mark.parametrize("name", sorted(TINY))
def test_rebuild_from_config(name):
    model = tiny_model(name).eval()
    config = json.loads(json.dumps(model.config()))
    rebuilt = build_model(name, **config).eval()
    shapes = lambda mod: {k: tuple(v.shape) for k, v in mod.state_dict().items()}  # noqa: E731
    assert shapes(rebuilt) == shapes(model)
    rebuilt.load_state_dict(model.state_dict())
    batch = make_batch(model, n=1, h=TINY[name][1], w=TINY[name][1])
    with torch.no_grad():
        assert torch.equal(rebuilt(batch["l"], batch.get("l_global")), model(batch["l"], batch.get("l_global")))


def test_tiny_parameter_count():
    count = sum(p.numel() for p in build_model("tiny").parameters())
    print(f"tiny parameters: {count}")
    assert 15_000 <= count <= 20_000


# ---- iizuka --------------------------------------------------------------------------------


def test_iizuka_global_size_must_be_multiple_of_32():
    with pytest.raises(ValueError, match="multiple of 32"):
        build_model("iizuka", width=0.125, global_size=40)


def test_iizuka_requires_global_view():
    model = tiny_model("iizuka")
    with pytest.raises(ValueError, match="l_global"):
        model(torch.zeros(1, 1, 16, 16))


def test_iizuka_uses_the_global_view():
    model = tiny_model("iizuka")
    batch = make_batch(model)
    calibrate_batchnorm(model, batch)
    with torch.no_grad():
        own = model(batch["l"], batch["l_global"])
        other = model(batch["l"], batch["l_global"].flip(0))  # another image's global view
    assert (own - other).abs().amax(dim=(1, 2, 3)).min() > 1e-3


def test_iizuka_classification_loss_ignores_unknown_labels():
    classes = ["beach", "forest", "street"]
    model = tiny_model("iizuka", num_classes=3, classes=classes).eval()
    assert model.card_extras() == {"classes": classes}
    assert model.config()["classes"] == classes
    batch = make_batch(model, labels=[0, -1, 2, -1])
    with torch.no_grad():
        loss, logs = model.training_loss(batch)
        ab, logits = model._predict(batch["l"], batch["l_global"])
    expected_ce = F.cross_entropy(logits[[0, 2]], torch.tensor([0, 2]))
    assert "ce" in logs and logs["ce"] == pytest.approx(expected_ce.item(), rel=1e-5)
    assert loss.item() == pytest.approx(logs["mse"] + expected_ce.item() / 300, rel=1e-5)
    with torch.no_grad():
        loss_unlabelled, logs_unlabelled = model.training_loss({**batch, "label": torch.full((4,), -1)})
    assert logs_unlabelled["ce"] == 0.0 and loss_unlabelled.item() == pytest.approx(logs_unlabelled["mse"])


def test_iizuka_width_scales_parameters():
    counts = [sum(p.numel() for p in build_model("iizuka", width=w).parameters()) for w in (0.5, 1.0)]
    print(f"iizuka parameters: width 0.5 {counts[0]}, width 1.0 {counts[1]}")
    assert 3 * counts[0] < counts[1]


# ---- koala ---------------------------------------------------------------------------------


def test_koala_scratch_card():
    assert tiny_model("koala").card_extras() == {
        "feature_extractor": "scratch",
        "feature_extractor_pretrained": False,
    }


def test_koala_torchvision_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import fails as if not installed
    with pytest.raises(ImportError, match="torchvision"):
        build_model("koala", width=0.125, global_size=32, extractor="vgg16")


def _stub_classifier(weights=None):
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))


def test_koala_frozen_pretrained_extractor(monkeypatch, tmp_path):
    stub = types.ModuleType("torchvision")
    stub.models = types.SimpleNamespace(vgg16=_stub_classifier)
    monkeypatch.setitem(sys.modules, "torchvision", stub)
    torch.manual_seed(3)
    reference = _stub_classifier()
    weights = tmp_path / "vgg16.pth"
    torch.save(reference.state_dict(), weights)

    model = tiny_model("koala", extractor="vgg16", extractor_weights=str(weights))
    assert model.card_extras() == {"feature_extractor": "vgg16", "feature_extractor_pretrained": True}
    assert torch.equal(model.extractor.net[3].weight, reference[3].weight)
    model.train()
    assert not model.extractor.net.training
    assert all(not p.requires_grad for p in model.extractor.parameters())
    trainable = {id(p) for group in model.configure_optimizers(1e-3)[0].param_groups for p in group["params"]}
    assert not trainable & {id(p) for p in model.extractor.parameters()}
    batch = make_batch(model)
    frozen = copy.deepcopy(model.extractor.state_dict())
    model.train_step(batch, model.configure_optimizers(1e-3))
    assert all(torch.equal(v, model.extractor.state_dict()[k]) for k, v in frozen.items())
    assert model(batch["l"], batch["l_global"]).shape == (4, 2, 16, 16)
    with pytest.raises(FileNotFoundError):
        tiny_model("koala", extractor="vgg16", extractor_weights=str(tmp_path / "missing.pth"))


# ---- pix2pix -------------------------------------------------------------------------------


def test_pix2pix_train_step_updates_generator_and_discriminator():
    model = tiny_model("pix2pix").train()
    optimizers = model.configure_optimizers(2e-4)
    assert len(optimizers) == 2 and optimizers[0].defaults["betas"] == (0.5, 0.999)
    g0 = copy.deepcopy(model.generator.state_dict())
    d0 = copy.deepcopy(model.discriminator.state_dict())
    logs = model.train_step(make_batch(model, h=32, w=32), optimizers)
    assert {"loss", "g_gan", "l1", "d"} <= set(logs)
    assert logs["loss"] == pytest.approx(logs["g_gan"] + 100 * logs["l1"], rel=1e-5)
    assert any(not torch.equal(v, model.generator.state_dict()[k]) for k, v in g0.items())
    assert any(not torch.equal(v, model.discriminator.state_dict()[k]) for k, v in d0.items())
    assert model.export_module() is model.generator


def test_pix2pix_loads_generator_from_unet():
    unet = calibrate_batchnorm(tiny_model("unet"), make_batch(tiny_model("unet"), seed=9))
    model = tiny_model("pix2pix").eval()
    model.load_generator_from(unet.state_dict())
    l = make_batch(unet, n=1)["l"]  # noqa: E741
    with torch.no_grad():
        assert torch.equal(model(l), unet(l))


# ---- zhang ---------------------------------------------------------------------------------


def test_zhang_bins_are_in_gamut_grid_points():
    bins = ab_bins()
    print(f"zhang ab bins: {len(bins)}")
    assert 250 <= len(bins) <= 330
    assert torch.equal(bins % 10, torch.zeros_like(bins))
    assert bins.abs().max() <= 110
    assert len(torch.unique(bins, dim=0)) == len(bins)
    assert [0.0, 0.0] in bins.tolist()


def test_zhang_soft_encoding():
    idx, weights = soft_encoding_lut()
    bins = ab_bins()
    assert idx.shape == weights.shape == (221 * 221, 5)
    assert torch.allclose(weights.sum(1), torch.ones(len(weights)), atol=1e-6)
    assert (weights > 0).all()
    ab = torch.rand(200, 2) * 220 - 110
    dist = torch.cdist(ab.round(), bins)
    pos = lut_index(ab)
    assert torch.equal(dist.gather(1, idx[pos, :1]).squeeze(1), dist.min(1).values)  # nearest bin first
    assert (weights[pos, 0] >= weights[pos, 4]).all()


def test_zhang_rebalancing_weights():
    bins = ab_bins()
    counts = torch.rand(len(bins), generator=torch.Generator().manual_seed(0)) ** 4
    w, smooth = rebalance_weights(counts, bins)
    assert (smooth * w).sum().item() == pytest.approx(1.0, abs=1e-5)
    assert w[smooth.argmin()] > w[smooth.argmax()]

    model = tiny_model("zhang")
    assert torch.allclose(model.class_weights, torch.ones(len(bins)))
    model.set_prior(counts)
    assert (model.prior * model.class_weights).sum().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(model.class_weights, w)
    with pytest.raises(ValueError):
        model.set_prior(torch.ones(3))


def test_zhang_bin_counts_and_decoding():
    model = tiny_model("zhang").eval()
    batch = make_batch(model)
    counts = model.bin_counts(batch["ab"])
    assert counts.shape == (len(model.bins),) and counts.sum().item() == 4 * 16 * 16
    with torch.no_grad():  # very confident logits on one bin decode to that bin's ab
        model.head.bias.fill_(-50).__setitem__(int(counts.argmax()), 50)
        model.head.weight.zero_()
        out = model(batch["l"])
    assert torch.allclose(out, (model.bins[counts.argmax()] / 110).view(1, 2, 1, 1).expand_as(out), atol=1e-5)
