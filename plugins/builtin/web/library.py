"""The server's files: uploads, decoded photos kept in memory, results, zips, all inside one folder.

Uploads are streamed to the folder under names the server makes up (the user's file name is only
shown, never used as a path) and refused as soon as they pass the size limit. A photo is decoded
once, through the reader plugins with the ``max_pixels`` check; every render after that starts from
the kept array. A video is checked with ffmpeg and its first seconds are colorized into an MP4
(H.264) a browser plays. Every method that decodes, colorizes or encodes runs on the worker thread.
A photo keeps its colour hints (:mod:`.hinting`), and its results are cached by settings and hints.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from colorfuse.errors import ColorfuseError, ColorfuseWarning
from colorfuse.plugins.builtin.web import hinting
from colorfuse.plugins.builtin.web.settings import Settings, SettingsError

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".ogv"}
PREVIEW_SECONDS = 3.0
CHUNK = 1 << 20
KEPT_RESULTS = 12  # per upload: hint edits make a result each, the oldest are deleted
KEPT_COLORIZERS = 4  # Colorizers (each with its style view) kept for the settings used last


class UploadError(ColorfuseError):
    """An upload is refused (too large, over the memory budget, not readable); the message says why."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status  # the HTTP status: 413 for an upload over the size limit


@dataclass
class Upload:
    """One uploaded file: a photo (decoded and kept), a video, or a style reference."""

    id: str
    name: str  # as the user named it: shown and used for download names only
    path: Path
    kind: str  # "photo", "video" or "style"
    image: np.ndarray | None = field(default=None, repr=False)
    size: tuple[int, int] = (0, 0)  # (width, height)
    results: dict[str, Path] = field(default_factory=dict)  # result key (settings and hints) -> result file
    notes: list[str] = field(default_factory=list)  # warnings from reading it, in the CLI's words
    hints: list = field(default_factory=list)  # a photo's colour hints (engine.hints.Hint), in its pixels

    def describe(self) -> dict:
        return {"id": self.id, "name": self.name, "kind": self.kind, "width": self.size[0], "height": self.size[1],
                "notes": self.notes}


