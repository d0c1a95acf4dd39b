"""Tests for ``colorfuse eval`` and colorfuse.evaluation.scoring, with the factory test models."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from colorfuse.cli import cli
from colorfuse.engine import grid, lab
from colorfuse.evaluation import scoring
from colorfuse.engine.collection import iter_jobs
from colorfuse.errors import ModelNotFoundError

pytest.importorskip("skimage")

VAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "val" / "imagenet_samples"
PHOTO_SIZES = [(40, 56), (33, 21), (64, 64), (5, 6)]  # (height, width); 5x6 is under SSIM's 7 px window


def _colour_photo(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x * 200 / width, y * 200 / height, 255 - x * 100 / width], axis=2)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def photo_dir(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index, (height, width) in enumerate(PHOTO_SIZES):
        cv2.imwrite(str(folder / f"p{index}.png"), cv2.cvtColor(_colour_photo(height, width, index), cv2.COLOR_RGB2BGR))
    (folder / "p9_bad.jpg").write_text("not a picture")
    cv2.imwrite(str(folder / "p9_gray.png"), np.full((8, 8), 128, np.uint8))
    return folder


def _real_photos(count: int = 3) -> list[str]:
    return [str(path) for path in sorted(VAL.glob("*.jpg"))[:count]] if VAL.is_dir() else []


def _run(args):
    result = CliRunner().invoke(cli, ["eval", *map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_gray_version_keeps_l_and_drops_colour():
    photo = _colour_photo(12, 10, 0)
    gray = scoring.gray_version(photo)
    assert np.abs(gray.astype(int) - gray[:, :, :1]).max() <= 1
    assert np.abs(lab.luminance(gray) - lab.luminance(photo)).max() < 0.5


def test_eval_end_to_end(photo_dir, tmp_path, model_path, global_model_path):
    real = _real_photos()
    out_json, out_grid, out_report = tmp_path / "eval.json", tmp_path / "grid.png", tmp_path / "report.md"
    result = _run([photo_dir, *real, "--model", model_path, "--model", global_model_path, "--json", out_json,
                   "--grid", out_grid, "--grid-count", 3, "--report", out_report, "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads(out_json.read_text())

    evaluated = len(PHOTO_SIZES) + len(real)
    assert doc["evaluated"] == evaluated == len(doc["photos"])
    assert doc["skipped"] == 2
    errors = {Path(item["file"]).name: item["error"] for item in doc["failed"]}
    assert "not an image" in errors["p9_bad.jpg"] and "grayscale" in errors["p9_gray.png"]
    assert "p9_bad.jpg" in result.output and "skipped" in result.output

    names = [model["name"] for model in doc["models"]]
    assert names == [scoring.BASELINE, "plain", "global"]
    baseline, plain = doc["models"][0], doc["models"][1]
    assert baseline["baseline"] and not plain["baseline"]
    assert baseline["mean"]["colorfulness"] < 1.0  # a = b = 0 up to 8-bit rounding
    assert baseline["mean"]["saturation_diff"] == pytest.approx(1.0, abs=0.01)
    assert baseline["mean"]["ms_per_image"] is None and plain["mean"]["ms_per_image"] > 0
    for model in doc["models"]:
        assert set(model["mean"]) >= {"psnr", "ssim", "auc", "colorfulness", "colorfulness_truth",
                                      "colorfulness_diff", "colorfulness_ratio", "saturation_diff", "ms_per_image"}
        assert [item["file"] for item in model["per_photo"]] == [photo["file"] for photo in doc["photos"]]
        assert all(0 < item["auc"] <= 1 and item["ssim"] <= 1 and item["psnr"] > 0 for item in model["per_photo"])
        mean_psnr = np.mean([item["psnr"] for item in model["per_photo"]])
        assert model["mean"]["psnr"] == pytest.approx(mean_psnr)
    assert doc["machine"]["cores"] >= 1 and doc["date"]

    assert scoring.BASELINE in result.stdout and "PSNR dB" in result.stdout and "global" in result.stdout

    picture = cv2.imread(str(out_grid))
    columns = len(names) + 1  # gray | models | truth
    heights = [round(p["height"] * 256 / max(p["height"], p["width"])) for p in doc["photos"][:3]]
    expected_height = grid.TITLE_HEIGHT + sum(h + grid.CAPTION_HEIGHT + grid.LABEL_HEIGHT + grid.GAP
                                              for h in heights) + grid.GAP
    assert picture.shape == (expected_height, grid.GAP + columns * (256 + grid.GAP), 3)

    report = out_report.read_text()
    assert f"| {scoring.BASELINE} |" in report and "| plain |" in report
    assert f"{doc['machine']['cores']} cores" in report and f"photos: {evaluated} evaluated" in report
    assert "p9_bad.jpg" in report


def test_eval_max_images_and_default_models(photo_dir, tmp_path, model_path, monkeypatch):
    monkeypatch.setattr("colorfuse.engine.models.registered_models", lambda: {"factory": model_path})
    out_json = tmp_path / "eval.json"
    result = _run([photo_dir, "--json", out_json, "--max-images", 2, "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads(out_json.read_text())
    assert doc["evaluated"] == 2
    assert [model["name"] for model in doc["models"]] == [scoring.BASELINE, "factory"]


def test_eval_without_models_says_so(monkeypatch):
    monkeypatch.setattr("colorfuse.engine.models.registered_models", dict)
    with pytest.raises(ModelNotFoundError, match="--model"):
        scoring.load_contestants([])


def test_eval_fails_when_nothing_is_evaluated(tmp_path, model_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    out_json = tmp_path / "eval.json"
    result = _run([bad, tmp_path / "missing.jpg", "--model", model_path, "--json", out_json, "--quiet"])
    assert result.exit_code != 0
    assert "no photo could be evaluated (2 skipped)" in result.output
    assert "bad.png" in result.output and "missing.jpg" in result.output
    assert not out_json.exists()


def test_make_grid_rows_are_as_tall_as_their_images():
    images = [np.zeros((30, 60, 3), np.uint8), np.zeros((30, 60), np.uint8)]
    picture = grid.make_grid([("a", images), ("b", images)], ["one", "two"], cell=64)
    row = 32 + grid.LABEL_HEIGHT + grid.GAP  # 30x60 scaled to 32x64
    assert picture.shape == (grid.TITLE_HEIGHT + 2 * row + grid.GAP, grid.GAP + 2 * (64 + grid.GAP), 3)


def test_a_photo_a_model_fails_on_is_skipped_for_every_model(tmp_path):
    class Picky:
        """Stands in for a Colorizer: fails on photos narrower than 10 px."""

        def colorize(self, gray):
            if gray.shape[1] < 10:
                raise ValueError("too narrow")
            return gray

    for index, (height, width) in enumerate([(12, 12), (12, 6), (9, 14)]):
        cv2.imwrite(str(tmp_path / f"{index}.png"), _colour_photo(height, width, index))
    contestants = [scoring.Contestant(scoring.BASELINE), scoring.Contestant("picky", Picky())]
    seen = []
    run = scoring.evaluate(iter_jobs([tmp_path]), contestants, on_photo=lambda f, e: seen.append((f, e)))
    assert [Path(p["file"]).name for p in run.photos] == ["0.png", "2.png"]
    assert run.failed == [{"file": str(tmp_path / "1.png"), "error": f"{tmp_path / '1.png'}: model picky failed: too narrow"}]
    assert all(len(c.figures) == 2 for c in contestants) and len(contestants[1].seconds) == 2
    assert [e is None for _, e in seen] == [True, False, True]


def test_eval_scores_a_look_as_its_own_row(photo_dir, tmp_path):
    from tests.modelfactory import make_model

    path = tmp_path / "looks.onnx"
    make_model(path, vivid=True)
    result = _run([photo_dir, "--model", path, "--model", f"{path}@vivid", "--json", tmp_path / "e.json", "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "e.json").read_text())
    rows = {model["name"]: model["mean"] for model in doc["models"]}
    assert set(rows) == {scoring.BASELINE, "looks", "looks@vivid"}
    assert rows["looks@vivid"]["colorfulness"] > rows["looks"]["colorfulness"]
    assert scoring.split_look("a/b@c.onnx") == ("a/b@c.onnx", None)
    assert scoring.split_look("effnet-lite0@vivid") == ("effnet-lite0", "vivid")
