"""``make gpu-check``: the CUDA half of the benchmarks, in one run of at most 9 minutes.

On a machine with CUDA: installs the onnxruntime-gpu wheel staged by ``../shared/tools/gpu-prepare``
(``source .gpu/setup.sh install``, which unpacks it into ``/tmp/ortgpu``), checks that onnxruntime
offers CUDA, then runs ``bench paper --device cuda``, ``bench throughput --device cuda`` on the
validation photos, ``bench video --device cuda`` at 1080p and a short training run on CUDA. Each
step runs as its own ``python -m colorfuse`` process with its share of the budget as a timeout; a
step that fails or runs out of time is recorded and the next one runs. Everything goes to
``benchmarks/results/gpu-check-DEVICE/`` (DEVICE: the GPU's name): each step's JSON and Markdown, its
log, and ``summary.json`` / ``summary.md`` (device, steps, status, seconds, files).

``--dry-run`` runs the same steps on the CPU, small (tiny model, a few photos, 144p, one epoch of
eight images), within :data:`DRY_RUN_BUDGET_S`, into ``gpu-check-cpu-dry-run/``: what the tests check.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BUDGET_S = 540  # 9 minutes, the install included
DRY_RUN_BUDGET_S = 240
INSTALL_S = 60
ORT_GPU = "/tmp/ortgpu"  # where .gpu/setup.sh unpacks onnxruntime-gpu
VALIDATION = ROOT.parent / "shared" / "data" / "val" / "imagenet_samples"
STAGED_TRAIN = Path("/tmp/data/train")  # .gpu/setup.sh unpacks the staged training photos here


@dataclass
class Step:
    """One benchmark: its command line (after ``python -m colorfuse``), its share of the budget, its result files."""

    name: str
    args: list[str]
    share_s: float
    files: list[str] = field(default_factory=list)


def default_photos() -> Path:
    """The validation photos when they are beside the checkout, else the staged training photos."""
    return VALIDATION if VALIDATION.is_dir() else STAGED_TRAIN


def plan(out: Path, photos: Path, dry_run: bool) -> list[Step]:
    """The four steps, on CUDA at full size or (``dry_run``) on the CPU, small."""
    def files(stem, *suffixes):
        return [str(out / f"{stem}{suffix}") for suffix in suffixes]

    if dry_run:
        small = ["--model", "tiny"]
        return [
            Step("paper", ["bench", "paper", "--device", "cpu", "--sizes", "64", "--repeats", "1", "--no-torch",
                           "--no-end-to-end", *small, "--json", *files("paper", ".json"), "--md", *files("paper", ".md")],
                 40, files("paper", ".json", ".md")),
            Step("throughput", ["bench", "throughput", str(ROOT / "samples" / "gray"), "--device", "cpu", "--limit", "4",
                                *small, "--json", *files("throughput", ".json"), "--md", *files("throughput", ".md")],
                 40, files("throughput", ".json", ".md")),
            Step("video", ["bench", "video", "--device", "cpu", "--heights", "144", "--frames", "4", *small,
                           "--json", *files("video-144p", ".json")], 60, files("video-144p", ".json")),
            Step("train", ["train", "tiny", "--data", str(ROOT / "samples" / "imagenet"), "--out", str(out / "train"),
                           "--val", str(ROOT / "samples" / "imagenet"),
                           "--device", "cpu", "--epochs", "1", "--max-images", "8", "--batch-size", "4", "--crop", "32",
                           "--workers", "0"], 60, [str(out / "train" / "metrics.jsonl"), str(out / "train" / "run.json")]),
        ]
    return [
        Step("paper", ["bench", "paper", "--device", "cuda", "--json", *files("paper", ".json"),
                       "--md", *files("paper", ".md")], 170, files("paper", ".json", ".md")),
        Step("throughput", ["bench", "throughput", str(photos), "--device", "cuda", "--limit", "400",
                            "--json", *files("throughput", ".json"), "--md", *files("throughput", ".md")],
             110, files("throughput", ".json", ".md")),
        Step("video", ["bench", "video", "--device", "cuda", "--heights", "1080", "--frames", "90",
                       "--json", *files("video-1080p", ".json")], 110, files("video-1080p", ".json")),
        Step("train", ["train", "tiny", "--data", str(photos), "--out", str(out / "train"), "--device", "cuda",
                       "--minutes", "0.75", "--max-images", "2048", "--workers", "4"],
             90, [str(out / "train" / "metrics.jsonl"), str(out / "train" / "run.json")]),
    ]


def device_name(dry_run: bool) -> str:
    """The GPU's name from nvidia-smi (``cpu-dry-run`` for a dry run; ``unknown-gpu`` without nvidia-smi)."""
    if dry_run:
        return "cpu-dry-run"
    try:
        found = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, timeout=30).stdout.strip().splitlines()
    except (OSError, subprocess.TimeoutExpired):
        found = []
    return found[0].strip() if found else "unknown-gpu"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def install_cuda_runtime(out: Path, env: dict, timeout: float) -> str | None:
    """Install the staged onnxruntime-gpu (``.gpu/setup.sh install``); why CUDA is not usable, or None."""
    setup = ROOT / ".gpu" / "setup.sh"
    log = out / "install.log"
    if not Path(ORT_GPU, "onnxruntime").is_dir():
        if not setup.is_file():
            return f"{setup} is missing: run ../shared/tools/gpu-prepare here and stage .gpu/parts first"
        try:
            done = subprocess.run(["bash", "-c", f"source {setup} install"], cwd=ROOT, capture_output=True, text=True,
                                  timeout=timeout)
            log.write_text(done.stdout + done.stderr)
        except subprocess.TimeoutExpired:
            return f"the install ran past {timeout:.0f} s"
    probe = subprocess.run([sys.executable, "-c", "import onnxruntime as o; print(o.get_available_providers())"],
                           env=env, capture_output=True, text=True, timeout=120)
    with log.open("a") as handle:
        handle.write(probe.stdout + probe.stderr)
    return None if "CUDAExecutionProvider" in probe.stdout else f"onnxruntime offers no CUDA: {probe.stdout.strip()}"


