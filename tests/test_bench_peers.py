"""The plain pipelines ``bench throughput --peers`` compares against, the step profile, and PNG inputs.

Covers benchmarks/stages.py and benchmarks/torchref.py (the PyTorch peer).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from colorfuse.benchmarks import peers
from colorfuse.cli import cli
from colorfuse.engine.card import read_card
from colorfuse.engine.collection import iter_jobs
from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.imagefiles import read_image

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "imagenet"


def test_plain_loop_does_the_same_work_as_colorfuse(global_model_path, tmp_path):
    card = read_card(global_model_path)
    jobs = [job for job in iter_jobs([str(SAMPLES)]) if not job.error][:2]
    seconds = peers.run_plain(jobs, tmp_path, card, peers.onnxruntime_predictor(global_model_path, card), 64)
    assert seconds > 0
    colorizer = Colorizer(global_model_path, device="cpu", max_side=64, precision="fp32",
                          options={"chroma_upsample": "bilinear"})
    for job in jobs:
        ours = colorizer.colorize(job.source).astype(int)
        theirs = read_image(tmp_path / Path(job.source).name).astype(int)
        assert theirs.shape == ours.shape and np.abs(theirs - ours).mean() < 4  # JPEG q95 and resizing differ


def test_throughput_runs_the_peers_and_profiles_the_steps(global_model_path, tmp_path):
    out = tmp_path / "t.json"
    result = CliRunner().invoke(cli, ["bench", "throughput", str(SAMPLES), "--model", str(global_model_path),
                                      "--device", "cpu", "--peers", "--png", "--stages", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [p["images"] for p in data["peer_passes"]["onnxruntime plain loop"]] == [4]
    assert data["speedup_over_peers"]["onnxruntime plain loop"] > 0
    assert "no checkpoint" in data["peers_unavailable"]["pytorch eager"]  # a test model has none
    assert data["settings"]["inputs"].startswith("gray PNG")
    stages = data["stages"]
    assert stages["images"] == 2 and all(stages["ms_per_image"][s] > 0 for s in ("decode", "model", "encode"))
    levels = stages["png_by_level"]
    assert set(levels) == {"1", "3", "6"} and all(v["kb"] > 0 and v["ms"] > 0 for v in levels.values())
    assert "colorfuse speedup" in result.output and "Whole path" in result.output


def test_pytorch_peer_matches_the_exported_model(tmp_path):
    torch = pytest.importorskip("torch")
    from colorfuse.train.export import export_model
    from colorfuse.train.trainer import train
    from tests.helpers_train import train_val_folders
    from tests.test_models import TINY

    train_dir, val_dir = train_val_folders(tmp_path, 8, real=0, val=2)
    torch.manual_seed(0)
    train("tiny", [str(train_dir)], tmp_path / "run", val=[str(val_dir)], epochs=1, batch_size=4, crop=32,
          model_kwargs=TINY["tiny"][0], device="cpu", seed=0)
    path = tmp_path / "tiny.onnx"
    export_model(tmp_path / "run", path, name="tiny-test")
    card = read_card(path)
    padded, view, _ = peers.working_inputs(card, np.linspace(0, 100, 40 * 56, dtype=np.float32).reshape(40, 56), 0)
    eager = peers.pytorch_predictor(tmp_path / "run", card, threads=1)(padded, view)
    onnx = peers.onnxruntime_predictor(path, card)(padded, view)
    assert eager.shape == onnx.shape and np.abs(eager - onnx).max() < 1e-3
