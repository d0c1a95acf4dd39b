"""colorfuse.engine.geometry: working size, padding, the output's image area."""

from colorfuse.engine.geometry import output_area, padded, working_size


def test_padding_rounds_up_to_the_multiple():
    assert [padded(side, 32) for side in (1, 32, 33, 288)] == [32, 32, 64, 288]
    assert padded(7, 1) == 7


def test_the_working_size_scales_the_longest_side_and_pads():
    assert working_size(600, 800, 288, 32) == (216, 288, 224, 288)
    assert working_size(100, 50, 288, 32) == (100, 50, 128, 64)  # never scaled up
    assert working_size(100, 50, 0, 1) == (100, 50, 100, 50)  # 0: full resolution


def test_the_output_area_follows_the_models_stride():
    assert output_area((216, 288), (224, 288), (224, 288)) == (216, 288)
    assert output_area((216, 288), (224, 288), (112, 144)) == (108, 144)  # answered at stride 2
    assert output_area((1, 1), (32, 32), (16, 16)) == (1, 1)  # never empty
