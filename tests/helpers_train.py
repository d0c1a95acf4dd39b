"""Small image sets and runs for the training and export tests (needs torch only in train_run)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

SHARED_TRAIN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train"


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: these small tensors gain nothing from more, and the CPU is shared."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def synthetic_photo(seed: int, height: int = 40, width: int = 48) -> np.ndarray:
    """A smooth colour picture (BGR uint8) whose colour follows its brightness (learnable)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((height // 8 + 2, width // 8 + 2)).astype(np.float32)
    g = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    bgr = np.stack([1 - g, g**2, 0.2 + 0.8 * g], axis=-1)
    return (bgr * 255).round().astype(np.uint8)


def jpeg(bgr: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return data.tobytes()


def real_photos(count: int) -> dict[str, bytes]:
    """The first ``count`` JPEG members of the shared training data (empty without ../shared)."""
    shards = sorted(SHARED_TRAIN.glob("*.tar"))
    if not shards:
        return {}
    photos = {}
    with tarfile.open(shards[0]) as tar:
        for member in tar:
            if member.isfile() and len(photos) < count:
                photos[member.name] = tar.extractfile(member).read()
    return photos


def photo_set(count: int, real: int = 0) -> dict[str, bytes]:
    """``count`` named JPEGs: up to ``real`` shared photos, the rest synthetic (Intel-style names)."""
    photos = real_photos(real)
    classes = ("forest", "sea", "street")
    for i in range(count - len(photos)):
        photos[f"synth/train__{classes[i % 3]}__{i}.jpg"] = jpeg(synthetic_photo(i, 36 + i % 3 * 20, 48))
    return photos


def write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_folder(root: Path, members: dict[str, bytes]) -> Path:
    for name, data in members.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def train_val_folders(root: Path, count: int, real: int, val: int) -> tuple[Path, Path]:
    """(train folder, validation folder) of ``count`` photos, the first ``val`` for validation."""
    named = list(photo_set(count, real=real).items())
    return write_folder(root / "train", dict(named[val:])), write_folder(root / "val", dict(named[:val]))


def train_run(run_dir: Path, data_dir: Path, **kwargs) -> list[dict]:
    """A short tiny-model run (32-px crops); returns the epoch records."""
    from colorfuse.train import runs
    from colorfuse.train.trainer import train

    options = {"epochs": 1, "batch_size": 8, "crop": 32, **kwargs}
    train("tiny", [str(data_dir)], run_dir, **options)
    return runs.read_metrics(run_dir)
