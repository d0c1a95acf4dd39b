"""The edge-aware spread of colour hints (engine/hint_spread.py) on small synthetic images."""

import numpy as np
import pytest

from colorfuse.engine.hint_spread import edge_aware_filter, reach_of, spread_hints


def two_regions(size: int = 48) -> np.ndarray:
    """L: a dark left half (30) and a light right half (80): one strong vertical edge."""
    lum = np.full((size, size), 30, np.float32)
    lum[:, size // 2 :] = 80
    return lum


def test_filter_keeps_a_constant_and_stops_at_edges():
    lum = two_regions()
    constant = np.full(lum.shape + (1,), 5.0, np.float32)
    np.testing.assert_allclose(edge_aware_filter(constant, lum, 20, 8), constant, rtol=1e-5)
    impulse = np.zeros(lum.shape + (1,), np.float32)
    impulse[24, 10] = 1
    spread = edge_aware_filter(impulse, lum, 20, 8)[..., 0]
    assert spread[24, 20] > 100 * spread[24, 28]  # same region 10 px away against across the edge


def test_a_hint_recolours_its_region_and_not_the_other():
    lum = two_regions()
    ab = np.zeros(lum.shape + (2,), np.float32)
    hint_ab = np.zeros_like(ab)
    mask = np.zeros(lum.shape, np.float32)
    hint_ab[20:26, 8:14] = (40, 20)
    mask[20:26, 8:14] = 1
    out = spread_hints(ab, lum, hint_ab, mask)  # the defaults
    np.testing.assert_allclose(out[20:26, 8:14], hint_ab[20:26, 8:14])  # exact on the hint
    assert out[5, 5, 0] > 36 and out[45, 20, 1] > 18  # far corners of the same dark region follow
    assert np.abs(out[:, 26:, 0]).max() < 0.3 * 40  # across the edge, under a third of it leaks
    narrow = spread_hints(ab, lum, hint_ab, mask, {"hint_spread": 4})
    assert narrow[45, 20, 0] < out[45, 20, 0] / 2  # a shorter reach stays nearer the hint


def test_off_and_no_hints_leave_the_model_output():
    lum = two_regions(16)
    ab = np.random.default_rng(0).normal(size=(16, 16, 2)).astype(np.float32)
    mask = np.zeros((16, 16), np.float32)
    assert spread_hints(ab, lum, ab * 0, mask) is ab
    mask[3, 3] = 1
    assert spread_hints(ab, lum, ab * 0 + 9, mask, {"hint_spread": 0}) is ab


@pytest.mark.parametrize("given", [-1, float("nan"), float("inf")])
def test_bad_reach_is_refused(given):
    with pytest.raises(ValueError, match="hint_spread"):
        reach_of({"hint_spread": given})
