"""`colorfuse colorize`: layout, formats, resume, grid, and every kind of bad input."""

import hashlib
import io
import os
import struct
import zlib

import numpy as np
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli


def _save(path, image, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def _photo(width=40, height=30, mode="RGB"):
    rng = np.random.default_rng(width * height)
    array = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    return Image.fromarray(array).convert(mode)


def _huge_header_png(path):
    """A tiny PNG whose header claims 100000x100000 pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))
    return path


def _digest(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def run(*args):
    return CliRunner().invoke(cli, ["colorize", "--quiet", *map(str, args)], catch_exceptions=False)


def test_folder_layout_formats_and_grid(tmp_path, model_path):
    src = tmp_path / "in"
    _save(src / "a.jpg", _photo())
    _save(src / "sub" / "b.png", _photo(mode="L"))
    _save(src / "sub" / "deeper" / "c.tif", _photo(12, 9))
    (src / "notes.txt").write_text("not an image: ignored when scanning folders")
    out = tmp_path / "out"
    result = run(src, "--out", out, "--model", model_path, "--grid", tmp_path / "grid.png")
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.jpg", "sub/b.png", "sub/deeper/c.png"]
    assert Image.open(out / "sub/deeper/c.png").size == (12, 9)
    assert Image.open(tmp_path / "grid.png").size[0] > 256
    assert "done 3, skipped 0, failed 0" in result.output


def test_glob_and_explicit_format(tmp_path, model_path):
    for name in ("x1.png", "x2.png", "y.png"):
        _save(tmp_path / "in" / name, _photo())
    out = tmp_path / "out"
    result = run(str(tmp_path / "in" / "x*.png"), "--out", out, "--model", model_path, "--format", "webp")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["x1.webp", "x2.webp"]


def test_skip_existing_and_overwrite(tmp_path, model_path):
    _save(tmp_path / "in" / "a.png", _photo())
    out = tmp_path / "out"
    assert run(tmp_path / "in", "--out", out, "--model", model_path).exit_code == 0
    before = (out / "a.png").stat().st_mtime_ns
    again = run(tmp_path / "in", "--out", out, "--model", model_path)
    assert again.exit_code == 1 and "already exists" in again.output
    skipped = run(tmp_path / "in", "--out", out, "--model", model_path, "--skip-existing")
    assert skipped.exit_code == 0 and "skipped 1" in skipped.output
    assert (out / "a.png").stat().st_mtime_ns == before
    assert run(tmp_path / "in", "--out", out, "--model", model_path, "--overwrite").exit_code == 0


def test_output_next_to_input_never_overwrites_it(tmp_path, model_path):
    src = _save(tmp_path / "a.png", _photo())
    before = _digest(tmp_path)
    result = run(src, "--out", tmp_path, "--model", model_path, "--overwrite")
    assert result.exit_code == 1 and "would overwrite the input" in result.output
    assert _digest(tmp_path) == before


def _bad_inputs(folder):
    folder.mkdir()
    (folder / "zero.jpg").write_bytes(b"")
    buffer = io.BytesIO()
    _photo(64, 64).save(buffer, "JPEG")
    (folder / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (folder / "text.jpg").write_text("this is not a JPEG\n")
    _huge_header_png(folder / "huge.png")
    (folder / "locked.png").write_bytes(b"")
    _save(folder / "locked.png", _photo())
    return {"zero.jpg": "empty file (0 bytes)", "truncated.jpg": "truncated", "text.jpg": "not an image",
            "huge.png": "100000x100000", "locked.png": "permission denied"}


def _good_inputs(folder):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 40 wide x 20 high, displayed rotated: 20 wide x 40 high
    _save(folder / "rotated.jpg", _photo(40, 20), exif=exif.tobytes())
    _save(folder / "rgba.png", _photo(mode="RGBA"))
    _save(folder / "palette.png", _photo(mode="P"))
    _save(folder / "cmyk.jpg", _photo(mode="CMYK"))
    _save(folder / "one.png", _photo(1, 1))
    Image.fromarray((np.arange(600, dtype=np.uint16).reshape(20, 30) * 100)).save(folder / "sixteen.png")
    return ["cmyk.jpg", "one.png", "palette.png", "rgba.png", "rotated.jpg", "sixteen.png"]


def test_bad_inputs_are_reported_and_the_rest_is_colorized(tmp_path, model_path, monkeypatch):
    src = tmp_path / "in"
    expected_errors = _bad_inputs(src)
    good = _good_inputs(src)
    (tmp_path / "drawing.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    expected_errors["drawing.svg"] = "cannot read"
    locked = src / "locked.png"
    if os.geteuid() == 0:  # root reads anything: simulate the permission error where the OS would raise it
        real_open = Image.open
        monkeypatch.setattr(Image, "open", lambda fp, *a, **k: (_ for _ in ()).throw(
            PermissionError(13, "Permission denied")) if str(fp) == str(locked) else real_open(fp, *a, **k))
    else:
        locked.chmod(0)
    before = _digest(tmp_path)
    out = tmp_path / "out"
    result = run(src, tmp_path / "drawing.svg", "--out", out, "--model", model_path)
    assert result.exit_code == 1
    for name, reason in expected_errors.items():
        line = next((l for l in result.output.splitlines() if "failed:" in l and name in l), "")
        assert reason in line.lower(), (name, result.output)
    assert sorted(p.name for p in out.iterdir()) == good
    assert Image.open(out / "rotated.jpg").size == (20, 40)  # upright
    assert f"done {len(good)}, skipped 0, failed {len(expected_errors)}" in result.output
    locked.chmod(0o644)
    assert _digest(tmp_path).items() >= before.items()  # inputs untouched


def test_unwritable_output_folder(tmp_path, model_path):
    _save(tmp_path / "in" / "a.png", _photo())
    _save(tmp_path / "in" / "b.png", _photo())
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    result = run(tmp_path / "in", "--out", blocker / "out", "--model", model_path)
    assert result.exit_code == 1
    failures = [line for line in result.output.splitlines() if line.startswith("  failed:")]
    assert len(failures) == 2 and all("cannot write" in line for line in failures)
    assert all(f"{tmp_path / 'in'}{os.sep}" in line and f"-> {blocker / 'out'}" in line for line in failures)


def test_crash_while_writing_leaves_no_partial_file(tmp_path, model_path, monkeypatch):
    import colorfuse.plugins.builtin.image_io as image_io

    _save(tmp_path / "in" / "a.png", _photo())

    monkeypatch.setattr(image_io, "open", lambda path, mode: open(path, mode) if "r" in mode else
                        _Exploding(path), raising=False)
    out = tmp_path / "out"
    result = run(tmp_path / "in", "--out", out, "--model", model_path)
    assert result.exit_code == 1 and "No space left" in result.output
    assert list(out.iterdir()) == []


class _Exploding:
    """A file object that writes half its data and then fails, like a full disk."""

    def __init__(self, path):
        self.handle = open(path, "wb")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def write(self, data):
        self.handle.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")


def test_missing_input_and_contradicting_flags(tmp_path, model_path):
    result = run(tmp_path / "nope.jpg", "--out", tmp_path / "out", "--model", model_path)
    assert result.exit_code == 1 and "no such file or folder" in result.output
    both = run(tmp_path, "--out", tmp_path / "o", "--skip-existing", "--overwrite")
    assert both.exit_code == 2
