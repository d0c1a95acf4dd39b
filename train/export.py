"""Export a trained checkpoint to one ONNX file with its model card, checked for parity.

The graph takes ``L`` (N,1,H,W) [and ``L_global`` (N,1,G,G)] and returns ``ab`` (N,2,H,W), all
float32 (an fp16 export casts inside the graph). The file is written under a temporary name,
its card gets the graph's sha256, and it is renamed into place only after onnxruntime's output
matches the float32 PyTorch model within the card's ``parity_tolerance`` at two sizes.
"""

from __future__ import annotations

import copy
import inspect
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from colorfuse.engine.card import HINT_ROLES, Look, ModelCard, TensorSpec, embed_card, read_card
from colorfuse.errors import ColorfuseError
from colorfuse.engine.onnxfile import read_onnx
from colorfuse.train import runs
from colorfuse.train.compact_weights import constants_to_initializers, store_weights_fp16, store_weights_int8
from colorfuse.train.models.ensemble import Ensemble

LICENCE = "research-only; see shared/data/SOURCES.md"
# Max |onnxruntime - PyTorch fp32| in ab_norm units (1 = 110 ab units). Measured with onnxruntime
# 1.32 on CPU for every architecture here (small and half widths, and a trained tiny model): fp32
# <= 3e-7, fp16 <= 2e-4. The margins leave room for GPU providers (TF32) and longer-trained weights;
# 1e-2 is about one ab unit, below what the eye can see.
PARITY_TOLERANCE = {"fp32": 1e-3, "fp16": 1e-2}
PARITY_SIZES = ((97, 131), (64, 96))  # (height, width); rounded up to the size multiple
SMALL_MODEL = 100_000  # parameters; smaller models default to 256-px processing
EVALUATION_KEYS = ("val_loss", "val_psnr", "val_psnr_gray_baseline", "val_colorfulness", "val_colorfulness_truth")


class ExportParityError(ColorfuseError):
    """The exported graph's output differs from the PyTorch model's beyond the tolerance."""


class _Float16(nn.Module):
    """Runs ``module`` in fp16 behind float32 inputs and outputs (cast nodes in the graph)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module.half()

    def forward(self, *inputs: torch.Tensor):
        out = self.module(*(x.half() for x in inputs))
        return tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def parity_inputs(height: int, width: int, batch: int, global_size: int | None, seed: int = 0,
                  model=None) -> list[torch.Tensor]:
    """A smooth, photo-like random L in [-1, 1] (and its ``global_size`` view), then the model's
    ``export_inputs`` (colour hints) if it has any."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 1, height // 8 + 2, width // 8 + 2, generator=gen)
    smooth = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    l = smooth.clamp(0, 1) * 2 - 1  # noqa: E741
    inputs = [l]
    if global_size:
        inputs.append(F.interpolate(l, size=(global_size, global_size), mode="bilinear", antialias=True,
                                    align_corners=False))  # fmt: skip
    if hasattr(model, "export_inputs"):
        inputs += model.export_inputs(height, width, batch, gen)
    return inputs


def output_names(model) -> list[str]:
    """The graph's outputs: ``ab``, or the model's own list (several looks, an ab distribution)."""
    if hasattr(model, "export_output_names"):
        return model.export_output_names()
    return model.output_names() if hasattr(model, "output_names") else ["ab"]


def check_parity(path: Path, reference: nn.Module, size_multiple: int, global_size: int | None,
                 model=None) -> dict[str, float]:
    """Max |onnxruntime - reference| (ab_norm units, over every output) per ``HxW`` test size."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    errors = {}
    for batch, (h, w) in enumerate(PARITY_SIZES, start=1):
        h, w = _round_up(h, size_multiple), _round_up(w, size_multiple)
        inputs = parity_inputs(h, w, batch, global_size, seed=batch, model=model)
        with torch.no_grad():
            expected = reference(*inputs)
        expected = [t.numpy() for t in expected] if isinstance(expected, tuple) else [expected.numpy()]
        got = session.run(None, {n: x.numpy() for n, x in zip(names, inputs)})
        errors[f"{h}x{w}"] = 0.0
        for out, ref in zip(got, expected, strict=True):
            if out.shape != ref.shape:
                raise ExportParityError(f"{path}: output shape {out.shape} at {h}x{w}, expected {ref.shape}")
            errors[f"{h}x{w}"] = max(errors[f"{h}x{w}"], float(np.abs(out - ref).max()))
    return errors


def _member(path: Path, state: dict) -> dict:
    """What the card says of one ensemble member's training."""
    settings = state["settings"]
    return {"run": path.parent.name, "model": state["model_name"], "config": state["model_config"],
            "time_s": round(state["elapsed_s"], 1), "steps": state["step"], "seed": settings["seed"],
            "lr": settings["lr"], "ema": settings.get("ema"), "date": state["saved_at"],
            **({"init": settings["init"]} if settings.get("init") else {})}  # fmt: skip


