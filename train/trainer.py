"""The training loop behind ``colorfuse train``: budgets, mixed precision, checkpoints, resume.

A run directory holds ``run.json`` (settings, data, environment), ``metrics.jsonl`` (one line
per epoch, or per partial epoch when the time budget ends one), ``loss_curve.png``,
``last.pt`` (everything needed to resume) and ``best.pt`` (the best validation figure: the lowest
loss, or with ``select="gain"`` the highest PSNR gain at half the truth's colourfulness).

With ``ema``, an exponential moving average of the weights is validated and kept as ``best.pt``
(the live weights and the average both go into ``last.pt``). With ``init``, a new run starts from
another run's checkpoint (its model, configuration and weights; fresh optimizer and schedule).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import math
import os
import platform
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from colorfuse import __version__
from colorfuse.train import runs
from colorfuse.train.data import EpochSampler, build_datasets
from colorfuse.train.metrics import ScaleSweep
from colorfuse.train.models import MODELS, build_model
from colorfuse.train.plots import plot_loss_curve

log = logging.getLogger(__name__)

DEFAULTS = {"model_kwargs": {}, "val": None, "crop": 128, "batch_size": 64, "lr": 1e-3, "seed": 0, "ema": None,
            "select": "loss", "init": None}
SELECT = ("loss", "gain")  # best.pt: lowest val_loss, or highest val_psnr_gain_at_half_colour
LR_FLOOR = 0.05  # cosine schedule from lr down to LR_FLOOR * lr over the budget
PRIOR_IMAGES = 2000  # training crops used to estimate a classification model's ab-bin prior


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` is CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda: this torch build has no usable CUDA device")
    return torch.device(device)


def precision_tools(device: torch.device, model=None, precision: str = "auto"):
    """(autocast factory, GradScaler or None, label). ``auto``: bf16 autocast on CUDA (fp16 +
    scaler on GPUs without bf16); on CPU bf16 for models that measured faster with it
    (``cpu_bf16``) when the CPU has native bf16, else fp32."""
    if precision == "fp32":
        return contextlib.nullcontext, None, "fp32"
    if device.type != "cuda":
        native = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        if precision == "bf16" or (getattr(model, "cpu_bf16", False) and native):
            return functools.partial(torch.autocast, "cpu", dtype=torch.bfloat16), None, "bf16"
        return contextlib.nullcontext, None, "fp32"
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return functools.partial(torch.autocast, "cuda", dtype=torch.bfloat16), None, "bf16"
    autocast = functools.partial(torch.autocast, "cuda", dtype=torch.float16)
    return autocast, torch.amp.GradScaler("cuda"), "fp16"


def _settings(run_dir: Path, resume: bool, given: dict) -> dict:
    if given["data"] is not None:
        given["data"] = [os.path.abspath(p) for p in given["data"]]
    if given["val"] is not None:
        given["val"] = [os.path.abspath(p) for p in given["val"]]
    if resume:
        kept = {**DEFAULTS, "max_train_images": None, **runs.read_json(run_dir / runs.RUN_JSON)["settings"]}
        for key, value in given.items():
            if value is not None and value != kept[key]:
                raise ValueError(f"--resume keeps the run's {key} ({kept[key]!r}); got {value!r}")
        return kept
    if not (given["model"] or given["init"]) or not given["data"]:
        raise ValueError("a new run needs a model name (or --init) and --data")
    if given["select"] is not None and given["select"] not in SELECT:
        raise ValueError(f"select must be one of {', '.join(SELECT)}, got {given['select']!r}")
    return {k: DEFAULTS.get(k) if v is None else v for k, v in given.items()}


def _new_model(name: str, kwargs: dict, classes: list[str]):
    """Build ``name``; a model that takes ``classes`` gets the data's, unless set explicitly."""
    params = inspect.signature(MODELS[name]).parameters if name in MODELS else {}
    if classes and "classes" in params and not {"classes", "num_classes"} & kwargs.keys():
        kwargs = {**kwargs, "classes": classes, "num_classes": len(classes)}
    try:
        return build_model(name, **kwargs)
    except TypeError as exc:  # an unknown or ill-typed --set
        raise ValueError(f"model {name!r}: bad settings {kwargs} ({exc})") from exc


