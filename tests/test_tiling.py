"""Tiled inference: the plan covers the image, the weights sum to one, and tiled equals untiled.

Tolerance: the test models' receptive field (3x3 conv, 2x2 pooling) is far smaller than the
context each tile keeps (a quarter of the overlap) and tile starts sit on the model's pixel
grid, so tiled and untiled ab agree up to float rounding (blending a*w + a*(1-w), and the global
view shrunk in two separable passes instead of one): 1e-4 in ab and at most one level (rounding
of the same value on either side of .5) in the 8-bit RGB.
"""

import numpy as np
import pytest

from colorfuse.engine import lab
from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.tiling import StreamedImage, axis_plan, global_view_of, plan_tiles


@pytest.fixture
def big_photo():
    """A 150x221 picture with edges and texture (odd sizes, not multiples of anything)."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:150, 0:221].astype(np.float32)
    base = np.stack([x * 1.1, y * 1.6, 255 - x * 0.9], axis=2)
    base += rng.normal(0, 20, base.shape).astype(np.float32)
    base[40:90, 60:130] = (200, 40, 90)
    return base.clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("length,tile,overlap,multiple", [(221, 64, 16, 4), (150, 64, 16, 8), (1000, 256, 64, 8),
                                                           (64, 64, 16, 1), (65, 64, 16, 1), (97, 40, 0, 1)])
def test_plan_covers_with_overlaps_and_weights_sum_to_one(length, tile, overlap, multiple):
    plan = axis_plan(length, tile, overlap, multiple)
    starts, stops = [s for s, _ in plan.spans], [e for _, e in plan.spans]
    assert starts[0] == 0 and stops[-1] == length
    assert all(start % multiple == 0 for start in starts)
    for (_, stop), (start, _) in zip(plan.spans, plan.spans[1:]):
        assert stop - start >= overlap  # neighbours share at least the overlap
    assert max(e - s for s, e in plan.spans) <= tile + 2 * multiple
    total = np.zeros(length)
    for i, (start, stop) in enumerate(plan.spans):
        weight = plan.weights(i)
        assert weight.shape == (stop - start,) and weight.min() >= 0
        total[start:stop] += weight
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_plan_tiles_cover_the_image():
    tiles = plan_tiles(300, 500, 128, 32, 8)
    covered = np.zeros((300, 500), int)
    for y0, y1, x0, x1 in tiles:
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1 and covered.max() == 4 and len(tiles) == 4 * 6  # ceil(300/96) rows, ceil(500/96) columns


def test_bad_tile_settings_are_refused():
    with pytest.raises(ValueError, match="tile"):
        axis_plan(100, 20, 16, 1)


def test_global_view_in_bands_equals_one_pass(big_photo):
    class Card:
        l_offset, l_scale = 50.0, 50.0

    tall = np.concatenate([big_photo] * 4, axis=0)  # 600 rows: several bands of ROW_CHUNK
    banded = global_view_of(tall, 32, Card)[0]
    one_pass = (lab.resize(lab.luminance(tall), 32, 32) - 50.0) / 50.0
    np.testing.assert_allclose(banded, one_pass, atol=1e-5)


# The half-resolution model gets a photo whose sides are multiples of 8: with padding, the untiled
# route stretches its cropped output over the whole image by a fraction of a pixel, tiles do not.
@pytest.mark.parametrize("fixture,size", [("model_path", (150, 221)), ("global_model_path", (152, 224))])
def test_streamed_tiles_match_untiled(fixture, size, request, big_photo):
    path = request.getfixturevalue(fixture)
    big_photo = np.ascontiguousarray(np.pad(big_photo, ((0, 2), (0, 3), (0, 0)), mode="reflect")[: size[0], : size[1]])
    whole = Colorizer(path, device="cpu", max_side=0, options={"tile": 0})
    tiled = Colorizer(path, device="cpu", max_side=0, options={"tile": 64, "tile_overlap": 16})
    assert isinstance(tiled.prepare(big_photo), StreamedImage)
    expected, got = whole.colorize(big_photo), tiled.colorize(big_photo)
    assert got.shape == expected.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_reduced_working_size_tiles_match_untiled(global_model_path, big_photo):
    # max_side 200 gives a 136x200 working size (multiples of 8: no padding, so both routes resample alike)
    whole = Colorizer(global_model_path, device="cpu", max_side=200, options={"tile": 0})
    tiled = Colorizer(global_model_path, device="cpu", max_side=200, options={"tile": 64, "tile_overlap": 16})
    plain, split = whole.prepare(big_photo), tiled.prepare(big_photo)
    whole.predict([plain])
    tiled.predict([split])
    assert split.ab.shape == (2, 136, 200)  # blended at the working size (the model's output is half that)
    assert np.abs(tiled.finish(split).astype(int) - whole.finish(plain).astype(int)).max() <= 1


def test_timing_counts_every_tile(model_path, big_photo):
    colorizer = Colorizer(model_path, device="cpu", max_side=0, options={"tile": 64, "tile_overlap": 16})
    colorizer.colorize(big_photo)
    assert colorizer.timing.calls == len(plan_tiles(150, 221, 64, 16, 4))
