"""A run directory: ``run.json``, ``metrics.jsonl``, ``loss_curve.png``, ``last.pt``, ``best.pt``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

RUN_JSON = "run.json"
METRICS = "metrics.jsonl"
LOSS_CURVE = "loss_curve.png"
LAST = "last.pt"
BEST = "best.pt"


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def append_metrics(run_dir: Path, record: dict) -> None:
    with open(Path(run_dir) / METRICS, "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def write_metrics(run_dir: Path, records: list[dict]) -> None:
    (Path(run_dir) / METRICS).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def save_checkpoint(state: dict, path: Path) -> None:
    """``torch.save`` to a temporary name, then rename (a crash never leaves half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file as given, or a run directory's ``best.pt`` (else ``last.pt``)."""
    path = Path(path)
    if path.is_dir():
        for name in (BEST, LAST):
            if (path / name).exists():
                return path / name
        raise FileNotFoundError(f"{path}: no {BEST} or {LAST} in this run directory")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint or run directory")
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint written by the trainer (plain tensors and containers only)."""
    return torch.load(checkpoint_path(path), map_location="cpu", weights_only=True)
