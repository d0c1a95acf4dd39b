"""Colour hints for a trained effnet ensemble: frozen members, a zero-initialised hint branch.

The members (the ``effnet`` runs of an ensemble) stay exactly as trained: encoders and decoders
frozen. The first member, the *guide*, gets a hint branch that adds a residual to its decoder
levels at strides 32, 16, 8 and 4, as ControlNet adds one to a frozen network: the local hints
(mean hint ab, presence and density of hint pixels, pooled to the level) and the palette
embedding go through a bias-free 3x3 conv and ReLU, are multiplied by a 1x1 projection of the
level's own features (so the image's structure decides where a hint spreads), spread by two
dilated 3x3 convs and projected back by a zero-initialised 1x1 conv. The model's ab is the
members' mean plus what the hints change in the guide: ``mean + guide(hints) - guide()``.
Every step of the hint path is bias-free, so with no hints (zero mask, zero palette with its
keep flags 0) that change is exactly zero and the model is the automatic ensemble.

Training (``colorfuse train effnet_hints --set members='[...]'``) runs only the guide, with the
hints of :mod:`colorfuse.train.models.hint_sampling` simulated from each batch's truth, and fits
both of its heads (smooth L1 on ab/110). ``--set decoder_lr=F`` also opens the guide's decoder
(everything but its encoder) at ``F`` x the learning rate, so the layers after the hints learn to
carry them; its weights are then kept in this model's checkpoint, and the automatic colorizer is
the guide as trained here (hint-free samples and the validation figure keep it honest). The exported graph takes ``L``, ``L_global``,
``hint_ab`` (N, 2, H, W), ``hint_mask`` (N, 1, H, W) and ``palette`` (N, Q + 3, 1, 1).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colorfuse.train.models import hint_sampling
from colorfuse.train.models.ab_bins import ab_bins
from colorfuse.train.models.base import ColorizationModel
from colorfuse.train.models.ensemble import Ensemble
from colorfuse.train.models.registry import build_model, register_model

STRIDES = (32, 16, 8, 4)  # the decoder levels the hints reach (stride 2 measured too costly on CPU)
DISTRIBUTION = "ab_distribution"  # output: the guide's ab-bin probabilities at stride 4 (suggested colours)
EVAL_SEED = 20170701  # validation draws the same hints for the same batch every epoch


class HintLevel(nn.Module):
    """The residual one decoder level gets from the hints (zero when there are none)."""

    def __init__(self, channels: int, width: int, palette_dim: int) -> None:
        super().__init__()
        self.hint_in = nn.Conv2d(4 + palette_dim, width, 3, padding=1, bias=False)
        self.image_in = nn.Conv2d(channels, width, 1)
        self.spread = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=2, dilation=2, bias=False), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=2, dilation=2, bias=False), nn.ReLU(),
        )  # fmt: skip
        self.out = nn.Conv2d(width, channels, 1, bias=False)
        nn.init.zeros_(self.out.weight)

    def forward(self, x: Tensor, local: Tensor, palette: Tensor) -> Tensor:
        palette = palette[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        hint = F.relu(self.hint_in(torch.cat([local.to(x.dtype), palette.to(x.dtype)], 1)))
        return x + self.out(self.spread(hint * self.image_in(x)))


def pooled_hints(hint_ab: Tensor, hint_mask: Tensor, stride: int) -> Tensor:
    """(N, 4, H/s, W/s): the mean hint ab over the cell, whether it holds a hint, and how much."""
    mask = F.avg_pool2d(hint_mask.float(), stride)
    ab = F.avg_pool2d(hint_ab.float() * hint_mask.float(), stride) / mask.clamp(min=1e-6)
    return torch.cat([ab, (mask > 0).float(), mask.sqrt()], 1)


class HintBranch(nn.Module):
    """One member's hint path: a palette embedding and one :class:`HintLevel` per decoder level."""

    def __init__(self, channels: list[int], palette_size: int, width: int, palette_dim: int) -> None:
        super().__init__()
        self.palette_fc = nn.Linear(palette_size, palette_dim, bias=False)
        self.levels = nn.ModuleList(HintLevel(c, width, palette_dim) for c in channels[: len(STRIDES)])

    def injector(self, hint_ab: Tensor, hint_mask: Tensor, palette: Tensor):
        """The ``inject(level, x)`` function the member's decoder calls."""
        embedding = F.relu(self.palette_fc(palette.flatten(1).float()))
        local = {s: pooled_hints(hint_ab, hint_mask, s) for s in STRIDES}

        def inject(level: int, x: Tensor) -> Tensor:
            return self.levels[level](x, local[STRIDES[level]], embedding) if level < len(self.levels) else x

        return inject


