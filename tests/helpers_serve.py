"""The small hint-taking model of :mod:`tests.helpers_hints`, built once per test process for the serve tests."""

from __future__ import annotations

from pathlib import Path

_BUILT: dict[str, Path] = {}


def shared_hint_model(tmp_path_factory) -> Path:
    """``helpers_hints.hint_model`` (about a minute), made on the first call and reused after."""
    if "path" not in _BUILT:
        import torch

        from tests.helpers_hints import hint_model

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            _BUILT["path"] = hint_model(tmp_path_factory.mktemp("serve-hint-model"))
        finally:
            torch.set_num_threads(threads)
    return _BUILT["path"]