def clean_name(name: str) -> str:
    """The last component of a browser-given file name, without control characters."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    base = "".join(char for char in base if char.isprintable())[:200].strip()
    return base if base not in ("", ".", "..") else "upload"


def output_name(name: str, fmt: str) -> str:
    """The file name ``colorfuse colorize`` would give the result of ``name`` in format ``fmt``."""
    from colorfuse.engine.collection import Job, output_path

    return output_path(Path(), Job(Path(name), Path(name)), fmt).name


class Library:
    """Uploads and results of one server, in ``folder``; ``max_bytes`` per upload, ``max_pixels`` per image."""

    def __init__(self, folder: Path, max_bytes: int, max_pixels: int | None, memory_budget: int):
        self.folder = Path(folder)
        self.max_bytes, self.max_pixels, self.memory_budget = max_bytes, max_pixels, memory_budget
        self.uploads: dict[str, Upload] = {}
        self._colorizers: dict[tuple, object] = {}
        self.rates: dict[tuple, float] = {}  # (model, device) -> seconds per working megapixel, last seen
        self.running: dict | None = None  # the render under way, for the page's progress line
        for sub in ("inputs", "results", "zips"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    # ---- receiving (on the event loop) ------------------------------------------------------------
    async def receive(self, chunks, name: str, style: bool = False, length: int | None = None) -> Upload:
        """Stream an upload into the folder; refuse it as soon as it passes the size limit."""
        name = clean_name(name)
        limit = f"{self.max_bytes / 1e6:g} MB"
        if length is not None and length > self.max_bytes:
            raise UploadError(f"{name}: {length / 1e6:.3g} MB, over the upload limit of {limit}", 413)
        upload_id = secrets.token_hex(8)
        suffix = PurePosixPath(name).suffix.lower()
        path = self.folder / "inputs" / (upload_id + (suffix if suffix[1:].isalnum() and len(suffix) <= 8 else ""))
        received = 0
        try:
            with open(path, "wb") as handle:
                async for chunk in chunks:
                    received += len(chunk)
                    if received > self.max_bytes:
                        raise UploadError(f"{name}: over the upload limit of {limit}", 413)
                    handle.write(chunk)
            if received == 0:
                raise UploadError(f"{name}: empty file (0 bytes)")
        except BaseException:  # refused, or the browser went away: nothing is kept
            path.unlink(missing_ok=True)
            raise
        kind = "style" if style else "video" if suffix in VIDEO_SUFFIXES else "photo"
        return Upload(upload_id, name, path, kind)

    # ---- on the worker ----------------------------------------------------------------------------
    def _message(self, upload: Upload, exc: BaseException) -> str:
        """The CLI's words for ``exc``, naming the file as the user named it."""
        from colorfuse.engine.planning import failure_message

        text = str(exc)
        if str(upload.path) in text:  # engine messages start with the path they read
            return text.replace(str(upload.path), upload.name)
        return failure_message(upload.name, exc)

    def check(self, upload: Upload) -> Upload:
        """Decode a photo (kept in memory) or probe a video; refused uploads leave nothing behind.

        The reader's warnings (only the first frame of an animation is used, ...) become ``upload.notes``.
        """
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ColorfuseWarning)
                if upload.kind == "video":
                    self._probe(upload)
                else:
                    self._decode(upload)
        except (ColorfuseError, MemoryError, ValueError) as exc:
            upload.path.unlink(missing_ok=True)
            raise UploadError(self._message(upload, exc)) from None
        notes = [str(w.message) for w in caught if issubclass(w.category, ColorfuseWarning)]
        upload.notes = [note.replace(str(upload.path), upload.name) if str(upload.path) in note
                        else f"{upload.name}: {note}" for note in notes]
        self.uploads[upload.id] = upload
        return upload

    def _decode(self, upload: Upload) -> None:
        from colorfuse.engine import lab
        from colorfuse.engine.imagefiles import read_image

        held = sum(item.image.nbytes for item in self.uploads.values() if item.image is not None)
        image = lab.as_image(read_image(upload.path, {"max_pixels": self.max_pixels}), upload.name)
        if held + image.nbytes > self.memory_budget:
            raise UploadError(f"{upload.name}: the page already holds {held / 1e6:.0f} MB of decoded photos and "
                              f"this one needs {image.nbytes / 1e6:.0f} MB more (limit {self.memory_budget / 1e6:.0f} "
                              "MB); remove some photos first")
        upload.image, upload.size = image, (image.shape[1], image.shape[0])

    def _probe(self, upload: Upload) -> None:
        from colorfuse.errors import VideoReadError
        from colorfuse.engine.video.ffmpeg import probe

        info = probe(upload.path)
        width, height = info.upright_size
        if not width or not height:
            raise VideoReadError(f"{upload.path}: no video stream")
        if self.max_pixels is not None and width * height > self.max_pixels:
            raise VideoReadError(f"{upload.path}: frames of {width}x{height} are over the limit of "
                                 f"{self.max_pixels / 1e6:,.0f} megapixels")
        upload.size = (width, height)

    def before(self, upload: Upload) -> Path:
        """The input as decoded (EXIF rotation applied), as a PNG any browser shows; made once."""
        from colorfuse.engine.imagefiles import write_image_atomic

        path = self.folder / "results" / f"{upload.id}-before.png"
        if not path.exists():
            image = upload.image if upload.image.dtype == np.uint8 else (upload.image >> 8).astype(np.uint8)
            write_image_atomic(image, path, "png")
        return path

    def _style(self, settings: Settings) -> Upload | None:
        style = self.uploads.get(settings.style) if settings.style else None
        if settings.style and style is None:
            raise SettingsError("the style image is no longer on the server: choose it again")
        return style

    def colorizer(self, settings: Settings):
        """A Colorizer for ``settings``, kept for the next render with the same ones.

        A setting the model cannot take (a look it lacks, a style for a model with neither a global
        input nor a palette hint) raises :class:`SettingsError` in the CLI's words. A hint-taking
        model without a global input takes the style as its palette only.
        """
        from colorfuse.engine.colorizer import Colorizer

        key = (settings.model, settings.device, settings.max_side, settings.saturation, settings.look, settings.style)
        if key in self._colorizers:
            return self._colorizers[key]
        style = self._style(settings)

        def made(style_image):
            return Colorizer.from_settings(settings.run_settings(self.max_pixels, style_image))

        try:
            colorizer = made(None)
            if style is not None and (colorizer.card.global_input_size or not colorizer.card.takes_hints):
                colorizer = made(style.image)
        except ColorfuseError as exc:
            raise SettingsError(str(exc)) from None
        while len(self._colorizers) >= KEPT_COLORIZERS:
            self._colorizers.pop(next(iter(self._colorizers)))
        self._colorizers[key] = colorizer
        return colorizer

    def result_key(self, upload: Upload, settings: Settings, hints=None) -> str:
        """The cache key of ``upload``'s result under ``settings`` with ``hints`` (None: its own)."""
        hints = upload.hints if hints is None else hints
        return settings.key + hinting.hints_key(hints)

    def render(self, upload: Upload, settings: Settings, colorizer=None, hints=None) -> tuple[str, Path]:
        """(key, file) of ``upload``'s result under ``settings``, made from the kept decoded photo.

        ``hints`` (None: the photo's own) become the photo's once rendered; a model that takes no
        hints renders the photo without its kept ones, and refuses new ones.
        """
        colorizer = colorizer or self.colorizer(settings)
        if hints and not colorizer.card.takes_hints:
            raise SettingsError(f"model {colorizer.card.name!r} takes no colour hints; choose one that does")
        key = self.result_key(upload, settings, hints if colorizer.card.takes_hints else [])
        if key not in upload.results:
            path = self._timed(upload, colorizer, settings, hints)
            while len(upload.results) >= KEPT_RESULTS:
                upload.results.pop(next(iter(upload.results))).unlink(missing_ok=True)
            upload.results[key] = path
        if hints is not None:
            upload.hints = hints
        return key, upload.results[key]

    def _timed(self, upload: Upload, colorizer, settings: Settings, hints) -> Path:
        """Render, telling :attr:`running` how long it should take from the last rate seen."""
        from colorfuse.engine.geometry import working_size

        width, height = upload.size
        _, _, pad_h, pad_w = working_size(height, width, colorizer.max_side, colorizer.card.size_multiple)
        work_mp, rate_key = pad_h * pad_w / 1e6, (settings.model, settings.device)
        rate = self.rates.get(rate_key)
        began = time.monotonic()
        self.running = {"id": upload.id, "name": upload.name, "began": began,
                        "estimate_s": None if rate is None or upload.kind == "video" else rate * work_mp}
        try:
            if upload.kind == "video":
                return self._render_video(upload, colorizer, settings)
            path = self._render_photo(upload, colorizer, settings, upload.hints if hints is None else hints)
            self.rates[rate_key] = (time.monotonic() - began) / work_mp
            return path
        except (ColorfuseError, MemoryError, ValueError) as exc:
            raise UploadError(self._message(upload, exc)) from None
        finally:
            self.running = None

    def _render_photo(self, upload: Upload, colorizer, settings: Settings, hints) -> Path:
        from colorfuse.engine.imagefiles import write_image_atomic
        from colorfuse.plugins.filetypes import auto_format, output_formats

        fmt = auto_format(upload.name)
        takes_hints = colorizer.card.takes_hints
        style = self._style(settings) if takes_hints else None
        image = hinting.colorize(colorizer, upload.image, hints if takes_hints else [],
                                 None if style is None else style.image, settings.strength)
        path = self.folder / "results" / f"{upload.id}-{secrets.token_hex(6)}{output_formats()[fmt].suffix}"
        write_image_atomic(image, path, fmt, colorizer.options)
        return path

    def _render_video(self, upload: Upload, colorizer, settings: Settings) -> Path:
        from colorfuse.engine.video.job import VideoSettings, run_video

        path = self.folder / "results" / f"{upload.id}-{settings.key}.mp4"
        run_video(colorizer, VideoSettings(upload.path, out=path, end=PREVIEW_SECONDS, crf=23, overwrite=True))
        return path

    def download_name(self, upload: Upload) -> str:
        from colorfuse.plugins.filetypes import auto_format

        if upload.kind == "video":
            return f"{PurePosixPath(upload.name).stem}-preview.mp4"
        return output_name(upload.name, auto_format(upload.name))

    def zip(self, uploads: list[Upload], settings: Settings) -> Path:
        """Every result under ``settings`` (rendering those not yet made) in one zip, named as the CLI names them."""
        path = self.folder / "zips" / f"{secrets.token_hex(8)}.zip"
        taken: set[str] = set()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            colorizer = self.colorizer(settings)
            for upload in uploads:
                _, result = self.render(upload, settings, colorizer)
                name = self.download_name(upload)
                stem, suffix, number = PurePosixPath(name).stem, PurePosixPath(name).suffix, 2
                while name in taken:
                    name, number = f"{stem} ({number}){suffix}", number + 1
                taken.add(name)
                archive.write(result, name)
            document = hinting.document(uploads)
            if colorizer.card.takes_hints and "images" in document:
                archive.writestr(hinting.HINTS_FILE, json.dumps(document, indent=1))
        return path

    def remove(self, upload: Upload) -> None:
        """Forget an upload and delete its files."""
        self.uploads.pop(upload.id, None)
        for path in [upload.path, *upload.results.values(), self.folder / "results" / f"{upload.id}-before.png"]:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Delete the folder and everything in it."""
        self.uploads.clear()
        shutil.rmtree(self.folder, ignore_errors=True)
