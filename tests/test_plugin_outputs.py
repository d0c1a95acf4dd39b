"""Plugin hooks that decide what is written: output formats that verify their files, processing
hooks that must keep the size, and writers that take the result before 8-bit rounding."""

import numpy as np
import pytest
from click.testing import CliRunner

from colorfuse.cli import cli
from colorfuse.engine.colorizer import Colorizer
from colorfuse.errors import PluginError
from colorfuse.plugins import hookimpl


class NpzFormat:
    """An output format no reader reads, with and without a way to verify its files."""

    def __init__(self, verify: bool):
        self.verify, self.writes = verify, 0

    @hookimpl
    def declare_output_formats(self, declare):
        def complete(path, size):
            with np.load(path) as data:
                return data["rgb"].shape[:2] == size

        declare("npz", ".npz", True, **({"verify": complete} if self.verify else {}))

    @hookimpl
    def write_image(self, image, path, format, options):
        if format != "npz":
            return None
        self.writes += 1
        with open(path, "wb") as handle:
            np.savez(handle, rgb=image)
        return True


@pytest.mark.parametrize("verify", [True, False])
def test_skip_existing_uses_the_formats_own_verification(register, model_path, tmp_path, verify):
    from PIL import Image

    fmt = NpzFormat(verify)
    register(fmt, "npz-format")
    (tmp_path / "in").mkdir()
    Image.fromarray(np.full((12, 18), 90, np.uint8)).save(tmp_path / "in" / "a.png")
    args = ["colorize", "--quiet", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", str(model_path),
            "--format", "npz", "--skip-existing"]
    for _ in range(2):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    assert fmt.writes == (1 if verify else 2)  # without verify, no reader can check it: done again
    assert ("done 0, skipped 1" in result.output) == verify


@pytest.mark.parametrize("hook", ["preprocess_image", "postprocess_image"])
def test_a_processing_hook_that_changes_the_size_fails_the_image(register, model_path, tmp_path, hook):
    class Padding:
        pass

    def pad(self, image):
        return np.pad(image, ((0, 2), (0, 2)) + ((0, 0),) * (image.ndim - 2))

    setattr(Padding, hook, hookimpl(pad))
    register(Padding(), "padding")
    with pytest.raises(PluginError, match=f"plugin 'padding' failed in hook '{hook}'.*must keep the size"):
        Colorizer(model_path, device="cpu").colorize(np.full((10, 14), 100, np.uint8))


def test_a_writer_that_names_lab_gets_the_result_before_8_bit_rounding(register, model_path, tmp_path):
    from PIL import Image

    from colorfuse.engine import lab as lab_module

    received = {}

    class LabWriter:
        @hookimpl
        def declare_output_formats(self, declare):
            declare("labnpz", ".labnpz", True)

        @hookimpl
        def write_image(self, image, path, format, lab):
            if format != "labnpz":
                return None
            received["rgb"], received["lab"] = image, lab
            with open(path, "wb") as handle:
                np.savez(handle, L=lab[0], ab=lab[1])
            return True

    register(LabWriter(), "lab-writer")
    (tmp_path / "in").mkdir()
    gray16 = (np.arange(24 * 32, dtype=np.uint32).reshape(24, 32) * 85).astype(np.uint16)  # 0..65195, 16-bit
    Image.fromarray(gray16).save(tmp_path / "in" / "deep.png")
    result = CliRunner().invoke(cli, ["colorize", "--quiet", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                      "--model", str(model_path), "--format", "labnpz"])
    assert result.exit_code == 0, result.output
    lum, ab = received["lab"]
    assert lum.dtype == ab.dtype == np.float32 and ab.shape == (24, 32, 2)
    assert np.array_equal(lum, lab_module.luminance(gray16))  # L of the 16-bit input itself
    assert len(np.unique(lum)) > 256  # finer than any 8-bit output could hold
    assert np.abs(lab_module.lab_to_rgb8(lum, ab).astype(int) - received["rgb"]).max() <= 1
    with np.load(tmp_path / "out" / "deep.labnpz") as saved:
        assert np.array_equal(saved["ab"], ab)
