"""#23.2: cluster mode keeps the single-machine run's promises (its listing, decode and write stages
share colorfuse.engine.planning). The stages are plain functions: tested here without starting Ray."""

import subprocess
from pathlib import Path

import numpy as np

from colorfuse.engine.distributed.listing import iter_planned
from colorfuse.engine.distributed.pipeline import _columns, _decode_stage, _write_stage
from colorfuse.engine.imagefiles import HOST, temporary_prefix
from tests.test_cli_colorize import _photo, _save

OPTIONS = {"quality": 95}


def _rows(inputs, out, **flags):
    settings = {"fmt": "auto", "skip_existing": False, "overwrite": False, **flags}
    return {Path(row["source"]).name: row for row in iter_planned([str(item) for item in inputs], Path(out), **settings)}


def _ended_pid() -> int:
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


def _pixels(batch, image):
    size = len(batch["source"])
    packed = {"pixels": image.tobytes(), "shape": ",".join(map(str, image.shape)), "dtype": image.dtype.str}
    return {**batch, **{key: np.array([value] * size, dtype=object) for key, value in packed.items()}}


def test_listing_never_plans_over_an_input_nor_rescans_the_output(tmp_path):
    """--ray with --overwrite into the input folder replaced photo.png with photo.bmp's result;
    an output folder inside the input folder was colorized again."""
    src = tmp_path / "in"
    _save(src / "photo.bmp", _photo())
    _save(src / "photo.png", _photo(30, 20))
    rows = _rows([src], src, overwrite=True)
    assert rows["photo.bmp"]["status"] == "failed" and "would overwrite the input" in rows["photo.bmp"]["error"]
    _save(src / "out" / "a.jpg", _photo())
    assert "a.jpg" not in _rows([src], src / "out")


def test_listing_deletes_stale_temporaries_and_checks_existing_outputs(tmp_path):
    """--ray kept killed runs' temporaries; --skip-existing skipped empty and truncated outputs."""
    src, out = tmp_path / "in", tmp_path / "out"
    source = _save(src / "a.png", _photo())
    _save(out / "a.png", _photo())
    (out / "a.png").write_bytes((out / "a.png").read_bytes()[:100])  # truncated
    stale = out / f"{temporary_prefix(out / 'a.png', _ended_pid())}abcdefgh.partial"
    stale.write_bytes(b"")
    row = _rows([src], out, skip_existing=True)["a.png"]
    assert not stale.exists()
    assert (row["status"], row["existing"], row["replace"]) == ("todo", True, True)
    decoded = _decode_stage(_columns([row]), OPTIONS)
    assert decoded["status"][0] == "todo"  # truncated: done again
    _save(out / "a.png", _photo())
    assert _decode_stage(_columns([row]), OPTIONS)["status"][0] == "skipped"
    assert str(source) == row["source"]


def test_write_stage_never_replaces_a_file_another_process_created(tmp_path):
    """Without --overwrite, outputs created by another process during the run were replaced."""
    src, out = tmp_path / "in", tmp_path / "out"
    _save(src / "a.png", _photo())
    row = _rows([src], out)["a.png"]
    _save(out / "a.png", _photo(8, 8))  # the other process, after listing
    theirs = (out / "a.png").read_bytes()
    batch = _pixels(_columns([row]), np.zeros((30, 40, 3), np.uint8))
    written = _write_stage(batch, "auto", OPTIONS, skip_existing=False, driver=(HOST, 1))
    assert written["status"][0] == "failed" and "already exists" in written["error"][0]
    assert (out / "a.png").read_bytes() == theirs


def test_write_stage_publishes_nothing_once_the_driver_is_gone(tmp_path):
    """After kill -9 of the driver, workers went on writing for seconds."""
    src, out = tmp_path / "in", tmp_path / "out"
    _save(src / "a.png", _photo())
    row = _rows([src], out)["a.png"]
    batch = _pixels(_columns([row]), np.zeros((30, 40, 3), np.uint8))
    written = _write_stage(batch, "auto", OPTIONS, skip_existing=False, driver=(HOST, _ended_pid()))
    assert written["status"][0] == "failed" and "driver has ended" in written["error"][0]
    assert not out.exists() or not any(out.iterdir())


def test_sigterm_stops_a_ray_run_like_the_normal_run(tmp_path, model_path):
    """Ctrl-C or SIGTERM in --ray mode gave a traceback or 'Aborted!': now the summary and 128 + N."""
    import signal
    import sys

    import pytest

    pytest.importorskip("ray")
    for index in range(4):
        _save(tmp_path / "in" / f"{index}.png", _photo())
    process = subprocess.Popen([sys.executable, "-m", "colorfuse", "colorize", str(tmp_path / "in"), "--out",
                                str(tmp_path / "out"), "--model", str(model_path), "--quiet", "--ray"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # the workers are planned: the pipeline starts now
        if line.startswith("ray: "):
            break
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stdout + stderr
    assert "interrupted by SIGTERM" in stderr and stdout.startswith("done ")
    assert not (tmp_path / "out").exists() or not any(p.name.startswith(".") for p in (tmp_path / "out").iterdir())


def test_sigterm_while_ray_starts(tmp_path, model_path, monkeypatch):
    """Ray's own SIGTERM handler while it starts (2-5 s) ended the run with exit 15 and no summary."""
    import os
    import signal
    import sys
    import time

    import pytest

    from tests.test_cli_colorize import run

    ray = pytest.importorskip("ray")

    def starting(**kwargs):  # as ray.init does: its handler, sys.exit(signum), until the driver is connected
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", starting)
    _save(tmp_path / "in" / "a.png", _photo())
    result = run(tmp_path / "in", "--out", tmp_path / "out", "--model", model_path, "--ray")
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "done 0, skipped 0, failed 0" in result.output and "interrupted by SIGTERM" in result.output
