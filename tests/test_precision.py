"""Reduced-precision variants: building and measuring them, --precision auto, checks and fallbacks."""

import json
import os
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from colorfuse.cli import cli
from colorfuse.engine import precision as precision_module
from colorfuse.engine.card import read_card
from colorfuse.engine.colorizer import Colorizer
from colorfuse.errors import ColorfuseError
from colorfuse.engine.openvino_runtime import openvino_problem
from colorfuse.engine.precision import choose_variant
from colorfuse.engine.session import clear_cache, get_session
from colorfuse.engine.variants import VariantWarning, load_variants, manifest_path
from tests.modelfactory import make_model

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
needs_openvino = pytest.mark.skipif(bool(openvino_problem()) and not os.environ.get("CI"),
                                    reason="OpenVINO is not installed (the test extras install it; CI requires it)")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COLORFUSE_CACHE_DIR", str(tmp_path / "cache"))
    clear_cache()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small global-input model with its variants built and measured on the bundled photos."""
    from colorfuse.train.variants import build_variants

    folder = tmp_path_factory.mktemp("variants")
    path = folder / "small.onnx"
    make_model(path, global_size=16, multiple=4)
    build_variants(path, SAMPLES / "gray", SAMPLES / "imagenet")
    return path


@pytest.fixture
def model(built, tmp_path):
    """A private copy of ``built`` (model, manifest, int8 file) that a test may edit."""
    shutil.copytree(built.parent, tmp_path / "m")
    return tmp_path / "m" / built.name


def edit_manifest(path, change):
    manifest = manifest_path(path)
    data = json.loads(manifest.read_text())
    change(data)
    manifest.write_text(json.dumps(data))


def test_build_writes_a_manifest_and_an_int8_file_with_its_quality(built):
    data = json.loads(manifest_path(built).read_text())
    base = read_card(built)
    assert data["base_weights_sha256"] == base.weights_sha256 and data["measured_on"]["photos"] == 4
    keys = {f"{v['precision']}@{v['runtime']}" for v in data["variants"]}
    assert "int8@onnxruntime" in keys
    int8 = read_card(manifest_path(built).parent / "small.int8.onnx")
    assert int8.precision == "int8" and int8.training["precision_variant"]["base_weights_sha256"] == base.weights_sha256
    quality = int8.training["precision_variant"]["quality"]["int8@onnxruntime"]
    assert np.isfinite(quality["psnr_loss_db"]) and np.isfinite(quality["colourfulness_change_pct"])
    assert 0 < quality["probe_mean_abs_ab"] < 0.1  # quantized: close to fp32, not equal
    assert [v.key for v in load_variants(built, base)][0] == "fp32@onnxruntime"


@needs_openvino
@pytest.mark.parametrize("flags", [["avx2", "avx512f"], ["avx2", "avx512f", "avx512_bf16"]])
def test_bf16_is_measured_only_where_the_cpu_computes_it(tmp_path, monkeypatch, flags):
    """On a CPU without bf16, OpenVINO runs a bf16 request in fp32: the manifest recorded fp32's figures as
    bf16's, and on a CPU with bf16 the real bf16 then failed its probe check (limit from the fake figure)."""
    import colorfuse.engine.machine as machine
    from colorfuse.train.variants import build_variants

    monkeypatch.setattr(machine, "cpu_identity", lambda: {"cpu": "test", "cores": 2, "flags": flags})
    path = tmp_path / "small.onnx"
    make_model(path, global_size=16, multiple=4)
    data = json.loads(build_variants(path, SAMPLES / "gray", SAMPLES / "imagenet", int8=False).read_text())
    keys = {f"{v['precision']}@{v['runtime']}" for v in data["variants"]}
    if "avx512_bf16" in flags:
        assert keys == {"fp32@openvino", "bf16@openvino"} and "not_measured" not in data
    else:
        assert keys == {"fp32@openvino"} and "computes no bf16" in data["not_measured"]["bf16@openvino"]


