"""colorfuse.train.trainer: the loss falls, budgets stop, checkpoints resume, run files exist.

Covers train/plots.py (the loss curve each run writes).
"""

from __future__ import annotations

import contextlib
import json
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from colorfuse.cli import cli  # noqa: E402
from colorfuse.train import runs  # noqa: E402
from colorfuse.train.metrics import colorization_figures  # noqa: E402
from colorfuse.train.trainer import train  # noqa: E402
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests.helpers_train import photo_set, synthetic_photo, train_run, train_val_folders  # noqa: E402

RECORD_KEYS = {"epoch", "epoch_progress", "step", "elapsed_s", "train_loss", "val_loss", "val_psnr",
               "val_psnr_gray_baseline", "val_colorfulness", "val_colorfulness_truth", "lr",
               "images_per_s"}  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """(train folder, val folder): real shared photos when present, else synthetic ones."""
    return train_val_folders(tmp_path_factory.mktemp("data"), 56, real=24, val=8)


def test_colorization_figures():
    import cv2

    rgb = np.ascontiguousarray(synthetic_photo(1)[..., ::-1])
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    perfect = colorization_figures(lab[..., 0], lab[..., 1:], lab[..., 1:])
    assert perfect["psnr"] == float("inf") and perfect["colorfulness"] == perfect["colorfulness_truth"] > 20
    gray = colorization_figures(lab[..., 0], np.zeros_like(lab[..., 1:]), lab[..., 1:])
    assert gray["psnr"] == gray["psnr_gray_baseline"] < 40 and gray["colorfulness"] == pytest.approx(0, abs=1e-9)


def test_loss_falls_and_run_files_are_written(tmp_path, data):
    run = tmp_path / "run"
    records = train_run(run, data[0], val=[str(data[1])], epochs=4, lr=3e-3)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert RECORD_KEYS <= set(records[0])
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert min(r["val_loss"] for r in records[1:]) < records[0]["val_loss"]
    assert all(r["val_colorfulness_truth"] > 0 and r["val_psnr_gray_baseline"] > 10 for r in records)
    assert (run / runs.LOSS_CURVE).read_bytes()[:4] == b"\x89PNG"
    info = json.loads((run / runs.RUN_JSON).read_text())
    assert info["model"] == "tiny" and info["device"] == "cpu" and info["torch"] == torch.__version__
    assert 0 < info["data"]["val_images"] <= 8 and info["settings"]["crop"] == 32
    best = runs.load_checkpoint(run)  # a run directory means best.pt
    assert best["best_val_loss"] == min(r["val_loss"] for r in records)


def test_budget_stop_and_resume(tmp_path, data):
    run = tmp_path / "run"
    first = train_run(run, data[0], val=[str(data[1])], minutes=1e-6, epochs=None)
    assert len(first) == 1 and first[0]["step"] == 1 and first[0]["epoch_progress"] < 1
    last = runs.load_checkpoint(run / runs.LAST)
    assert (last["epoch"], last["epoch_step"], last["step"]) == (0, 1, 1) and last["optimizers"]
    # The spent budget is remembered: resuming with the same budget does nothing.
    assert train(resume=run, minutes=1e-6) == {}
    with pytest.raises(ValueError, match="batch_size"):
        train(resume=run, epochs=2, batch_size=4)
    assert train(resume=run, epochs=2)["step"] == runs.read_metrics(run)[-1]["step"]
    records = runs.read_metrics(run)
    per_epoch = (len(photo_set(56)) - 8) // 8
    assert [(r["epoch"], r["step"]) for r in records] == [(1, 1), (1, per_epoch), (2, 2 * per_epoch)]
    resumed = runs.load_checkpoint(run / runs.LAST)
    assert resumed["model_config"] == last["model_config"] and resumed["settings"] == last["settings"]
    assert resumed["elapsed_s"] > last["elapsed_s"]


