"""EXIF orientation read from the raw bytes, without parsing (or allocating for) the rest.

Pillow's own EXIF reader turns every numeric tag of the first directory into Python tuples:
an EXIF block of a few MB (a PNG's eXIf chunk, a WebP's EXIF chunk have no size limit) would
cost tens of MB. Here only the orientation entry is looked for.
"""

from __future__ import annotations

import re
import struct

_ORIENTATION = 0x0112
_SHORT = 3
_XMP = re.compile(rb'tiff:Orientation(="|>)([0-9])')


def exif_orientation(exif: bytes) -> int | None:
    """The Orientation (1-8) of a TIFF-structured EXIF block (``Exif\\0\\0`` prefix or not).

    None if absent or broken."""
    if exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    if len(exif) < 8 or exif[:2] not in (b"II", b"MM"):
        return None
    order = "<" if exif[:2] == b"II" else ">"
    offset = struct.unpack(order + "I", exif[4:8])[0]
    if offset + 2 > len(exif):
        return None
    count = struct.unpack(order + "H", exif[offset : offset + 2])[0]
    for entry in range(offset + 2, min(offset + 2 + 12 * count, len(exif) - 11), 12):
        tag, kind = struct.unpack(order + "HH", exif[entry : entry + 4])
        if tag == _ORIENTATION and kind == _SHORT:
            value = struct.unpack(order + "H", exif[entry + 8 : entry + 10])[0]
            return value if 1 <= value <= 8 else None
    return None


def xmp_orientation(xmp: bytes | str | None) -> int | None:
    """The ``tiff:Orientation`` of an XMP packet, as Pillow reads it; None if absent."""
    if not xmp:
        return None
    match = _XMP.search(xmp.encode("utf-8", "replace") if isinstance(xmp, str) else xmp)
    value = int(match[2]) if match else 0
    return value if 1 <= value <= 8 else None