def _encoder(model) -> dict:
    """A member's pretrained encoder (name, weights' package and version, licence), if any."""
    encoder = model.card_extras().get("encoder") if hasattr(model, "card_extras") else None
    return {"encoder": encoder} if encoder else {}


def _card(state: dict, run_dir: Path, model, module: nn.Module, precision: str, name, version, evaluation) -> ModelCard:
    """The card of an export, minus the hash (filled once the graph is written)."""
    extras = model.card_extras()
    card_fields = {k: extras.pop(k) for k in list(extras) if k in ModelCard.__dataclass_fields__}
    records = runs.read_metrics(run_dir)
    at_checkpoint = next((r for r in records if r["step"] == state["step"]), None)
    parameters = sum(p.numel() for p in module.parameters())
    settings = state["settings"]
    training = {
        "data": state["data"], "licence": LICENCE, "time_s": round(state["elapsed_s"], 1),
        "epochs": at_checkpoint["epoch"] - 1 + at_checkpoint["epoch_progress"] if at_checkpoint else state["epoch"],
        "steps": state["step"], "device": state["device"], "precision": state["precision"],
        "crop": settings["crop"], "batch_size": settings["batch_size"], "lr": settings["lr"], "seed": settings["seed"],
        "config": state["model_config"], "best_val_loss": state["best_val_loss"], "date": state["saved_at"],
        **({"final_train_loss": records[-1]["train_loss"], "final_val_loss": records[-1]["val_loss"]}
           if records else {}),
        "ema": settings.get("ema"), "select": settings.get("select", "loss"),
        **({"init": settings["init"], "time_s_total": round(state["elapsed_s"] + settings["init"]["elapsed_s"], 1)}
           if settings.get("init") else {}),
        **({"model_extras": extras} if extras else {}),
    }  # fmt: skip
    figures = {k: at_checkpoint[k] for k in EVALUATION_KEYS} if at_checkpoint else {}
    if figures:
        figures.update(epoch=at_checkpoint["epoch"], val_images=state["data"]["val_images"],
                       val_set=state["data"]["val"])
    doc = (inspect.getmodule(type(model)).__doc__ or "").strip().splitlines()
    inputs = [TensorSpec("L")] + ([TensorSpec("L_global", role="L_global")] if model.global_input_size else [])
    if card_fields.get("hints"):
        inputs += [TensorSpec(role, role=role) for role in HINT_ROLES]
    outputs = [TensorSpec(name, role="ab_distribution" if name == "ab_distribution" else "ab")
               for name in output_names(model)]
    fields = {
        "name": name or state["model_name"], "architecture": state["model_name"], "version": version,
        "description": doc[0] if doc else "", "inputs": inputs, "outputs": outputs,
        "size_multiple": model.size_multiple, "global_input_size": model.global_input_size,
        "default_max_side": 256 if parameters < SMALL_MODEL else 512, "precision": precision,
        "parameters": parameters, "parity_tolerance": PARITY_TOLERANCE[precision], "weights_sha256": "0" * 64,
        "training": training, "evaluation": {**figures, **(evaluation or {})}, "classes": [],
    }  # fmt: skip
    return ModelCard(**{**fields, **card_fields})


