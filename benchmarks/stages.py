"""Where an image's time goes on the whole path, one image at a time, no overlap.

``colorfuse bench throughput --stages N`` times, for each of N photos: decode (the reader
plugins), prepare (L, working-size resize, global view), the model, finish (guided chroma
upsampling, Lab to RGB), and encoding to the output format; and, to show what the PNG
compression level costs, encoding the same result as PNG at Pillow levels 1, 3 (colorfuse's)
and 6 (Pillow's default), with the bytes each writes.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path

STEPS = ("decode", "prepare", "model", "finish", "encode")
PNG_LEVELS = (1, 3, 6)


def _clock(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def stage_times(colorizer, jobs, fmt: str = "auto") -> dict:
    """Median milliseconds per image of each step, and PNG encoding time and size by compression level."""
    from PIL import Image

    from colorfuse.engine.collection import output_format
    from colorfuse.engine.imagefiles import read_image, write_image_atomic

    seconds = {step: [] for step in STEPS}
    png = {level: {"ms": [], "bytes": []} for level in PNG_LEVELS}

    with tempfile.TemporaryDirectory(prefix="colorfuse-stages-") as folder:
        for index, job in enumerate(jobs):
            image, seconds_decode = _clock(read_image, job.source, colorizer.options)
            prepared, seconds_prepare = _clock(colorizer.prepare, image)
            _, seconds_model = _clock(colorizer.predict, [prepared])
            result, seconds_finish = _clock(colorizer.finish, prepared)
            out_format = output_format(Path(job.source), fmt)
            _, seconds_encode = _clock(write_image_atomic, result, Path(folder) / f"{index}.{out_format}", out_format,
                                       colorizer.options)
            for step, value in zip(STEPS, (seconds_decode, seconds_prepare, seconds_model, seconds_finish, seconds_encode)):
                seconds[step].append(value)
            picture = Image.fromarray(result)
            for level in PNG_LEVELS:
                buffer = io.BytesIO()
                _, took = _clock(lambda: picture.save(buffer, "PNG", compress_level=level))
                png[level]["ms"].append(1e3 * took)
                png[level]["bytes"].append(buffer.tell())
    medians = {step: round(1e3 * statistics.median(values), 2) for step, values in seconds.items()}
    total = sum(medians.values())
    return {"images": len(jobs), "ms_per_image": medians, "share": {k: round(v / total, 3) for k, v in medians.items()},
            "png_by_level": {str(level): {"ms": round(statistics.median(v["ms"]), 2),
                                          "kb": round(statistics.median(v["bytes"]) / 1e3, 1)}
                             for level, v in png.items()}}


def stages_markdown(data: dict) -> list[str]:
    from colorfuse.benchmarks import report

    ms, share = data["ms_per_image"], data["share"]
    lines = ["", f"Whole path, one image at a time ({data['images']} images, median ms per image):", "",
             report.markdown_table(list(STEPS) + ["total"], [[f"{ms[s]:.2f} ({100 * share[s]:.0f}%)" for s in STEPS]
                                                            + [f"{sum(ms.values()):.2f}"]]),
             "PNG encoding of the same results by Pillow compression level (colorfuse writes level 3):", "",
             report.markdown_table(["level", "ms per image", "kB per image"],
                                   [[level, v["ms"], v["kb"]] for level, v in data["png_by_level"].items()])]
    return lines
