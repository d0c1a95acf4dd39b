"""Build a model's reduced-precision variants and measure them: ``colorfuse variants build``.

int8: onnxruntime's static quantizer (QDQ, per-channel int8 weights, uint8 activations, min/max
calibration) on the L of real photos prepared exactly as the engine prepares them; the photos
should not be the validation photos. Weights use the full 8 bits by default (fine with VNNI;
on CPUs where u8*s8 products saturate the first-use check catches the damage). Then every (precision, runtime) this machine can run is
scored against the fp32 model on validation photos in one pass (PSNR, colourfulness), its distance
from fp32 on the probe input is recorded for the first-use check, and the manifest
(:mod:`colorfuse.engine.variants`) and the int8 file (its card carrying the same figures) are
written beside the model, each under a temporary name first.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

from colorfuse.engine.atomic import write_atomic, write_json_atomic

CANDIDATES = (("int8", "onnxruntime"), ("int8", "openvino"), ("fp32", "openvino"), ("bf16", "openvino"))
CALIBRATION_PHOTOS = 32


def quantize_int8(source: Path, target: Path, photos: list[Path], reduce_range: bool = False) -> dict:
    """Write the int8 QDQ model of ``source`` (any weights storage) to ``target``; returns the settings used."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from colorfuse.train.onnx_card import write_card
    from colorfuse.train.calibration import CALIBRATION_SIDE, photo_reader
    from colorfuse.engine.card import read_card
    from colorfuse.train.compact_weights import restore_weights_fp32

    card = read_card(source)
    if card.takes_hints:
        _require_colour(photos)
    with tempfile.TemporaryDirectory(prefix="colorfuse-int8-") as work:
        plain, prepared, quantized = (Path(work) / name for name in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        proto = onnx.load(str(source))
        restore_weights_fp32(proto)
        onnx.save(proto, str(plain))
        quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)  # it fails on the hint-taking graph
        quantize_static(str(prepared), str(quantized), photo_reader(card, photos), quant_format=QuantFormat.QDQ,
                        per_channel=True, reduce_range=reduce_range, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
        settings = {"method": f"onnxruntime quantize_static QDQ, per-channel s8 weights, u8 activations, min/max, "
                              f"reduce_range={reduce_range}, L at {CALIBRATION_SIDE} px",
                    "calibration": sorted({p.parent.name for p in photos}) and f"{len(photos)} photos from "
                                   + ", ".join(sorted({p.parent.name + "/" for p in photos})),
                    "base_weights_sha256": card.weights_sha256}
        variant = dataclasses.replace(card, name=f"{card.name}-int8", precision="int8", weights_precision="int8",
                                      training={**card.training, "precision_variant": settings})
        write_atomic(target, lambda temporary: write_card(onnx.load(str(quantized)), temporary, variant))
    return settings


def _require_colour(photos: list[Path]) -> None:
    """A hint-taking model's hint inputs are calibrated on truth hints of colour photos: all gray, the
    quantizer would give them a range of zero and int8 would ignore every hint and palette."""
    from colorfuse.engine.imagefiles import read_image
    from colorfuse.engine.lab import is_colour
    from colorfuse.errors import ColorfuseError

    if not any(is_colour(read_image(path)) for path in photos):
        raise ColorfuseError(f"the {len(photos)} calibration photos are all gray: a model that takes colour hints needs "
                             "colour photos (not the validation photos) to calibrate its hint inputs on")


def calibration_photos(folder: Path, count: int = CALIBRATION_PHOTOS) -> list[Path]:
    """``count`` photos spread evenly over ``folder`` and its subfolders (sorted by path)."""
    from colorfuse.errors import ColorfuseError

    photos = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff"))
    if not photos:
        raise ColorfuseError(f"{folder}: no calibration photos (.jpg, .png, .tif)")
    step = max(1, len(photos) / count)
    return [photos[int(i * step)] for i in range(min(count, len(photos)))]


def measure_variants(model_path: Path, variants, photos_dir: Path, max_images: int | None = None,
                     on_photo=None) -> dict:
    """PSNR and colourfulness of the fp32 model and of each variant on the same photos, in one pass."""
    from colorfuse.engine.collection import iter_jobs
    from colorfuse.engine.colorizer import Colorizer
    from colorfuse.evaluation.scoring import BASELINE, Contestant, evaluate, means
    from colorfuse.engine.precision import mean_abs_difference, open_variant, probe_feeds

    contestants = [Contestant(BASELINE)] + [
        Contestant(v.key, Colorizer(model_path, device="cpu", batch_size=1, precision=v)) for v in variants]
    run = evaluate(iter_jobs([str(photos_dir)]), contestants, max_images, on_photo=on_photo)
    figures = {c.name: means(c) for c in contestants}
    base, card = variants[0], contestants[1].colorizer.card
    base_session, probe = open_variant(base), probe_feeds(card)
    results = {}
    for variant in variants:
        ours, fp32 = figures[variant.key], figures[base.key]
        results[variant.key] = {
            "precision": variant.precision, "runtime": variant.runtime, "psnr": round(ours["psnr"], 4),
            "colourfulness": round(ours["colorfulness"], 4),
            "psnr_loss_db": round(fp32["psnr"] - ours["psnr"], 4),
            "colourfulness_change_pct": round(100 * (ours["colorfulness"] / fp32["colorfulness"] - 1), 3),
            "probe_mean_abs_ab": float(f"{mean_abs_difference(card, open_variant(variant), base_session, probe):.4g}"),
            "ms_per_image": round(ours["ms_per_image"], 2) if ours["ms_per_image"] else None}
    return {"photos": len(run.photos), "gray_psnr": round(figures[BASELINE]["psnr"], 4),
            "truth_colourfulness": round(figures[BASELINE]["colorfulness_truth"], 4), "variants": results}


def needs_reduced_range() -> bool:
    """Whether this CPU lacks VNNI, so that onnxruntime's u8 x s8 products can saturate in 16 bits
    (measured: a full-range int8 file then differs from fp32 by 22 RGB levels on average, not 1)."""
    from colorfuse.engine.machine import cpu_identity

    from colorfuse.engine.precision import INT8_FLAGS

    return not INT8_FLAGS & set(cpu_identity()["flags"])


def build_variants(model_path, calibration_dir, photos_dir, max_images: int | None = None,
                   reduce_range: bool | None = None, on_photo=None, int8: bool = True) -> Path:
    """Quantize, measure and write ``variants/NAME.json`` (and ``NAME.int8.onnx``) beside the model.
    Without ``int8`` only the runtimes' own precisions of the same file are measured (no int8 file); bf16
    only on a CPU that computes it (elsewhere OpenVINO would run fp32 and the figures would be fp32's).
    ``reduce_range`` (7-bit weights) defaults to whether this CPU needs it to compute int8 right."""
    if reduce_range is None:
        reduce_range = needs_reduced_range()
    import onnx

    from colorfuse.train.onnx_card import write_card
    from colorfuse.engine.card import read_card
    from colorfuse.engine.machine import machine_summary
    from colorfuse.engine.machine import cpu_identity
    from colorfuse.engine.openvino_runtime import openvino_problem, openvino_version
    from colorfuse.engine.precision import computes_bf16
    from colorfuse.engine.variants import FORMAT, VERSION, Variant, manifest_path

    model_path = Path(model_path)
    card = read_card(model_path)
    manifest = manifest_path(model_path)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    int8_path = manifest.parent / f"{model_path.stem}.int8.onnx"
    settings = quantize_int8(model_path, int8_path, calibration_photos(calibration_dir), reduce_range) if int8 else None
    bf16 = computes_bf16(cpu_identity()["flags"])  # without it, "bf16" figures would be fp32's
    runnable = [(p, r) for p, r in CANDIDATES if (r != "openvino" or not openvino_problem()) and (int8 or p != "int8")
                and (bf16 or p != "bf16")]
    variants = [Variant("fp32", "onnxruntime", model_path)] + [
        Variant(p, r, int8_path if p == "int8" else model_path) for p, r in runnable]
    figures = measure_variants(model_path, variants, photos_dir, max_images, on_photo)
    if int8:
        int8_figures = {key: value for key, value in figures["variants"].items() if key.startswith("int8@")}
        proto = onnx.load(str(int8_path))
        int8_card = read_card(int8_path)
        int8_card.training["precision_variant"] = {**settings, "quality": int8_figures, "photos": figures["photos"]}
        write_atomic(int8_path, lambda temporary: write_card(proto, temporary, int8_card))
    import onnxruntime

    doc = {
        "format": FORMAT, "version": VERSION, "model": card.name, "base_weights_sha256": card.weights_sha256,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_summary(),
        "runtimes": {"onnxruntime": onnxruntime.__version__, "openvino": openvino_version()},
        "measured_on": {"photos": figures["photos"], "folder": Path(photos_dir).name, "look": card.default_look,
                        "gray_psnr": figures["gray_psnr"], "truth_colourfulness": figures["truth_colourfulness"]},
        "int8": settings,
        **({} if bf16 else {"not_measured": {"bf16@openvino": "this CPU computes no bf16 (AVX512-BF16, AMX)"}}),
        "variants": [{**value, "file": int8_path.name if value["precision"] == "int8" else None}
                     for key, value in figures["variants"].items() if key != "fp32@onnxruntime"],
        "fp32": figures["variants"]["fp32@onnxruntime"],
    }
    write_json_atomic(doc, manifest)
    return manifest