def export_model(
    checkpoint_or_run_dir: str | Path,
    out_path: str | Path,
    fp16: bool = False,
    name: str | None = None,
    version: str = "1.0.0",
    evaluation: dict | None = None,
    parity_tolerance: float | None = None,
    looks: dict | None = None,
    default_look: str | None = None,
    fp16_weights: bool = False,
    members: Sequence[str | Path] = (),
    int8_weights: int | None = None,
    max_side: int | None = None,
) -> ModelCard:
    """Export a checkpoint (a run directory means its ``best.pt``, else ``last.pt``) to
    ``out_path``; returns the embedded card (``evaluation['export_parity']`` holds the measured
    errors). ``parity_tolerance`` overrides the default for the precision. ``looks`` (name ->
    ``{"mix": {output: weight}, "scale": s, "description": ...}``) and ``default_look`` go into
    the card; a model with several outputs gets its ``default_looks()`` when none are given.
    ``fp16_weights`` stores the weights as float16 (half the file) for float32 arithmetic.
    ``int8_weights`` (a number of elements) stores every weight tensor at least that large as
    int8 with a scale per output channel (with ``fp16_weights``: the rest as float16); a model's
    ``int8_weight_scopes`` limits that to the tensors of those modules.
    ``max_side`` sets the card's working size (``default_max_side``) instead of the model's own.
    ``members`` (checkpoints or run directories) make the file an :class:`Ensemble` of the first
    checkpoint and them: the mean of their outputs; the card lists every member's training.

    Raises :class:`ExportParityError` (and writes nothing) when parity fails.
    """
    ckpt = runs.checkpoint_path(checkpoint_or_run_dir)
    state = runs.load_checkpoint(ckpt)
    model = runs.load_model(state)
    reference = model.export_module().eval()
    if members:
        paths = [runs.checkpoint_path(m) for m in members]
        states = [runs.load_checkpoint(p) for p in paths]
        reference = Ensemble([model] + [runs.load_model(s) for s in states]).eval()
    precision = "fp16" if fp16 else "fp32"
    card = _card(state, ckpt.parent, model, reference, precision, name, version, evaluation)
    if hasattr(model, "member_runs"):  # a model built on trained members (effnet_hints)
        card.training["ensemble"] = [{**_member(p, s), **_encoder(m)} for p, s, m in model.member_runs()]
    if members:
        card.description = f"The mean of {len(members) + 1} models: " + card.description[:1].lower() + card.description[1:]
        card.training["ensemble"] = [{**_member(p, s), **_encoder(m)}
                                     for p, s, m in zip([ckpt] + paths, [state] + states, reference.models)]
        card.training["time_s_total"] = round(sum(m["time_s"] + m.get("init", {}).get("elapsed_s", 0)
                                                  for m in card.training["ensemble"]), 1)  # fmt: skip
        card.evaluation = {k: v for k, v in card.evaluation.items() if k not in (*EVALUATION_KEYS, "epoch", "val_images", "val_set")}
    if fp16_weights:
        if fp16:
            raise ValueError("fp16 already stores float16 weights: give fp16 or fp16_weights, not both")
        card.weights_precision = "fp16"
        card.parity_tolerance = PARITY_TOLERANCE["fp16"]
    if max_side is not None:
        card.default_max_side = max_side
    if int8_weights:
        card.weights_precision = "fp16+int8" if fp16_weights else "int8"
        card.parity_tolerance = PARITY_TOLERANCE["fp16"]
    if parity_tolerance is not None:
        card.parity_tolerance = parity_tolerance
    if looks is None and hasattr(model, "default_looks"):
        looks, default_look = model.default_looks()
    card.looks = {name: Look(**look) for name, look in (looks or {}).items()}
    card.default_look = default_look
    graph = _Float16(copy.deepcopy(reference)).eval() if fp16 else reference
    input_names = [spec.name for spec in card.inputs]
    size = _round_up(64, model.size_multiple)
    spatial = {0: "batch", 2: "height", 3: "width"}
    outputs = output_names(model)
    dynamic = {"L": spatial, "L_global": {0: "batch"}, "hint_ab": spatial, "hint_mask": spatial, "palette": {0: "batch"},
               **{name: spatial for name in outputs}}

    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".tmp")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # dynamo=False is deliberate
            torch.onnx.export(
                graph, tuple(parity_inputs(size, size, 1, model.global_input_size, model=model)), str(tmp), dynamo=False,
                opset_version=17, input_names=input_names, output_names=outputs,
                dynamic_axes={k: v for k, v in dynamic.items() if k in input_names + outputs},
            )  # fmt: skip
        if fp16_weights or int8_weights:
            proto = onnx.load(str(tmp))
            constants_to_initializers(proto)
            if int8_weights:
                store_weights_int8(proto, int8_weights, getattr(model, "int8_weight_scopes", None))
                for scope, smallest in getattr(model, "int8_small_weight_scopes", {}).items():
                    store_weights_int8(proto, smallest, (scope,))
            if fp16_weights:
                store_weights_fp16(proto)
            onnx.save(proto, str(tmp))
        onnx.checker.check_model(str(tmp))
        errors = check_parity(tmp, reference, model.size_multiple, model.global_input_size, model)
        worst = max(errors.values())
        if not worst <= card.parity_tolerance:
            raise ExportParityError(
                f"{out_path}: onnxruntime differs from PyTorch by {worst:.3g} (ab/110 units, per size: "
                f"{', '.join(f'{k} {v:.3g}' for k, v in errors.items())}) > tolerance {card.parity_tolerance:g}"
            )
        card.evaluation["export_parity"] = errors
        card.weights_sha256 = read_onnx(tmp).graph_sha256
        proto = onnx.load(str(tmp))
        del proto.metadata_props[:]
        for key, value in embed_card({}, card).items():
            proto.metadata_props.add(key=key, value=value)
        onnx.save(proto, str(tmp))
        read_card(tmp)  # the graph hash survived re-serialisation
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return card


