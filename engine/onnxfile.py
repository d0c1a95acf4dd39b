"""Read what the engine needs from an ONNX file without the ``onnx`` package.

An ONNX file is a serialized ``ModelProto`` protobuf. Reading its top-level fields with the
protobuf wire format is enough to get the metadata (the model card) and to hash the graph,
and it is much cheaper than building an onnxruntime session (``colorfuse models list``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

_GRAPH_FIELD = 7  # ModelProto.graph
_METADATA_FIELD = 14  # ModelProto.metadata_props (repeated StringStringEntryProto)


class OnnxFormatError(ValueError):
    """The bytes are not a readable ONNX ModelProto."""


@dataclass
class OnnxContents:
    """The parts of an ONNX file the engine checks: metadata and the graph's hash."""

    metadata: dict[str, str] = field(default_factory=dict)
    graph_sha256: str = ""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise OnnxFormatError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise OnnxFormatError("varint too long")


def _fields(buf: bytes):
    """Yield (field number, wire type, value) for each top-level field of a message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise OnnxFormatError("truncated field")
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise OnnxFormatError(f"unsupported wire type {wire}")
        yield number, wire, value


def parse_onnx(data: bytes) -> OnnxContents:
    """Return the metadata and the sha256 of the serialized graph (topology and weights)."""
    contents = OnnxContents()
    graph = None
    for number, wire, value in _fields(data):
        if number == _GRAPH_FIELD and wire == 2:
            graph = value
        elif number == _METADATA_FIELD and wire == 2:
            entry = {n: v for n, w, v in _fields(value) if w == 2}
            key = entry.get(1, b"").decode("utf-8", "replace")
            contents.metadata[key] = entry.get(2, b"").decode("utf-8", "replace")
    if graph is None:
        raise OnnxFormatError("no graph in file")
    contents.graph_sha256 = hashlib.sha256(graph).hexdigest()
    return contents


def read_onnx(path) -> OnnxContents:
    """Parse an ONNX file from disk (see :func:`parse_onnx`)."""
    with open(path, "rb") as handle:
        return parse_onnx(handle.read())
