"""The Ray Data pipeline of cluster mode, and :func:`colorize_on_ray`.

    list (1 task) -> decode (tasks) -> colorize (actor pool, one Colorizer each) -> write (tasks)

Rows carry source, target, replace, existing, status (todo, skipped, failed, done), error and
the image's colour hints (a hints-file list as JSON, "" for none), so hints travel with their image;
decoded and colorized pixels travel as bytes with their shape and dtype (gray, RGB, 8 or 16 bits
alike). A failing file only fails its row, with the single-machine run's message. Planning,
resuming (an existing output is skipped only if complete) and publishing are the single-machine
run's (:mod:`colorfuse.engine.planning`); a write task publishes nothing once the driver is gone.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from colorfuse.engine.atomic import write_text_atomic
from colorfuse.engine.batch import Summary
from colorfuse.engine.distributed.cluster import WorkerPlan, connect, data_context, import_ray, plan_workers
from colorfuse.engine.distributed.listing import is_uri, iter_planned, read_input
from colorfuse.engine.imagefiles import HOST, output_is_complete, process_running
from colorfuse.engine.settings import RunSettings
from colorfuse.engine.planning import Outcome, Planned, failure_message, write_output
from colorfuse.plugins.context import ImageContext

LIST_CHUNK = 64  # rows per batch the listing task yields
COLUMNS = ("source", "fspath", "target", "replace", "existing", "status", "error", "hints")


def _list_stage(batch, inputs, out_dir, fmt, skip_existing, overwrite, hints=None):
    """The listing task (one input row, ignored): planned rows, ``LIST_CHUNK`` at a time."""
    chunk: list[dict] = []
    for row in iter_planned(inputs, Path(out_dir), fmt, skip_existing, overwrite, hints):
        chunk.append(row)
        if len(chunk) == LIST_CHUNK:
            yield _columns(chunk)
            chunk = []
    if chunk:
        yield _columns(chunk)


def _columns(rows: list[dict]) -> dict:
    return {key: np.array([row[key] for row in rows], dtype=object) for key in rows[0]}


def _pack(image: np.ndarray) -> tuple[bytes, str, str]:
    return image.tobytes(), ",".join(map(str, image.shape)), image.dtype.str


def _unpack(data: bytes, shape: str, dtype: str) -> np.ndarray:
    """A writable array again (plugins get the same kind of array as in a single-machine run)."""
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape([int(side) for side in shape.split(",")]).copy()


def _with_pixels(batch: dict, pixels: list, status: list, error: list) -> dict:
    out = {key: batch[key] for key in COLUMNS}
    out["status"], out["error"] = np.array(status, dtype=object), np.array(error, dtype=object)
    packed = [_pack(image) if image is not None else (b"", "", "") for image in pixels]
    for index, key in enumerate(("pixels", "shape", "dtype")):
        out[key] = np.array([item[index] for item in packed], dtype=object)
    return out


def _decode_stage(batch: dict, options: dict) -> dict:
    pixels, status, error = [], list(batch["status"]), list(batch["error"])
    for index, source in enumerate(batch["source"]):
        image = None
        if status[index] == "todo":
            try:
                image = read_input(source, batch["fspath"][index], options)
                if batch["existing"][index] and output_is_complete(batch["target"][index], image.shape[:2], options):
                    status[index], image = "skipped", None
            except Exception as exc:
                status[index], error[index] = "failed", failure_message(source, exc)
        pixels.append(image)
    return _with_pixels(batch, pixels, status, error)


class ColorizeActor:
    """A Ray Data actor: one Colorizer (one onnxruntime session) for its whole life, made from the run's settings."""

    def __init__(self, settings: RunSettings):
        self.colorizer = settings.colorizer()

    def __call__(self, batch: dict) -> dict:
        status, error = list(batch["status"]), list(batch["error"])
        prepared, results = {}, [None] * len(status)
        for index, source in enumerate(batch["source"]):
            if status[index] == "todo":
                try:
                    image = _unpack(batch["pixels"][index], batch["shape"][index], batch["dtype"][index])
                    context = self.colorizer.context(source, batch["target"][index])
                    prepared[index] = self.colorizer.prepare(image, hints=hints_of_row(batch["hints"][index]),
                                                             context=context)
                except Exception as exc:
                    status[index], error[index] = "failed", failure_message(source, exc)
        try:
            self.colorizer.predict(list(prepared.values()))
        except Exception as exc:
            for index in prepared:
                status[index], error[index] = "failed", f"{batch['source'][index]}: model failed: {exc}"
            prepared = {}
        for index, item in prepared.items():
            try:
                results[index] = self.colorizer.finish(item)
            except Exception as exc:
                status[index], error[index] = "failed", failure_message(batch["source"][index], exc)
        return _with_pixels(batch, results, status, error)


def hints_of_row(text: str) -> list:
    """The hints a row carries (its ``hints`` column: a hints-file list as JSON, "" for none)."""
    from colorfuse.engine.hints_file import parse_hints

    return parse_hints({"version": 1, "images": {"row": json.loads(text)}})["images"]["row"] if text else []


def driver_gone(driver: tuple[str, int]) -> bool:
    """Whether the driver (host, pid) has provably ended: it ran on this host and its process is gone."""
    host, pid = driver
    return host == HOST and not process_running(pid)


