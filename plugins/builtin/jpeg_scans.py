"""Whether a JPEG's scans hold as many bytes as the blocks its header claims need: libjpeg's "premature
end" warning, which Pillow does not pass on (the missing rest decodes silently as flat gray).

A block costs at least two bits in a sequential Huffman scan (a DC code and an end-of-block code,
each at least one bit) and at least one in a progressive DC scan; restart markers and stuffed
bytes only add bytes, so a valid file is never reported. Other scans (progressive AC, arithmetic,
lossless) are not bounded here.
"""

from __future__ import annotations

import math
import mmap
import re
import struct

_SEQUENTIAL = {0xC0, 0xC1}  # baseline, extended (Huffman)
_PROGRESSIVE = 0xC2
_OTHER_FRAMES = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # a marker other than a restart ends a scan's data


def _scan_blocks(frame: dict, ids: list[int]) -> int:
    """The blocks one scan of the frame codes: a component's own, or the interleaved MCUs'."""
    width, height, sampling = frame["width"], frame["height"], frame["sampling"]
    h_max = max(h for h, _ in sampling.values())
    v_max = max(v for _, v in sampling.values())
    if len(ids) == 1:
        h, v = sampling.get(ids[0], (h_max, v_max))
        return math.ceil(math.ceil(width * h / h_max) / 8) * math.ceil(math.ceil(height * v / v_max) / 8)
    mcus = math.ceil(width / (8 * h_max)) * math.ceil(height / (8 * v_max))
    return mcus * sum(h * v for h, v in (sampling.get(i, (1, 1)) for i in ids))


def _short_scan(data, frame: dict | None, segment: bytes, start: int) -> tuple[str | None, int]:
    """(a message when the scan starting at ``start`` holds too few bytes, else None; where its data ends)."""
    found = _SCAN_END.search(data, start)
    end = found.start() if found else len(data)
    count = segment[0] if segment else 0
    if frame is None or frame["kind"] not in _SEQUENTIAL | {_PROGRESSIVE} or not count or len(segment) < 4 + 2 * count:
        return None, end
    if frame["kind"] == _PROGRESSIVE and segment[1 + 2 * count] != 0:
        return None, end  # an AC scan: a run of empty blocks can cost almost nothing
    blocks = _scan_blocks(frame, [segment[1 + 2 * i] for i in range(count)])
    need = blocks * (2 if frame["kind"] in _SEQUENTIAL else 1) // 8
    if end - start >= need:
        return None, end
    return (f"premature end of JPEG data: a scan holds {end - start:,} bytes, fewer than the {need:,} its "
            f"{blocks:,} blocks need ({frame['width']}x{frame['height']} claimed); the rest of the picture is not "
            "in the file"), end


def premature_end(path) -> str | None:
    """The first scan of the JPEG file ``path`` that ends before its blocks do, in words; None if none."""
    with open(path, "rb") as handle:
        try:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty
            return None
    with data:
        frame, position = None, 2
        while position + 4 <= len(data) and data[position] == 0xFF:
            marker = data[position + 1]
            if marker == 0xFF:
                position += 1  # fill byte
                continue
            if marker == 0xD9:
                break
            if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
                position += 2
                continue
            length = struct.unpack(">H", data[position + 2:position + 4])[0]
            segment = data[position + 4:position + 2 + length]
            position += 2 + length
            if (marker in _SEQUENTIAL or marker == _PROGRESSIVE or marker in _OTHER_FRAMES) and len(segment) >= 6:
                height, width = struct.unpack(">HH", segment[1:5])
                sampling = {segment[6 + 3 * i]: (segment[7 + 3 * i] >> 4, segment[7 + 3 * i] & 15)
                            for i in range(segment[5]) if 8 + 3 * i <= len(segment)}
                if sampling and all(h and v for h, v in sampling.values()):
                    frame = {"kind": marker, "width": width, "height": height, "sampling": sampling}
            elif marker == 0xDA:
                message, position = _short_scan(data, frame, segment, position)
                if message:
                    return message
    return None
