"""`make gpu-check` (#21): the CUDA plan fits 9 minutes, and its CPU dry run writes every result within its budget.

Its dry run runs benchmarks/video_speed.py (`bench video` at 144p).
"""

import json
from pathlib import Path

import pytest

from colorfuse.benchmarks import gpu_check


def test_the_cuda_plan_runs_every_benchmark_on_cuda_within_nine_minutes(tmp_path):
    steps = gpu_check.plan(tmp_path, Path("/photos"), dry_run=False)
    assert [step.name for step in steps] == ["paper", "throughput", "video", "train"]
    assert gpu_check.INSTALL_S + sum(step.share_s for step in steps) <= gpu_check.BUDGET_S == 540
    for step in steps:
        assert step.args[step.args.index("--device") + 1] == "cuda" and step.files
    assert "/photos" in steps[1].args and "1080" in steps[2].args


def test_without_cuda_every_step_is_skipped_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "device_name", lambda dry_run: "NVIDIA Test GPU")
    monkeypatch.setattr(gpu_check, "install_cuda_runtime", lambda out, env, timeout: "onnxruntime offers no CUDA")
    summary = gpu_check.gpu_check(results=tmp_path)
    assert {step["status"] for step in summary["steps"]} == {"skipped (onnxruntime offers no CUDA)"}
    written = json.loads((tmp_path / "gpu-check-nvidia-test-gpu" / "summary.json").read_text())
    assert written["device"] == "NVIDIA Test GPU" and written["problem"] == "onnxruntime offers no CUDA"


@pytest.mark.slow
@pytest.mark.torch
def test_the_dry_run_writes_every_result_within_its_budget(tmp_path):
    pytest.importorskip("torch")
    summary = gpu_check.gpu_check(dry_run=True, results=tmp_path)
    out = tmp_path / "gpu-check-cpu-dry-run"
    assert summary["device"] == "cpu-dry-run" and summary["elapsed_s"] < gpu_check.DRY_RUN_BUDGET_S
    assert [(step["name"], step["status"]) for step in summary["steps"]] == \
        [("paper", "ok"), ("throughput", "ok"), ("video", "ok"), ("train", "ok")], (out / "summary.md").read_text()
    for step in summary["steps"]:
        assert step["files"] and all(Path(name).is_file() for name in step["files"])
    assert json.loads((out / "video-144p.json").read_text())["device"] == "cpu"
    assert json.loads((out / "summary.json").read_text()) == summary and not list(out.rglob("*.pt"))
