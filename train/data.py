"""Training data: image folders and ``.tar`` shards read in place, as normalised Lab crops.

Sources are indexed once (tar members by offset, so every read is one ``pread`` on a handle
that each process opens for itself), then scanned once: unreadable files are skipped with a
warning and near-gray photos are dropped. Samples are dicts of tensors: ``l`` = L/50 - 1
(1,H,W), ``ab`` = ab/110 (2,H,W), ``l_global`` (1,G,G) when a global view size is set, and
``label`` (int64, -1 = unknown).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tarfile
from dataclasses import dataclass, field
from typing import Callable, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SPLIT_WORDS = {"train", "training", "training_set", "test", "test_set", "val", "valid", "validation"}
GRAY_CHROMA = 3.0  # mean sqrt(a^2 + b^2) below this (on a thumbnail) counts as gray
SCALE = (0.5, 1.0)  # random crop side as a fraction of the image's short side


@dataclass(frozen=True)
class Item:
    """One image: a file under ``source`` (offset -1) or a member of the tar file ``source``."""

    source: str
    name: str
    offset: int = -1
    size: int = 0


def label_from_name(name: str) -> str | None:
    """Class from a ``<split>__<class>__<id>`` or ``<split>/<class>/<id>`` path, else None.

    ``intel/train__forest__123.jpg`` -> ``forest``; ``bsds500/train__301007.jpg`` -> None.
    """
    parts = re.split(r"/|__", name)
    for i, part in enumerate(parts[:-2]):
        if part.lower() in SPLIT_WORDS:
            return parts[i + 1]
    return None


def in_validation_split(name: str, fraction: float) -> bool:
    """Deterministic hash split: the same name always lands on the same side."""
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _tar_members(path: str) -> list[Item]:
    with tarfile.open(path) as tar:
        return [
            Item(path, m.name, m.offset_data, m.size)
            for m in tar.getmembers()
            if m.isfile() and m.name.lower().endswith(IMAGE_EXTENSIONS)
        ]


def index_sources(paths: Sequence[str]) -> list[Item]:
    """Every image in ``paths`` (folders, searched recursively, and ``.tar`` shards)."""
    items: list[Item] = []
    for path in map(str, paths):
        if os.path.isfile(path) and path.endswith(".tar"):
            items += _tar_members(path)
        elif os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for fname in sorted(files):
                    full = os.path.join(root, fname)
                    if fname.endswith(".tar"):
                        items += _tar_members(full)
                    elif fname.lower().endswith(IMAGE_EXTENSIONS):
                        items.append(Item(path, os.path.relpath(full, path).replace(os.sep, "/")))
        else:
            raise FileNotFoundError(f"no image folder or .tar shard at {path}")
    return items


class ImageReader:
    """Reads and decodes items; tar handles are opened lazily, once per process."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}
        self._pid = os.getpid()

    def __reduce__(self):  # pickled into a worker: no handles travel
        return ImageReader, ()

    def read_bytes(self, item: Item) -> bytes:
        if item.offset < 0:
            with open(os.path.join(item.source, item.name), "rb") as handle:
                return handle.read()
        if self._pid != os.getpid():  # forked into a worker: open handles of our own
            self.__init__()
        fd = self._fds.get(item.source)
        if fd is None:
            fd = self._fds[item.source] = os.open(item.source, os.O_RDONLY)
        return os.pread(fd, item.size, item.offset)

    def decode(self, item: Item, flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
        """BGR uint8 image, or None when the bytes cannot be read or decoded."""
        try:
            data = self.read_bytes(item)
            image = cv2.imdecode(np.frombuffer(data, np.uint8), flags) if data else None
        except (OSError, cv2.error):
            return None
        return image if image is not None and image.size else None


def mean_chroma(bgr: np.ndarray, thumb: int = 64) -> float:
    """Mean Lab chroma sqrt(a^2 + b^2) of a thumbnail at most ``thumb`` pixels on a side."""
    h, w = bgr.shape[:2]
    if max(h, w) > thumb:
        f = thumb / max(h, w)
        bgr = cv2.resize(bgr, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(bgr.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    return float(np.sqrt(lab[..., 1] ** 2 + lab[..., 2] ** 2).mean())


def shrink(bgr: np.ndarray, short_side: int) -> np.ndarray:
    """Downscale (never upscale) so the short side is at most ``short_side``."""
    h, w = bgr.shape[:2]
    if min(h, w) <= short_side:
        return bgr
    f = short_side / min(h, w)
    return cv2.resize(bgr, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


class _ScanSet(Dataset):
    def __init__(self, items: list[Item], keep_side: int | None) -> None:
        self.items, self.keep_side, self.reader = items, keep_side, ImageReader()

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        flags = cv2.IMREAD_COLOR if self.keep_side else cv2.IMREAD_REDUCED_COLOR_4
        image = self.reader.decode(self.items[i], flags)
        if image is None:
            return i, None, None
        return i, mean_chroma(image), shrink(image, self.keep_side) if self.keep_side else None


def _as_is(sample):
    return sample


def scan(items: list[Item], workers: int = 0, keep_side: int | None = None):
    """Decode every item once: returns (kept items, their cached images or None, counts).

    Unreadable items are skipped with a warning, near-gray ones dropped. With ``keep_side``
    the decoded images (short side shrunk to ``keep_side``) are kept in RAM.
    """
    loader = DataLoader(_ScanSet(items, keep_side), batch_size=None, num_workers=workers, collate_fn=_as_is)
    kept, images, gray, unreadable = [], [], 0, 0
    for i, chroma, image in loader:
        if chroma is None:
            unreadable += 1
            log.warning("skipping unreadable image %s", _describe(items[i]))
        elif chroma < GRAY_CHROMA:
            gray += 1
        else:
            kept.append(items[i])
            images.append(image)
    return kept, (images if keep_side else None), {"dropped_gray": gray, "unreadable": unreadable}


def _describe(item: Item) -> str:
    return f"{item.source}:{item.name}" if item.offset >= 0 else os.path.join(item.source, item.name)


def square_crop(bgr: np.ndarray, crop: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """A square crop resized to ``crop``: random scale/position/flip with ``rng``, else centred.

    Images smaller than the crop are upscaled to fit.
    """
    h, w = bgr.shape[:2]
    short = min(h, w)
    side = short if rng is None else max(1, int(round(short * rng.uniform(*SCALE))))
    if rng is None:
        y, x = (h - side) // 2, (w - side) // 2
    else:
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    patch = bgr[y : y + side, x : x + side]
    if side != crop:
        patch = cv2.resize(patch, (crop, crop), interpolation=cv2.INTER_AREA if side > crop else cv2.INTER_LINEAR)
    if rng is not None and rng.random() < 0.5:
        patch = patch[:, ::-1]
    return np.ascontiguousarray(patch)


def lab_sample(bgr: np.ndarray, global_size: int | None = None) -> dict[str, np.ndarray]:
    """Normalised ``l`` (1,H,W), ``ab`` (2,H,W) and optionally ``l_global`` (1,G,G), float32."""
    lab = cv2.cvtColor(bgr.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)
    l = lab[..., 0] / 50 - 1  # noqa: E741
    sample = {"l": l[None], "ab": np.ascontiguousarray(lab[..., 1:].transpose(2, 0, 1) / 110)}
    if global_size:
        sample["l_global"] = cv2.resize(l, (global_size, global_size), interpolation=cv2.INTER_AREA)[None]
    return sample


class ColorizationDataset(Dataset):
    """Crops of ``items`` as training samples (random, keyed by ``(epoch, index)``) or
    validation samples (centre crops, keyed by index)."""

    def __init__(
        self,
        items: list[Item],
        labels: list[int],
        crop: int,
        train: bool,
        seed: int = 0,
        global_size: int | None = None,
        images: list[np.ndarray] | None = None,
    ) -> None:
        self.items, self.labels, self.crop, self.train = items, labels, crop, train
        self.seed, self.global_size, self.images = seed, global_size, images
        self.reader = ImageReader()

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        epoch, i = key if self.train else (0, key)
        image = self.images[i] if self.images is not None else self.reader.decode(self.items[i])
        if image is None:  # readable at scan time, not now: fall back to a neighbour
            log.warning("image %s became unreadable", _describe(self.items[i]))
            return self[(epoch, (i + 1) % len(self)) if self.train else (i + 1) % len(self)]
        rng = np.random.default_rng([self.seed, epoch, i]) if self.train else None
        arrays = lab_sample(square_crop(image, self.crop, rng), self.global_size)
        sample = {k: torch.from_numpy(v) for k, v in arrays.items()}
        sample["label"] = torch.tensor(self.labels[i], dtype=torch.int64)
        return sample


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` in a permutation seeded by (seed, epoch), from ``start``."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size, self.seed, self.epoch, self.start = size, seed, 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        return iter([(self.epoch, int(i)) for i in order[self.start :]])

    def __len__(self) -> int:
        return max(0, self.size - self.start)


@dataclass
class DataSplit:
    """The training and validation datasets plus a JSON-able description of them."""

    train: ColorizationDataset
    val: ColorizationDataset
    classes: list[str]
    description: dict = field(default_factory=dict)


def build_datasets(
    data: Sequence[str],
    crop: int,
    val: Sequence[str] | None = None,
    val_fraction: float = 0.02,
    seed: int = 0,
    global_size: int | None = None,
    workers: int = 0,
    cache: bool = False,
    max_train_images: int | None = None,
    label_fn: Callable[[str], str | None] = label_from_name,
) -> DataSplit:
    """Index, split and scan the data; the validation side is ``val`` or a hash split of ``data``."""
    items = index_sources(data)
    if val:
        train_items, val_items = items, index_sources(val)
    else:
        val_items = [it for it in items if in_validation_split(it.name, val_fraction)]
        train_items = [it for it in items if not in_validation_split(it.name, val_fraction)]
    if max_train_images is not None:  # a deterministic, source-mixed subset
        train_items = sorted(train_items, key=lambda it: hashlib.sha1(it.name.encode()).digest())[:max_train_images]
    keep_side = 2 * crop if cache else None
    train_items, train_images, train_counts = scan(train_items, workers, keep_side)
    val_items, val_images, val_counts = scan(val_items, workers, keep_side)
    if not train_items:
        raise ValueError(f"no usable colour images in {', '.join(map(str, data))}")
    if not val_items:
        raise ValueError("no usable colour images for validation: give a --val folder")
    classes = sorted({c for c in map(label_fn, (it.name for it in train_items)) if c is not None})
    index = {c: i for i, c in enumerate(classes)}

    def labels(its: list[Item]) -> list[int]:
        return [index.get(label_fn(it.name), -1) for it in its]

    description = {
        "sources": [os.path.abspath(p) for p in data],
        "val": [os.path.abspath(p) for p in val] if val else f"hash split of the sources ({val_fraction:.0%})",
        "train_images": len(train_items),
        "val_images": len(val_items),
        "dropped_gray": train_counts["dropped_gray"] + val_counts["dropped_gray"],
        "unreadable": train_counts["unreadable"] + val_counts["unreadable"],
        "crop": crop,
        "classes": len(classes),
    }
    return DataSplit(
        ColorizationDataset(train_items, labels(train_items), crop, True, seed, global_size, train_images),
        ColorizationDataset(val_items, labels(val_items), crop, False, seed, global_size, val_images),
        classes,
        description,
    )
