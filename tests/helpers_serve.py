"""A small hint-taking model for the serve tests, built once per test process: the members of
:mod:`tests.helpers_hints` and a hint branch trained long enough (20 short epochs, about 30 s) that a
hint visibly moves the colour at its point, which one epoch does not."""

from __future__ import annotations

from pathlib import Path

_BUILT: dict[str, Path] = {}


def shared_hint_model(tmp_path_factory) -> Path:
    """The exported model (working size 64), made on the first call and reused after."""
    if "path" not in _BUILT:
        import torch

        from colorfuse.train.export import export_model
        from colorfuse.train.trainer import train
        from tests.helpers_hints import data_folders, member_runs

        root = tmp_path_factory.mktemp("serve-hint-model")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            members = member_runs(root)
            train_dir, val_dir = data_folders(root)
            train("effnet_hints", [str(train_dir)], root / "hints", val=[str(val_dir)], epochs=20, batch_size=8,
                  crop=32, lr=1e-2, model_kwargs={"members": [str(p) for p in members], "width": 8, "palette_dim": 8})
            export_model(root / "hints", root / "hints.onnx", fp16_weights=True, max_side=64)
        finally:
            torch.set_num_threads(threads)
        _BUILT["path"] = root / "hints.onnx"
    return _BUILT["path"]
