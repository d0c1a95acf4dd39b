"""The interface every colorfuse model implements (used by the trainer and the exporter).

Normalisation: the input ``l`` is CIELAB L mapped to ``L/50 - 1`` ([-1, 1]); the output and the
target are ``ab/110``. Tensors are NCHW float32.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def backward_step(loss: Tensor, optimizer: torch.optim.Optimizer, scaler=None) -> None:
    """Back-propagate ``loss`` and step ``optimizer``, through an AMP ``scaler`` when given.

    The caller zeroes the gradients before and calls ``scaler.update()`` once after all steps.
    """
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)


class ColorizationModel(nn.Module):
    """Base class: maps normalised L (N,1,H,W) to normalised ab (N,2,H,W).

    Subclasses pass their constructor kwargs to ``super().__init__(**kwargs)`` so that
    ``build_model(self.name, **self.config())`` rebuilds the same architecture.
    """

    name: str = ""
    global_input_size: int | None = None
    size_multiple: int = 1
    cpu_bf16: bool = False  # bf16 autocast measured faster on CPU (the trainer's precision "auto")
    prefers_channels_last: bool = False  # trained in channels_last memory format

    def __init__(self, **config: Any) -> None:
        super().__init__()
        self._config = dict(config)

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        raise NotImplementedError

    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """MSE between the prediction and ``batch['ab']``."""
        loss = F.mse_loss(self(batch["l"], batch.get("l_global")), batch["ab"])
        return loss, {"loss": loss.item()}

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(self.trainable_parameters(), lr=lr)]

    def train_step(
        self,
        batch: dict,
        optimizers: list[torch.optim.Optimizer],
        scaler=None,
        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ) -> dict[str, float]:
        """One optimisation step on ``batch`` with every optimizer; returns the loss logs."""
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        with autocast():
            loss, logs = self.training_loss(batch)
        if scaler is None:
            loss.backward()
        else:
            scaler.scale(loss).backward()
        for opt in optimizers:
            if scaler is None:
                opt.step()
            else:
                scaler.step(opt)
        if scaler is not None:
            scaler.update()
        return logs

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def export_module(self) -> nn.Module:
        """The module to export to ONNX: ``forward(l[, l_global]) -> ab_norm``."""
        return self

    def config(self) -> dict:
        """JSON-able constructor kwargs."""
        return dict(self._config)

    def card_extras(self) -> dict:
        """Extra facts for the model card."""
        return {}