def run_step(step: Step, out: Path, env: dict, timeout: float) -> dict:
    """Run one step with ``timeout``; its status (ok, failed, timeout), seconds and the result files it wrote."""
    start = time.perf_counter()
    with (out / f"{step.name}.log").open("w") as log:
        try:
            code = subprocess.run([sys.executable, "-m", "colorfuse", *step.args], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, timeout=timeout).returncode
            status = "ok" if code == 0 else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            status = f"timeout ({timeout:.0f} s)"
    for checkpoint in (out / "train").glob("*.pt") if step.name == "train" else ():
        checkpoint.unlink()  # the figures are what is kept, not the weights
    return {"name": step.name, "command": "colorfuse " + " ".join(step.args), "status": status,
            "seconds": round(time.perf_counter() - start, 1), "timeout_s": round(timeout),
            "files": [str(Path(f).relative_to(ROOT)) if Path(f).is_relative_to(ROOT) else f
                      for f in step.files if Path(f).is_file()]}


def summary_markdown(summary: dict) -> str:
    lines = [f"# gpu-check on {summary['device']}", "",
             f"{summary['date']}, {summary['elapsed_s']:.0f} s of a {summary['budget_s']} s budget"
             + (f"; {summary['problem']}" if summary.get("problem") else ""), "",
             "| step | status | seconds | files |", "|---|---|---:|---|"]
    lines += [f"| {s['name']} | {s['status']} | {s['seconds']} | {', '.join(s['files'])} |" for s in summary["steps"]]
    return "\n".join(lines) + "\n"


def gpu_check(dry_run: bool = False, results: Path = RESULTS, photos: Path | None = None,
              budget_s: float | None = None) -> dict:
    """Run the check; returns the summary (also written as summary.json and summary.md)."""
    start = time.perf_counter()
    budget_s = budget_s or (DRY_RUN_BUDGET_S if dry_run else BUDGET_S)
    device = device_name(dry_run)
    out = results / f"gpu-check-{slug(device)}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ)
    if not dry_run:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [ORT_GPU, env.get("PYTHONPATH")]))
    problem = None if dry_run else install_cuda_runtime(out, env, INSTALL_S)
    steps = []
    for step in plan(out, photos or default_photos(), dry_run):
        left = budget_s - (time.perf_counter() - start)
        if problem or left < 5:
            steps.append({"name": step.name, "command": "colorfuse " + " ".join(step.args),
                          "status": f"skipped ({problem or 'no time left'})", "seconds": 0, "files": []})
            continue
        steps.append(run_step(step, out, env, min(step.share_s, left)))
        print(f"gpu-check {step.name}: {steps[-1]['status']} in {steps[-1]['seconds']} s", flush=True)
    summary = {"device": device, "dry_run": dry_run, "budget_s": round(budget_s), "date": time.strftime("%Y-%m-%d %H:%M"),
               "elapsed_s": round(time.perf_counter() - start, 1), "problem": problem, "steps": steps}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary))
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU, small")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for gpu-check-DEVICE/")
    parser.add_argument("--photos", type=Path, default=None, help="photos for throughput and training")
    args = parser.parse_args(argv)
    summary = gpu_check(args.dry_run, args.results, args.photos)
    print(summary_markdown(summary))
    return 0 if all(step["status"] == "ok" for step in summary["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
