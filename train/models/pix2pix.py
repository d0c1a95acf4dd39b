"""pix2pix (Isola et al. 2017): the U-Net generator trained with a PatchGAN discriminator + L1.

Losses use logits (BCE-with-logits), the numerically stable form of the log terms:
generator = GAN + ``lambda_l1`` * L1, discriminator = 0.5 * (real + fake).
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colorfuse.train.models.base import ColorizationModel, backward_step
from colorfuse.train.models.registry import register_model
from colorfuse.train.models.unet import UNet


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN on concat(l, ab): C64-C128-C256-C512 (4x4 convs) -> one logit per patch."""

    def __init__(self, in_channels: int = 3, base: int = 64) -> None:
        super().__init__()
        layers, cin = [], in_channels
        for i, stride in enumerate((2, 2, 2, 1)):
            cout = base * 2**i
            layers.append(nn.Conv2d(cin, cout, 4, stride, padding=1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 4, 1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, l: Tensor, ab: Tensor) -> Tensor:  # noqa: E741
        return self.net(torch.cat([l, ab], dim=1))


def _gan_loss(logits: Tensor, real: bool) -> Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


@register_model("pix2pix")
class Pix2PixModel(ColorizationModel):
    """Kwargs: ``base``/``depth`` (as unet), ``disc_base`` (64), ``lambda_l1`` (100).

    Needs inputs of at least 32x32 for the discriminator.
    """

    def __init__(self, base: int = 32, depth: int = 4, disc_base: int = 64, lambda_l1: float = 100.0) -> None:
        super().__init__(base=base, depth=depth, disc_base=disc_base, lambda_l1=lambda_l1)
        self.size_multiple = 2**depth
        self.lambda_l1 = lambda_l1
        self.generator = UNet(1, 2, base, depth)
        self.discriminator = PatchDiscriminator(3, disc_base)

    def forward(self, l: Tensor, l_global: Tensor | None = None) -> Tensor:  # noqa: E741
        return self.generator(l)

    def _generator_loss(self, l: Tensor, ab: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, float]]:  # noqa: E741
        gan = _gan_loss(self.discriminator(l, fake), real=True)
        l1 = F.l1_loss(fake.float(), ab.float())
        loss = gan + self.lambda_l1 * l1
        return loss, {"loss": loss.item(), "g_gan": gan.item(), "l1": l1.item()}

    def _discriminator_loss(self, l: Tensor, ab: Tensor, fake: Tensor) -> Tensor:  # noqa: E741
        real_loss = _gan_loss(self.discriminator(l, ab), real=True)
        fake_loss = _gan_loss(self.discriminator(l, fake.detach()), real=False)
        return 0.5 * (real_loss + fake_loss)

    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """The generator loss (GAN + lambda_l1 * L1) with the discriminator loss in the logs."""
        l, ab = batch["l"], batch["ab"]  # noqa: E741
        fake = self.generator(l)
        loss, logs = self._generator_loss(l, ab, fake)
        logs["d"] = self._discriminator_loss(l, ab, fake).item()
        return loss, logs

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        """[generator Adam, discriminator Adam], betas (0.5, 0.999) as in the paper."""
        return [
            torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.5, 0.999)),
            torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.999)),
        ]

    def train_step(
        self,
        batch: dict,
        optimizers: list[torch.optim.Optimizer],
        scaler=None,
        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ) -> dict[str, float]:
        """A discriminator step, then a generator step, on the same batch."""
        opt_g, opt_d = optimizers
        l, ab = batch["l"], batch["ab"]  # noqa: E741
        with autocast():
            fake = self.generator(l)
            loss_d = self._discriminator_loss(l, ab, fake)
        opt_d.zero_grad(set_to_none=True)
        backward_step(loss_d, opt_d, scaler)

        self.discriminator.requires_grad_(False)
        with autocast():
            loss_g, logs = self._generator_loss(l, ab, fake)
        opt_g.zero_grad(set_to_none=True)
        backward_step(loss_g, opt_g, scaler)
        self.discriminator.requires_grad_(True)
        if scaler is not None:
            scaler.update()
        logs["d"] = loss_d.item()
        return logs

    def load_generator_from(self, state_dict: dict) -> None:
        """Start the generator from a trained ``unet`` model's state dict (same base/depth)."""
        state_dict = state_dict.get("state_dict", state_dict)
        prefix = "net."
        if any(k.startswith(prefix) for k in state_dict):
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        self.generator.load_state_dict(state_dict)

    def export_module(self) -> nn.Module:
        return self.generator
