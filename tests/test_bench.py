"""``colorfuse bench``: every subcommand end to end on the tiny test models with tiny sizes.

Covers benchmarks/paper.py, benchmarks/scaling.py, benchmarks/sizerun.py (its subprocess), benchmarks/throughput.py,
benchmarks/images.py and benchmarks/report.py; benchmarks/ray_throughput.py's arithmetic too.
"""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from colorfuse.benchmarks.measure import run_child, time_runs
from colorfuse.benchmarks.profile import graph_flops
from colorfuse.cli import cli
from colorfuse.engine.card import read_card
from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.machine import describe_machine

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MACHINE_FIELDS = {"cpu", "physical_cores", "logical_cpus", "gpus", "onnxruntime", "onnxruntime_providers", "torch",
                  "load_average"}


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    y, x = np.mgrid[0:60, 0:80]
    for i in range(3):
        image = np.stack([x * 3, y * 4, 255 - x * 2], axis=2).astype(np.uint8)
        cv2.imwrite(str(folder / f"p{i}.jpg"), np.roll(image, 7 * i, axis=1))
    return folder


def invoke(*args):
    result = CliRunner().invoke(cli, ["bench", *map(str, args)], catch_exceptions=False)
    return result


def check_outputs(tmp_path, name):
    data = json.loads((tmp_path / f"{name}.json").read_text())
    assert MACHINE_FIELDS <= set(data["machine"])
    assert data["load_average_before"] is None or len(data["load_average_before"]) == 3
    assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG_SIGNATURE)
    return data


def outputs(tmp_path, name, plot=True):
    args = ["--json", tmp_path / f"{name}.json", "--md", tmp_path / f"{name}.md"]
    return args + (["--plot", tmp_path / f"{name}.png"] if plot else [])


def test_paper_table_end_to_end(global_model_path, tmp_path):
    result = invoke("paper", "--model", global_model_path, "--sizes", "32,64", "--repeats", "2", "--device", "both",
                    *outputs(tmp_path, "paper"))
    assert result.exit_code == 0, result.output
    data = check_outputs(tmp_path, "paper")
    assert data["models"]["fp32"]["file_sha256"] and len(data["models"]["fp32"]["weights_sha256"]) == 64
    cpu = [r for r in data["results"] if r["device"] == "cpu"]
    assert [r["size"] for r in cpu] == [32, 64]
    for row in cpu:
        assert row["providers"][0] == "CPUExecutionProvider"
        assert 0 < row["model_only"]["median_s"] <= row["model_only"]["p95_s"] and len(row["model_only"]["runs"]) == 2
        assert row["end_to_end"]["median_s"] > 0 and "torch_eager" not in row  # no PyTorch twin for --model
    cuda = [r for r in data["results"] if r["device"] == "cuda"]
    assert all("unavailable" in r or r["model_only"]["median_s"] > 0 for r in cuda) and len(cuda) == 2
    assert [row["size"] for row in data["table"]] == [32, 64]
    markdown = (tmp_path / "paper.md").read_text()
    assert "| precision | size (px) | our CPU model (s)" in markdown and "i7-5960X" in markdown


def test_paper_int8_and_fp16_variants(global_model_path, photos, tmp_path, monkeypatch):
    import colorfuse.benchmarks.quantize as quantize

    monkeypatch.setattr(quantize, "CACHE_DIR", tmp_path / "cache")
    result = invoke("paper", "--model", global_model_path, "--precision", "fp32,int8,fp16", "--sizes", "32",
                    "--repeats", "1", "--device", "cpu", "--no-end-to-end", "--photos", photos,
                    *outputs(tmp_path, "variants"))
    assert result.exit_code == 0, result.output
    data = check_outputs(tmp_path, "variants")
    assert [data["models"][p]["precision"] for p in ("fp32", "int8", "fp16")] == ["fp32", "int8", "fp16"]
    for precision in ("int8", "fp16"):
        path = data["models"][precision]["path"]
        assert read_card(path).name == f"test-{precision}"  # a valid card: hash matches the graph
        assert Colorizer(path, device="cpu").colorize(np.full((40, 40), 90, np.uint8)).shape == (40, 40, 3)
    assert len(data["table"]) == 3


def test_throughput_counts_images_and_model_share(global_model_path, photos, tmp_path):
    result = invoke("throughput", photos, "--model", global_model_path, "--device", "cpu", "--repeats", "2",
                    *outputs(tmp_path, "throughput"))
    assert result.exit_code == 0, result.output
    data = check_outputs(tmp_path, "throughput")
    assert [p["images"] for p in data["passes"]] == [3, 3]
    assert data["images_per_s"] > 0 and 0 < data["model_busy_share"] < 1
    assert "images/s" in (tmp_path / "throughput.md").read_text()


def test_bucketed_batching_keeps_results(global_model_path, photo):
    from colorfuse.benchmarks.buckets import BucketedColorizer, bucket_shape

    images = [photo, photo[:40, :50]]  # working shapes 48x64 and 40x56: one bucket of 64x64
    plain = Colorizer(global_model_path, device="cpu").colorize_batch(images)
    bucketed = BucketedColorizer(global_model_path, device="cpu", bucket=32)
    for expected, got in zip(plain, bucketed.colorize_batch(images)):
        # only the bottom and right borders change: the model sees replicated rows there instead of its zero padding
        assert got.shape == expected.shape and np.abs(got.astype(int) - expected.astype(int))[:-8, :-8].max() <= 1
    assert bucketed.timing.calls == 1 and bucket_shape(41, 64, 32) == (64, 64)


