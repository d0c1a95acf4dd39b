"""Every registered architecture, end to end: trains on real photos, exports, runs in the engine.

For each model: a few epochs on a handful of real photos (synthetic ones without ../shared)
lower the training loss; the export passes onnx.checker and its own PyTorch-parity check at two
sizes; the card reads back; and the engine runs the file at an odd size, where its model output
matches PyTorch on the same padded input within the card's tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colorfuse.engine.card import read_card  # noqa: E402
from colorfuse.engine.colorizer import Colorizer  # noqa: E402
from colorfuse.train import runs  # noqa: E402
from colorfuse.train.export import export_model  # noqa: E402
from colorfuse.train.models.registry import build_model, model_names  # noqa: E402
from colorfuse.train.trainer import train  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests.helpers_train import train_val_folders  # noqa: E402
from tests.test_models import TINY  # noqa: E402

# The unit tests' tiny configurations, trained on 32-px crops (pix2pix's discriminator needs 32).
SMALL = {name: (kwargs, 32) for name, (kwargs, _) in TINY.items()}
LOSS_KEY = {"pix2pix": "train_l1"}  # the GAN term of pix2pix need not fall; its L1 term must


ON_TRAINED_MEMBERS = {"effnet_hints"}  # built on trained runs: tests/test_hints_model.py trains and covers it


def test_every_registered_model_is_covered():
    assert set(model_names()) - ON_TRAINED_MEMBERS == set(SMALL)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """(train folder, validation folder) of real photos (synthetic ones without ../shared)."""
    return train_val_folders(tmp_path_factory.mktemp("zoo"), 24, real=24, val=6)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_trains_exports_and_runs_in_the_engine(name, photos, tmp_path):
    kwargs, crop = SMALL[name]
    run = tmp_path / "run"
    train(name, [str(photos[0])], run, val=[str(photos[1])], epochs=4, batch_size=8, crop=crop, lr=2e-3, model_kwargs=kwargs,
          device="cpu", seed=0)
    records = runs.read_metrics(run)
    key = LOSS_KEY.get(name, "train_loss")
    assert records[-1][key] < records[0][key], [r[key] for r in records]

    path = tmp_path / f"{name}.onnx"
    card = export_model(run, path, name=f"zoo-{name}")
    assert read_card(path) == card and card.architecture == name
    assert len(card.evaluation["export_parity"]) == 2
    assert max(card.evaluation["export_parity"].values()) <= card.parity_tolerance

    colorizer = Colorizer(path, device="cpu", max_side=0)
    image = (np.random.default_rng(0).random((97, 131)) * 255).astype(np.uint8)
    item = colorizer.prepare(image)
    colorizer.predict([item])
    state = runs.load_checkpoint(run)
    model = build_model(state["model_name"], **state["model_config"])
    model.load_state_dict(state["model_state"])
    model.eval()
    with torch.inference_mode():
        inputs = [torch.from_numpy(item.padded[None])]
        if item.global_view is not None:
            inputs.append(torch.from_numpy(item.global_view[None]))
        reference = model.export_module()(*inputs)[0].numpy()
    assert np.abs(item.ab - reference).max() <= card.parity_tolerance
    assert colorizer.finish(item).shape == (97, 131, 3)
    assert colorizer.colorize(image[:48, :64]).shape == (48, 64, 3)
