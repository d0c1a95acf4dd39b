"""The web app: the page, its static files, and the JSON API the page calls.

Every CPU-heavy call goes through the one :class:`Worker`; the handlers only stream bytes and
wait. Errors come back as ``{"error": message}`` with the CLI's words for the same problem; a
body that is not the JSON a route expects (too deeply nested, a wrong type) is a 400, one that stalls
is a 408, and a body the browser abandons (an upload, say) is dropped with one log line naming the
request and why, never a traceback. Colour hints (:mod:`.hinting`) come with a photo's
render request, and ``/api/hints`` downloads them all as one hints file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from colorfuse.errors import one_line
from colorfuse.engine.hints import HintError
from colorfuse.plugins.builtin.web import hinting
from colorfuse.plugins.builtin.web.bodies import BODY_IDLE_S, BodyStalled, BodyTimeout, stalled_response
from colorfuse.plugins.builtin.web.library import PREVIEW_SECONDS, Library, Upload, UploadError
from colorfuse.plugins.builtin.web.security import Gate
from colorfuse.plugins.builtin.web.settings import SettingsError, command_line, parse_settings
from colorfuse.plugins.builtin.web.worker import Worker

STATIC = Path(__file__).resolve().parent / "static"
LOG = logging.getLogger("colorfuse.serve")


def log_abandoned(request: Request, what: str) -> None:
    """The server's one log line for a request body the client abandoned: the request, ``what`` it carried, why."""
    LOG.warning(one_line(f"{request.method} {request.url.path}: {what} was abandoned: the client disconnected "
                         "before the body was complete; nothing was kept"))


def model_table(names=None) -> list[dict]:
    """The models the page offers (the default first), each with its card in words, looks, global input
    and hint inputs; ``names`` are registered names or ``.onnx`` paths (default: every registered model)."""
    from colorfuse.engine.card_summary import summary
    from colorfuse.engine.card import read_card
    from colorfuse.errors import ModelCardError
    from colorfuse.engine.models import default_model_name, registered_models

    default = default_model_name()
    paths = registered_models()
    rows = []
    for name in sorted(names or paths, key=lambda name: (name != default, name)):
        path = paths.get(name, Path(name))
        try:
            card = read_card(path)
        except ModelCardError:
            continue  # `colorfuse models list` says what is wrong with it
        rows.append({"name": name, "summary": summary(card, path), "looks": list(card.looks),
                     "default_look": card.look()[0], "global_input": bool(card.global_input_size),
                     "default_max_side": card.default_max_side, "takes_hints": card.takes_hints,
                     "suggests": any(spec.role == "ab_distribution" for spec in card.outputs)})
    return rows


def offered_devices() -> list[str]:
    """The devices onnxruntime offers here, in the order ``--device auto`` prefers them."""
    from colorfuse.engine.session import CUDA, available_providers

    return (["cuda"] if CUDA in available_providers() else []) + ["cpu"]


