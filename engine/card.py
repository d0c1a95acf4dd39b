"""The model card: versioned JSON stored in an ONNX file's ``metadata_props``.

Every colorfuse model is one ``.onnx`` file whose metadata key ``colorfuse.card`` holds this
card. The engine reads everything it needs to run the model from the card (normalisation,
input names, size multiple, global view size) and refuses a file whose card is missing,
invalid, or contradicted by the file itself.

Colour space: CIELAB as computed by OpenCV from float32 sRGB in [0, 1] (D65), so L is in
[0, 100] and a, b in about [-128, 127]. The model input is ``(L - l_offset) / l_scale`` and
the model output times ``ab_scale`` is ab.

A model may have several ab outputs (for example a regression head and a more colourful
classification head); a *look* is a named mix of them: ab = scale * sum(weight * output).
``default_look`` is used unless the user picks another; a card without looks has one, its
first output at scale 1.

A model that takes colour hints (card version 3) has the inputs ``hint_ab`` (N, 2, H, W: hint
ab / ``hints["ab_scale"]`` on the hint's pixels, 0 elsewhere), ``hint_mask`` (N, 1, H, W: 1 on
hint pixels) and ``palette`` (N, Q + 3, 1, 1: a reference's ab histogram over
``hints["palette"]["bins"]``, its mean chroma, and a keep flag for each), all zero for "no
hints", which the engine feeds when none are given; ``hints`` describes them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from colorfuse.errors import ModelCardError
from colorfuse.engine.onnxfile import OnnxFormatError, read_onnx

CARD_KEY = "colorfuse.card"
CARD_VERSION = 3  # 2 added several ab outputs and named looks, 3 colour hints; 1 and 2 still load
READABLE_VERSIONS = (1, 2, 3)
HINT_ROLES = ("hint_ab", "hint_mask", "palette")  # inputs of a model that takes colour hints
LAYOUTS = ("NCHW",)
PRECISIONS = ("fp32", "fp16", "int8")
WEIGHTS_PRECISIONS = PRECISIONS + ("fp16+int8",)  # fp16+int8: float16, the largest tensors int8


@dataclass
class TensorSpec:
    """One graph input or output: its name, layout and role."""

    name: str
    layout: str = "NCHW"
    role: str = "L"  # inputs: "L", "L_global" or one of HINT_ROLES; outputs: "ab" or "ab_distribution"


@dataclass
class Look:
    """A named way to turn the model's outputs into ab: ``scale * sum(mix[name] * output)``."""

    mix: dict[str, float]
    scale: float = 1.0
    description: str = ""