def _load_init_weights(model, weights: dict) -> None:
    """``--init``'s weights into a freshly built model: weights the checkpoint lacks are allowed
    only where the build already holds real ones (``built_weight``: an encoder block that this run
    opens to training keeps its pretrained weights)."""
    result = model.load_state_dict(weights, strict=False)
    built = getattr(model, "built_weight", lambda key: False)
    missing = [k for k in result.missing_keys if not built(k)]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"--init: state_dict mismatch: missing {missing}, unexpected {result.unexpected_keys}")


def _setup_model(settings: dict, state: dict | None, split, device: torch.device, workers: int, initialising: bool):
    """A new model (with the data's classes and, for zhang, its ab prior) or the checkpoint's, with
    the run's settings over the checkpoint's (``--init`` with ``--set``, ``initialising``)."""
    if state:
        model = build_model(state["model_name"], **{**state["model_config"], **settings["model_kwargs"]})
        if initialising:
            _load_init_weights(model, state["model_state"])
        else:
            model.load_state_dict(state["model_state"])
    else:
        model = _new_model(settings["model"], settings["model_kwargs"], split.classes)
    split.train.global_size = split.val.global_size = model.global_input_size
    model.to(device).train()
    if getattr(model, "prefers_channels_last", False):
        model.to(memory_format=torch.channels_last)
    if not state and hasattr(model, "set_prior"):
        estimate_prior(model, split.train, settings["batch_size"], workers, device)
    return model


def _moving_average(model, decay: float | None, state: dict | None):
    """torch's EMA of the model's weights and buffers (None without ``decay``), restored from a
    resumed checkpoint's ``ema_state``."""
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    if state and "ema_state" in state:
        average.module.load_state_dict(state["ema_state"])
        average.n_averaged.fill_(state["ema_averaged"])
    return average


def _lr_factor(progress: float) -> float:
    return LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def estimate_prior(model, dataset, batch_size: int, workers: int, device: torch.device) -> None:
    """Set the ab-bin prior of a model with ``bin_counts``/``set_prior`` (zhang) from the first
    training crops of epoch 0."""
    keys = [(0, int(i)) for i in np.random.default_rng([dataset.seed, 0]).permutation(len(dataset))[:PRIOR_IMAGES]]
    loader = DataLoader(dataset, batch_size, sampler=keys, num_workers=workers)
    model.set_prior(sum(model.bin_counts(batch["ab"].to(device)) for batch in loader))


def validate(model, batches: list[dict], device: torch.device, autocast=contextlib.nullcontext) -> dict:
    """Mean validation loss and the colorization figures (see :mod:`colorfuse.train.metrics`)."""
    model.eval()
    sums, count, sweep = defaultdict(float), 0, ScaleSweep()
    with torch.no_grad(), autocast():
        for batch in batches:
            batch = _to(batch, device)
            n = len(batch["l"])
            loss, _ = model.training_loss(batch)
            sums["val_loss"] += float(loss) * n
            pred = model(batch["l"], batch.get("l_global")).float().permute(0, 2, 3, 1).cpu().numpy() * 110
            truth = batch["ab"].float().permute(0, 2, 3, 1).cpu().numpy() * 110
            L = (batch["l"][:, 0].float().cpu().numpy() + 1) * 50  # noqa: N806
            for i in range(n):
                for key, value in sweep.add(L[i], pred[i], truth[i]).items():
                    sums[f"val_{key}"] += value
            count += n
    model.train()
    return {**{k: v / count for k, v in sums.items()}, "val_psnr_gain_at_half_colour": sweep.gain_at()}


def _init_state(path: str, model_name: str | None) -> dict:
    """The checkpoint a new run starts from (``--init``), checked against the model asked for."""
    state = runs.load_checkpoint(path)
    if model_name and model_name != state["model_name"]:
        raise ValueError(f"--init {path} holds a {state['model_name']!r} model, not {model_name!r}")
    return state


def _score(record: dict, select: str) -> float:
    """Higher is better; NaN counts as the worst."""
    value = -record["val_loss"] if select == "loss" else record["val_psnr_gain_at_half_colour"]
    return -math.inf if math.isnan(value) else value