@needs_openvino
def test_openvino_fp32_matches_onnxruntime_and_is_measured_so(built):
    card = read_card(built)
    feeds = precision_module.probe_feeds(card)
    ours = get_session(built, "cpu", runtime="openvino").run(["ab"], feeds)[0]
    reference = get_session(built, "cpu").run(["ab"], feeds)[0]
    assert ours.shape == reference.shape and np.abs(ours - reference).max() < 1e-5
    entry = next(v for v in json.loads(manifest_path(built).read_text())["variants"] if v["runtime"] == "openvino"
                 and v["precision"] == "fp32")
    assert abs(entry["psnr_loss_db"]) < 1e-3 and abs(entry["colourfulness_change_pct"]) < 0.1


def test_auto_runs_the_fastest_variant_within_limits_and_caches_the_timing(model, monkeypatch, capfd):
    calls = []

    def fake_timing(sessions, feeds, names, deadline):
        calls.append((sorted(sessions), next(iter(feeds.values())).shape[2:]))
        return {key: (1.0 if key == "int8@onnxruntime" else 5.0) for key in sessions}

    monkeypatch.setattr(precision_module, "_time_ms", fake_timing)
    monkeypatch.setattr(precision_module, "predicted_order", lambda variants, flags: sorted(variants, key=lambda v: not v.is_base))
    edit_manifest(model, lambda d: [v.update(psnr_loss_db=0.0, colourfulness_change_pct=0.0) for v in d["variants"]])
    first = Colorizer(model, device="cpu")
    choice = first.precision_choice
    assert choice.variant.key == "fp32@onnxruntime" and "predicted fastest" in choice.reason  # no waiting
    assert choice.wait() and not choice.cached
    notice = [line for line in capfd.readouterr().err.splitlines() if "timed once" in line]
    assert len(notice) == 1 and "in the background" in notice[0]
    again = Colorizer(model, device="cpu")
    assert again.precision_choice.cached and again.precision_choice.variant.key == "int8@onnxruntime"
    assert again.model_session.session.get_providers() == ["CPUExecutionProvider"]
    other_size = Colorizer(model, device="cpu", max_side=96, batch_size=3)  # timed once per model, not per size
    assert other_size.precision_choice.cached and not other_size.precision_choice.wait()
    assert len(calls) == 1 and "fp32@onnxruntime" in calls[0][0]
    assert calls[0][1] == precision_module.timing_shape(read_card(model))


def test_timing_stops_at_its_deadline():
    class Slow:
        runs = 0

        def run(self, names, feeds):
            Slow.runs += 1
            time.sleep(0.05)

    start = time.perf_counter()
    timings = precision_module._time_ms({"a": Slow(), "b": Slow()}, {}, [], deadline=start + 0.1)
    assert set(timings) == {"a", "b"} and time.perf_counter() - start < 0.6
    assert Slow.runs <= 6  # warm-up, one round, and at most the round started before the deadline


def test_the_first_timing_of_a_real_model_stays_within_the_budget(model):
    card = read_card(model)
    candidates = [v for v in load_variants(model, card) if v.runtime == "onnxruntime" or not openvino_problem()]
    start = time.perf_counter()
    entry = precision_module._measure(candidates, model, card, None)
    assert time.perf_counter() - start < precision_module.MEASURE_BUDGET_S + 2.0  # the budget plus one round
    assert set(entry["timings_ms"]) | set(entry["failed"]) == {v.key for v in candidates}


@pytest.mark.parametrize("flags, first", [(["avx2", "avx512f", "avx512_bf16", "avx512_vnni"], "bf16@openvino"),
                                          (["avx2", "avx_vnni"], "int8@openvino"),
                                          (["avx2"], "fp32@openvino")])
def test_the_predicted_fastest_follows_the_cpu_features(flags, first):
    from colorfuse.engine.variants import Variant

    variants = [Variant(p, r, Path("m.onnx")) for p, r in [("fp32", "onnxruntime"), ("int8", "onnxruntime"),
                                                              ("fp32", "openvino"), ("bf16", "openvino"),
                                                              ("int8", "openvino")]]
    order = precision_module.predicted_order(variants, flags)
    assert order[0].key == first and order[-1].key != first


def test_auto_leaves_out_variants_over_the_quality_limits(model, monkeypatch):
    monkeypatch.setattr(precision_module, "_time_ms", lambda sessions, *_: {key: 1.0 for key in sessions})
    edit_manifest(model, lambda d: [v.update(psnr_loss_db=0.2) for v in d["variants"]])
    choice = Colorizer(model, device="cpu").precision_choice
    assert choice.variant.key == "fp32@onnxruntime"
    assert "quality" in choice.rejected["int8@onnxruntime"]
    forced = Colorizer(model, device="cpu", precision="int8", runtime="onnxruntime")  # asked for by name: it runs
    assert forced.precision_choice.variant.key == "int8@onnxruntime"


