"""A ~17.5k-parameter CNN for fast experiments and tiny CPU deployments (MSE, Adam)."""

from __future__ import annotations

from torch import Tensor, nn

from colorfuse.train.models.base import ColorizationModel
from colorfuse.train.models.registry import register_model


@register_model("tiny")
class TinyModel(ColorizationModel):
    """5x5 conv 16, 5x5 conv 16, max-pool, 5x5 conv 12, 5x5 conv 9 s2, up, 3x3 conv 32, up,
    3x3 conv 2 + tanh; ReLU between, He-normal init, 'same' padding."""

    size_multiple = 4

    def __init__(self) -> None:
        super().__init__()
        relu = nn.ReLU
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), relu(),
            nn.Conv2d(16, 16, 5, padding=2), relu(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 12, 5, padding=2), relu(),
            nn.Conv2d(12, 9, 5, stride=2, padding=2), relu(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(9, 32, 3, padding=1), relu(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(32, 2, 3, padding=1), nn.Tanh(),
        )  # fmt: skip
        for m in self.net:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        return self.net(l)
