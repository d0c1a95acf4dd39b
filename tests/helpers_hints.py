"""A small hint-taking model for tests: two tiny effnet members and an effnet_hints run on
synthetic photos (a minute on one CPU core), exported with its card."""

from __future__ import annotations

from pathlib import Path

from tests.helpers_train import train_val_folders

SMALL = {"width": 0.125, "global_size": 32, "cls_weight": 1.0}


def data_folders(root: Path) -> tuple[Path, Path]:
    return root / "data" / "train", root / "data" / "val"


def member_runs(root: Path) -> list[Path]:
    """Two trained tiny effnet runs (sharing the packaged Lite0 encoder) under ``root``."""
    from colorfuse.train.trainer import train

    train_dir, val_dir = train_val_folders(root / "data", 24, real=0, val=6)
    paths = []
    for seed in (0, 1):
        run = root / f"member{seed}"
        train("effnet", [str(train_dir)], run, val=[str(val_dir)], epochs=1, batch_size=8, crop=32, seed=seed,
              model_kwargs=SMALL)  # fmt: skip
        paths.append(run)
    return paths


def hint_run(root: Path, members: list[Path], train_dir: Path, val_dir: Path) -> Path:
    """One epoch of effnet_hints on ``members``."""
    from colorfuse.train.trainer import train

    run = root / "hints"
    train("effnet_hints", [str(train_dir)], run, val=[str(val_dir)], epochs=1, batch_size=8, crop=32, lr=3e-3,
          model_kwargs={"members": [str(p) for p in members], "width": 8, "palette_dim": 8})  # fmt: skip
    return run


def hint_model(root: Path, max_side: int = 64) -> Path:
    """A small exported hint-taking model (``root/hints.onnx``), trained from scratch under ``root``."""
    from colorfuse.train.export import export_model

    members = member_runs(root)
    run = hint_run(root, members, *data_folders(root))
    path = root / "hints.onnx"
    export_model(run, path, fp16_weights=True, max_side=max_side)
    return path


def steering_hint_model(root: Path) -> Path:
    """:func:`hint_model` with its hint branches' weights drawn at random (seeded): one epoch leaves
    them so near their zero start that hints move colours by under 0.01 RGB levels, too little to
    follow them through the engine. Exported with float32 weights (parity holds), working size 64."""
    import torch

    from colorfuse.train import runs
    from colorfuse.train.export import export_model

    run = hint_run(root, member_runs(root), *data_folders(root))
    checkpoint = runs.checkpoint_path(run)
    state = runs.load_checkpoint(checkpoint)
    generator = torch.Generator().manual_seed(0)
    for key, value in state["model_state"].items():
        if key.startswith("branches.") and key.endswith("weight"):
            state["model_state"][key] = torch.randn(value.shape, generator=generator) * 0.4
    runs.save_checkpoint(state, checkpoint)
    export_model(run, root / "hints.onnx", fp16_weights=False, max_side=64)
    return root / "hints.onnx"
