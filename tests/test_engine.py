"""The Colorizer: any size, gray or colour input, batching, devices, and sessions."""

import warnings

import numpy as np
import pytest

from colorfuse.engine import lab
from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.geometry import working_size
from colorfuse.errors import ColorfuseError, ModelNotFoundError
from colorfuse.engine.session import ProviderFallbackWarning, get_session, requested_providers


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (2, 3), (37, 53), (100, 7, 3), (5, 300)])
def test_output_has_input_size(global_model_path, shape):
    colorizer = Colorizer(global_model_path, device="cpu")
    image = (np.random.default_rng(0).random(shape) * 255).astype(np.uint8)
    result = colorizer.colorize(image)
    assert result.shape == shape[:2] + (3,) and result.dtype == np.uint8


def test_l_channel_is_kept_at_full_resolution(model_path, photo):
    # Low saturation keeps the colours in gamut, so clipping to sRGB cannot move L.
    colorizer = Colorizer(model_path, device="cpu", max_side=16, options={"saturation": 0.1})
    gray = lab.luminance(photo)
    result = colorizer.colorize(photo)
    # Colour inputs are reduced to L first; the result's L is the input's (up to 8-bit rounding).
    assert np.abs(lab.rgb_to_lab(result)[:, :, 0] - gray).max() < 1.5
    assert result.reshape(-1, 3).std(axis=0).max() > 1  # and it is not gray


def test_gray_and_colour_inputs_with_same_l_give_same_result(model_path, photo):
    colorizer = Colorizer(model_path, device="cpu")
    gray8 = np.round(lab.lab_to_rgb8(lab.luminance(photo), np.zeros(photo.shape[:2] + (2,), np.float32))[:, :, 0])
    from_gray = colorizer.colorize(gray8.astype(np.uint8))
    from_rgb = colorizer.colorize(np.repeat(gray8[:, :, None], 3, axis=2).astype(np.uint8))
    assert np.abs(from_gray.astype(int) - from_rgb).max() <= 1
    gray16 = gray8.astype(np.uint16) * 257  # the same picture in 16 bits
    assert np.abs(colorizer.colorize(gray16).astype(int) - from_gray).max() <= 2


def test_batch_equals_single(global_model_path):
    rng = np.random.default_rng(1)
    images = [(rng.random((h, w)) * 255).astype(np.uint8) for h, w in [(30, 40), (30, 40), (64, 20)]]
    colorizer = Colorizer(global_model_path, device="cpu", batch_size=2)
    batched = colorizer.colorize_batch(images)
    singles = [colorizer.colorize(image) for image in images]
    for a, b in zip(batched, singles):
        assert np.array_equal(a, b)


def test_paths_and_arrays(model_path, tmp_path, photo):
    import cv2

    path = tmp_path / "p.png"
    cv2.imwrite(str(path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    colorizer = Colorizer(model_path, device="cpu")
    assert np.array_equal(colorizer.colorize(path), colorizer.colorize(photo))


@pytest.mark.parametrize(
    "h, w, max_side, multiple, expected",
    [(1000, 500, 256, 8, (256, 128, 256, 128)), (10, 10, 256, 8, (10, 10, 16, 16)),
     (1, 1, 256, 4, (1, 1, 4, 4)), (3000, 2000, 0, 1, (3000, 2000, 3000, 2000))],
)
def test_working_size(h, w, max_side, multiple, expected):
    assert working_size(h, w, max_side, multiple) == expected


def test_unknown_model_and_device():
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        Colorizer("no-such-model")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        Colorizer("missing.onnx")
    with pytest.raises(ColorfuseError, match="unknown device"):
        requested_providers("tpu")


def test_sessions_are_cached_and_cuda_fallback_warns(model_path):
    assert get_session(model_path, "cpu") is get_session(model_path, "cpu")
    assert requested_providers("cpu") == ["CPUExecutionProvider"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = get_session(model_path, "cuda")
    if session.device == "cpu":  # no CUDA here: onnxruntime fell back, and we said so
        assert any(issubclass(w.category, ProviderFallbackWarning) for w in caught)
    assert Colorizer(model_path, device="auto").device in ("cpu", "cuda")


def test_bad_arrays_are_refused(model_path):
    colorizer = Colorizer(model_path, device="cpu")
    with pytest.raises(ValueError, match="RGBA"):
        colorizer.colorize(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="empty image"):
        colorizer.colorize(np.zeros((0, 4), np.uint8))
    with pytest.raises(ValueError, match="dtype"):
        colorizer.colorize(np.zeros((4, 4), np.int64))


def test_lab_round_trip(photo):
    lab_image = lab.rgb_to_lab(photo)
    back = lab.lab_to_rgb8(lab_image[:, :, 0], lab_image[:, :, 1:])
    assert np.abs(back.astype(int) - photo).max() <= 1
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb_gray = np.repeat(gray[:, :, None], 3, axis=2)
    assert np.allclose(lab.luminance(gray), lab.luminance(rgb_gray), atol=1e-3)
