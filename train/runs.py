"""A run directory: ``run.json``, ``metrics.jsonl``, ``loss_curve.png``, ``last.pt``, ``best.pt``."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from colorfuse.engine.atomic import write_atomic, write_json_atomic

RUN_JSON = "run.json"
METRICS = "metrics.jsonl"
LOSS_CURVE = "loss_curve.png"
LAST = "last.pt"
BEST = "best.pt"


def write_json(path: Path, data: dict) -> None:
    """``run.json`` and the like: sorted keys, written atomically."""
    write_json_atomic(data, path, sort_keys=True)


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
    write_atomic(path, lambda temporary: torch.save(state, temporary))


def repository_path(path: str | Path) -> Path:
    """A run directory or checkpoint as given, else relative to the repository (``checkpoints/...``)."""
    import colorfuse

    path = Path(path)
    if path.exists() or path.is_absolute():
        return path
    return Path(colorfuse.__file__).resolve().parent.parent / path


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


def slim_copy(checkpoint: str | Path, out_dir: str | Path, half: bool = False) -> Path:
    """A small resumable run directory: ``run.json``, ``metrics.jsonl`` up to the checkpoint, and
    the checkpoint as ``last.pt`` with only the weights the model keeps in its ``state_dict`` (a
    pretrained encoder's come from its package) and no optimizer state; ``--resume`` on it goes
    on from that step with fresh optimizer moments. ``half`` stores the floating-point weights as
    float16 (half the file; what an export with float16 weights holds anyway)."""
    from colorfuse.train.models import build_model

    source = checkpoint_path(checkpoint)
    state = load_checkpoint(source)
    keep = set(build_model(state["model_name"], **state["model_config"]).state_dict())
    state["model_state"] = {k: v.half() if half and v.is_floating_point() else v
                            for k, v in state["model_state"].items() if k in keep}
    state["optimizers"], state["scaler"] = [], None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / RUN_JSON, read_json(source.parent / RUN_JSON))
    write_metrics(out_dir, [r for r in read_metrics(source.parent) if r["step"] <= state["step"]])
    save_checkpoint(state, out_dir / LAST)
    return out_dir / LAST


def load_model(checkpoint: str | Path | dict):
    """The trained model (in eval mode) of a checkpoint, run directory or loaded checkpoint dict."""
    from colorfuse.train.models import build_model

    state = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    model = build_model(state["model_name"], **state["model_config"])
    model.load_state_dict(state["model_state"])
    return model.eval()


def load_export_module(path: str | Path):
    """What an export of ``path`` computes, in PyTorch: a checkpoint's or run directory's
    ``export_module()``, or for a folder of member run directories (``*/last.pt``, as committed
    for an ensemble) the :class:`~colorfuse.train.models.ensemble.Ensemble` of them."""
    from colorfuse.train.models.ensemble import Ensemble

    path = Path(path)
    is_run = (path / LAST).exists() or (path / BEST).exists()
    members = sorted(path.glob("*/" + LAST)) if path.is_dir() and not is_run else []
    if members:
        return Ensemble([load_model(m) for m in members]).eval()
    return load_model(path).export_module().eval()

