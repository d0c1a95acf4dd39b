"""#23: paths compared as the filesystem does (case-insensitive volumes, recursive globs, symlink
loops), long names, and temporaries of live runs in other PID namespaces. Each test failed before its fix."""

import fcntl
import os
import subprocess

from PIL import Image

from tests.test_cli_colorize import _digest, _photo, _save, run


def test_case_insensitive_volume_never_replaces_an_input(tmp_path, model_path, monkeypatch):
    """#23.1: on exFAT/NTFS/APFS, photos/A.PNG's output photos/A.png is the input itself."""
    import colorfuse.engine.paths as paths

    monkeypatch.setattr(paths, "folds_case", lambda folder: True)  # a case-insensitive volume
    photos = tmp_path / "photos"
    _save(photos / "A.PNG", _photo())
    before = _digest(photos)
    for inputs in ([photos / "A.PNG"], [f"{photos}/*.PNG"], [photos]):
        result = run(*inputs, "--out", photos, "--model", model_path, "--overwrite")
        assert result.exit_code == 1 and "would overwrite the input" in result.output, result.output
        assert _digest(photos) == before


def test_case_insensitive_volume_two_inputs_one_output(tmp_path, model_path, monkeypatch):
    """#23.1: a.png and A.png from two folders are one name on a case-insensitive output volume."""
    import colorfuse.engine.paths as paths

    monkeypatch.setattr(paths, "folds_case", lambda folder: True)
    first, second = _save(tmp_path / "x" / "a.png", _photo()), _save(tmp_path / "y" / "A.png", _photo())
    result = run(first, second, "--out", tmp_path / "out", "--model", model_path)
    assert result.exit_code == 1 and f"{second}: another input also writes" in result.output, result.output


def test_same_file_by_device_and_inode():
    """#23.1: existing paths are compared by device and inode; missing ones by their case-folded key."""
    from colorfuse.engine.paths import folds_case, same_file

    here = os.path.abspath(__file__)
    assert same_file(here, os.path.join(os.path.dirname(here), ".", os.path.basename(here)))
    assert not same_file(here, here + ".missing")
    assert folds_case(os.path.dirname(here)) is False  # this test runs on a case-sensitive volume


def test_a_volume_that_ignores_case_is_detected(tmp_path):
    """#23.1: a folder ignores case when an entry's name in the other case names the same file (here a hard
    link stands in for exFAT's lookup; a case-insensitive FUSE passthrough answers True the same way)."""
    from colorfuse.engine.paths import folds_case, path_key

    folder = tmp_path / "photos"
    _save(folder / "Photo.png", _photo())
    assert folds_case(str(folder)) is False
    other = tmp_path / "insensitive"
    _save(other / "Photo.png", _photo())
    os.link(other / "Photo.png", other / "pHOTO.PNG")
    assert folds_case(str(other)) is True
    assert path_key(other / "new" / "A.PNG") == path_key(other / "new" / "a.png")  # below it, missing names too


def test_recursive_glob_leaves_the_output_folder_out(tmp_path, model_path):
    """#23.3: 'in/**/*.png' --out in/out colorized in/out/ again on every run; resumes failed."""
    src = tmp_path / "in"
    _save(src / "a.png", _photo())
    _save(src / "sub" / "b.png", _photo())
    pattern = f"{src}/**/*.png"
    assert run(pattern, "--out", src / "out", "--model", model_path).exit_code == 0
    resumed = run(pattern, "--out", src / "out", "--model", model_path, "--skip-existing")
    assert resumed.exit_code == 0 and "done 0, skipped 2, failed 0" in resumed.output, resumed.output
    again = run(pattern, "--out", src / "out", "--model", model_path, "--overwrite")
    assert again.exit_code == 0 and "done 2, skipped 0, failed 0" in again.output, again.output
    assert not (src / "out" / "out").exists()


def test_symlink_loop_is_one_bad_file(tmp_path, model_path):
    """#23.4: a symlink loop in a folder aborted the batch with a RuntimeError traceback."""
    src = tmp_path / "in"
    _save(src / "good.png", _photo())
    os.symlink("b.png", src / "loop.png")
    os.symlink("loop.png", src / "b.png")
    result = run(src, "--out", tmp_path / "out", "--model", model_path)
    assert result.exit_code == 1 and "done 1, skipped 0, failed 2" in result.output, result.output
    assert f"{src / 'loop.png'}: a symlink loop" in result.output
    assert (tmp_path / "out" / "good.png").is_file()