def train(
    model_name: str | None = None,
    data: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    *,
    minutes: float | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    device: str = "auto",
    crop: int | None = None,
    model_kwargs: dict | None = None,
    val: Sequence[str] | None = None,
    checkpoint_minutes: float = 10.0,
    resume: str | Path | None = None,
    seed: int | None = None,
    workers: int = 0,
    max_train_images: int | None = None,
    cache: bool = False,
    precision: str = "auto",
    ema: float | None = None,
    select: str | None = None,
    init: str | Path | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> dict:
    """Train (or, with ``resume``, continue) a run; returns the last metrics record.

    Stops when ``minutes`` of training time (summed over resumed sessions) or ``epochs`` epochs
    are done. On resume, the run's model, data and hyper-parameters are kept (giving different
    ones is an error); the budget, device, workers and checkpoint interval may change.
    ``ema`` is the decay of the weights' moving average (e.g. 0.999), ``select`` what ``best.pt``
    is chosen by (``loss`` or ``gain``) and ``init`` a checkpoint or run directory to start from.
    """
    if minutes is None and epochs is None:
        raise ValueError("give a time budget (minutes) or a number of epochs")
    if not resume and not out_dir:
        raise ValueError("a new run needs an output directory")
    run_dir = Path(resume or out_dir)
    if not resume and (run_dir / runs.LAST).exists():
        raise ValueError(f"{run_dir} already holds a run: continue it with --resume, or choose another --out")
    if ema is not None and not 0 < ema < 1:
        raise ValueError(f"ema must be between 0 and 1 (a decay such as 0.999), got {ema}")
    given = dict(model=model_name, data=data, val=val, crop=crop, batch_size=batch_size, lr=lr, seed=seed,
                 model_kwargs=model_kwargs, max_train_images=max_train_images, ema=ema, select=select,
                 init=str(init) if init else None)  # fmt: skip
    settings = _settings(run_dir, bool(resume), given)
    state = runs.load_checkpoint(run_dir / runs.LAST) if resume else None
    init_state = None
    if settings["init"] and not resume:
        init_state = _init_state(settings["init"], settings["model"])
        settings.update(model=init_state["model_name"], model_kwargs={**init_state["model_config"], **settings["model_kwargs"]}, init={
            "checkpoint": str(runs.checkpoint_path(settings["init"]).resolve()), "step": init_state["step"],
            "elapsed_s": round(init_state["elapsed_s"], 1)})  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    torch.manual_seed(settings["seed"])

    split = build_datasets(settings["data"], settings["crop"], settings["val"], seed=settings["seed"],
                           workers=workers, cache=cache, max_train_images=settings["max_train_images"])  # fmt: skip
    d = split.description
    log.info("data: %d training and %d validation images (%d near-gray dropped, %d unreadable), %d classes",
             d["train_images"], d["val_images"], d["dropped_gray"], d["unreadable"], d["classes"])  # fmt: skip
    model = _setup_model(settings, state or init_state, split, dev, workers, initialising=state is None)
    autocast, scaler, precision = precision_tools(dev, model, precision)
    optimizers = model.configure_optimizers(settings["lr"])
    average = _moving_average(model, settings["ema"], state)
    c = {"epoch": 0, "epoch_step": 0, "step": 0, "elapsed_s": 0.0, "best_val_loss": math.inf, "best_score": -math.inf}
    if state:
        for opt, opt_state in zip(optimizers, state["optimizers"]):
            opt.load_state_dict(opt_state)
        if scaler is not None and state["scaler"]:
            scaler.load_state_dict(state["scaler"])
        c.update({k: state[k] for k in c if k in state})
        if "best_score" not in state:  # a checkpoint from before selection by score
            c["best_score"] = -state["best_val_loss"]
        torch.set_rng_state(state["rng"]["torch"])
    kept = average.module if average is not None else model  # what is validated and kept as best.pt
    # lines written after the checkpoint (a crash in between) are dropped: that work is redone
    runs.write_metrics(run_dir, [r for r in runs.read_metrics(run_dir) if state and r["step"] <= c["step"]])
    runs.write_json(run_dir / runs.RUN_JSON, {
        "model": model.name, "config": model.config(), "settings": settings, "data": split.description,
        "classes": split.classes, "device": str(dev), "precision": precision, "torch": torch.__version__,
        "colorfuse": __version__, "python": platform.python_version(), "seed": settings["seed"],
    })  # fmt: skip
    log.info("%s: %s parameters on %s (%s), run directory %s", model.name,
             f"{sum(p.numel() for p in model.parameters()):,}", dev, precision, run_dir)  # fmt: skip

    bs = min(settings["batch_size"], len(split.train))
    sampler = EpochSampler(len(split.train), settings["seed"])
    loader = DataLoader(split.train, bs, sampler=sampler, drop_last=True, num_workers=workers,
                        persistent_workers=workers > 0, pin_memory=dev.type == "cuda")  # fmt: skip
    val_batches = list(DataLoader(split.val, bs, num_workers=workers))
    per_epoch = len(split.train) // bs
    budget = minutes * 60 if minutes is not None else math.inf
    max_epochs = epochs if epochs is not None else math.inf
    session_start = time.monotonic()
    base_elapsed = c["elapsed_s"]

    def elapsed() -> float:
        return base_elapsed + time.monotonic() - session_start

    def checkpoint(path: Path, best: bool = False) -> None:
        c["elapsed_s"] = elapsed()
        extra = {} if best or average is None else {"ema_state": average.module.state_dict(),
                                                     "ema_averaged": int(average.n_averaged)}
        runs.save_checkpoint({
            "model_name": model.name, "model_config": model.config(),
            "model_state": (kept if best else model).state_dict(), **extra,
            "optimizers": [] if best else [o.state_dict() for o in optimizers],
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": {"torch": torch.get_rng_state()}, "classes": split.classes, "settings": settings,
            "data": split.description, "device": str(dev), "precision": precision,
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **c,
        }, path)  # fmt: skip

    record: dict = {}
    next_checkpoint = elapsed() + checkpoint_minutes * 60
    while c["epoch"] < max_epochs and elapsed() < budget:
        sampler.set_epoch(c["epoch"], c["epoch_step"] * bs)
        sums, batches, started = defaultdict(float), 0, time.monotonic()
        for batch in loader:
            progress = max(elapsed() / budget, (c["epoch"] + c["epoch_step"] / per_epoch) / max_epochs)
            for opt in optimizers:
                for group in opt.param_groups:
                    group["lr"] = group.setdefault("initial_lr", group["lr"]) * _lr_factor(progress)
            logs = model.train_step(_to(batch, dev), optimizers, scaler, autocast)
            if average is not None:
                average.update_parameters(model)
            for key, value in logs.items():
                sums[key] += value
            batches += 1
            c["step"] += 1
            c["epoch_step"] += 1
            if elapsed() >= budget:
                break
            if elapsed() >= next_checkpoint:
                checkpoint(run_dir / runs.LAST)
                next_checkpoint = elapsed() + checkpoint_minutes * 60
        train_time = time.monotonic() - started
        record = {
            "epoch": c["epoch"] + 1, "epoch_progress": round(c["epoch_step"] / per_epoch, 4), "step": c["step"],
            "train_loss": sums.pop("loss", math.nan) / max(1, batches),
            **{f"train_{k}": v / max(1, batches) for k, v in sums.items()},
            **validate(kept, val_batches, dev, autocast),
            "lr": optimizers[0].param_groups[0]["lr"], "images_per_s": batches * bs / max(train_time, 1e-9),
        }  # fmt: skip
        if c["epoch_step"] >= per_epoch:
            c["epoch"], c["epoch_step"] = c["epoch"] + 1, 0
        record["elapsed_s"] = round(elapsed(), 2)
        runs.append_metrics(run_dir, record)
        plot_loss_curve(runs.read_metrics(run_dir), run_dir / runs.LOSS_CURVE, f"{model.name}: {run_dir.name}")
        if _score(record, settings["select"]) >= c["best_score"]:  # ties (and NaN, until a figure) go to the newer
            c["best_score"], c["best_val_loss"] = _score(record, settings["select"]), record["val_loss"]
            checkpoint(run_dir / runs.BEST, best=True)
        checkpoint(run_dir / runs.LAST)
        if on_epoch:
            on_epoch(record)
    return record