@needs_openvino
def test_an_explicit_precision_runs_its_best_measured_runtime_and_warns_when_it_is_over_the_limits(model):
    """int8@openvino of the default lost 90% of its colour (-0.6 dB) where int8@onnxruntime lost 0.06 dB: --precision
    int8 ran the broken one, the predicted fastest, without a word."""
    def losses(ort, openvino):
        def change(data):
            for v in data["variants"]:
                if v["precision"] == "int8":
                    v.update(psnr_loss_db=ort if v["runtime"] == "onnxruntime" else openvino,
                             colourfulness_change_pct=0.1 if v["runtime"] == "onnxruntime" else -90.0)
        return change

    edit_manifest(model, losses(0.01, 0.6))
    with warnings.catch_warnings():
        warnings.simplefilter("error", VariantWarning)  # within the limits: no warning
        choice = choose_variant(model, read_card(model), "int8", "auto", "cpu")
    assert choice.variant.key == "int8@onnxruntime" and "measured worse" in choice.rejected["int8@openvino"]
    edit_manifest(model, losses(0.06, 0.6))
    with pytest.warns(VariantWarning, match=r"int8@onnxruntime: PSNR -0.060 dB.*over auto's limits"):
        choice = choose_variant(model, read_card(model), "int8", "auto", "cpu")
    assert choice.variant.key == "int8@onnxruntime"


def test_int8_output_stays_close_to_fp32(model, photo):
    fp32 = Colorizer(model, device="cpu", precision="fp32", runtime="onnxruntime").colorize(photo).astype(int)
    int8 = Colorizer(model, device="cpu", precision="int8", runtime="onnxruntime").colorize(photo).astype(int)
    assert np.abs(fp32 - int8).mean() < 2.0


def test_a_variant_that_fails_its_check_warns_and_fp32_runs(model, monkeypatch):
    monkeypatch.setattr(precision_module, "mean_abs_difference", lambda *_: float("inf"))
    with pytest.warns(VariantWarning, match="failed its check against fp32"):
        colorizer = Colorizer(model, device="cpu", precision="int8", runtime="onnxruntime")
    assert colorizer.precision_choice.variant.key == "fp32@onnxruntime"
    assert colorizer.precision_choice.rejected["int8@onnxruntime"].startswith("mean |ab difference| inf")


def test_a_manifest_for_other_weights_is_ignored(model):
    edit_manifest(model, lambda d: d.update(base_weights_sha256="0" * 64))
    with pytest.warns(VariantWarning, match="other weights"):
        variants = load_variants(model, read_card(model))
    assert [v.key for v in variants] == ["fp32@onnxruntime"]


def test_an_int8_file_made_from_another_model_is_ignored(model, tmp_path):
    other = tmp_path / "other.onnx"
    make_model(other, global_size=16, multiple=4, seed=3)
    int8 = manifest_path(model).parent / "small.int8.onnx"
    from colorfuse.train.variants import quantize_int8

    quantize_int8(other, int8, sorted((SAMPLES / "gray").glob("*.jpg"))[:2])
    with pytest.warns(VariantWarning, match="was not made from"):
        keys = [v.key for v in load_variants(model, read_card(model))]
    assert "int8@onnxruntime" not in keys


def test_asking_for_a_precision_the_model_lacks_is_a_clear_error(model_path, model):
    with pytest.raises(ColorfuseError, match="has no int8 variant"):
        Colorizer(model_path, device="cpu", precision="int8")
    with pytest.raises(ColorfuseError, match="has no bf16 variant for runtime onnxruntime"):
        Colorizer(model, device="cpu", precision="bf16", runtime="onnxruntime")
    assert "it has no variants" in Colorizer(model_path, device="cpu").precision_choice.reason


def test_cuda_runs_the_fp32_model(model):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        choice = choose_variant(model, read_card(model), "int8", "auto", device="cuda")
    assert choice.variant.key == "fp32@onnxruntime" and any(issubclass(w.category, VariantWarning) for w in caught)