def test_train_command(tmp_path, data):
    out = tmp_path / "cli-run"
    args = ["train", "tiny", "--data", str(data[0]), "--val", str(data[1]), "--out", str(out), "--epochs", "1",
            "--crop", "32", "--batch-size", "16", "--workers", "0", "--max-images", "32"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "epoch 1 step 2" in result.output and "PSNR" in result.output and "img/s" in result.output
    assert json.loads((out / runs.RUN_JSON).read_text())["data"]["train_images"] == 32
    bad = CliRunner().invoke(cli, ["train", "tiny", "--data", str(data[0]), "--out", str(tmp_path / "x"),
                                   "--epochs", "1", "--set", "width=0.5"])  # fmt: skip
    assert bad.exit_code != 0 and "width" in bad.output
    assert CliRunner().invoke(cli, ["train", "tiny", "--data", str(data[0]), "--out", str(out)]).exit_code == 2


def test_classification_model_gets_a_prior_and_runs_are_not_overwritten(tmp_path, data):
    run = tmp_path / "zhang"
    train("zhang", [str(data[0])], run, val=[str(data[1])], epochs=1, batch_size=8, crop=32,
          model_kwargs={"width": 0.125}, max_train_images=16)  # fmt: skip
    prior = runs.load_checkpoint(run / runs.LAST)["model_state"]["prior"]
    assert prior.sum().item() == pytest.approx(1, abs=1e-4) and prior.max() > 5 * prior.min()
    with pytest.raises(ValueError, match="already holds a run"):
        train("zhang", [str(data[0])], run, epochs=1)


def test_precision_choice(monkeypatch):
    from colorfuse.train.trainer import precision_tools, resolve_device

    assert precision_tools(torch.device("cpu"))[1:] == (None, "fp32")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision_tools(torch.device("cuda"))[1:] == (None, "bf16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else contextlib.nullcontext():
        autocast, scaler, label = precision_tools(torch.device("cuda"))  # GradScaler warns without CUDA
    assert label == "fp16" and scaler is not None and autocast.keywords["dtype"] == torch.float16
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no usable CUDA"):
            resolve_device("cuda")


def test_cpu_bf16_for_models_that_run_faster_with_it(monkeypatch):
    from colorfuse.train.models import build_model
    from colorfuse.train.trainer import precision_tools

    cpu = torch.device("cpu")
    fast, plain = build_model("effnet", width=0.125, global_size=32, pretrained=False), build_model("tiny")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    autocast, _, label = precision_tools(cpu, fast)
    assert label == "bf16" and autocast.keywords["dtype"] == torch.bfloat16
    assert precision_tools(cpu, plain)[2] == "fp32" and precision_tools(cpu, fast, "fp32")[2] == "fp32"
    assert precision_tools(cpu, plain, "bf16")[2] == "bf16"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert precision_tools(cpu, fast)[2] == "fp32"


def test_slim_copy_resumes_with_fresh_optimizer_moments(tmp_path, data):
    run = tmp_path / "run"
    train("effnet", [str(data[0])], run, val=[str(data[1])], epochs=1, batch_size=8, crop=32, max_train_images=16,
          model_kwargs={"width": 0.125, "global_size": 32, "pretrained": False})  # fmt: skip
    slim = runs.slim_copy(run, tmp_path / "slim")
    state, full = runs.load_checkpoint(slim), runs.load_checkpoint(run / runs.BEST)
    assert state["optimizers"] == [] and state["step"] == full["step"]
    assert set(state["model_state"]) == set(full["model_state"])  # a random encoder is kept
    assert slim.stat().st_size < (run / runs.LAST).stat().st_size
    assert runs.read_metrics(slim.parent) == runs.read_metrics(run)
    record = train(resume=slim.parent, epochs=2)
    assert record["epoch"] == 2 and record["step"] == 2 * full["step"]
    half = runs.slim_copy(run, tmp_path / "half", half=True)
    weights = runs.load_checkpoint(half)["model_state"]
    assert all(v.dtype == torch.float16 for v in weights.values() if v.is_floating_point())
    assert half.stat().st_size < 0.6 * slim.stat().st_size
    assert train(resume=half.parent, epochs=2)["step"] == 2 * full["step"]


@pytest.mark.parametrize("args", [["train", "tiny", "--data", "d", "--out", "o", "--epochs", "1"],
                                  ["export", ".", "--out", "x.onnx"]])  # fmt: skip
def test_commands_without_torch_say_what_to_install(monkeypatch, args):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ModuleNotFoundError
    for module in ("colorfuse.train.trainer", "colorfuse.train.export"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "pip install -e '.[train]' in the clone" in result.output


def test_scale_sweep_gives_the_gain_where_colourfulness_reaches_the_floor():
    import cv2

    from colorfuse.train.metrics import ScaleSweep

    lab = cv2.cvtColor(synthetic_photo(3).astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    sweep = ScaleSweep(scales=(0.5, 1.0, 1.5))
    sweep.add(lab[..., 0], 0.5 * lab[..., 1:], lab[..., 1:])  # half the true chroma
    gains = {s: (sweep.psnr[s] - sweep.gray_psnr) / sweep.count for s in sweep.scales}
    ratios = {s: sweep.colour[s] / sweep.truth_colour for s in sweep.scales}
    assert ratios[0.5] < ratios[1.0] < ratios[1.5] and gains[0.5] < gains[1.0] < gains[1.5]
    assert sweep.gain_at(ratios[1.0]) == pytest.approx(gains[1.0])
    midway = (ratios[1.0] + ratios[1.5]) / 2
    assert sweep.gain_at(midway) == pytest.approx((gains[1.0] + gains[1.5]) / 2)
    assert np.isnan(sweep.gain_at(1.5 * ratios[1.5])) and np.isnan(ScaleSweep().gain_at())


def test_the_default_sweep_finds_half_colour_for_a_model_more_colourful_than_the_truth():
    """A colourfulness loss took the natural output to 77% of the truth's: the sweep's lowest scale, 0.8, stayed above
    50%, so the trainer's figure was NaN and --select gain could not choose."""
    import cv2

    from colorfuse.train.metrics import ScaleSweep

    lab = cv2.cvtColor(synthetic_photo(3).astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    sweep = ScaleSweep()
    sweep.add(lab[..., 0], 0.9 * lab[..., 1:], lab[..., 1:])
    assert np.isfinite(sweep.gain_at())


def test_moving_average_is_validated_kept_as_best_and_resumed(tmp_path, data):
    run = tmp_path / "run"
    first = train("tiny", [str(data[0])], run, val=[str(data[1])], epochs=1, batch_size=8, crop=32, lr=3e-3,
                  ema=0.9, select="gain")  # fmt: skip
    assert isinstance(first["val_psnr_gain_at_half_colour"], float)  # NaN while no scale reaches 50% colour
    best, last = runs.load_checkpoint(run / runs.BEST), runs.load_checkpoint(run / runs.LAST)
    assert last["ema_averaged"] == last["step"] and "ema_state" not in best
    for key, value in best["model_state"].items():  # best.pt holds the average, not the live weights
        assert torch.equal(value, last["ema_state"][key])
    assert any(not torch.equal(v, last["model_state"][k]) for k, v in last["ema_state"].items() if v.is_floating_point())
    assert json.loads((run / runs.RUN_JSON).read_text())["settings"]["ema"] == 0.9
    with pytest.raises(ValueError, match="ema"):
        train(resume=run, epochs=2, ema=0.5)
    assert runs.load_checkpoint(run / runs.LAST)["ema_averaged"] == last["step"]
    assert train(resume=run, epochs=2)["step"] == 2 * last["step"]
    assert runs.load_checkpoint(run / runs.LAST)["ema_averaged"] == 2 * last["step"]
    with pytest.raises(ValueError, match="between 0 and 1"):
        train("tiny", [str(data[0])], tmp_path / "bad", epochs=1, ema=1.0)


def test_selection_by_gain_keeps_the_best_gain():
    from colorfuse.train.trainer import _score

    assert _score({"val_loss": 0.5, "val_psnr_gain_at_half_colour": 0.2}, "gain") == 0.2
    assert _score({"val_loss": 0.5, "val_psnr_gain_at_half_colour": float("nan")}, "gain") == -float("inf")
    assert _score({"val_loss": 0.5, "val_psnr_gain_at_half_colour": 0.2}, "loss") == -0.5


def test_init_starts_a_new_run_from_a_checkpoint(tmp_path, data):
    from colorfuse.train.export import export_model

    source = tmp_path / "source"
    train("tiny", [str(data[0])], source, val=[str(data[1])], epochs=2, batch_size=8, crop=32, lr=3e-3)
    source_best = runs.load_checkpoint(source)
    result = CliRunner().invoke(cli, ["train", "--init", str(source), "--data", str(data[0]), "--val", str(data[1]),
                                      "--out", str(tmp_path / "next"), "--epochs", "1", "--batch-size", "8",
                                      "--crop", "32", "--lr", "1e-9", "--workers", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = runs.read_metrics(tmp_path / "next")[0]
    assert record["val_loss"] == pytest.approx(source_best["best_val_loss"], rel=1e-3)  # the same weights
    settings = json.loads((tmp_path / "next" / runs.RUN_JSON).read_text())["settings"]
    assert settings["model"] == "tiny" and settings["init"]["step"] == source_best["step"]
    card = export_model(tmp_path / "next", tmp_path / "next.onnx")
    assert card.training["init"]["elapsed_s"] == pytest.approx(source_best["elapsed_s"], abs=0.1)
    assert card.training["time_s_total"] > card.training["time_s"]
    with pytest.raises(ValueError, match="holds a 'tiny' model"):
        train("unet", [str(data[0])], tmp_path / "other", epochs=1, init=source)


def test_set_applies_over_an_init_runs_configuration(tmp_path, data):
    pytest.importorskip("efficientnet_lite_pytorch")
    config = {"width": 0.125, "global_size": 32, "cls_weight": 1.0, "pretrained": False}
    source = tmp_path / "source"
    train("effnet", [str(data[0])], source, epochs=1, batch_size=8, crop=32, model_kwargs=config)
    train(None, [str(data[0])], tmp_path / "next", epochs=1, batch_size=8, crop=32, init=source,
          model_kwargs={"huber_beta": 0.2})  # fmt: skip
    state = runs.load_checkpoint(tmp_path / "next" / runs.LAST)
    assert state["model_config"] == {**runs.load_checkpoint(source)["model_config"], "huber_beta": 0.2}
    assert runs.load_model(tmp_path / "next").huber_beta == 0.2
