"""A minimal Matroska (EBML) stream of raw RGB frames, to feed ffmpeg's encoder through a pipe.

A raw pipe carries no timestamps; this container carries each frame's presentation time and
duration (microseconds), so variable frame rates pass through exactly. One cluster per frame,
``V_UNCOMPRESSED`` with the ``RGB\\x18`` (rgb24) colour-space tag, read by ffmpeg's matroska
demuxer. The frame bytes are not copied: :func:`frame_prefix` gives the bytes that go before them.
"""

from __future__ import annotations

from fractions import Fraction

UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"
TIMESTAMP_SCALE_NS = 1000  # timestamps in microseconds


def _id(element_id: int) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")


def _size(length: int) -> bytes:
    for width in range(1, 9):
        if length < (1 << (7 * width)) - 1:
            return (length | (1 << (7 * width))).to_bytes(width, "big")
    raise ValueError(f"EBML element too large ({length} bytes)")


def _element(element_id: int, payload) -> bytes:
    if isinstance(payload, int):
        payload = payload.to_bytes(max(1, (payload.bit_length() + 7) // 8), "big")
    elif isinstance(payload, str):
        payload = payload.encode("ascii")
    return _id(element_id) + _size(len(payload)) + payload


def stream_header(width: int, height: int) -> bytes:
    """EBML header, an open-ended Segment, Info and the one video track (rgb24, width x height)."""
    ebml = _element(0x1A45DFA3, _element(0x4286, 1) + _element(0x42F7, 1) + _element(0x42F2, 4)
                    + _element(0x42F3, 8) + _element(0x4282, "matroska") + _element(0x4287, 4)
                    + _element(0x4285, 2))
    info = _element(0x1549A966, _element(0x2AD7B1, TIMESTAMP_SCALE_NS) + _element(0x4D80, "colorfuse")
                    + _element(0x5741, "colorfuse"))
    video = _element(0xE0, _element(0xB0, width) + _element(0xBA, height) + _element(0x2EB524, b"RGB\x18"))
    track = _element(0xAE, _element(0xD7, 1) + _element(0x73C5, 1) + _element(0x83, 1) + _element(0x9C, 0)
                     + _element(0x22B59C, "und") + _element(0x86, "V_UNCOMPRESSED") + video)
    return ebml + _id(0x18538067) + UNKNOWN_SIZE + info + _element(0x1654AE6B, track)


def microseconds(ticks: int, time_base: Fraction) -> int:
    """``ticks`` of ``time_base`` in whole microseconds, rounded to nearest."""
    return round(Fraction(ticks) * time_base * 1_000_000)


def frame_prefix(time_us: int, duration_us: int, length: int) -> bytes:
    """The bytes of a cluster holding one keyframe of ``length`` bytes, up to the frame data."""
    block_header = b"\x81\x00\x00\x80"  # track 1, relative time 0, keyframe
    duration = _element(0x9B, duration_us) if duration_us > 0 else b""
    block_size = len(block_header) + length
    group = duration + _id(0xA1) + _size(block_size) + block_header
    group_size = len(group) + length
    cluster = _element(0xE7, max(0, time_us)) + _id(0xA0) + _size(group_size) + group
    return _id(0x1F43B675) + _size(len(cluster) + length) + cluster
