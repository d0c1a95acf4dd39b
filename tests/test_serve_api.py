"""`colorfuse serve`, through Starlette's TestClient: uploads, renders, settings, zips, errors and limits."""

import io
import zipfile

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from starlette.testclient import TestClient

from colorfuse.cli import cli
from colorfuse.plugins.builtin.web.app import create_app, offered_devices
from colorfuse.plugins.builtin.web.library import PREVIEW_SECONDS, Library
from colorfuse.plugins.builtin.web.worker import Worker

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
TOKEN = "test-token"
MODELS = ["effnet-lite0", "tiny"]  # the default (global input, natural and vivid looks) and one without either


def png(width=64, height=48, mode="L") -> bytes:
    y, x = np.mgrid[0:height, 0:width]
    gray = ((x * 3 + y * 2) % 256).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(gray).convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def chroma(data: bytes) -> float:
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


@pytest.fixture
def make_client(tmp_path):
    made = []

    def make(token=TOKEN, max_bytes=10_000_000, max_pixels=None, budget=1 << 30, **app_options):
        library = Library(tmp_path / f"serve{len(made)}", max_bytes, max_pixels, budget)
        worker = Worker()
        client = TestClient(create_app(library, worker, token, PORT, MODELS, **app_options), base_url=BASE)
        client.headers["X-Colorfuse-Token"] = token or ""
        made.append((client, library, worker))
        return client

    yield make
    for client, library, worker in made:
        client.close()
        worker.close()
        library.close()


@pytest.fixture
def client(make_client):
    return make_client()


def upload(client, name, data, style=False):
    return client.put("/api/files", params={"name": name, **({"style": "1"} if style else {})}, content=data)


def render(client, file_id, **settings):
    return client.post(f"/api/files/{file_id}/render", json=settings)


def test_config_lists_models_with_their_cards_looks_and_the_devices_onnxruntime_offers(client):
    config = client.get("/api/config").json()
    models = {row["name"]: row for row in config["models"]}
    assert [row["name"] for row in config["models"]] == MODELS  # the default first
    assert models["effnet-lite0"]["looks"] == ["natural", "vivid"] and models["effnet-lite0"]["global_input"]
    assert models["effnet-lite0"]["summary"].startswith("effnet-lite0 ")
    assert "--style works" in models["effnet-lite0"]["summary"]
    assert not models["tiny"]["global_input"] and "--style does not apply" in models["tiny"]["summary"]
    assert config["devices"] == offered_devices() and config["devices"][-1] == "cpu"
    assert config["preview_seconds"] == PREVIEW_SECONDS


def test_page_and_static_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/app.js">' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_upload_render_and_settings_changes_reuse_the_decoded_photo(client, monkeypatch):
    import colorfuse.engine.imagefiles as imagefiles

    decoded = []
    original = imagefiles.read_image
    monkeypatch.setattr(imagefiles, "read_image", lambda *args, **kw: decoded.append(args[0]) or original(*args, **kw))
    with open("samples/gray/deoldify__1916Sweeden.jpg", "rb") as handle:
        photo = upload(client, "sweden.jpg", handle.read()).json()
    assert photo["kind"] == "photo" and (photo["width"], photo["height"]) == (640, 820)
    natural = render(client, photo["id"], model="effnet-lite0", look="natural").json()
    vivid = render(client, photo["id"], model="effnet-lite0", look="vivid").json()
    stronger = render(client, photo["id"], model="effnet-lite0", look="vivid", saturation=1.5).json()
    assert len(decoded) == 1  # decoded once, at upload; every render starts from the kept array
    images = [client.get(result["url"]).content for result in (natural, vivid, stronger)]
    levels = [chroma(image) for image in images]
    assert 2 < levels[0] < levels[1] < levels[2]  # each setting changed the colours as it should
    assert Image.open(io.BytesIO(images[0])).size == (640, 820)
    assert render(client, photo["id"], model="effnet-lite0", look="vivid").json()["url"] == vivid["url"]  # cached
    assert natural["download"] == "sweden.jpg"  # as `colorfuse colorize` names it
    before = Image.open(io.BytesIO(client.get(f"/api/files/{photo['id']}/before").content))
    assert before.size == (640, 820) and before.mode == "L"


