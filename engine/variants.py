"""A model's reduced-precision variants and their measured quality.

A model file ``NAME.onnx`` may have a manifest ``variants/NAME.json`` beside it, written by
``colorfuse variants build`` (:mod:`colorfuse.train.variants`). It lists each (precision, runtime)
pair that was measured on validation photos: an int8 file (onnxruntime's static quantizer, QDQ
format) run by onnxruntime or OpenVINO, and the model's own file run by OpenVINO in fp32 or bf16.
Each entry records the PSNR lost and the colourfulness changed against the fp32 model, and how
far its output lay from fp32's on a fixed probe input (the first-use check compares against that).

The manifest names the weights it was measured for (``base_weights_sha256``): a manifest that
does not match its model, or an entry whose file is missing or fails its card check, is ignored
with a :class:`VariantWarning`; the fp32 model itself is always there.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

from colorfuse.errors import ColorfuseError, VariantWarning  # noqa: F401  (VariantWarning: its old home)

FORMAT, VERSION = "colorfuse-variants", 1
PRECISIONS = ("fp32", "int8", "bf16")
CHOICES = ("auto",) + PRECISIONS  # --precision
RUNTIME_CHOICES = ("auto", "onnxruntime", "openvino")  # --runtime
MAX_PSNR_LOSS_DB = 0.05  # what --precision auto accepts
MAX_COLOURFULNESS_CHANGE_PCT = 2.0


@dataclass(frozen=True)
class Variant:
    """One way to run a model: which file, at which precision, on which runtime, and what it costs in quality."""

    precision: str
    runtime: str
    path: Path
    psnr_loss_db: float = 0.0  # fp32's PSNR minus this variant's, on the manifest's photos
    colourfulness_change_pct: float = 0.0  # relative change of mean colourfulness, in percent
    probe_mean_abs_ab: float = 0.0  # mean |ab - ab_fp32| on the probe input when it was built

    @property
    def key(self) -> str:
        return f"{self.precision}@{self.runtime}"

    @property
    def is_base(self) -> bool:
        return self.key == "fp32@onnxruntime"

    def within_limits(self) -> bool:
        """Does ``--precision auto`` accept its measured quality?"""
        return self.is_base or (self.psnr_loss_db <= MAX_PSNR_LOSS_DB
                                and abs(self.colourfulness_change_pct) <= MAX_COLOURFULNESS_CHANGE_PCT)

    def describe(self) -> str:
        if self.is_base:
            return f"{self.key} (the model itself)"
        return (f"{self.key}: PSNR {-self.psnr_loss_db:+.3f} dB, colourfulness {self.colourfulness_change_pct:+.2f}%"
                + ("" if self.within_limits() else " (over auto's limits)"))


def manifest_path(model_path) -> Path:
    model_path = Path(model_path)
    return model_path.parent / "variants" / f"{model_path.stem}.json"


def read_manifest(model_path) -> dict | None:
    """The manifest beside ``model_path``, or None when it has none; raises on an unreadable one."""
    path = manifest_path(model_path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ColorfuseError(f"{path}: unreadable variant manifest ({exc})") from exc
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ColorfuseError(f"{path}: not a {FORMAT} v{VERSION} manifest")
    return data


def load_variants(model_path, card) -> list[Variant]:
    """The fp32 model first, then every variant of its manifest that checks out."""
    from colorfuse.engine.card import read_card

    model_path = Path(model_path)
    found = [Variant("fp32", "onnxruntime", model_path)]
    try:
        manifest = read_manifest(model_path)
    except ColorfuseError as exc:
        warnings.warn(f"{exc}; running fp32 only", VariantWarning, stacklevel=2)
        return found
    if manifest is None:
        return found
    if manifest.get("base_weights_sha256") != card.weights_sha256:
        warnings.warn(f"{manifest_path(model_path)} was measured for other weights than {model_path.name}'s: "
                      "its variants are ignored (rebuild them with colorfuse variants build)", VariantWarning, stacklevel=2)
        return found
    for entry in manifest.get("variants", []):
        path = manifest_path(model_path).parent / entry["file"] if entry.get("file") else model_path
        try:
            if path != model_path and read_card(path).training.get("precision_variant", {}).get(
                    "base_weights_sha256") != card.weights_sha256:
                raise ColorfuseError(f"{path.name} was not made from {model_path.name}")
            found.append(Variant(entry["precision"], entry["runtime"], path, float(entry["psnr_loss_db"]),
                                 float(entry["colourfulness_change_pct"]), float(entry["probe_mean_abs_ab"])))
        except (ColorfuseError, OSError, KeyError, TypeError, ValueError) as exc:
            warnings.warn(f"{manifest_path(model_path)}: variant {entry.get('precision')}@{entry.get('runtime')} "
                          f"ignored ({exc})", VariantWarning, stacklevel=2)
    return found