def _drop_members(module, state_dict, prefix, _metadata):
    """The frozen members' weights live in their own checkpoints, not in this model's (a guide's
    decoder opened by ``decoder_lr`` stays)."""
    for key in [k for k in state_dict if k[len(prefix):].startswith("members.")]:
        if not module.trains_weight(key[len(prefix):]):
            del state_dict[key]


class _Export(nn.Module):
    def __init__(self, model: "HintedEffnet") -> None:
        super().__init__()
        self.model = model

    def forward(self, l, l_global, hint_ab, hint_mask, palette):  # noqa: E741
        return self.model.predict(l, l_global, (hint_ab, hint_mask, palette), vivid=True, distribution=True)


@register_model("effnet_hints")
class HintedEffnet(ColorizationModel):
    """Kwargs: ``members`` (run directories or checkpoints of trained ``effnet`` models, with the
    same outputs and global view size; a relative path not found here is taken from the
    repository), ``width`` (channels of each hint level), ``palette_dim``, ``looks`` (the
    looks the export will have, ``{name: {"mix": {output: weight}, "scale": s}}``, for the loss)
    and ``decoder_lr`` (0: the members stay frozen; F > 0: the guide's decoder trains at F x the
    learning rate)."""

    size_multiple = 32
    cpu_bf16 = True
    int8_weight_scopes = ("/dec", "/global_fc", "/ab_head", "/bin_head")  # the members', as their own export
    int8_small_weight_scopes = {"/levels": 9000, "/palette_fc": 9000}  # with --int8-weights: the hint branch's too

    def __init__(self, members: list[str], width: int = 32, palette_dim: int = 64, looks: dict | None = None,
                 decoder_lr: float = 0.0) -> None:
        config = {"decoder_lr": decoder_lr} if decoder_lr else {}  # recorded only when used
        super().__init__(members=[str(m) for m in members], width=width, palette_dim=palette_dim, looks=looks, **config)
        self.decoder_lr = decoder_lr
        from colorfuse.train import runs

        self.member_paths = [runs.checkpoint_path(runs.repository_path(m)) for m in members]
        states = [runs.load_checkpoint(path) for path in self.member_paths]
        models = []
        for state in states:
            if state["model_name"] != "effnet":
                raise ValueError(f"effnet_hints: members must be effnet runs, got {state['model_name']!r}")
            model = build_model("effnet", **state["model_config"])
            model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["model_state"].items()})
            models.append(model)
        ensemble = Ensemble(models) if len(models) > 1 else None  # members with one encoder share it
        self.members = nn.ModuleList(models) if ensemble is None else ensemble.models
        self.groups = [[0]] if ensemble is None else ensemble.groups
        self._member_states = states
        self.members.requires_grad_(False)
        if decoder_lr:
            for name, param in self.members[0].named_parameters():
                param.requires_grad_(not name.startswith("encoder."))
        self.global_input_size = models[0].global_input_size
        self.register_buffer("bins", ab_bins(), persistent=False)
        size = hint_sampling.palette_size(len(self.bins))
        self.branches = nn.ModuleList([HintBranch(models[0].decoder_channels(), size, width, palette_dim)])
        self._register_state_dict_hook(_drop_members)
        self.looks = looks or {name: {"mix": {name: 1.0}, "scale": 1.0} for name in self.output_names()}

    def member_runs(self) -> list[tuple[Path, dict, nn.Module]]:
        """(checkpoint, loaded checkpoint, model) of each member, the guide first."""
        return list(zip(self.member_paths, self._member_states, self.members))

    def train(self, mode: bool = True) -> "HintedEffnet":
        super().train(mode)
        self.members.eval()  # frozen: batch-norm statistics stay the trained ones
        return self

    def built_weight(self, key: str) -> bool:
        """The members' weights come from their own checkpoints when the model is built."""
        return key.startswith("members.")

    def trains_weight(self, key: str) -> bool:
        """Whether a member's weight is trained here (the guide's decoder, with ``decoder_lr``)."""
        return bool(self.decoder_lr) and key.startswith("members.0.") and not key.startswith("members.0.encoder.")

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Only the hint branches: the members come from their own checkpoints."""
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if not k.startswith("members.")]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"effnet_hints: state_dict mismatch: missing {missing}, unexpected {result.unexpected_keys}")
        return result

    @property
    def has_vivid(self) -> bool:
        return self.members[0].has_vivid

    def output_names(self) -> list[str]:
        return self.members[0].output_names()

    def export_output_names(self) -> list[str]:
        """The graph's outputs: the looks' heads, then the guide's ab-bin probabilities."""
        return self.output_names() + [DISTRIBUTION]

    def default_looks(self):
        return self.members[0].default_looks()

    def predict(self, l: Tensor, l_global: Tensor | None, hints=None, vivid: bool = False,  # noqa: E741
                distribution: bool = False):
        """The members' mean ab (and vivid ab) plus what ``hints`` = (hint_ab, hint_mask, palette)
        change in the guide; with ``distribution`` (and hints), the guide's ab-bin probabilities
        last. The guide's decoder runs once, on the image twice: with the hints and without
        (zero hints, where its branch adds exactly nothing), so an export holds it once. A lone
        guide (one member) runs once, with the hints: its mean is itself, so the change needs no
        hint-free run."""
        if hints is not None and len(self.members) == 1:
            out = self.guided(self.members[0].features(l, l_global), l, hints, vivid, distribution)
            return out if vivid or distribution else out[0]
        outputs, change = [], None
        for group in self.groups:
            shared = self.members[group[0]].features(l, l_global) if len(group) > 1 else None
            for i in group:
                member = self.members[i]
                features = shared if shared is not None else member.features(l, l_global)
                if i == 0 and hints is not None:
                    hinted, plain = self._guide_twice(features, l, hints, vivid, distribution)
                    change = [h - p for h, p in zip(hinted, plain)]
                    outputs.append(plain)
                    continue
                out = member.predict_from(features, l, vivid=vivid)
                outputs.append(out if isinstance(out, tuple) else (out,))
        mean = tuple(sum(parts) / len(outputs) for parts in zip(*outputs))
        if change is not None:
            mean = tuple(m + c for m, c in zip(mean, change)) + ((hinted[-1],) if distribution else ())
        return mean if vivid or distribution else mean[0]

    def _guide_twice(self, features, l: Tensor, hints, vivid: bool, distribution: bool):  # noqa: E741
        """The guide's heads with the hints and without, from one decoder run on a doubled batch."""
        taps, global_vector = features
        n = l.shape[0]
        doubled = ([torch.cat([t, t]) for t in taps], torch.cat([global_vector, global_vector]))
        both = tuple(torch.cat([h, torch.zeros_like(h)]) for h in hints)
        out = self.guided(doubled, torch.cat([l, l]), both, vivid, distribution)
        heads = out[:-1] if distribution else out
        return [o[:n] for o in out], [h[n:] for h in heads]

    def guided(self, features, l: Tensor, hints, vivid: bool, distribution: bool = False) -> tuple[Tensor, ...]:  # noqa: E741
        """The guide's outputs (a tuple) with ``hints`` = (hint_ab, hint_mask, palette); with
        ``distribution``, its ab-bin probabilities last."""
        out = self.members[0].predict_from(features, l, vivid=vivid, inject=self.branches[0].injector(*hints),
                                           distribution=distribution)  # fmt: skip
        return out if isinstance(out, tuple) else (out,)

    def forward(self, l: Tensor, l_global: Tensor | None = None, hint_ab=None, hint_mask=None, palette=None):  # noqa: E741
        hints = None if hint_ab is None else (hint_ab, hint_mask, palette)
        return self.predict(l, l_global, hints)

    def simulated_hints(self, ab: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Random hints from the truth (fixed per batch in eval mode, so validation compares)."""
        gen = None if self.training else torch.Generator().manual_seed(EVAL_SEED + ab.shape[0])
        hint_ab, mask = hint_sampling.local_hints(ab, gen)
        return hint_ab, mask, hint_sampling.palette_hints(ab, self.bins, gen)

    def training_loss(self, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """Smooth L1 (beta 0.05) on ab/110 of each look (``scale * sum(weight * head)``; without
        ``looks``, each head alone) of the guide with simulated hints: the looks the engine
        shows scale the hints' change too, so that is what must match the truth."""
        l, ab = batch["l"], batch["ab"]  # noqa: E741
        l_global = batch.get("l_global")
        if l_global is not None and l_global.shape == l.shape:
            l_global = l
        features = self.members[0].features(l, l_global)
        heads = dict(zip(self.output_names(), self.guided(features, l, self.simulated_hints(ab), vivid=self.has_vivid)))
        losses = {}
        for name, look in self.looks.items():
            mixed = look.get("scale", 1.0) * sum(w * heads[head].float() for head, w in look["mix"].items() if head in heads)
            losses[name] = F.smooth_l1_loss(mixed, ab.float(), beta=0.05)
        loss = sum(losses.values())
        return loss, {"loss": loss.item(), **{k: v.item() for k, v in losses.items()}}

    def configure_optimizers(self, lr: float) -> list[torch.optim.Optimizer]:
        decoder = [p for p in self.members[0].parameters() if p.requires_grad]
        groups = [{"params": list(self.branches.parameters())}]
        groups += [{"params": decoder, "lr": lr * self.decoder_lr}] if decoder else []
        return [torch.optim.AdamW(groups, lr=lr, weight_decay=1e-4)]

    def export_module(self) -> nn.Module:
        return _Export(self)

    def export_inputs(self, height: int, width: int, batch: int, gen: torch.Generator):
        """Random hint inputs for export and parity checks (a few patches, a kept palette)."""
        ab = torch.rand(batch, 2, height, width, generator=gen) * 0.6 - 0.3
        hint_ab, mask = hint_sampling.local_hints(ab, gen, max_points=12)
        keep = torch.ones(batch)
        palette = hint_sampling.palette_vector(hint_sampling.palette_histogram(ab, self.bins),
                                               hint_sampling.mean_chroma(ab), keep, keep)  # fmt: skip
        return [hint_ab, mask, palette]

    def hint_card(self) -> dict:
        """What the card says of the hint inputs (the engine builds them from it)."""
        return {
            "version": 1, "ab_scale": hint_sampling.AB_SCALE,
            "local": {"ab": "hint_ab", "mask": "hint_mask",
                      "description": "hint ab / ab_scale on the hint's pixels (0 elsewhere); mask 1 there"},
            "distribution": {"output": DISTRIBUTION, "stride": 4,
                             "description": "probabilities over the palette bins, with the hints given"},
            "palette": {"input": "palette", "pool": hint_sampling.PALETTE_POOL,
                        "bins": self.bins.tolist(),
                        "layout": "histogram over bins x keep_hist, mean chroma / ab_scale x keep_chroma, "
                                  "keep_hist, keep_chroma"},
        }  # fmt: skip

    def card_extras(self) -> dict:
        extras = self.members[0].card_extras()
        return {"encoder": extras["encoder"], "default_max_side": extras["default_max_side"],
                "hints": self.hint_card(), "ab_bins": extras["ab_bins"],
                "vivid_temperature": extras["vivid_temperature"]}  # fmt: skip