def test_downloads_are_named_as_the_cli_names_them(client):
    photo = upload(client, "scan.tif", png()).json()
    result = render(client, photo["id"]).json()
    response = client.get(result["url"], params={"download": "1"})
    assert 'filename="scan.png"' in response.headers["content-disposition"]  # lossless input: PNG, as --format auto
    assert Image.open(io.BytesIO(response.content)).format == "PNG"


def test_zip_holds_every_result_with_distinct_names(client):
    first = upload(client, "a.png", png()).json()
    second = upload(client, "a.png", png(32, 24)).json()
    render(client, first["id"], model="tiny")  # one made already, one made for the zip
    response = client.post("/api/zip", json={"ids": [first["id"], second["id"]], "settings": {"model": "tiny"}})
    assert response.status_code == 200 and 'filename="colorized.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["a.png", "a (2).png"]
    assert [Image.open(archive.open(name)).size for name in archive.namelist()] == [(64, 48), (32, 24)]
    assert client.post("/api/zip", json={"ids": [], "settings": {}}).status_code == 400


@pytest.mark.parametrize("name, data, reason", [
    ("junk.jpg", b"this is not an image", "not an image, or a format colorfuse cannot read"),
    ("cut.png", png()[:60], "corrupt or truncated image"),
])
def test_bad_files_get_the_cli_message(client, tmp_path, name, data, reason):
    response = upload(client, name, data)
    assert response.status_code == 422
    message = response.json()["error"]
    assert message.startswith(f"{name}: {reason}") and str(tmp_path) not in message
    (tmp_path / name).write_bytes(data)
    cli_run = CliRunner().invoke(cli, ["colorize", str(tmp_path / name), "--out", str(tmp_path / "out"), "--quiet",
                                       "--model", "tiny"])
    assert message.split(": ", 1)[1] in cli_run.output  # the CLI's words for the same file
    assert not list((tmp_path / "serve0" / "inputs").iterdir())  # a refused upload leaves nothing


