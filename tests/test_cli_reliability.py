"""#13: the reliability promises of `colorfuse colorize` (inputs never replaced, concurrent runs,
special files, resume, signals, errors that name their file, float and multi-frame inputs, first-run
checks). Each test failed before its fix."""

import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from tests.test_cli_colorize import _digest, _Exploding, _photo, _save, run


def test_no_input_is_replaced_whatever_the_flags(tmp_path, model_path):
    """#13.1: photo.bmp's output photo.png is another input: refused, as is every output onto itself."""
    _save(tmp_path / "photo.bmp", _photo())
    _save(tmp_path / "photo.png", _photo(30, 20))
    before = _digest(tmp_path)
    result = run(tmp_path, "--out", tmp_path, "--model", model_path, "--overwrite")
    assert _digest(tmp_path) == before
    assert result.exit_code == 1
    assert "photo.bmp: output" in result.output and "would overwrite the input" in result.output


def test_output_folder_inside_the_input_is_not_colorized_again(tmp_path, model_path):
    """#13.2: `colorize photos --out photos/colour` twice (or with --skip-existing) gives no colour/colour/."""
    photos = tmp_path / "photos"
    _save(photos / "a.png", _photo())
    _save(photos / "sub" / "b.jpg", _photo())
    out = photos / "colour"
    assert run(photos, "--out", out, "--model", model_path).exit_code == 0
    resumed = run(photos, "--out", out, "--model", model_path, "--skip-existing")
    assert resumed.exit_code == 0 and "done 0, skipped 2, failed 0" in resumed.output, resumed.output
    again = run(photos, "--out", out, "--model", model_path, "--overwrite")
    assert again.exit_code == 0 and "done 2, skipped 0, failed 0" in again.output, again.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["a.png", "sub/b.jpg"]
    nested = _save(tmp_path / "photos" / "old" / "old" / "c.png", _photo())  # its output is photos/old/c.png
    _save(tmp_path / "photos" / "old" / "c.png", _photo(20, 20))
    before = _digest(photos / "old")
    inverted = run(photos / "old", "--out", photos, "--model", model_path, "--overwrite")
    assert inverted.exit_code == 1 and f"{nested}: output" in inverted.output
    assert _digest(photos / "old") == before


class _Racing:
    """A file object for the temporary output during whose writing another run publishes the final name."""

    def __init__(self, path, final):
        self.handle, self.final = open(path, "wb"), final

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def write(self, data):
        self.final.write_bytes(b"the other run's result")
        self.handle.write(data)


def test_concurrent_run_never_replaces_the_other_runs_output(tmp_path, model_path, monkeypatch):
    """#13.3: the existence check comes before the write; the final rename itself must refuse to replace."""
    import colorfuse.plugins.builtin.image_io as image_io

    _save(tmp_path / "in" / "a.png", _photo())
    out = tmp_path / "out"
    monkeypatch.setattr(image_io, "open", lambda path, mode: _Racing(path, out / "a.png"), raising=False)
    result = run(tmp_path / "in", "--out", out, "--model", model_path)
    assert (out / "a.png").read_bytes() == b"the other run's result"
    assert result.exit_code == 1 and "a.png: already exists" in result.output
    assert [p.name for p in out.iterdir()] == ["a.png"]  # no temporary left


