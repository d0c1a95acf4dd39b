"""``colorfuse bench web``: how long `colorfuse serve`'s page takes to re-render a photo as its hints change.

The page's own app (Starlette, its library and worker, the model the page would run) behind a
TestClient, without a browser: a gray photo scaled to ``megapixels`` is uploaded and rendered once
without hints (its hint-free prediction is then cached), and then ``renders`` times with
``hints`` colour hints, one of them moved a few pixels each time, as a drag in the page does. Each
re-render's time is the server's (the render request's ``seconds``) and the client's wall time
(request, render, fetching the result file).
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import numpy as np

from colorfuse.benchmarks import report
from colorfuse.benchmarks.measure import summarize
from colorfuse.engine.machine import describe_machine, load_average

TOKEN = "bench-token"
PORT = 8765
COLOURS = ("#a03020", "#2050a0", "#30a040", "#d0b020", "#802080")


def _gray_png(photo: Path, megapixels: float) -> tuple[bytes, tuple[int, int]]:
    from PIL import Image

    image = Image.open(photo).convert("L")
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue(), image.size


def _hints(size: tuple[int, int], count: int, step: int) -> list[dict]:
    width, height = size
    rng = np.random.default_rng(0)
    points = rng.uniform(0.1, 0.9, (count, 2)) * (width, height)
    points[0] += (4 * step) % 40  # the dragged hint
    return [{"x": int(x), "y": int(y), "color": COLOURS[i % len(COLOURS)]} for i, (x, y) in enumerate(points)]


def run_web_render(model: str | None, photo: Path, megapixels: float, renders: int, hints: int) -> dict:
    """Time the page's first render and ``renders`` re-renders with changed hints (module docstring)."""
    from starlette.testclient import TestClient

    from colorfuse.engine.models import default_model_name
    from colorfuse.plugins.builtin.web.app import create_app
    from colorfuse.plugins.builtin.web.library import Library
    from colorfuse.plugins.builtin.web.worker import Worker

    model = model or default_model_name()
    data, size = _gray_png(photo, megapixels)
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="colorfuse-bench-web-") as folder:
        library, worker = Library(Path(folder), 1 << 30, None, 1 << 32), Worker()
        client = TestClient(create_app(library, worker, TOKEN, PORT, [model]), base_url=f"http://127.0.0.1:{PORT}")
        client.headers["X-Colorfuse-Token"] = TOKEN
        try:
            item = client.put("/api/files", params={"name": "photo.png"}, content=data).json()
            timings = []
            for step in range(renders + 1):
                began = time.perf_counter()
                body = {"model": model, **({"hints": _hints(size, hints, step)} if step else {})}
                answer = client.post(f"/api/files/{item['id']}/render", json=body)
                if answer.status_code != 200:
                    raise RuntimeError(f"render failed: {answer.status_code} {answer.text}")
                client.get(answer.json()["url"]).raise_for_status()
                timings.append((answer.json()["seconds"], time.perf_counter() - began))
            variants = sorted({c.precision_choice.variant.key for c in library._colorizers.values()
                               if c.precision_choice is not None})
        finally:
            client.close()
            worker.close()
            library.close()
    server, wall = [t[0] for t in timings[1:]], [t[1] for t in timings[1:]]
    return {"benchmark": "colorfuse serve: re-render as hints change", "created": report.timestamp(),
            "machine": describe_machine(), "load_before": load_before, "load_after": load_average(),
            "model": model, "photo": str(photo), "size": list(size), "megapixels": size[0] * size[1] / 1e6,
            "variant": ", ".join(variants) or "the model file as it is", "hints": hints,
            "first_render_s": timings[0][0], "first_render_wall_s": timings[0][1],
            "rerender_server_s": summarize(server), "rerender_wall_s": summarize(wall)}


def web_render_markdown(data: dict) -> str:
    server, wall = data["rerender_server_s"], data["rerender_wall_s"]
    rows = [["first render (no hints)", f"{data['first_render_s']:.3f}", f"{data['first_render_wall_s']:.3f}"],
            [f"re-render, {data['hints']} hints, median of {len(server['runs'])}",
             f"{server['median_s']:.3f}", f"{wall['median_s']:.3f}"],
            ["re-render, fastest", f"{server['min_s']:.3f}", f"{wall['min_s']:.3f}"]]
    return (f"# Web page re-render, {data['created']}\n\nMachine: {report.machine_line(data['machine'])}; "
            f"load before/after {data['load_before']} / {data['load_after']}.\n\nModel {data['model']} ({data['variant']}: --precision auto, as the page runs it); "
            f"{Path(data['photo']).name} as gray, {data['size'][0]}x{data['size'][1]} "
            f"({data['megapixels']:.2f} MP).\n\n"
            + report.markdown_table(["render", "server s", "client wall s"], rows))