@dataclass
class ModelCard:
    """Everything the engine and a reader need to know about one exported model."""

    name: str
    architecture: str
    version: str
    description: str = ""
    color_space: str = "CIELAB (OpenCV, D65, from float32 sRGB in [0, 1])"
    l_offset: float = 50.0
    l_scale: float = 50.0
    ab_scale: float = 110.0
    inputs: list[TensorSpec] = field(default_factory=lambda: [TensorSpec("L")])
    outputs: list[TensorSpec] = field(default_factory=lambda: [TensorSpec("ab", role="ab")])
    size_multiple: int = 1
    global_input_size: int | None = None
    default_max_side: int = 512
    precision: str = "fp32"  # of the arithmetic
    weights_precision: str = "fp32"  # of the stored weights ("fp16": cast to float32 when loaded)
    parameters: int = 0
    parity_tolerance: float = 1e-3
    weights_sha256: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    looks: dict[str, Look] = field(default_factory=dict)
    default_look: str | None = None
    hints: dict[str, Any] | None = None  # the hint inputs' encoding (card version 3)
    card_version: int = CARD_VERSION

    # ---- serialisation -------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "card") -> "ModelCard":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelCardError(f"{source}: model card is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ModelCardError(f"{source}: model card must be a JSON object")
        version = data.get("card_version")
        if version not in READABLE_VERSIONS:
            raise ModelCardError(
                f"{source}: unsupported model card version {version!r} "
                f"(this colorfuse reads {', '.join(map(str, READABLE_VERSIONS))})"
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelCardError(f"{source}: unknown model card fields {unknown}")
        try:
            data["inputs"] = [TensorSpec(**spec) for spec in data.get("inputs", [])]
            data["outputs"] = [TensorSpec(**spec) for spec in data.get("outputs", [])]
            data["looks"] = {name: Look(**look) for name, look in (data.get("looks") or {}).items()}
            card = cls(**data)
        except TypeError as exc:
            raise ModelCardError(f"{source}: malformed model card ({exc})") from exc
        card.validate(source)
        return card

    # ---- checks --------------------------------------------------------------------------
    def validate(self, source: str = "card") -> None:
        """Raise :class:`ModelCardError` if the card is internally inconsistent."""
        problems = []
        if not self.name or not self.architecture or not self.version:
            problems.append("name, architecture and version are required")
        if self.l_scale <= 0 or self.ab_scale <= 0:
            problems.append("l_scale and ab_scale must be positive")
        if self.size_multiple < 1:
            problems.append("size_multiple must be >= 1")
        if self.default_max_side < 0:
            problems.append("default_max_side must be >= 0")
        if self.precision not in PRECISIONS or self.weights_precision not in WEIGHTS_PRECISIONS:
            problems.append(f"precision must be among {PRECISIONS} and weights_precision among {WEIGHTS_PRECISIONS}")
        roles = [spec.role for spec in self.inputs]
        if roles.count("L") != 1:
            problems.append("exactly one input must have role 'L'")
        if ("L_global" in roles) != (self.global_input_size is not None):
            problems.append("an 'L_global' input and global_input_size go together")
        problems += self._hint_problems(roles)
        output_roles = [spec.role for spec in self.outputs]
        if "ab" not in output_roles or set(output_roles) - {"ab", "ab_distribution"} or output_roles.count("ab_distribution") > 1:
            problems.append("at least one output with role 'ab', the others 'ab' or one 'ab_distribution'")
        outputs = {spec.name for spec in self.outputs if spec.role == "ab"}
        for name, look in self.looks.items():
            if not look.mix or not set(look.mix) <= outputs:
                problems.append(f"look {name!r} must mix outputs of the model ({sorted(outputs)})")
            if not look.scale > 0:
                problems.append(f"look {name!r}: scale must be positive")
        if self.default_look is not None and self.default_look not in self.looks:
            problems.append(f"default_look {self.default_look!r} is not one of the looks")
        for spec in self.inputs + self.outputs:
            if spec.layout not in LAYOUTS:
                problems.append(f"{spec.name}: layout {spec.layout!r} not in {LAYOUTS}")
        if len(self.weights_sha256) != 64:
            problems.append("weights_sha256 must be a sha256 hex digest")
        if problems:
            raise ModelCardError(f"{source}: invalid model card: " + "; ".join(problems))

    def _hint_problems(self, roles: list[str]) -> list[str]:
        unknown = sorted(set(roles) - {"L", "L_global", *HINT_ROLES})
        if unknown:
            return [f"unknown input roles {unknown}"]
        given = [role for role in HINT_ROLES if role in roles]
        if not given:
            return ["hints without hint inputs"] if self.hints is not None else []
        if len(given) != len(HINT_ROLES) or self.hints is None:
            return [f"a model with hints has all of the inputs {list(HINT_ROLES)} and a 'hints' description"]
        bins = (self.hints.get("palette") or {}).get("bins")
        if not isinstance(bins, list) or not bins or not all(isinstance(b, list) and len(b) == 2 for b in bins):
            return ["hints.palette.bins must be a list of [a, b] bin centres"]
        if not self.hints.get("ab_scale", 0) > 0:
            return ["hints.ab_scale must be positive"]
        return []

    @property
    def takes_hints(self) -> bool:
        return self.hints is not None

    def input_name(self, role: str) -> str | None:
        return next((spec.name for spec in self.inputs if spec.role == role), None)

    @property
    def output_name(self) -> str:
        return self.outputs[0].name

    def look(self, name: str | None = None) -> tuple[str, Look]:
        """The look called ``name`` (None: the default one) and its name."""
        if name is None:
            name = self.default_look
            if name is None:
                return "default", Look({self.output_name: 1.0})
        if name not in self.looks:
            known = ", ".join(sorted(self.looks)) or "none: this model has one look"
            raise ModelCardError(f"model {self.name!r} has no look {name!r} (looks: {known})")
        return name, self.looks[name]


def embed_card(metadata: dict[str, str], card: ModelCard) -> dict[str, str]:
    """Return ``metadata`` with the card added (used by the exporter)."""
    card.validate()
    return {**metadata, CARD_KEY: card.to_json()}


def read_card(path) -> ModelCard:
    """Read and validate the card of an ONNX file, checking the graph hash against it."""
    source = str(path)
    try:
        contents = read_onnx(path)
    except OSError as exc:
        raise ModelCardError(f"{source}: cannot read model file ({exc.strerror or exc})") from exc
    except OnnxFormatError as exc:
        raise ModelCardError(f"{source}: not an ONNX model ({exc})") from exc
    text = contents.metadata.get(CARD_KEY)
    if text is None:
        raise ModelCardError(f"{source}: no colorfuse model card (metadata key {CARD_KEY!r})")
    card = ModelCard.from_json(text, source)
    if card.weights_sha256 != contents.graph_sha256:
        raise ModelCardError(
            f"{source}: the card's weights_sha256 does not match the graph in the file "
            "(the weights were changed after export)"
        )
    return card
