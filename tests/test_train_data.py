"""colorfuse.train.data: shards read in place, skipping, gray dropping, labels, split, crops."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colorfuse.train import data  # noqa: E402
from colorfuse.train.data import (  # noqa: E402
    ColorizationDataset,
    EpochSampler,
    ImageReader,
    build_datasets,
    in_validation_split,
    index_sources,
    label_from_name,
    lab_sample,
    scan,
    square_crop,
)
from tests.helpers_train import one_torch_thread  # noqa: E402,F401  (autouse fixture)
from tests.helpers_train import jpeg, photo_set, synthetic_photo, write_folder, write_tar  # noqa: E402


def test_tar_members_are_read_in_place(tmp_path):
    members = photo_set(5, real=3)
    shard = write_tar(tmp_path / "photos-000.tar", members)
    items = index_sources([shard])
    assert [it.name for it in items] == list(members)
    assert all(it.offset > 0 and it.source == str(shard) for it in items)
    reader = ImageReader()
    for item in items:
        assert reader.read_bytes(item) == members[item.name]
        assert reader.decode(item).ndim == 3
    assert os.listdir(tmp_path) == ["photos-000.tar"]  # nothing unpacked


def test_folders_are_searched_recursively_with_their_shards(tmp_path):
    write_folder(tmp_path / "data", {"a/b/x.PNG": jpeg(synthetic_photo(1)), "c.webp": jpeg(synthetic_photo(2)),
                                     "notes.txt": b"hello"})  # fmt: skip
    write_tar(tmp_path / "data" / "shard.tar", {"s/y.jpg": jpeg(synthetic_photo(3))})
    names = sorted(it.name for it in index_sources([tmp_path / "data"]))
    assert names == ["a/b/x.PNG", "c.webp", "s/y.jpg"]
    with pytest.raises(FileNotFoundError):
        index_sources([tmp_path / "missing"])


def test_unreadable_member_is_skipped_with_a_warning(tmp_path, caplog):
    members = {**photo_set(3), "synth/broken.jpg": b"not a jpeg at all", "synth/empty.jpg": b""}
    items = index_sources([write_tar(tmp_path / "s.tar", members)])
    with caplog.at_level(logging.WARNING, logger="colorfuse.train.data"):
        kept, images, counts = scan(items)
    assert len(kept) == 3 and images is None
    assert counts == {"dropped_gray": 0, "unreadable": 2}
    assert "synth/broken.jpg" in caplog.text and "synth/empty.jpg" in caplog.text


def test_near_gray_images_are_dropped(tmp_path):
    gray = np.repeat(synthetic_photo(7)[..., :1], 3, axis=2)
    tinted = np.clip(gray.astype(int) + [2, 0, 0], 0, 255).astype(np.uint8)  # a faint blue cast
    members = {**photo_set(2), "g/gray.png": jpeg(gray), "g/tinted.jpg": jpeg(tinted)}
    kept, _, counts = scan(index_sources([write_folder(tmp_path, members)]))
    assert counts["dropped_gray"] == 2
    assert sorted(it.name for it in kept) == sorted(photo_set(2))


@pytest.mark.parametrize(
    "name, label",
    [
        ("intel/train__forest__123.jpg", "forest"),
        ("intel/test__street__20683.jpg", "street"),
        ("clothing/validation__t-shirt__86a3f65f.jpg", "t-shirt"),
        ("catsdogs/training_set__dogs__dog.333.jpg", "dogs"),
        ("photos/train/sea/001.jpg", "sea"),
        ("bsds500/train__301007.jpg", None),
        ("voc/000175.jpg", None),
        ("catsdogs/breed_dataset__dog_breeds__test__1a38ab.jpg", None),
    ],
)
def test_label_from_name(name, label):
    assert label_from_name(name) == label


def test_hash_split_is_disjoint_and_deterministic(tmp_path):
    root = write_folder(tmp_path / "data", photo_set(60))
    first = build_datasets([root], crop=16, val_fraction=0.2)
    second = build_datasets([root], crop=16, val_fraction=0.2)
    train_names = {it.name for it in first.train.items}
    val_names = {it.name for it in first.val.items}
    assert train_names and val_names and not train_names & val_names
    assert len(train_names | val_names) == 60
    assert val_names == {it.name for it in second.val.items}
    assert all(in_validation_split(n, 0.2) for n in val_names)
    assert first.classes == ["forest", "sea", "street"]
    assert first.description["train_images"] == len(train_names)


def test_explicit_val_folder_labels_and_limit(tmp_path):
    train_root = write_folder(tmp_path / "train", photo_set(12))
    val_root = write_folder(tmp_path / "val", {"imagenet/n01_tench.jpg": jpeg(synthetic_photo(99)),
                                               "train__forest__9.jpg": jpeg(synthetic_photo(98))})  # fmt: skip
    split = build_datasets([train_root], crop=16, val=[val_root], max_train_images=7)
    assert len(split.train) == 7 and len(split.val) == 2
    assert sorted(split.val.labels) == [-1, split.classes.index("forest")]
    assert all(lab >= 0 for lab in split.train.labels)


def test_crops_flips_and_shapes(monkeypatch):
    small = synthetic_photo(3, 100, 100)
    up = square_crop(small, 128, np.random.default_rng(0))
    assert up.shape == (128, 128, 3)  # smaller than the crop: upscaled
    centre = square_crop(synthetic_photo(4, 60, 90), 32)
    assert centre.shape == (32, 32, 3)
    assert np.array_equal(centre, square_crop(synthetic_photo(4, 60, 90), 32))
    square = synthetic_photo(5, 64, 64)
    monkeypatch.setattr(data, "SCALE", (1.0, 1.0))  # whole-image crops: only the flip varies
    crops = [square_crop(square, 64, np.random.default_rng(seed)) for seed in range(10)]
    flipped = [np.array_equal(c, square[:, ::-1]) for c in crops]
    assert any(flipped) and not all(flipped)
    assert all(f or np.array_equal(c, square) for f, c in zip(flipped, crops))
    sample = lab_sample(up, global_size=24)
    assert sample["l"].shape == (1, 128, 128) and sample["ab"].shape == (2, 128, 128)
    assert sample["l_global"].shape == (1, 24, 24)
    assert -1 <= sample["l"].min() and sample["l"].max() <= 1 and np.abs(sample["ab"]).max() < 1.2


def test_training_samples_are_keyed_by_epoch_and_index(tmp_path):
    split = build_datasets([write_tar(tmp_path / "s.tar", photo_set(30, real=4))], crop=24, val_fraction=0.3)
    split.train.global_size = 16
    a, again, later = split.train[(0, 1)], split.train[(0, 1)], split.train[(1, 1)]
    assert set(a) == {"l", "ab", "l_global", "label"} and a["label"].dtype == torch.int64
    assert torch.equal(a["ab"], again["ab"]) and not torch.equal(a["ab"], later["ab"])
    assert torch.equal(split.val[0]["l"], split.val[0]["l"])
    sampler = EpochSampler(len(split.train), seed=3)
    sampler.set_epoch(2, start=5)
    keys = list(sampler)
    assert len(keys) == len(sampler) == len(split.train) - 5 and {e for e, _ in keys} == {2}


def test_workers_open_their_own_handles_and_cache(tmp_path):
    shard = write_tar(tmp_path / "s.tar", photo_set(24, real=4))
    split = build_datasets([shard], crop=16, val_fraction=0.25, workers=2, cache=True)
    assert all(min(img.shape[:2]) <= 32 for img in split.train.images)
    sampler = EpochSampler(len(split.train))
    loader = torch.utils.data.DataLoader(split.train, 4, sampler=sampler, num_workers=2, drop_last=True)
    batches = list(loader)
    assert batches[0]["l"].shape == (4, 1, 16, 16) and batches[0]["ab"].shape == (4, 2, 16, 16)
    uncached = ColorizationDataset(split.train.items, split.train.labels, 16, train=True)
    loader = torch.utils.data.DataLoader(uncached, 4, sampler=sampler, num_workers=2)
    assert sum(len(b["l"]) for b in loader) == len(split.train)
