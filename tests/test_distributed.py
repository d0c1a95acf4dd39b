"""Cluster mode (`colorize --ray`, colorfuse.engine.distributed) on a local 2-CPU Ray instance.

Outputs must be byte-identical to the single-machine run's; bad files are reported in the summary
and the JSONL failure report; a --skip-existing rerun rewrites nothing.

Covers engine/distributed/cluster.py (connecting, planning workers).
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine.distributed import INSTALL_HINT, check_address, connect, import_ray, plan_workers
from colorfuse.errors import ColorfuseError

ray = pytest.importorskip("ray")

VAL_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "val" / "imagenet_samples"
BAD = {"zero.jpg": "empty file (0 bytes)", "text.jpg": "not an image", "truncated.jpg": "truncated"}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _photos(folder: Path, count: int) -> list[Path]:
    """Real photos from the validation set when present, else smooth generated ones."""
    folder.mkdir(parents=True, exist_ok=True)
    real = sorted(VAL_PHOTOS.glob("*.jpg"))[:count]
    if len(real) == count:
        return [Path(shutil.copy(path, folder / path.name)) for path in real]
    y, x = np.mgrid[0:60, 0:80].astype(np.float32)
    made = []
    for index in range(count):
        image = np.stack([x * 3 + index * 20, y * 4, 255 - x * 2], axis=2).clip(0, 255).astype(np.uint8)
        made.append(folder / f"photo{index}.jpg")
        Image.fromarray(image).save(made[-1], quality=90)
    return made


def _bad_files(folder: Path, photo: Path) -> None:
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not a JPEG")
    data = photo.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])


def run(*args):
    return CliRunner().invoke(cli, ["colorize", "--quiet", *map(str, args)], catch_exceptions=False)


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "failures.jsonl"}


def test_worker_plan_fits_the_cluster():
    assert plan_workers({"CPU": 2}).max_workers == 1
    cpu = plan_workers({"CPU": 16}, threads=4)
    assert (cpu.min_workers, cpu.max_workers, cpu.device, cpu.resources) == (1, 3, "cpu", {"num_cpus": 4})
    gpu = plan_workers({"CPU": 32, "GPU": 4}, gpus_per_worker=0.5)
    assert (gpu.max_workers, gpu.device, gpu.resources["num_gpus"]) == (8, "cuda", 0.5)
    assert plan_workers({"CPU": 32, "GPU": 4}, device="cpu", workers=6).device == "cpu"
    with pytest.raises(ColorfuseError, match="room for 1 colorize worker"):
        plan_workers({"CPU": 2}, workers=2)
    with pytest.raises(ColorfuseError, match="no GPU"):
        plan_workers({"CPU": 8}, device="cuda")


def test_address_check():
    for good in ("local", "auto", "ray://head:10001", "10.0.0.5:6379"):
        assert check_address(good) == good
    with pytest.raises(ColorfuseError, match="not a Ray address"):
        check_address("photos/")


def test_missing_ray_says_how_to_install(monkeypatch, tmp_path, model_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(ColorfuseError, match=r"pip install -e '\.\[distributed\]' in the clone"):
        import_ray()
    _photos(tmp_path / "in", 1)
    result = CliRunner().invoke(cli, ["colorize", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path), "--ray"])
    assert result.exit_code == 1
    assert INSTALL_HINT in result.output
    assert "colorize (ray)" not in result.output  # the error comes before any progress bar
    assert not (tmp_path / "out").exists()


def test_unreachable_cluster_is_a_clear_error(monkeypatch):
    if ray.is_initialized():
        pytest.skip("needs a process without a Ray runtime")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ColorfuseError, match="cannot reach the Ray cluster at 'auto'"):
        with connect("auto"):
            pass


def test_too_old_ray_is_refused(monkeypatch):
    monkeypatch.setattr(ray, "__version__", "2.9.3")
    with pytest.raises(ColorfuseError, match=r"Ray 2\.9\.3 is too old.*ray\[data\]>=2\.48"):
        import_ray()


def test_same_results_as_single_machine_and_resume(local_ray, tmp_path, model_path):
    src = tmp_path / "in"
    photos = _photos(src, 6)
    for photo in photos[:2]:  # a sub-folder, and a gray PNG written back as PNG
        (src / "sub").mkdir(exist_ok=True)
        photo.rename(src / "sub" / photo.name)
    Image.open(src / "sub" / photos[0].name).convert("L").save(src / "sub" / "gray.png")
    _bad_files(src, photos[2])

    single, cluster = tmp_path / "single", tmp_path / "cluster"
    expected = run(src, "--out", single, "--model", model_path)
    result = run(src, "--out", cluster, "--model", model_path, "--ray")
    assert expected.exit_code == result.exit_code == 1  # failures are reported, not fatal
    assert "done 7, skipped 0, failed 3" in expected.output
    assert "done 7, skipped 0, failed 3" in result.output, result.output

    want, got = _outputs(single), _outputs(cluster)
    assert sorted(got) == sorted(want) and "sub/gray.png" in got and len(got) == 7
    assert got == want  # same encoder on identical pixels: identical bytes
    for name in got:
        assert np.array_equal(np.asarray(Image.open(cluster / name)), np.asarray(Image.open(single / name)))

    report = [json.loads(line) for line in (cluster / "failures.jsonl").read_text().splitlines()]
    assert sorted(Path(entry["source"]).name for entry in report) == sorted(BAD)
    for entry in report:
        assert BAD[Path(entry["source"]).name] in entry["error"] and entry["source"] in entry["error"]
        assert entry["source"] in result.output

    stamps = {p: p.stat().st_mtime_ns for p in cluster.rglob("*") if p.is_file() and p.suffix != ".jsonl"}
    again = run(src, "--out", cluster, "--model", model_path, "--ray", "--skip-existing",
                "--failures", tmp_path / "again.jsonl")
    assert "done 0, skipped 7, failed 3" in again.output, again.output
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing rewritten
    assert len((tmp_path / "again.jsonl").read_text().splitlines()) == 3


def test_uri_inputs_through_pyarrow(local_ray, tmp_path, model_path):
    src = tmp_path / "in"
    photos = _photos(src / "deep", 2)
    _bad_files(src, photos[0])
    single, cluster = tmp_path / "single", tmp_path / "cluster"
    run(src, "--out", single, "--model", model_path)
    result = run(src.as_uri() + "/", "--out", cluster, "--model", model_path, "--ray")
    assert "done 2, skipped 0, failed 3" in result.output, result.output
    assert _outputs(cluster) == _outputs(single)
    report = [json.loads(line) for line in (cluster / "failures.jsonl").read_text().splitlines()]
    assert {entry["source"] for entry in report} == {f"{src.as_uri()}/{name}" for name in BAD}
    assert all(entry["error"].startswith(entry["source"]) for entry in report)  # names the URI, not a temp file


def test_cluster_info_shows_the_nodes_and_the_workers_a_run_would_start(local_ray):
    result = CliRunner().invoke(cli, ["cluster", "info", "--device", "cpu", "--ray-workers", "1"])
    assert result.exit_code == 0, result.output
    assert "1 node(s), 2 CPU, 0 GPU" in result.output
    assert "colorize --ray would start 1 colorize worker(s) on cpu, 1 CPU thread(s) each" in result.output
