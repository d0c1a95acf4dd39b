"""train/models/colourfulness.py: DDColor's colourfulness loss, on 16x16 CPU tensors, and effnet's
``colourfulness_weight`` that trains with it (#19's losses)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from colorfuse.evaluation.quality import colorfulness  # noqa: E402
from colorfuse.train.models.colourfulness import colourfulness, colourfulness_loss, lab_to_rgb  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests.test_models import calibrate_batchnorm, make_batch, tiny_model  # noqa: E402


def _normalised(rgb: np.ndarray):
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    return (torch.from_numpy(lab[..., 0] / 50 - 1)[None, None],
            torch.from_numpy(np.ascontiguousarray((lab[..., 1:] / 110).transpose(2, 0, 1)))[None])


def test_lab_to_rgb_inverts_opencvs_lab_and_colourfulness_is_the_evaluations():
    rgb = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    l, ab = _normalised(rgb)  # noqa: E741
    back = lab_to_rgb(l, ab)[0].permute(1, 2, 0).numpy()
    assert np.abs(back - rgb).max() < 1.0
    measured = colourfulness(torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None]).item()
    assert measured == pytest.approx(colorfulness(rgb), rel=1e-5)


def test_the_loss_falls_as_colour_grows_and_its_gradient_reaches_ab():
    rgb = (np.random.default_rng(1).random((16, 16, 3)) * 200 + 20).astype(np.uint8)
    l, ab = _normalised(rgb)  # noqa: E741
    losses = [colourfulness_loss(l, ab * scale).item() for scale in (0.0, 0.5, 1.0)]
    assert losses[0] == pytest.approx(1.0, abs=0.01) and losses[0] > losses[1] > losses[2]
    ab = ab.clone().requires_grad_(True)
    colourfulness_loss(l, ab).backward()
    assert torch.isfinite(ab.grad).all() and ab.grad.abs().sum() > 0


def test_effnet_trains_with_the_colourfulness_term_and_logs_it():
    model = tiny_model("effnet", colourfulness_weight=0.1).train()
    batch = make_batch(model, h=64, w=64)
    calibrate_batchnorm(model, batch)
    loss, logs = model.training_loss(batch)
    assert torch.isfinite(loss) and 0 < logs["colourfulness"] <= 1.0
    expected = logs["huber"] + 0.1 * logs["colourfulness"] + model.cls_weight * logs.get("cls", 0.0)
    assert logs["loss"] == pytest.approx(expected, rel=1e-4)
    assert model.config()["colourfulness_weight"] == 0.1 and "colourfulness_weight" not in tiny_model("effnet").config()
