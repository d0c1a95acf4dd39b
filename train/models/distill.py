"""Distillation: a trained ensemble's mean outputs as a second training target for one model.

One ``effnet`` model costs a third of the three-member ensemble it can learn from. With
``--set teacher='["RUN", ...]'`` its training loss adds, at ``teacher_weight``, the smooth L1 to
the teachers' mean stride-2 ab and the cross-entropy of its bin head against their mean bin
probabilities (soft targets, no rebalancing), beside the usual losses against the truth. The
teachers are frozen, loaded once per process on the first batch, and never part of the
student's weights, optimizer or moving average; teachers with the student's frozen encoder use
the student's features (one encoder pass for both).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_LOADED: dict[tuple[str, ...], list[nn.Module]] = {}


def teachers(paths: tuple[str, ...], device: torch.device) -> list[nn.Module]:
    """The frozen teacher models of ``paths`` (run directories or checkpoints), loaded once."""
    from colorfuse.train import runs

    if paths not in _LOADED:
        models = [runs.load_model(runs.repository_path(p)) for p in paths]
        for model in models:
            if not getattr(model, "has_vivid", False):
                raise ValueError(f"teacher {model!r}: a teacher needs the bin head (cls_weight > 0)")
            model.requires_grad_(False)
        _LOADED[paths] = models
    return [m.to(device).eval() for m in _LOADED[paths]]


@torch.no_grad()
def targets(student: nn.Module, paths: tuple[str, ...], features, l: Tensor, l_global: Tensor | None):  # noqa: E741
    """(mean ab at stride 2, mean bin probabilities at stride 4) of the teachers of ``paths``."""
    ab2, probabilities = [], []
    key = student.shared_encoder_key()
    for model in teachers(paths, l.device):
        shared = key is not None and model.shared_encoder_key() == key and model.global_input_size == student.global_input_size
        taps, global_vector = features if shared else model.features(l, l_global)
        ab, x4 = model._decode(taps, global_vector, l)
        ab2.append(ab.float())
        probabilities.append(F.softmax(model.bin_head(x4).float(), dim=1))
    return sum(ab2) / len(ab2), sum(probabilities) / len(probabilities)


def loss(student: nn.Module, paths: tuple[str, ...], features, l: Tensor, l_global, ab2: Tensor,  # noqa: E741
         logits: Tensor | None, huber_beta: float) -> tuple[Tensor, dict[str, float]]:
    """The distillation terms for the student's ``ab2`` (and bin ``logits``, if it has them)."""
    teacher_ab2, teacher_probabilities = targets(student, paths, features, l, l_global)
    regression = F.smooth_l1_loss(ab2.float(), teacher_ab2, beta=huber_beta)
    logs = {"distill_huber": regression.item()}
    if logits is None:
        return regression, logs
    soft = -(teacher_probabilities * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()
    logs["distill_ce"] = soft.item()
    return regression + soft, logs