def test_fifo_named_like_an_image_is_reported_not_read(tmp_path, model_path):
    """#13.4: a FIFO named x.jpg used to block its reader forever; only regular files are read, others reported."""
    import threading
    import time

    src = tmp_path / "in"
    _save(src / "good.png", _photo())
    os.mkfifo(src / "pipe.jpg")

    finished = threading.Event()

    def unblock():  # a reader stuck in open() waits for a writer forever: be that writer, late
        finished.wait(20)
        while not finished.wait(0.5):
            try:
                os.close(os.open(src / "pipe.jpg", os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass  # nobody is reading it

    threading.Thread(target=unblock, daemon=True).start()
    start = time.monotonic()
    try:
        results = [run(found, "--out", tmp_path / f"out{index}", "--model", model_path)
                   for index, found in enumerate((src, src / "pipe.jpg", src / "*.jpg"))]
    finally:
        finished.set()
    assert time.monotonic() - start < 15
    for result in results:
        failures = [line for line in result.output.splitlines() if "failed:" in line]
        assert len(failures) == 1 and "pipe.jpg: a FIFO, not a regular file" in failures[0], result.output
        assert result.exit_code == 1
    assert "done 1, skipped 0, failed 1" in results[0].output


def test_resume_redoes_incomplete_outputs_and_removes_stale_temporaries(tmp_path, model_path):
    """#13.5: --skip-existing skipped 0-byte and truncated outputs and kept killed runs' temporaries forever.
    #23.12: a live writer's temporary is the one whose lock is held."""
    import fcntl
    import subprocess

    from colorfuse.engine.imagefiles import temporary_prefix

    for name in ("a.png", "b.png", "c.png"):
        _save(tmp_path / "in" / name, _photo(40, 30))
    out = tmp_path / "out"
    assert run(tmp_path / "in", "--out", out, "--model", model_path).exit_code == 0
    complete = (out / "c.png").stat().st_mtime_ns
    (out / "a.png").write_bytes(b"")
    (out / "b.png").write_bytes((out / "b.png").read_bytes()[:200])
    ended = subprocess.Popen(["true"])
    ended.wait()
    stale = out / f"{temporary_prefix(out / 'a.png', ended.pid)}x1y2z3w4.partial"
    live = out / f"{temporary_prefix(out / 'b.png')}x1y2z3w4.partial"  # this process: a run under way
    stale.write_bytes(b"")
    live.write_bytes(b"")
    writer = open(live, "rb+")
    fcntl.flock(writer, fcntl.LOCK_EX)  # what a live run holds while it writes
    result = run(tmp_path / "in", "--out", out, "--model", model_path, "--skip-existing")
    writer.close()
    assert result.exit_code == 0 and "done 2, skipped 1, failed 0" in result.output, result.output
    for name in ("a.png", "b.png", "c.png"):
        assert Image.open(out / name).size == (40, 30)
    assert (out / "c.png").stat().st_mtime_ns == complete
    assert not stale.exists() and live.exists()


SLOW_WRITER = """
import sys, time
from colorfuse.plugins import hookimpl
from colorfuse.plugins.manager import get_plugin_manager

class SlowWriter:
    @hookimpl(tryfirst=True)
    def write_image(self, image, path, format, options):
        time.sleep(0.3)  # the temporary file exists, still empty
        return None  # the built-in writer writes it

get_plugin_manager().register(SlowWriter(), name="slow-writer")
from colorfuse.cli import main
main(sys.argv[1:])
"""


def test_sigterm_stops_like_ctrl_c(tmp_path, model_path):
    """#13.5: SIGTERM killed the run outright, leaving 0-byte temporaries; now: a message, cleanup, exit 143."""
    import signal
    import subprocess
    import sys
    import time

    for index in range(40):
        _save(tmp_path / "in" / f"{index:02d}.png", _photo(24, 16))
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, "colorize", str(tmp_path / "in"), "--out", str(out),
                                "--model", str(model_path), "--quiet"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(p.name.endswith(".partial") for p in out.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "no write ever started"
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted by SIGTERM" in stderr
    written = sorted(out.iterdir())
    assert written and not any(p.name.startswith(".") for p in written)  # no temporary left
    assert all(Image.open(p).size == (24, 16) for p in written)


def test_full_disk_stops_at_the_first_error_with_one_line_naming_the_file(tmp_path, model_path, monkeypatch):
    """#13.7: a full disk gave one unnamed 'plugin ... failed in hook write_image' line per image."""
    import colorfuse.plugins.builtin.image_io as image_io

    for index in range(6):
        _save(tmp_path / "in" / f"{index}.png", _photo())
    monkeypatch.setattr(image_io, "open", lambda path, mode: _Exploding(path), raising=False)
    out = tmp_path / "out"
    result = run(tmp_path / "in", "--out", out, "--model", model_path, "--workers", 1, "--batch-size", 1)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "No space left" in line]
    assert len(lines) == 1 and "stopped at the first full-disk error" in lines[0], result.output
    assert f"{out}{os.sep}" in lines[0] and ".png: cannot write (No space left on device)" in lines[0]
    assert list(out.iterdir()) == []


def test_plugin_and_allocation_failures_name_the_file(tmp_path, model_path):
    """#13.7: a plugin's error (an OpenCV allocation failure, say) lost the file's name."""
    import cv2

    from colorfuse.plugins import hookimpl
    from colorfuse.plugins.manager import get_plugin_manager

    class Starved:
        @hookimpl(tryfirst=True)
        def upsample_chroma(self, ab, small_l, full_l, options):
            raise cv2.error("OpenCV(4.10.0) alloc.cpp:73: error: (-4:Insufficient memory) Failed to allocate")

    source = _save(tmp_path / "in" / "big.png", _photo())
    get_plugin_manager().register(Starved(), name="starved")
    try:
        result = run(source, "--out", tmp_path / "out", "--model", model_path)
    finally:
        get_plugin_manager().unregister(name="starved")
    line = next(line for line in result.output.splitlines() if line.startswith("  failed:"))
    assert f"failed: {source}: plugin 'starved' failed in hook 'upsample_chroma'" in line
    assert "Insufficient memory" in line and result.exit_code == 1


def test_failing_grid_keeps_the_summary(tmp_path, model_path):
    """#13.7: an unwritable --grid raised before the summary was printed."""
    _save(tmp_path / "in" / "a.png", _photo())
    (tmp_path / "file").write_text("not a folder")
    result = run(tmp_path / "in", "--out", tmp_path / "out", "--model", model_path, "--grid", tmp_path / "file" / "g.png")
    assert result.exit_code == 1
    assert "done 1, skipped 0, failed 0" in result.output
    assert f"error: grid not written: {tmp_path / 'file' / 'g.png'}: cannot write" in result.output


def test_pillow_warnings_name_their_file(tmp_path, model_path):
    """#13.7: Pillow's warnings ('Truncated File Read' for broken EXIF) did not say which file."""
    exif = Image.Exif()
    exif[0x010E] = "x" * 40
    broken = _save(tmp_path / "in" / "broken_exif.png", _photo(), exif=exif.tobytes()[:-20])
    result = run(broken, "--out", tmp_path / "out", "--model", model_path)
    assert result.exit_code == 0, result.output
    assert f"warning: {broken}: Truncated File Read" in result.output


def test_float_tiff_is_scaled_and_ignored_frames_are_named(tmp_path, model_path):
    """#13.8: a float32 TIFF in 0..1 came out nearly black; extra frames were dropped without a word."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.full((30, 40), 128 / 255, np.float32), mode="F").save(src / "float.tif")
    Image.fromarray(np.full((30, 40), 128, np.uint8)).save(src / "eight.png")
    frames = [_photo(mode="L"), _photo(mode="L").rotate(90), _photo(mode="L").rotate(180)]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(src / "pages.tif", save_all=True, append_images=frames[1:2])
    out = tmp_path / "out"
    result = run(src, "--out", out, "--model", model_path)
    assert result.exit_code == 0, result.output
    from_float, from_eight = (np.asarray(Image.open(out / name), np.int16) for name in ("float.png", "eight.png"))
    assert np.abs(from_float - from_eight).max() <= 2
    assert f"warning: {src / 'anim.gif'}: 3 frames" in result.output and "only the first" in result.output
    assert f"warning: {src / 'pages.tif'}: 2 frames" in result.output


def test_progress_bar_has_a_total(tmp_path, model_path):
    """#13.10: the bar showed only a count ('4img [00:03, 1.01img/s]'): now a total and a percentage."""
    for name in ("a.png", "b.png", "sub/c.png"):
        _save(tmp_path / "in" / name, _photo())
    result = CliRunner().invoke(cli, ["colorize", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "100%" in result.output and "3/3" in result.output


def test_no_images_is_an_error(tmp_path, model_path):
    """#13.11: an empty folder, or one without images, gave 'done 0' and exit 0."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("no image here")
    for folder in ("empty", "texts"):
        result = run(tmp_path / folder, "--out", tmp_path / "out", "--model", model_path)
        assert result.exit_code == 1 and f"no images found in {tmp_path / folder}" in result.output, result.output
        assert "done" not in result.output
    assert not (tmp_path / "out").exists()


def test_cheap_checks_come_before_the_model(tmp_path):
    """#13.12: a typo in a path was reported only after the model loaded (here: after its error)."""
    result = run(tmp_path / "nope.jpg", "--out", tmp_path / "out", "--model", "no-such-model")
    assert result.exit_code == 1 and "nope.jpg: no such file or folder" in result.output
    assert "no-such-model" not in result.output


def test_cuda_on_a_machine_without_it_gives_one_line(tmp_path, model_path):
    """#13.12: --device cuda without CUDA printed onnxruntime's raw warning and colorfuse's, over several lines."""
    import subprocess
    import sys

    from colorfuse.engine.session import available_providers

    if "CUDAExecutionProvider" in available_providers():
        pytest.skip("this machine has CUDA")
    source = _save(tmp_path / "a.png", _photo())
    done = subprocess.run([sys.executable, "-m", "colorfuse", "colorize", str(source), "--out", str(tmp_path / "out"),
                           "--model", str(model_path), "--device", "cuda", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    about_cuda = [line for line in done.stderr.splitlines() if "cuda" in line.lower()]
    assert len(about_cuda) == 1 and about_cuda[0].startswith("warning: CUDA was requested"), done.stderr
    assert "Specified provider" not in done.stderr and "warnings.warn" not in done.stderr
