"""Several trained models as one graph: the mean of their outputs (a deep ensemble).

Members that run the same frozen, packaged encoder (``shared_encoder_key``) share one encoder
module, so the exported file holds its weights once and the graph computes its features once
per input; each member then runs only its own decoder.
"""

from __future__ import annotations

from torch import Tensor, nn


def _outputs(model: nn.Module) -> list[str]:
    return model.output_names() if hasattr(model, "output_names") else ["ab"]


class Ensemble(nn.Module):
    """``forward(l[, l_global])`` -> the mean of the members' export outputs (one tensor, or a
    tuple when the members have several outputs). Members must agree on their inputs (global
    view size), size multiple and output names."""

    def __init__(self, models: list[nn.Module]) -> None:
        super().__init__()
        if len(models) < 2:
            raise ValueError("an ensemble needs at least two models")
        first = models[0]
        for model in models[1:]:
            for attr in ("global_input_size", "size_multiple"):
                if getattr(model, attr) != getattr(first, attr):
                    raise ValueError(f"ensemble members differ in {attr}: {getattr(first, attr)} vs {getattr(model, attr)}")
            if _outputs(model) != _outputs(first):
                raise ValueError(f"ensemble members differ in outputs: {_outputs(first)} vs {_outputs(model)}")
        groups: dict[object, list[int]] = {}
        for i, model in enumerate(models):
            key = getattr(model, "shared_encoder_key", lambda: None)()
            groups.setdefault(key if key is not None else ("own", i), []).append(i)
        for members in groups.values():
            for i in members[1:]:
                models[i].encoder = models[members[0]].encoder  # one module: its weights once
        self.models = nn.ModuleList(models)
        self.groups = list(groups.values())
        self.global_input_size, self.size_multiple = first.global_input_size, first.size_multiple

    def output_names(self) -> list[str]:
        return _outputs(self.models[0])

    def forward(self, l: Tensor, l_global: Tensor | None = None):  # noqa: E741
        outputs = []
        for members in self.groups:
            shared = getattr(self.models[members[0]], "features", None)
            features = shared(l, l_global) if shared is not None and len(members) > 1 else None
            for i in members:
                model = self.models[i]
                out = model.export_from_features(features, l) if features is not None else model.export_module()(l, l_global)
                outputs.append(out if isinstance(out, tuple) else (out,))
        mean = tuple(sum(parts) / len(outputs) for parts in zip(*outputs))
        return mean if len(mean) > 1 else mean[0]