def test_reading_warnings_come_with_the_upload(client):
    frames = [Image.new("L", (16, 12), level) for level in (0, 128, 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    notes = upload(client, "moving.gif", buffer.getvalue()).json()["notes"]
    assert notes == ["moving.gif: 3 frames (an animation or a multi-page file); only the first is colorized"]


def test_empty_upload_and_unknown_files_are_refused(client):
    assert upload(client, "empty.png", b"").json()["error"] == "empty.png: empty file (0 bytes)"
    assert render(client, "feedbeef").status_code == 404
    assert client.get("/api/files/feedbeef/results/x").status_code == 404


def test_upload_size_limit_with_and_without_content_length(make_client):
    client = make_client(max_bytes=1000)
    response = upload(client, "big.png", b"x" * 5000)
    assert response.status_code == 413
    assert response.json()["error"] == "big.png: 0.005 MB, over the upload limit of 0.001 MB"
    streamed = client.put("/api/files", params={"name": "big.png"}, content=iter([b"x" * 600, b"x" * 600]))
    assert streamed.status_code == 413 and "over the upload limit of 0.001 MB" in streamed.json()["error"]


def test_pixel_limit_is_the_engines_bomb_check(make_client):
    client = make_client(max_pixels=1000)
    response = upload(client, "wide.png", png(64, 48))
    assert response.status_code == 422
    assert response.json()["error"].startswith("wide.png: header says 64x48 (0 megapixels), over the limit of 0 "
                                               "megapixels; refused before decoding")


def test_decoded_photos_are_held_within_the_memory_budget(make_client):
    client = make_client(budget=5000)
    assert upload(client, "one.png", png(64, 48)).status_code == 200  # 3072 bytes
    refused = upload(client, "two.png", png(64, 48))
    assert refused.status_code == 422 and "remove some photos first" in refused.json()["error"]


def test_style_reference_needs_a_model_with_a_global_input(client):
    photo = upload(client, "photo.png", png()).json()
    style = upload(client, "ref.png", png(40, 40), style=True).json()
    assert style["kind"] == "style"
    plain = client.get(render(client, photo["id"], model="effnet-lite0").json()["url"]).content
    styled = render(client, photo["id"], model="effnet-lite0", style=style["id"]).json()
    assert client.get(styled["url"]).content != plain
    # effnet-lite0 is not the CLI's default model (effnet-ensemble is), so the line names it
    assert styled["command"] == "colorfuse colorize photo.png --out colorized --model effnet-lite0 --style ref.png"
    refused = render(client, photo["id"], model="tiny", style=style["id"])
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("model 'tiny' has no global input, so it cannot take a style image")


def test_settings_the_server_does_not_offer_are_refused(client):
    photo = upload(client, "photo.png", png()).json()
    assert "unknown model 'nope'" in render(client, photo["id"], model="nope").json()["error"]
    if "cuda" not in offered_devices():
        assert "not offered by onnxruntime" in render(client, photo["id"], device="cuda").json()["error"]
    assert "has no look 'sepia'" in render(client, photo["id"], look="sepia").json()["error"]
    assert render(client, photo["id"], max_side=-1).status_code == 400
    assert client.post(f"/api/files/{photo['id']}/render", content=b"{").json()["error"] == \
        "the request body must be JSON"


def test_command_line_for_what_is_on_screen(client):
    upload(client, "a b.png", png())
    upload(client, "c.jpg", png())
    response = client.post("/api/command", json={"model": "tiny", "saturation": 1.25, "max_side": 128})
    assert response.json()["command"] == \
        "colorfuse colorize 'a b.png' c.jpg --out colorized --model tiny --saturation 1.25 --max-side 128"


def test_removed_files_are_gone(client, tmp_path):
    photo = upload(client, "photo.png", png()).json()
    render(client, photo["id"], model="tiny")
    client.get(f"/api/files/{photo['id']}/before")
    assert len(list(tmp_path.rglob(f"{photo['id']}*"))) == 3  # input, before, result
    assert client.delete(f"/api/files/{photo['id']}").status_code == 200
    assert render(client, photo["id"], model="tiny").status_code == 404
    assert not list(tmp_path.rglob(f"{photo['id']}*"))


def test_file_names_never_become_paths(client, tmp_path):
    photo = upload(client, "../../escape/../x.png", png()).json()
    assert photo["name"] == "x.png"
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert files and all(path.is_relative_to(tmp_path / "serve0" / "inputs") for path in files)
    assert render(client, photo["id"], model="tiny").json()["download"] == "x.png"


def test_video_preview_is_an_h264_mp4_of_the_first_seconds(client, tmp_path):
    from colorfuse.engine.video.ffmpeg import probe
    from tests.test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4", seconds=5)
    video = upload(client, "clip.mp4", clip.read_bytes()).json()
    assert (video["kind"], video["width"], video["height"]) == ("video", 64, 48)
    result = render(client, video["id"], model="tiny").json()
    assert result["kind"] == "video" and result["download"] == "clip-preview.mp4"
    preview = tmp_path / "preview.mp4"
    preview.write_bytes(client.get(result["url"]).content)
    info = probe(preview)
    assert info.video_codec.startswith("h264") and (info.width, info.height) == (64, 48)
    assert info.duration == pytest.approx(PREVIEW_SECONDS, abs=0.15)
    assert upload(client, "fake.mp4", b"not a video at all").json()["error"].startswith("fake.mp4: not a video")
