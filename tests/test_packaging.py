"""Packaging: the runtime works without torch or onnx, and --version answers fast."""

import shutil
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


FOLDERS = {"colorfuse": "colorfuse", "engine": "colorfuse/engine", "train": "colorfuse/train",
           "plugins": "colorfuse/plugins", "exports": "colorfuse/exports", "benchmarks": "colorfuse/benchmarks"}


def _tree_packages(root):
    """Every package folder of the checkout, as its path inside the installed ``colorfuse``."""
    return {"/".join((FOLDERS[folder], *init.parent.relative_to(root / folder).parts))
            for folder in FOLDERS for init in (root / folder).rglob("__init__.py")}


@pytest.mark.slow
def test_wheel_holds_every_package_and_the_package_data(tmp_path):
    import json
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    index = json.loads((root / "exports" / "index.json").read_text())
    source = tmp_path / "source"  # a copy without build/: setuptools would add a stale build/lib to the wheel
    source.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(root / name, source / name)
    for folder in FOLDERS:
        shutil.copytree(root / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "results"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path), str(source)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("colorfuse-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(package for package in _tree_packages(root) if f"{package}/__init__.py" not in names)
    assert not missing, f"package folders missing from the wheel: {missing}"
    assert f"colorfuse/exports/{index['default']}.onnx" in names
    assert "colorfuse/exports/index.json" in names
    data = [path.relative_to(root) for pattern in ("exports/*.onnx", "exports/variants/*", "plugins/builtin/web/static/*")
            for path in root.glob(pattern)]
    missing = sorted(str(path) for path in data if f"colorfuse/{path.as_posix()}" not in names)
    assert not missing, f"package data missing from the wheel: {missing}"
    assert not any(name.startswith(("engine/", "train/", "plugins/")) for name in names)


def test_editable_install_serves_the_web_app_files():
    """Every package of the checkout is found from the editable install, and the web app finds its static files."""
    import importlib.util
    from pathlib import Path

    import colorfuse.plugins.builtin.web as web

    root = Path(__file__).resolve().parent.parent
    static = Path(web.__file__).parent / "static"
    assert {"index.html", "app.js", "style.css"} <= {path.name for path in static.iterdir()}
    for package in _tree_packages(root):
        spec = importlib.util.find_spec(package.replace("/", "."))  # imports its parents only (no torch)
        assert spec is not None and Path(spec.origin).is_relative_to(root), package
