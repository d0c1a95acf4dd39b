"""Tests for colorfuse.evaluation.quality against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from colorfuse.evaluation import quality

pytest.importorskip("skimage")


def test_psnr_identical_is_infinite(photo):
    assert quality.psnr(photo, photo.copy()) == math.inf


def test_psnr_hand_computed():
    truth = np.zeros((4, 5, 3), np.uint8)
    pred = np.full_like(truth, 10)  # MSE = 100
    assert quality.psnr(pred, truth) == pytest.approx(10 * math.log10(255**2 / 100))


def test_psnr_rejects_different_shapes(photo):
    with pytest.raises(ValueError, match="differ in shape"):
        quality.psnr(photo, photo[:-1])


@pytest.mark.parametrize("shape", [(48, 64, 3), (5, 6, 3), (2, 9, 3), (1, 1, 3), (8, 8)])
def test_ssim_identical_is_one_at_any_size(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert quality.ssim(image, image.copy()) == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(48, 64, 3), (5, 6, 3), (2, 2, 3)])
def test_ssim_drops_with_noise(shape):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    noise = rng.normal(0, 1, shape)
    light, heavy = (np.clip(image + noise * sd, 0, 255).astype(np.uint8) for sd in (10, 80))
    assert quality.ssim(heavy, image) < quality.ssim(light, image) < 1.0


def test_global_ssim_hand_computed():
    truth = np.array([[[0], [100]]], np.uint8)  # one channel, two pixels: mean 50, variance 2500
    pred = np.array([[[0], [0]]], np.uint8)  # mean 0, variance 0, covariance 0
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    expected = (c1 * c2) / ((50**2 + c1) * (2500 + c2))
    assert quality.ssim(pred, truth) == pytest.approx(expected)


def test_colorfulness_of_gray_is_zero():
    gray = np.repeat(np.arange(0, 240, 5, dtype=np.uint8).reshape(6, 8, 1), 3, axis=2)
    assert quality.colorfulness(gray) == 0.0


def test_colorfulness_hand_computed():
    # half pure red, half black: rg = 255 | 0 (mean 127.5, sd 127.5), yb = 127.5 | 0 (mean 63.75, sd 63.75)
    image = np.zeros((4, 4, 3), np.uint8)
    image[:, :2, 0] = 255
    assert quality.colorfulness(image) == pytest.approx(1.3 * math.hypot(127.5, 63.75))


def test_colorfulness_needs_rgb():
    with pytest.raises(ValueError, match="RGB"):
        quality.colorfulness(np.zeros((4, 4), np.uint8))


def test_ab_auc_identical_is_one():
    ab = np.random.default_rng(2).normal(0, 30, (6, 7, 2)).astype(np.float32)
    assert quality.ab_auc(ab, ab.copy()) == 1.0


def test_ab_error_curve_counts_errors_at_the_threshold():
    truth = np.zeros((1, 2, 2), np.float32)
    pred = np.array([[[3.0, 4.0], [0.0, 7.5]]], np.float32)  # errors 5 and 7.5
    curve = quality.ab_error_curve(pred, truth)
    assert curve.shape == (151,)
    assert curve[4] == 0.0 and curve[5] == 0.5 and curve[7] == 0.5 and curve[8] == 1.0


def test_ab_auc_hand_computed():
    truth = np.zeros((2, 2, 2), np.float32)
    # every pixel off by 3: the curve is 0 up to t = 2 and 1 from t = 3; trapezoid area 147.5 of 150
    assert quality.ab_auc(truth + np.float32([3, 0]), truth) == pytest.approx(147.5 / 150)
    # half the pixels exact, half beyond 150: the curve is 0.5 throughout
    far = truth.copy()
    far[0] = 200
    assert quality.ab_auc(far, truth) == pytest.approx(0.5)


def test_saturation_difference_hand_computed():
    truth = np.zeros((2, 2, 3), np.uint8)
    truth[:] = (255, 0, 0)  # S = 1 per pixel
    assert quality.saturation_difference(truth.copy(), truth) == 0.0
    half = np.zeros_like(truth)
    half[:] = (255, 128, 128)  # S = (255 - 128) / 255
    assert quality.saturation_difference(half, truth) == pytest.approx(1 - 127 / 255, rel=1e-5)
    gray = np.full_like(truth, 90)
    assert quality.saturation_difference(gray, truth) == 1.0


def test_relative_difference_with_zero_reference():
    assert quality.relative_difference(0.0, 0.0) == 0.0
    assert quality.relative_difference(2.0, 0.0) == math.inf


def test_compare_identical_images(photo):
    figures = quality.compare(photo, photo.copy())
    assert set(figures) == set(quality.FIGURES)
    assert figures["psnr"] == math.inf
    assert figures["ssim"] == pytest.approx(1.0)
    assert figures["auc"] == 1.0
    assert figures["saturation_diff"] == 0.0
    assert figures["colorfulness_diff"] == 0.0
    assert figures["colorfulness_ratio"] == 1.0
    assert figures["colorfulness_truth"] == pytest.approx(quality.colorfulness(photo))


def test_compare_accepts_a_reference(photo):
    shifted = np.clip(photo.astype(int) + 20, 0, 255).astype(np.uint8)
    reference = quality.Reference.of(photo)
    assert quality.compare(shifted, reference) == quality.compare(shifted, photo)
