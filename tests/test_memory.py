"""#13.9: the full-resolution finishing runs in strips: at most 12 bytes per pixel plus a constant,
and the default pixel limit follows from the memory available."""

import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorfuse.cli import cli
from colorfuse.engine.imagefiles import BYTES_PER_PIXEL, MEMORY_RESERVE

MEASURE = """
import gc, sys
import numpy as np
from colorfuse.engine.batch import colorize_collection
from colorfuse.engine.collection import iter_jobs
from colorfuse.engine.colorizer import Colorizer

def status(key):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith(key))

colorizer = Colorizer(sys.argv[2], device="cpu", )
colorizer.colorize(np.zeros((600, 800), np.uint8))  # warm: every code path once
gc.collect()
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # the peak (VmHWM) starts again from the current size
before = status("VmRSS:")
summary = colorize_collection(colorizer, iter_jobs([sys.argv[1]]), sys.argv[3], workers=2)
assert summary.done == 1, summary.failed
print(status("VmHWM:") - before)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak from /proc")
def test_peak_memory_is_at_most_12_bytes_per_pixel_plus_a_constant(tmp_path, model_path):
    height, width = 3000, 4000
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 6, (height, width)).astype(np.float32)
    Image.fromarray(np.clip(x / 16 + y / 24 + noise, 0, 255).astype(np.uint8)).save(tmp_path / "big.png")
    del x, y, noise
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "big.png"), str(model_path),
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    growth = int(done.stdout.strip())
    assert growth <= BYTES_PER_PIXEL * height * width + (48 << 20), f"{growth / (height * width):.1f} bytes per pixel"
    assert Image.open(tmp_path / "out" / "big.png").size == (width, height)


def _header_only_png(path, width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))
    return path


def test_default_pixel_limit_follows_the_available_memory(tmp_path, model_path, monkeypatch, fresh_pixel_limit):
    import colorfuse.engine.machine as machine

    monkeypatch.setattr(machine, "available_memory", lambda: MEMORY_RESERVE + BYTES_PER_PIXEL * 20_000_000)
    big = _header_only_png(tmp_path / "big.png", 6000, 4000)  # 24 megapixels claimed
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(big), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "6000x4000 (24 megapixels), over the limit of 20 megapixels that" in result.output
    assert "GiB of available memory holds at 12 bytes per pixel; refused before decoding" in result.output
    explicit = CliRunner().invoke(cli, ["colorize", "--quiet", str(big), "--out", str(tmp_path / "out"),
                                        "--model", str(model_path), "--max-pixels", "30000000"])
    assert "more than a PNG file of" in explicit.output  # over the memory's limit, within the given one