def create_app(library: Library, worker: Worker, token: str | None, port: int, models=None,
               body_timeout: float = BODY_IDLE_S) -> Gate:
    """The app behind its :class:`Gate`; ``models`` limits the offered models (default: every registered one),
    and a request body that sends nothing for ``body_timeout`` seconds is a 408 (:mod:`.bodies`)."""
    from colorfuse.engine.models import default_model_name

    table = model_table(models)
    names = [row["name"] for row in table]
    hint_models = {row["name"] for row in table if row["takes_hints"]}
    default_model = default_model_name()
    devices = offered_devices()

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def find(request: Request, kinds=("photo", "video")) -> Upload:
        upload = library.uploads.get(request.path_params["id"])
        if upload is None or upload.kind not in kinds:
            raise LookupError("no such file on the server (removed, or the server was restarted): add it again")
        return upload

    async def json_of(request: Request):
        try:
            return await request.json()
        except (ValueError, RecursionError):
            raise SettingsError("the request body must be JSON") from None
        except ClientDisconnect:  # nobody reads the reply
            log_abandoned(request, "the request body")
            raise SettingsError("the request body was abandoned") from None

    def settings_of(data):
        styles = {key for key, upload in list(library.uploads.items()) if upload.kind == "style"}
        return parse_settings(data, names, devices, styles)

    def command_for(settings) -> str:
        uploads = list(library.uploads.values())
        photos = [upload.name for upload in uploads if upload.kind == "photo"]
        style = library.uploads.get(settings.style) if settings.style else None
        hinted = any(upload.hints for upload in uploads if upload.kind == "photo")
        return command_line(settings, photos, style and style.name, default_model, devices[0],
                            hinting.HINTS_FILE if hinted else None, settings.model in hint_models)

    async def page(request):
        return FileResponse(STATIC / "index.html")

    async def config(request):
        return JSONResponse({"models": table, "devices": devices, "preview_seconds": PREVIEW_SECONDS,
                             "max_upload_mb": library.max_bytes / 1e6, "max_pixels": library.max_pixels})

    async def upload(request):
        name = request.query_params.get("name", "")
        length = request.headers.get("content-length")
        try:
            received = await library.receive(request.stream(), name, request.query_params.get("style") == "1",
                                             int(length) if length and length.isdigit() else None)
            checked = await worker.run(library.check, received)
        except UploadError as exc:
            return error(str(exc), exc.status)
        except ClientDisconnect:  # the browser went away mid-upload: nothing is kept, nobody reads a reply
            log_abandoned(request, f'the upload "{name}"')
            return error("the upload was abandoned", 400)
        except asyncio.CancelledError:  # the server stops and its grace period is over: the upload ends quietly
            return error("the server is stopping", 503)
        return JSONResponse(checked.describe())

    async def remove(request):
        try:
            await worker.run(library.remove, find(request, ("photo", "video", "style")))
        except LookupError as exc:
            return error(str(exc), 404)
        return JSONResponse({"removed": request.path_params["id"]})

    async def before(request):
        try:
            item = find(request, ("photo",))
        except LookupError as exc:
            return error(str(exc), 404)
        return FileResponse(await worker.run(library.before, item), media_type="image/png")

    async def render(request):
        """Render with the settings in the body; a ``hints`` list there replaces the photo's hints."""
        began = time.perf_counter()
        try:
            item = find(request)
            data = await json_of(request)
            hints = data.pop("hints", None) if isinstance(data, dict) else None
            settings = settings_of(data)
            if hints is not None:
                if item.kind != "photo":
                    raise HintError("colour hints are for photos; a video takes them through the command line")
                hints = hinting.parse_page_hints(hints, item.size)
            key, _ = await worker.run(library.render, item, settings, None, hints)
        except LookupError as exc:
            return error(str(exc), 404)
        except (SettingsError, HintError) as exc:
            return error(str(exc), 400)
        except UploadError as exc:
            return error(str(exc), exc.status)
        return JSONResponse({"url": f"/api/files/{item.id}/results/{key}", "kind": item.kind,
                             "download": library.download_name(item), "seconds": time.perf_counter() - began,
                             "command": command_for(settings), "hints": len(item.hints)})

    async def suggest(request):
        """The model's likely colours at ``{"x", "y"}`` of a photo, given its hints (``settings`` as for render)."""
        try:
            item = find(request, ("photo",))
            data = await json_of(request)
            data = data if isinstance(data, dict) else {}
            settings = settings_of(data.get("settings", {}))
            x, y = data.get("x"), data.get("y")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
                raise HintError("give the point as numbers x and y, in pixels of the photo")

            def suggestions():
                colorizer = library.colorizer(settings)
                return colorizer.suggest_colors(item.image, x, y, k=6, hints=item.hints)

            found = await worker.run(suggestions)
        except LookupError as exc:
            return error(str(exc), 404)
        except (SettingsError, HintError) as exc:
            return error(str(exc), 400)
        return JSONResponse({"suggestions": found})

    async def hints_file(request):
        document = hinting.document(list(library.uploads.values()))
        return Response(json.dumps(document, indent=1), media_type="application/json",
                        headers={"content-disposition": f'attachment; filename="{hinting.HINTS_FILE}"'})

    async def result(request):
        try:
            item = find(request)
        except LookupError as exc:
            return error(str(exc), 404)
        path = item.results.get(request.path_params["key"])
        if path is None:
            return error("this result is not made yet: render it first", 404)
        if request.query_params.get("download") == "1":
            return FileResponse(path, filename=library.download_name(item))
        return FileResponse(path)

    async def command(request):
        try:
            return JSONResponse({"command": command_for(settings_of(await json_of(request)))})
        except SettingsError as exc:
            return error(str(exc), 400)

    async def archive(request):
        try:
            data = await json_of(request)
            data = data if isinstance(data, dict) else {}
            settings = settings_of(data.get("settings", {}))
            ids = data.get("ids")
            ids = [key for key in ids if isinstance(key, str)] if isinstance(ids, list) else []
            items = [library.uploads[key] for key in ids
                     if key in library.uploads and library.uploads[key].kind in ("photo", "video")]
            if not items:
                return error("no photos to put in a zip: add some first", 400)
            path = await worker.run(library.zip, items, settings)
        except SettingsError as exc:
            return error(str(exc), 400)
        except UploadError as exc:
            return error(str(exc), exc.status)
        return FileResponse(path, filename="colorized.zip", background=BackgroundTask(path.unlink, missing_ok=True))

    async def status(request):
        """The worker's queue, and the render under way: its elapsed time and expected time (from the last rate)."""
        running = library.running
        if running is not None:
            running = {"id": running["id"], "name": running["name"], "estimate_s": running["estimate_s"],
                       "elapsed_s": time.monotonic() - running["began"]}
        return JSONResponse({"pending": worker.pending, "running": running})

    routes = [
        Route("/", page),
        Route("/api/config", config),
        Route("/api/status", status),
        Route("/api/files", upload, methods=["PUT"]),
        Route("/api/files/{id}", remove, methods=["DELETE"]),
        Route("/api/files/{id}/before", before),
        Route("/api/files/{id}/render", render, methods=["POST"]),
        Route("/api/files/{id}/results/{key}", result),
        Route("/api/files/{id}/suggest", suggest, methods=["POST"]),
        Route("/api/hints", hints_file),
        Route("/api/command", command, methods=["POST"]),
        Route("/api/zip", archive, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={BodyStalled: stalled_response})
    return Gate(BodyTimeout(app, body_timeout), token, port)
