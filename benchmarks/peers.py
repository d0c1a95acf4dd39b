"""The straightforward pipelines colorfuse is measured against, on the same photos and model.

Both are the loop a user would write first: Pillow decodes a photo, OpenCV converts it to Lab,
the L channel is resized to the working size (padded to the model's multiple) and given to the
model with its global view, the predicted ab (the card's default look) is resized back
bilinearly, merged with the full-size L, converted to RGB and saved by Pillow in the input's
format (JPEG quality 95, PNG at Pillow's default compression), one photo after the other.

* ``onnxruntime``: the same ``.onnx`` file in an ``InferenceSession`` with default options.
* ``pytorch``: the trained PyTorch module of the same model (its checkpoint) in eager mode,
  ``torch.inference_mode()``, float32, ``torch.set_num_threads`` = the engine's thread count.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from colorfuse.engine.hints import complete_feeds


def working_inputs(card, lum: np.ndarray, max_side: int):
    """The model's L (1, 1, H', W') and global view for the full-size ``lum``, and the unpadded (h, w)."""
    import cv2

    from colorfuse.engine.geometry import working_size

    height, width = lum.shape
    small_h, small_w, pad_h, pad_w = working_size(height, width, max_side, card.size_multiple)
    small = cv2.resize(lum, (small_w, small_h), interpolation=cv2.INTER_AREA)
    norm = (small - card.l_offset) / card.l_scale
    padded = np.pad(norm, ((0, pad_h - small_h), (0, pad_w - small_w)), mode="edge")[None, None].astype(np.float32)
    size = card.global_input_size
    view = cv2.resize(norm, (size, size), interpolation=cv2.INTER_AREA)[None, None].astype(np.float32) if size else None
    return padded, view, (small_h, small_w)


def run_plain(jobs, out_dir: Path, card, predict, max_side: int) -> float:
    """Colorize ``jobs`` one by one with ``predict(L, view) -> ab (2, H', W')``; returns the seconds taken."""
    import cv2
    from PIL import Image

    start = time.perf_counter()
    for job in jobs:
        source = Path(job.source)
        with Image.open(source) as image:
            rgb = np.asarray(image.convert("RGB"))
        lum = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[:, :, 0]
        padded, view, (small_h, small_w) = working_inputs(card, lum, max_side)
        ab = predict(padded, view)  # (2, h, w): the padded working size, or a fraction of it
        crop_h, crop_w = (max(1, round(n * out / pad)) for n, out, pad in
                          zip((small_h, small_w), ab.shape[1:], padded.shape[2:]))
        ab = ab[:, :crop_h, :crop_w].transpose(1, 2, 0) * np.float32(card.ab_scale)
        ab = cv2.resize(np.ascontiguousarray(ab), (lum.shape[1], lum.shape[0]), interpolation=cv2.INTER_LINEAR)
        out = cv2.cvtColor(np.dstack([lum, ab]).astype(np.float32), cv2.COLOR_Lab2RGB)
        result = Image.fromarray(np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8))
        target = out_dir / source.name
        if source.suffix.lower() in (".jpg", ".jpeg"):
            result.save(target, quality=95)
        else:
            result.save(target)
    return time.perf_counter() - start


def _mixer(card, look_name=None):
    _, look = card.look(look_name)
    names = list(look.mix)
    weights = [np.float32(look.mix[name] * look.scale) for name in names]
    return names, lambda outputs: sum(w * out for w, out in zip(weights, outputs))


def onnxruntime_predictor(model_path, card):
    """``predict`` over a plain ``InferenceSession`` (default options, CPU provider)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    names, mix = _mixer(card)
    return lambda padded, view: mix(session.run(names, _feeds(card, padded, view)))[0]


def _feeds(card, padded, view):
    feeds = {card.input_name("L"): padded}
    if view is not None:
        feeds[card.input_name("L_global")] = view
    return complete_feeds(card, feeds)


def pytorch_predictor(checkpoint, card, threads: int):
    """``predict`` over the checkpoint's PyTorch module in eager mode, or raise when it cannot be had."""
    import torch

    from colorfuse.train import runs

    module = runs.load_export_module(checkpoint)
    torch.set_num_threads(threads)
    names, mix = _mixer(card)
    outputs = [spec.name for spec in card.outputs]

    def predict(padded, view):
        with torch.inference_mode():
            feeds = _feeds(card, padded, view)  # a hint-taking model gets its "no hints" zeros
            result = module(*(torch.from_numpy(feeds[spec.name]) for spec in card.inputs))
            result = result if isinstance(result, tuple) else (result,)
            by_name = dict(zip(outputs, (r.numpy() for r in result)))
        return mix([by_name[name] for name in names])[0]

    return predict


def default_checkpoint(card) -> Path | None:
    """The repository's committed checkpoint of the model (for an ensemble, the folder of its
    members' run directories), when there is one."""
    folder = Path(__file__).resolve().parents[1] / "checkpoints" / card.name
    if (folder / "last.pt").exists():
        return folder / "last.pt"
    return folder if card.training.get("ensemble") and any(folder.glob("*/last.pt")) else None