def test_throughput_on_an_empty_folder_says_why(global_model_path, tmp_path):
    result = CliRunner().invoke(cli, ["bench", "throughput", str(tmp_path), "--model", str(global_model_path)])
    assert result.exit_code != 0 and "no readable images" in result.output


def test_scaling_measures_each_size_in_its_own_process(model_path, tmp_path):
    result = invoke("scaling", "--model", model_path, "--sizes", "0.003,0.02", "--tile", "64", "--seam", "96,48,8",
                    *outputs(tmp_path, "scaling"))
    assert result.exit_code == 0, result.output
    data = check_outputs(tmp_path, "scaling")
    small, large = data["rows"]
    assert small["tiles"] == 1 and large["tiles"] > 1 and large["tiled"]  # 0.02 MP is over a 64 px tile budget
    assert all(row["peak_rss_mib"] >= row["baseline_rss_mib"] > 10 for row in data["rows"])
    assert data["seam_check"]["rgb_delta_max"] <= 1
    assert data["per_pixel_spread"]["max_over_min_minus_1"] is None  # no sizes within 1-64 MP here


def test_profile_by_op_type(global_model_path, tmp_path):
    result = invoke("profile", "--model", global_model_path, "--size", "64", *outputs(tmp_path, "profile"))
    assert result.exit_code == 0, result.output
    data = check_outputs(tmp_path, "profile")
    assert {"Conv", "FusedConv"} & {op["op"] for op in data["ops"]} and data["run_ms"] > 0
    assert data["groups"]["conv"]["gflop"] == pytest.approx(2 * 2 * 64 * 64 * 9 / 1e9, abs=0.01)
    assert data["numpy_float32_matmul_gflop_per_s"] > 0


def test_settings_compares_session_variants(global_model_path, tmp_path):
    result = invoke("settings", "--model", global_model_path, "--precision", "fp32", "--size", "32", "--repeats", "2",
                    *outputs(tmp_path, "settings"))
    assert result.exit_code == 0, result.output
    data = check_outputs(tmp_path, "settings")
    from colorfuse.benchmarks.settings import VARIANTS

    assert len(data["rows"]) == len(VARIANTS) and all(len(row["runs"]) == 2 for row in data["rows"])


def test_io_binding_runner_matches_session_run(global_model_path):
    from colorfuse.benchmarks.ortrun import ModelRunner, cuda_available, model_feeds

    card = read_card(global_model_path)
    rng = np.random.default_rng(0)
    feeds = model_feeds(card, rng.uniform(-1, 1, (40, 48)).astype(np.float32),
                        rng.uniform(-1, 1, (1, 32, 32)).astype(np.float32))
    plain, bound = ModelRunner(global_model_path, "cpu", feeds), ModelRunner(global_model_path, "cpu", feeds, io_binding=True)
    plain.run()
    bound.run()
    np.testing.assert_allclose(bound.output(), plain.output(), atol=1e-6)
    if not cuda_available():
        with pytest.raises(RuntimeError, match="no CUDA provider"):
            ModelRunner(global_model_path, "cuda", feeds, cuda_graph=True)


def test_bad_sizes_are_refused(model_path):
    result = CliRunner().invoke(cli, ["bench", "paper", "--model", str(model_path), "--sizes", "32,big"])
    assert result.exit_code != 0 and "comma-separated" in result.output


def test_child_peak_memory_is_its_own():
    code = ("import json, numpy; from colorfuse.benchmarks.measure import peak_rss_mib; a = numpy.ones({n}); "
            "print(json.dumps({{'peak': peak_rss_mib()}}))")
    hoard = np.ones(100_000_000 // 8)  # this process's peak must not show up in the children's
    small, big = run_child(["-c", code.format(n=10)]), run_child(["-c", code.format(n=60_000_000 // 8)])
    del hoard
    assert small["peak"] < 90 and big["peak"] > small["peak"] + 40  # MiB


def test_time_runs_warms_up_then_times():
    calls = []
    result = time_runs(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and len(result["runs"]) == 3 and result["min_s"] <= result["median_s"] <= result["p95_s"]


def test_graph_flops_count_the_convolution(global_model_path):
    flops = graph_flops(global_model_path, {"L": (1, 1, 40, 48), "L_global": (1, 1, 32, 32)})
    assert flops == {"conv": 2.0 * 2 * 40 * 48 * 9, "gemm": 0.0}


def test_machine_description():
    machine = describe_machine()
    assert machine["physical_cores"] >= 1 and machine["cpu"] and "CPUExecutionProvider" in machine["onnxruntime_providers"]


def test_ray_throughput_reports_the_marginal_rate_and_compares_outputs(tmp_path):
    from PIL import Image

    from colorfuse.benchmarks.ray_throughput import compare, marginal

    assert marginal({"images": 10, "seconds": 5.0}, {"images": 50, "seconds": 9.0}) == 10.0  # 40 more in 4 s
    assert marginal({"images": 10, "seconds": 5.0}, {"images": 50, "seconds": 5.0}) is None
    for folder, shade in (("a", 100), ("b", 100)):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (8, 8), (shade, 90, 80)).save(tmp_path / folder / "same.jpg")
    Image.new("RGB", (8, 8), (10, 90, 80)).save(tmp_path / "a" / "other.jpg")
    Image.new("RGB", (8, 8), (40, 90, 80)).save(tmp_path / "b" / "other.jpg")
    result = compare(tmp_path / "a", tmp_path / "b")
    assert result["files"] == 2 and result["byte_identical"] == 1 and 20 <= result["max_pixel_difference"] <= 40
