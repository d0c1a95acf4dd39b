"""Packaging: the runtime works without torch or onnx, and --version answers fast."""

import subprocess
import sys
import time

import pytest

BLOCK_HEAVY = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'onnx', 'torchvision'):
            raise ImportError('blocked for this test: ' + name)
sys.meta_path.insert(0, Blocker())
"""


def _python(code, *args):
    return subprocess.run([sys.executable, "-c", BLOCK_HEAVY + code, *args], capture_output=True, text=True)


def test_runtime_needs_neither_torch_nor_onnx(model_path, tmp_path):
    code = """
import numpy as np, colorfuse
from colorfuse.cli import cli
c = colorfuse.Colorizer(sys.argv[1], device="cpu")
out = c.colorize(np.zeros((9, 7), np.uint8))
assert out.shape == (9, 7, 3)
assert not any(m.split('.')[0] in ('torch', 'onnx') for m in sys.modules)
print("ok")
"""
    result = _python(code, str(model_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_cli_help_and_colorize_without_torch(model_path, tmp_path):
    from PIL import Image

    Image.new("L", (8, 8), 128).save(tmp_path / "a.png")
    code = """
from colorfuse.cli import main
main(['colorize', sys.argv[1], '--out', sys.argv[2], '--model', sys.argv[3], '--quiet'])
"""
    result = _python(code, str(tmp_path / "a.png"), str(tmp_path / "out"), str(model_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "a.png").exists()


def test_version_is_fast():
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "colorfuse", "--version"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0 and "colorfuse, version" in result.stdout
    assert elapsed < 10  # generous: a cold start on a loaded 2-core CI box
    # What makes it fast: loading the CLI imports none of the heavy libraries.
    probe = subprocess.run([sys.executable, "-c", "import sys, colorfuse.cli; print(sorted(m for m in "
                            "('onnxruntime', 'torch', 'cv2', 'numpy', 'PIL') if m in sys.modules))"],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "[]", probe.stdout


@pytest.mark.slow
def test_wheel_contains_the_default_model(tmp_path):
    import json
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    index = json.loads((root / "exports" / "index.json").read_text())
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path), str(root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("colorfuse-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert f"colorfuse/exports/{index['default']}.onnx" in names
    assert "colorfuse/exports/index.json" in names
    assert {f"colorfuse/plugins/web/static/{name}" for name in ("index.html", "app.js", "style.css")} <= set(names)
    assert not any(name.startswith(("engine/", "train/", "plugins/")) for name in names)