def _write_stage(batch: dict, fmt: str, options: dict, skip_existing: bool, driver: tuple[str, int]) -> dict:
    status, error = list(batch["status"]), list(batch["error"])
    for index, source in enumerate(batch["source"]):
        if status[index] != "todo":
            continue
        if driver_gone(driver):  # a killed run publishes nothing more
            status[index], error[index] = "failed", f"{source}: not written: the run's driver has ended"
            continue
        planned = Planned(Path(batch["target"][index]), replace=bool(batch["replace"][index]))
        try:
            image = _unpack(batch["pixels"][index], batch["shape"][index], batch["dtype"][index])
        except Exception as exc:
            status[index], error[index] = "failed", failure_message(source, exc)
            continue
        outcome = write_output(image, source, planned, fmt, options, skip_existing,
                               ImageContext.of(options, source, planned.target))
        status[index], error[index] = outcome.status, outcome.error or ""
    out = {key: batch[key] for key in ("source", "target")}
    out["status"], out["error"] = np.array(status, dtype=object), np.array(error, dtype=object)
    return out


def _model_spec(model):
    """A file path travels as an absolute path (it must exist on the workers too); a name as is."""
    if model is not None and Path(model).suffix == ".onnx" and Path(model).exists():
        return os.path.abspath(model)
    return model


def _local(item: str) -> str:
    return item if is_uri(item) else os.path.abspath(item)


def build_dataset(ray, inputs, out_dir: Path, workers: WorkerPlan, settings: RunSettings, *, fmt: str = "auto",
                  skip_existing: bool = False, overwrite: bool = False, hints=None):
    """The lazy Ray Data pipeline whose rows are outcomes (source, target, status, error).

    Each model worker builds its colorizer from ``settings`` (device and threads as ``workers`` plans);
    their ``style`` should be the reference as an array (read on the driver), so nodes need not see it;
    ``hints`` (a :class:`~colorfuse.engine.hint_jobs.HintPlan`) gives each listed image its hints."""
    data = ray.data
    options, batch_size = dict(settings.options), settings.batch_size
    worker_settings = settings.replace(model=_model_spec(settings.model), device=workers.device,
                                       threads=workers.threads)
    listing = data.from_items([{"inputs": len(inputs)}]).map_batches(
        _list_stage, batch_size=1, num_cpus=0, batch_format="numpy",
        fn_kwargs={"inputs": [_local(item) for item in inputs], "out_dir": os.path.abspath(out_dir), "fmt": fmt,
                   "skip_existing": skip_existing, "overwrite": overwrite, "hints": hints})
    decoded = listing.repartition(num_blocks=None, target_num_rows_per_block=batch_size).map_batches(
        _decode_stage, batch_size=batch_size, batch_format="numpy", fn_kwargs={"options": options})
    colorized = decoded.map_batches(
        ColorizeActor, batch_size=batch_size, batch_format="numpy",
        compute=data.ActorPoolStrategy(min_size=workers.min_workers, max_size=workers.max_workers),
        fn_constructor_kwargs={"settings": worker_settings},
        **workers.resources)
    return colorized.map_batches(_write_stage, batch_size=batch_size, batch_format="numpy",
                                 fn_kwargs={"fmt": fmt, "options": options, "skip_existing": skip_existing,
                                            "driver": (HOST, os.getpid())})


def write_failures(path: Path, failed: list[Outcome]) -> None:
    """The failure report: one JSON object per failed input, written atomically."""
    write_text_atomic("".join(json.dumps({"source": str(outcome.source), "output": str(outcome.output or ""),
                                           "error": outcome.error}) + "\n" for outcome in failed), path)


def colorize_on_ray(inputs, out_dir, settings: RunSettings | None = None, *, address: str = "local",
                    workers: int | None = None, threads: int = 1, gpus_per_worker: float = 1.0, failures=None,
                    on_outcome: Callable[[Outcome], None] | None = None,
                    on_start: Callable[[WorkerPlan], None] | None = None, **placing) -> Summary:
    """Colorize ``inputs`` into ``out_dir`` on Ray with ``settings`` (default: the defaults; its device
    picks CPU or GPU workers); ``placing`` (``fmt``, ``skip_existing``, ``overwrite``, ``hints``) as for
    :func:`build_dataset`.

    Outcomes arrive as they finish (``on_outcome``); failed ones are also written to
    ``failures`` (default ``out_dir/failures.jsonl``, rewritten by each run).
    """
    from colorfuse.engine.card import read_card
    from colorfuse.engine.models import resolve_model

    import_ray()
    if not address.startswith("ray://"):  # a Ray Client's model may exist on the cluster only
        read_card(resolve_model(settings.model))  # a bad model fails here, before cluster work
    out_dir = Path(out_dir)
    settings = settings or RunSettings()
    summary = Summary()
    start = time.perf_counter()
    with connect(address) as ray:
        plan_ = plan_workers(ray.cluster_resources(), settings.device, workers, threads, gpus_per_worker)
        if on_start:
            on_start(plan_)
        try:
            with data_context(ray):
                for row in build_dataset(ray, list(inputs), out_dir, plan_, settings, **placing).iter_rows():
                    outcome = Outcome(row["source"] if is_uri(row["source"]) else Path(row["source"]),
                                      row["status"], Path(row["target"]) if row["target"] else None,
                                      row["error"] or None)
                    summary.add(outcome)
                    if on_outcome:
                        on_outcome(outcome)
        finally:
            summary.seconds = time.perf_counter() - start
            write_failures(Path(failures) if failures else out_dir / "failures.jsonl", summary.failed)
    return summary
