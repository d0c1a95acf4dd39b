"""``colorfuse bench scaling``: time and peak memory against pixel count, at full resolution.

For each size a gray JPEG (a real photo, resized) is colorized with ``max_side=0`` in its own
child process (:mod:`colorfuse.benchmarks.sizerun`), which reports its own peak resident memory,
so sizes cannot contaminate each other. Sizes are interleaved: each of ``repeats`` rounds runs
every size once, in an order rotated round by round, so a burst of load elsewhere hits one
round of several sizes rather than every round of one size; a size's time is its minimum over
the rounds (the least disturbed run; the median is reported too). Images over the tile budget stream through
tiles (:mod:`colorfuse.engine.tiling`). The result also checks tiling against the untiled result
at a size where both fit (the seam check).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import numpy as np

from colorfuse.benchmarks import report
from colorfuse.benchmarks.images import gray_photo, megapixel_shape, write_jpeg
from colorfuse.benchmarks.measure import run_child
from colorfuse.benchmarks.paper import model_facts
from colorfuse.engine.machine import describe_machine, load_average

DEFAULT_SIZES = (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)
PER_PIXEL_RANGE = (1, 64)  # megapixels over which time per pixel should stay flat


def seam_check(model: Path, device: str, size: int, tile: int, overlap: int, threads: int | None = None) -> dict:
    """Colorize one size x size photo whole and in tiles; how far apart are the two results?"""
    from colorfuse.engine import lab
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.engine.tiling import plan_tiles

    gray, source = gray_photo(size, size, index=7)
    whole = Colorizer(model, device=device, max_side=0, options={"tile": 0}, threads=threads).colorize(gray)
    tiled_colorizer = Colorizer(model, device=device, max_side=0, options={"tile": tile, "tile_overlap": overlap},
                                threads=threads)
    tiled = tiled_colorizer.colorize(gray)
    delta_ab = np.linalg.norm(lab.rgb_to_lab(whole)[..., 1:] - lab.rgb_to_lab(tiled)[..., 1:], axis=2)
    delta_rgb = np.abs(whole.astype(np.int16) - tiled.astype(np.int16))
    return {"size": size, "tile": tile, "overlap": overlap, "photo": source,
            "tiles": len(plan_tiles(size, size, tile, overlap, tiled_colorizer.card.size_multiple)),
            "ab_delta_max": float(delta_ab.max()), "ab_delta_mean": float(delta_ab.mean()),
            "ab_delta_p99_9": float(np.percentile(delta_ab, 99.9)),
            "rgb_delta_max": int(delta_rgb.max()), "rgb_delta_mean": float(delta_rgb.mean())}


def run_scaling(sizes: list[float], model=None, device: str = "cpu", threads: int | None = None, repeats: int = 1,
                tile: int | None = None, seam: tuple[int, int, int] | None = (1024, 512, 128),
                timeout: float | None = None, warmup: int = 1, precision: str = "auto", runtime: str = "auto") -> dict:
    """Time and peak RSS per size (megapixels), each in a child process; plus the seam check.

    Each child colorizes its image ``warmup`` times untimed first: the first run of a new shape
    also pays for allocations and first-touch page faults, which tiles (repeated shapes) hide.
    """
    from colorfuse.engine.models import resolve_model

    model_path = resolve_model(model)
    load_before = load_average()
    runs: dict[float, list[dict]] = {megapixels: [] for megapixels in sizes}
    with tempfile.TemporaryDirectory(prefix="colorfuse-scaling-") as workdir:
        images, photos = {}, {}
        for megapixels in sizes:
            gray, photos[megapixels] = gray_photo(*megapixel_shape(megapixels))
            images[megapixels] = write_jpeg(gray, Path(workdir) / f"in-{megapixels}.jpg")
            del gray
        for round_index in range(repeats):
            shift = round_index % len(sizes)
            for megapixels in sizes[shift:] + sizes[:shift]:
                args = [str(images[megapixels]), str(Path(workdir) / f"out-{megapixels}.jpg"), "--model",
                        str(model_path), "--device", device, "--repeats", "1", "--warmup", str(warmup),
                        "--precision", precision, "--runtime", runtime]
                args += ["--threads", str(threads)] if threads else []
                args += ["--tile", str(tile)] if tile is not None else []
                runs[megapixels].append(run_child(["-m", "colorfuse.benchmarks.sizerun", *args], timeout))
    rows = []
    for megapixels, results in runs.items():
        best = min(results, key=lambda r: r["colorize_s"][0])
        colorize_s = best["colorize_s"][0]
        rows.append({**best, "requested_megapixels": megapixels, "photo": photos[megapixels],
                     "colorize_s": [r["colorize_s"][0] for r in results], "colorize_min_s": colorize_s,
                     "colorize_median_s": statistics.median(r["colorize_s"][0] for r in results),
                     "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
                     "seconds_per_megapixel": colorize_s / best["megapixels"],
                     "cores_busy": round(best["colorize_cpu_s"][0] / colorize_s, 2),
                     "model_share": best["model_s"][0] / colorize_s})
    low, high = PER_PIXEL_RANGE
    per_pixel = [r["seconds_per_megapixel"] for r in rows if low <= r["requested_megapixels"] <= high]
    spread = max(per_pixel) / min(per_pixel) - 1 if len(per_pixel) > 1 else None
    return {
        "benchmark": "scaling", "created": report.timestamp(), "machine": describe_machine(),
        "load_average_before": load_before, "load_average_after": load_average(),
        "model": model_facts(Path(model_path)), "device": device,
        "variant": rows[0].get("variant") if rows else None,
        "settings": {"sizes_megapixels": sizes, "repeats": repeats, "warmup": warmup, "max_side": 0,
                     "method": "sizes interleaved, one run per size per round, order rotated each round; "
                               "time = minimum over rounds", "precision": precision, "runtime": runtime,
                     "tile": "engine default" if tile is None else tile,
                     "threads": threads or "default", "memory": "peak RSS (VmHWM) of one child process per size, decode to encode"},
        "rows": rows, "per_pixel_spread": {"range_megapixels": PER_PIXEL_RANGE, "max_over_min_minus_1": spread},
        "seam_check": seam_check(model_path, device, *seam, threads=threads) if seam else None,
    }


def scaling_markdown(data: dict) -> str:
    rows = [[r["requested_megapixels"], f"{r['width']}x{r['height']}", r["tiles"], f"{r['read_s']:.2f}",
             f"{r['colorize_min_s']:.2f}", f"{r['colorize_median_s']:.2f}", f"{r['seconds_per_megapixel']:.3f}", f"{100 * r['model_share']:.0f}%",
             f"{r['write_s']:.2f}", f"{r['peak_rss_mib']:.0f}", r["cores_busy"]] for r in data["rows"]]
    spread = data["per_pixel_spread"]["max_over_min_minus_1"]
    lines = [f"# Scaling with pixel count, {data['created']}", "",
             f"Machine: {report.machine_line(data['machine'])}; load before/after {data['load_average_before']} / "
             f"{data['load_average_after']}.", "",
             f"Model {data['model']['name']} ({data['model']['weights']}, {data.get('variant') or 'fp32'}) on "
             f"{data['device']}, full resolution (max_side 0), one child process per size and round; "
             f"{data['settings']['repeats']} interleaved round(s), each size's time the minimum over them, after "
             f"{data['settings']['warmup']} untimed run(s) of the same image.", "",
             report.markdown_table(["MP", "size", "tiles", "decode s", "colorize min s", "median s", "s per MP", "model share",
                                    "encode s", "peak RSS MiB", "cores busy"], rows),
             "Cores busy = process CPU time / wall time while colorizing: below the thread count, other processes "
             "took CPU and the time is inflated."]
    if spread is not None:
        low, high = data["per_pixel_spread"]["range_megapixels"]
        lines.append(f"Time per pixel from {low} to {high} MP: slowest / fastest - 1 = {100 * spread:.1f}%.")
    seam = data.get("seam_check")
    if seam:
        lines.append(f"Seam check at {seam['size']} px ({seam['tiles']} tiles of {seam['tile']}, overlap {seam['overlap']}) "
                     f"against one untiled run: |delta ab| max {seam['ab_delta_max']:.2f}, mean {seam['ab_delta_mean']:.4f}, "
                     f"99.9th percentile {seam['ab_delta_p99_9']:.2f} (Lab units); RGB max {seam['rgb_delta_max']} levels.")
    return "\n".join(lines) + "\n"


def scaling_plot(data: dict, path) -> Path:
    """Seconds and peak memory against megapixels, log-log."""
    fig, (left, right) = report.figure(8.0, 3.2, columns=2)
    megapixels = [r["megapixels"] for r in data["rows"]]
    left.plot(megapixels, [r["colorize_min_s"] for r in data["rows"]], "-o", label="colorize (in memory, min of rounds)")
    if megapixels:
        ref = data["rows"][0]["seconds_per_megapixel"]
        left.plot(megapixels, [ref * m for m in megapixels], "k:", label="linear from the first size")
    right.plot(megapixels, [r["peak_rss_mib"] for r in data["rows"]], "-s", color="tab:red", label="peak RSS")
    for axis, label in ((left, "seconds"), (right, "peak RSS (MiB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("megapixels (max_side 0)")
        axis.set_ylabel(label)
        axis.legend(fontsize=7)
    fig.suptitle(f"{data['model']['name']} on {data['device']}", fontsize=9)
    return report.save_figure(fig, path)
