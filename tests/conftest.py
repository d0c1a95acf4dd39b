import os
import shutil
import tempfile

import numpy as np
import pytest

from tests.modelfactory import make_model

# Tests (and the commands they start) keep colorfuse's cache to themselves, never the user's ~/.cache/colorfuse.
TEST_CACHE = os.environ["COLORFUSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="colorfuse-test-cache-")


def pytest_unconfigure(config):
    from colorfuse.engine.precision import _finish_measuring

    _finish_measuring()  # a background timing writes into the cache: let it end first
    shutil.rmtree(TEST_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "plain.onnx"
    make_model(path, multiple=4)
    return path


@pytest.fixture(scope="session")
def global_model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "global.onnx"
    make_model(path, global_size=32, multiple=8, half_output=True)
    return path


@pytest.fixture(scope="session")
def vivid_model(tmp_path_factory):
    """A model with two outputs (ab, ab_vivid = 2 ab), three looks and a 16-px global input."""
    path = tmp_path_factory.mktemp("models") / "looks.onnx"
    make_model(path, global_size=16, vivid=True)
    return path


@pytest.fixture
def photo():
    """A smooth colour test picture (RGB uint8, 48x64)."""
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    return np.stack([x * 4, y * 5, 255 - x * 3], axis=2).clip(0, 255).astype(np.uint8)


@pytest.fixture
def fresh_pixel_limit():
    """The default pixel limit measured anew in this test (it is measured once per process)."""
    from colorfuse.engine.imagefiles import memory_pixel_limit

    memory_pixel_limit.cache_clear()
    yield
    memory_pixel_limit.cache_clear()


@pytest.fixture
def register():
    """Register test plugins on the process-wide manager for one test."""
    from colorfuse.plugins.manager import get_plugin_manager

    manager = get_plugin_manager()
    names = []

    def _register(plugin, name):
        manager.register(plugin, name=name)
        names.append(name)

    yield _register
    for name in names:
        manager.unregister(name=name)