def test_long_names_get_a_shorter_temporary_name(tmp_path, model_path):
    """#23.11: a legal 240-byte name failed with 'File name too long' (the temporary adds ~30 bytes)."""
    name = "é" * 100 + "x" * 36 + ".png"  # 240 bytes
    assert len(os.fsencode(name)) == 240
    source = _save(tmp_path / "in" / name, _photo())
    result = run(source, "--out", tmp_path / "out", "--model", model_path)
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == [name]
    assert Image.open(tmp_path / "out" / name).size == (40, 30)


def test_live_temporary_of_another_pid_namespace_is_kept(tmp_path, model_path):
    """#23.12: a run in another PID namespace (same host name, its PID unknown here) lost its temporary."""
    from colorfuse.engine.imagefiles import temporary_prefix

    _save(tmp_path / "in" / "a.png", _photo())
    out = tmp_path / "out"
    out.mkdir()
    ended = subprocess.Popen(["true"])
    ended.wait()  # its PID names no process here, as another namespace's would not
    live = out / f"{temporary_prefix(out / 'b.png', ended.pid)}k9k9k9k9.partial"
    stale = out / f"{temporary_prefix(out / 'c.png', ended.pid)}s1s1s1s1.partial"
    live.write_bytes(b"being written")
    stale.write_bytes(b"")
    with open(live, "rb+") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)  # the other run, alive, holds its temporary's lock
        result = run(tmp_path / "in", "--out", out, "--model", model_path)
        assert result.exit_code == 0, result.output
        assert live.read_bytes() == b"being written" and not stale.exists()


def test_error_lines_are_one_line_whatever_the_name(tmp_path, model_path):
    """#23.13: a newline in a name split its error line; escape sequences reached the terminal raw."""
    src = tmp_path / "in"
    src.mkdir()
    for name in ("two\nlines.jpg", "\x1b[31mred.jpg"):
        (src / name).write_text("not a JPEG")
    result = run(src, "--out", tmp_path / "out", "--model", model_path)
    assert result.exit_code == 1 and "\x1b" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith(("error:", "  failed:"))]
    assert len(errors) == 4, result.output
    assert sum(f"{src}/two\\nlines.jpg: not an image" in line for line in errors) == 2
    assert sum(f"{src}/\\x1b[31mred.jpg: not an image" in line for line in errors) == 2
    missing = run(tmp_path / "no\nsuch.png", "--out", tmp_path / "out", "--model", model_path)
    assert missing.exit_code == 1 and "no\\nsuch.png: no such file or folder" in missing.output.splitlines()[-1]


def test_libtiff_messages_name_their_file(tmp_path, model_path):
    """#23.13: libtiff printed its own lines ("tempfile.tif: Using code not yet in table.") naming no file."""
    import io
    import sys

    import numpy as np

    encoded = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(
        encoded, "TIFF", compression="tiff_lzw")
    data = bytearray(encoded.getvalue())
    data[20:200] = bytes(byte ^ 0x5A for byte in data[20:200])  # the LZW codes, not the header
    bad = tmp_path / "in" / "scan\n1.tif"
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    done = subprocess.run([sys.executable, "-m", "colorfuse", "colorize", str(bad.parent), "--out", str(tmp_path / "out"),
                           "--model", str(model_path), "--quiet"], capture_output=True, text=True, timeout=300)
    lines = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 1 and "warning: " + str(bad).replace("\n", "\\n") + \
        ": libtiff: Using code not yet in table" in lines, lines
    assert not any("tempfile.tif" in line or line.startswith("1.tif") for line in lines), lines


def test_without_locks_only_this_hosts_ended_writers_lose_their_temporaries(tmp_path, monkeypatch):
    """#23.12: where the filesystem has no locks, the host and process id decide, as before."""
    import colorfuse.engine.imagefiles as imagefiles

    monkeypatch.setattr(imagefiles, "fcntl", None)
    ended = subprocess.Popen(["true"])
    ended.wait()
    here = tmp_path / f".a.png.{imagefiles.HOST}-{ended.pid}.abcdefgh.partial"
    elsewhere = tmp_path / f".b.png.other-host-{ended.pid}.abcdefgh.partial"
    for path in (here, elsewhere):
        path.write_bytes(b"")
    assert imagefiles.remove_stale_temporaries(tmp_path) == 1
    assert not here.exists() and elsewhere.exists()