def test_cli_lists_variants_and_colorizes_with_a_named_precision(model, tmp_path, monkeypatch):
    monkeypatch.setattr(precision_module, "_time_ms", lambda sessions, *_: {key: 2.0 for key in sessions})
    listed = CliRunner().invoke(cli, ["variants", "list", str(model)])
    assert listed.exit_code == 0, listed.output
    assert "int8@onnxruntime" in listed.output and "--precision auto runs" in listed.output
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["colorize", str(SAMPLES / "gray" / "deoldify__CorkKids1910.jpg"), "--out", str(out),
                                      "--model", str(model), "--precision", "int8", "--runtime", "onnxruntime", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "(int8 on onnxruntime)" in result.output and len(list(out.iterdir())) == 1
    bad = CliRunner().invoke(cli, ["colorize", str(SAMPLES / "gray"), "--out", str(out), "--model", str(model),
                                   "--precision", "bf16", "--runtime", "onnxruntime"])
    assert bad.exit_code != 0 and "has no bf16 variant" in bad.output


def test_shipped_variants_match_their_models():
    from colorfuse.engine.models import shipped_models

    for name, path in shipped_models().items():
        if manifest_path(path).exists():
            with warnings.catch_warnings():
                warnings.simplefilter("error", VariantWarning)
                variants = load_variants(path, read_card(path))
            assert len(variants) > 1, name


def test_models_info_lists_the_measured_variants(model):
    result = CliRunner().invoke(cli, ["models", "info", str(model)])
    assert result.exit_code == 0, result.output
    assert "variant int8@onnxruntime: PSNR" in result.output


def test_build_without_int8_measures_the_runtimes_own_precisions_only(tmp_path):
    path = tmp_path / "small.onnx"
    make_model(path, global_size=16, multiple=4)
    result = CliRunner().invoke(cli, ["variants", "build", str(path), "--photos", str(SAMPLES / "imagenet"),
                                      "--no-int8", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(manifest_path(path).read_text())
    assert data["int8"] is None and not list(tmp_path.rglob("*.int8.onnx"))
    assert all(v["precision"] != "int8" and v["file"] is None for v in data["variants"])
    keys = [v.key for v in load_variants(path, read_card(path))]
    assert keys[0] == "fp32@onnxruntime" and not any(k.startswith("int8") for k in keys)
    refused = CliRunner().invoke(cli, ["variants", "build", str(path), "--photos", str(SAMPLES / "imagenet")])
    assert refused.exit_code == 2 and "--calibration" in refused.output


@pytest.mark.parametrize("limit, flags", [("", ["avx2", "avx512f", "avx512_bf16", "avx_vnni"]), ("AVX2", ["avx2"]),
                                          ("AVX2_VNNI", ["avx2", "avx_vnni"])])
def test_openvinos_isa_limit_is_what_auto_predicts_and_caches_for(monkeypatch, limit, flags):
    import io

    from colorfuse.engine import machine

    cpuinfo = "processor : 0\ncore id : 0\nflags : fpu avx2 avx512f avx512_bf16 avx_vnni\n\n"
    monkeypatch.setattr(machine, "open", lambda *args, **kwargs: io.StringIO(cpuinfo), raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", limit)
    identity = machine.cpu_identity()
    assert identity["flags"] == flags and identity.get("isa_limit") == (limit or None)


def test_at_exit_a_short_job_waits_only_for_the_rest_of_the_budget(model, monkeypatch):
    def endless_timing(sessions, feeds, names, deadline):
        precision_module._stop.wait(30)  # a timing that would outlast the job: only the stop ends it
        return {}

    monkeypatch.setattr(precision_module, "_time_ms", endless_timing)
    monkeypatch.setattr(precision_module, "MEASURE_BUDGET_S", 0.5)
    edit_manifest(model, lambda d: [v.update(psnr_loss_db=0.0, colourfulness_change_pct=0.0) for v in d["variants"]])
    choice = Colorizer(model, device="cpu").precision_choice
    start = time.perf_counter()
    try:
        precision_module._finish_measuring()  # what the exit does
        assert time.perf_counter() - start < 3 and not choice.measuring.is_alive()
    finally:
        precision_module._stop.clear()
    assert not (Path(os.environ["COLORFUSE_CACHE_DIR"]) / "precision-choices.json").exists()  # nothing half-measured
