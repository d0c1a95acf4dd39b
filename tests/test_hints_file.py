"""The hints file: parsing, the errors it names, and writing it back."""

from __future__ import annotations

import json

import pytest

from colorfuse.engine.hints import Hint, HintError
from colorfuse.engine.hints_file import hints_document, read_hints, write_hints


def test_a_hints_file_round_trips(tmp_path):
    doc = hints_document({"1916/family.jpg": [Hint(120, 340, "#a03020"), Hint(5, 6, (10, 20, 30), radius=0)]},
                         {120: [Hint(1, 2, "#00ff00", 4)]})
    path = write_hints(doc, tmp_path / "h.json")
    parsed = read_hints(path)
    assert parsed["images"]["1916/family.jpg"] == [Hint(120, 340, "#a03020", 3), Hint(5, 6, "#0a141e", 0)]
    assert parsed["frames"]["120"] == [Hint(1, 2, "#00ff00", 4)]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("doc, message", [
    ({"images": {}}, '"version": 1'),
    ({"version": 1, "pictures": {}}, "unknown keys"),
    ({"version": 1, "images": {"a.jpg": [{"x": 1, "y": 2}]}}, r"images\['a.jpg'\]\[0\]"),
    ({"version": 1, "images": {"a.jpg": [{"x": -1, "y": 2, "color": "#000000"}]}}, "0 or more"),
    ({"version": 1, "images": {"a.jpg": [{"x": 1, "y": 2, "color": "red"}]}}, "bad hint colour 'red'"),
    ({"version": 1, "images": {"a.jpg": [{"x": 1, "y": 2, "color": "#000000", "radius": 1.5}]}}, "whole number"),
    ({"version": 1, "frames": {"first": []}}, "not a frame number"),
])
def test_malformed_hints_name_the_file_and_the_entry(tmp_path, doc, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(HintError, match=message) as info:
        read_hints(path)
    assert str(path) in str(info.value)


def test_a_file_that_is_not_json_is_one_clear_error(tmp_path):
    path = tmp_path / "h.json"
    path.write_text("{not json")
    with pytest.raises(HintError, match="not valid JSON"):
        read_hints(path)
    with pytest.raises(HintError, match="cannot read"):
        read_hints(tmp_path / "missing.json")
