"""``colorfuse eval-front`` and colorfuse.evaluation.front: the PSNR / colourfulness front over looks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from colorfuse.cli import cli
from colorfuse.evaluation import front, quality
from colorfuse.engine.colorizer import Colorizer
from colorfuse.evaluation.scoring import gray_version
from tests.test_eval import _colour_photo

pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("front-photos")
    for i, (h, w) in enumerate([(40, 56), (48, 32), (64, 64)]):
        Image.fromarray(_colour_photo(h, w, i)).save(folder / f"p{i}.png")
    (folder / "bad.png").write_bytes(b"junk")
    return folder


def test_sweep_points():
    single = front.sweep_points("m", ["ab"], scales=(1, 2))
    assert [(p.mix, p.scale) for p in single] == [({"ab": 1.0}, 1), ({"ab": 1.0}, 2)]
    two = front.sweep_points("m", ["ab", "ab_vivid"], scales=(1,), mixes=(0, 0.5, 1))
    assert [p.mix for p in two] == [{"ab": 1.0}, {"ab": 0.5, "ab_vivid": 0.5}, {"ab_vivid": 1.0}]


def test_measure_scores_each_point_like_a_colorizer_with_that_look(vivid_model, photos):
    colorizer = Colorizer(vivid_model, device="cpu")
    points = {"m": front.sweep_points("m", ["ab", "ab_vivid"], scales=(1.5,), mixes=(0.25,))}
    doc = front.measure({"m": colorizer}, sorted(photos.glob("*.png")), points)
    assert doc["photos"] == 3 and len(doc["failed"]) == 1 and "bad.png" in doc["failed"][0]["file"]
    (row,) = doc["points"]
    from colorfuse.engine.card import Look

    colorizer.look = Look({"ab": 0.75, "ab_vivid": 0.25}, scale=1.5)
    colorizer._outputs = list(colorizer.look.mix)
    psnr, colour, truth_colour, gray_psnr = [], [], [], []
    for path in sorted(photos.glob("p*.png")):
        truth = colorizer.read(path)
        result = colorizer.colorize(gray_version(truth))
        psnr.append(quality.psnr(result, truth))
        colour.append(quality.colorfulness(result))
        truth_colour.append(quality.colorfulness(truth))
        gray_psnr.append(quality.psnr(gray_version(truth), truth))
    assert row["psnr_gain"] == pytest.approx(np.mean(psnr) - np.mean(gray_psnr), abs=1e-6)
    assert row["colorfulness_ratio"] == pytest.approx(np.mean(colour) / np.mean(truth_colour), abs=1e-6)


def test_choose_looks_takes_the_best_psnr_above_each_floor():
    doc = {"photos": 5, "points": [
        {"model": "m", "mix": {"ab": 1.0}, "scale": 1.0, "psnr_gain": 0.9, "colorfulness_ratio": 0.45},
        {"model": "m", "mix": {"ab": 1.0}, "scale": 1.25, "psnr_gain": 0.8, "colorfulness_ratio": 0.55},
        {"model": "m", "mix": {"ab": 1.0}, "scale": 1.5, "psnr_gain": 0.5, "colorfulness_ratio": 0.65},
        {"model": "m", "mix": {"ab_vivid": 1.0}, "scale": 1.0, "psnr_gain": -0.3, "colorfulness_ratio": 0.85},
        {"model": "m", "mix": {"ab_vivid": 1.0}, "scale": 1.25, "psnr_gain": -1.0, "colorfulness_ratio": 1.05},
        {"model": "other", "mix": {"ab": 1.0}, "scale": 1.0, "psnr_gain": 5.0, "colorfulness_ratio": 2.0},
    ]}  # fmt: skip
    chosen = front.choose_looks(doc, "m")
    assert chosen["default_look"] == "natural"
    assert (chosen["looks"]["natural"]["scale"], chosen["looks"]["vivid"]["mix"]) == (1.25, {"ab_vivid": 1.0})
    assert chosen["evaluation"]["looks"]["vivid"] == {"psnr_gain": -0.3, "colorfulness_ratio": 0.85, "photos": 5}
    assert list(chosen["looks"]) == ["natural", "rich", "vivid"] and chosen["looks"]["rich"]["scale"] == 1.5
    careful = front.choose_looks(doc, "m", floors={"natural": 0.44}, margin=0.1)  # 0.45 < 0.44 x 1.1
    assert careful["looks"]["natural"]["scale"] == 1.25
    timid = front.choose_looks(doc, "m", floors={"loud": 3.0})  # nothing that colourful: the most colourful
    assert timid["looks"]["loud"]["scale"] == 1.25 and timid["looks"]["loud"]["mix"] == {"ab_vivid": 1.0}


def test_eval_front_command(vivid_model, model_path, photos, tmp_path):
    args = ["eval-front", str(photos), "--model", str(vivid_model), "--model", str(model_path), "--scales", "1,2",
            "--mixes", "0,1", "--json", str(tmp_path / "f.json"), "--plot", str(tmp_path / "f.png"),
            "--choose-looks", str(tmp_path / "looks.json"), "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "f.json").read_text())
    assert len(doc["points"]) == 4 + 2 and {r["look"] for r in doc["looks"]} == {"natural", "vivid", "blend"}
    assert doc["machine"]["cores"] and (tmp_path / "f.png").stat().st_size > 10_000
    looks = json.loads((tmp_path / "looks.json").read_text())
    assert set(looks["looks"]) == {"natural", "rich", "vivid"} and looks["default_look"] == "natural"
    assert "look vivid:" in result.output and "PSNR" in result.output


def test_eval_front_keeps_an_earlier_runs_points_on_the_same_photos(vivid_model, model_path, photos, tmp_path):
    first = ["eval-front", str(photos), "--model", str(model_path), "--scales", "1,2", "--mixes", "0",
             "--json", str(tmp_path / "a.json"), "--quiet"]
    assert CliRunner().invoke(cli, first).exit_code == 0
    earlier = json.loads((tmp_path / "a.json").read_text())
    for point in earlier["points"]:
        point["model"] = "earlier run"
    (tmp_path / "a.json").write_text(json.dumps(earlier))
    second = ["eval-front", str(photos), "--model", str(vivid_model), "--scales", "1", "--mixes", "0",
              "--json", str(tmp_path / "b.json"), "--keep", str(tmp_path / "a.json"), "--quiet"]
    result = CliRunner().invoke(cli, second)
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "b.json").read_text())
    kept = [p for p in doc["points"] if p["model"] == earlier["points"][0]["model"]]
    assert kept == earlier["points"] and len(doc["points"]) == len(earlier["points"]) + 1
    other = {**earlier, "photos": earlier["photos"] + 1}
    (tmp_path / "c.json").write_text(json.dumps(other))
    refused = CliRunner().invoke(cli, second[:-3] + ["--keep", str(tmp_path / "c.json"), "--quiet"])
    assert refused.exit_code == 1 and "other photos" in refused.output
