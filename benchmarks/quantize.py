"""Precision variants of an exported model: int8 (static QDQ, calibrated on real photos) and fp16.

int8: ``onnxruntime.quantization.quantize_static`` in QDQ format with per-channel int8 weights
and uint8 activations, calibrated (min/max) on the L channel of real photos at the model's
inputs, exactly as the engine prepares them. ``reduce_range`` (7-bit weights) is on by default:
without VNNI, x86 int8 kernels multiply u8*s8 pairs into saturating int16 and 7-bit weights
avoid that overflow. fp16: float16 weights and compute with float32 inputs and outputs (for
CUDA; onnxruntime's CPU provider has few fp16 kernels).

Each variant gets the source card with ``precision``, ``name`` and the new ``weights_sha256``;
files are cached in the git-ignored ``benchmarks/.cache/``, keyed by the source's hash and the settings.

    python -m colorfuse.benchmarks.quantize MODEL.onnx --precision int8 [--photos DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from pathlib import Path

from colorfuse.engine.atomic import write_atomic
from colorfuse.benchmarks.export import CACHE_DIR
from colorfuse.train.calibration import CALIBRATION_SIDE

DEFAULT_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "val" / "imagenet_samples"


def _variant_path(source: Path, precision: str, settings: str) -> Path:
    """Cache name: the source's name and weights hash, the precision, and a hash of the settings."""
    from colorfuse.engine.card import read_card

    digest = hashlib.sha256(settings.encode()).hexdigest()[:8]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return CACHE_DIR / f"{source.stem}-{read_card(source).weights_sha256[:8]}-{precision}-{digest}.onnx"


def _save_variant(model_proto, path: Path, card, precision: str, extra: dict) -> None:
    from colorfuse.train.onnx_card import write_card

    variant = dataclasses.replace(card, name=f"{card.name}-{precision}", precision=precision,
                                  training={**card.training, "precision_variant": extra})
    write_atomic(path, lambda temporary: write_card(model_proto, temporary, variant))


def quantize_int8(source: Path, photos_dir: Path = DEFAULT_PHOTOS, count: int = 32,
                  reduce_range: bool = True, force: bool = False) -> Path:
    """Write (or reuse) the int8 QDQ variant of ``source`` calibrated on ``count`` photos of ``photos_dir``."""
    from colorfuse.errors import ColorfuseError
    from colorfuse.train.variants import quantize_int8 as quantize_file

    source = Path(source)
    photos = sorted(p for p in Path(photos_dir).glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:count]
    if not photos:
        raise ColorfuseError(f"{photos_dir}: no calibration photos (.jpg/.png) found")
    settings = (f"int8 qdq per-channel u8s8 minmax reduce_range={reduce_range} "
                f"photos={len(photos)} from {Path(photos_dir).resolve()} side={CALIBRATION_SIDE}")
    target = _variant_path(source, "int8", settings)
    if force or not target.exists():
        quantize_file(source, target, photos, reduce_range)
    return target


def convert_fp16(source: Path, force: bool = False) -> Path:
    """Write (or reuse) the float16 variant of ``source`` (float32 inputs and outputs kept)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from colorfuse.engine.card import read_card

    source = Path(source)
    card = read_card(source)
    settings = "fp16 keep_io_types"
    target = _variant_path(source, "fp16", settings)
    if target.exists() and not force:
        return target
    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    _save_variant(model, target, card, "fp16", {"method": settings})
    return target


def _shipped_int8(source: Path) -> Path | None:
    """The int8 file of the model's variant manifest (:mod:`colorfuse.engine.variants`), if it has one."""
    from colorfuse.engine.card import read_card
    from colorfuse.engine.variants import load_variants

    return next((v.path for v in load_variants(source, read_card(source)) if v.key == "int8@onnxruntime"), None)


def precision_variant(source: Path, precision: str, photos_dir: Path = DEFAULT_PHOTOS) -> Path:
    """``source`` itself for fp32; its shipped int8 variant, else a cached one made here; a cached fp16 one."""
    if precision == "fp32":
        return Path(source)
    if precision == "fp16":
        return convert_fp16(source)
    if precision == "int8":
        return _shipped_int8(source) or quantize_int8(source, photos_dir)
    raise ValueError(f"precision must be fp32, fp16 or int8, got {precision!r}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--precision", choices=["int8", "fp16"], default="int8")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="calibration photos (int8)")
    args = parser.parse_args(argv)
    print(precision_variant(args.model, args.precision, args.photos))


if __name__ == "__main__":
    main()
