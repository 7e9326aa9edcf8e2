"""What a TIFF costs Pillow before and beside its page: the tags it unpacks and the strip or
tile buffers libtiff holds."""

from __future__ import annotations

import struct

from PIL import Image

from scans.errors import ImageTooLargeError

# into a Python object (tens of bytes), and a strip or tile list becomes a tile entry each.
_TIFF_VALUES = 1 << 16
_TIFF_TILE_BYTES = 400


def check_tiff_tags(data: bytes) -> int:
    """The bytes of the tag values Pillow reads into memory from a TIFF's first directory and
    the EXIF, GPS and interoperability directories it points to. A TIFF whose numeric tags hold
    more values than Pillow should unpack (each becomes a Python object, each strip or tile an
    entry) is refused."""
    order = "<" if data[:2] == b"II" else ">"
    try:
        directories = [struct.unpack(order + "I", data[4:8])[0]]
    except struct.error:
        return 0  # Pillow names the damage
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
    values = payload = 0
    seen: set[int] = set()
    while directories and len(seen) < 8:
        offset = directories.pop()
        if offset in seen or offset + 2 > len(data):
            continue
        seen.add(offset)
        entries = struct.unpack(order + "H", data[offset : offset + 2])[0]
        for entry in range(offset + 2, min(offset + 2 + 12 * entries, len(data) - 11), 12):
            tag, kind, count = struct.unpack(order + "HHI", data[entry : entry + 8])
            if kind in sizes:
                count = min(count, len(data) // sizes[kind])  # Pillow reads no further than the file
                payload += count * sizes[kind]
                if kind not in (1, 2, 6, 7):  # bytes and text stay bytes; numbers become objects
                    values += count
            if tag in _TIFF_POINTERS and kind in (4, 13):
                directories.append(struct.unpack(order + "I", data[entry + 8 : entry + 12])[0])
    if values > _TIFF_VALUES:
        raise ImageTooLargeError(f"TIFF directories hold {values} numeric values (strip and tile lists); "
                                 f"at most {_TIFF_VALUES} are read")
    return min(payload, len(data)) + values * 40


# Tags that point to the EXIF, GPS and interoperability directories, which Pillow reads on loading.
_TIFF_POINTERS = frozenset((0x8769, 0x8825, 0xA005))


def tiff_buffers(image: Image.Image) -> int:
    """Bytes libtiff and Pillow hold beside a TIFF's page: a strip or tile decoded (as RGBA for
    YCbCr data), and Pillow's entry per strip or tile."""
    tags = getattr(image, "tag_v2", {})
    width, height = image.size
    try:
        bits = tags.get(258, 1)
        bits = max(int(b) for b in bits) if isinstance(bits, tuple) else int(bits)
        samples = int(tags.get(277, 1))
        rows = min(int(tags.get(278, height)), height)
        tile_width, tile_height = int(tags.get(322, 0)), int(tags.get(323, 0))
        rgba = int(tags.get(262, 0)) == 6 or int(tags.get(259, 1)) == 6  # YCbCr, old-style JPEG
    except (TypeError, ValueError):
        return 8 * width * height  # tags too damaged to size the buffers: assume the worst
    if tile_width > 0 and tile_height > 0:
        span, lines = tile_width, tile_height
        pieces = -(-width // tile_width) * -(-height // tile_height)
    else:
        span, lines = width, max(rows, 1)
        pieces = -(-height // lines)
    row = 4 * span if rgba else -(-span * max(samples, 1) * max(bits, 1) // 8)
    return lines * row + pieces * _TIFF_TILE_BYTES
