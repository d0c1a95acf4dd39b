"""Child process of ``colorfuse bench scaling``: colorize one image file at full resolution.

Run as ``python -m colorfuse.benchmarks.sizerun IMAGE OUT [--model M] [--device D] ...``; prints
one JSON line with the timings (read, colorize, write), the model's share and the tile count.
The parent reads this process's peak resident memory with ``os.wait4``, so everything an image
of this size costs (decode, tiles, output, encode) is counted and nothing else.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from colorfuse.benchmarks.measure import peak_rss_mib


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("out")
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs on the image first (new shapes cost "
                        "allocations and first-touch page faults once)")
    parser.add_argument("--tile", type=int, default=None, help="tile side (default: the engine's; 0: never tile)")
    parser.add_argument("--max-pixels", type=int, default=1_000_000_000)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--runtime", default="auto")
    args = parser.parse_args(argv)

    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.engine.imagefiles import read_image, write_image_atomic
    from colorfuse.engine.tiling import plan_tiles, streams, tile_settings

    options = {"max_pixels": args.max_pixels}
    if args.tile is not None:
        options["tile"] = args.tile
    colorizer = Colorizer(args.model, device=args.device, max_side=0, batch_size=1, options=options,
                          threads=args.threads, precision=args.precision, runtime=args.runtime)
    colorizer.colorize(np.full((64, 64), 128, np.uint8))  # warm-up: session and kernels
    baseline_mib = peak_rss_mib()

    start = time.perf_counter()
    image = read_image(args.image, options)
    read_s = time.perf_counter() - start
    height, width = image.shape[:2]
    for _ in range(args.warmup):
        colorizer.colorize(image)
    colorize_s, cpu_s, model_s = [], [], []
    for _ in range(args.repeats):
        colorizer.timing.reset()
        start, cpu_start = time.perf_counter(), time.process_time()
        result = colorizer.colorize(image)
        colorize_s.append(time.perf_counter() - start)
        cpu_s.append(time.process_time() - cpu_start)
        model_s.append(colorizer.timing.model_s)
    start = time.perf_counter()
    write_image_atomic(result, args.out, "jpeg", options)
    write_s = time.perf_counter() - start
    tile, overlap = tile_settings(colorizer.options)
    tiled = streams(colorizer, (height, width))
    print(json.dumps({
        "height": height, "width": width, "megapixels": height * width / 1e6, "read_s": read_s,
        "colorize_s": colorize_s, "colorize_cpu_s": cpu_s, "model_s": model_s, "write_s": write_s, "tiled": tiled,
        "tiles": len(plan_tiles(height, width, tile, overlap, colorizer.card.size_multiple)) if tiled else 1,
        "baseline_rss_mib": baseline_mib, "peak_rss_mib": peak_rss_mib(), "model": str(colorizer.model_path), "providers": colorizer.model_session.providers,
        "variant": colorizer.precision_choice.variant.key if colorizer.precision_choice else None,
    }))


if __name__ == "__main__":
    main()
