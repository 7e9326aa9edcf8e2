"""A JPEG's header, read without decoding: its size, sampling, orientation, and whether libjpeg
will hold every DCT coefficient of the page while it decodes it."""

from __future__ import annotations

import struct
from typing import NamedTuple

from scans.orientation import exif_orientation
from scans.scan import ceil_div


class JpegHeader(NamedTuple):
    width: int
    height: int
    precision: int
    components: tuple[tuple[int, int], ...]  # (horizontal, vertical) sampling of each
    buffered: bool  # progressive, or several scans: every coefficient is kept (True: maybe, for small pages)
    orientation: int

    @property
    def plain(self) -> bool:
        """8-bit grey or YCbCr/RGB: what OpenCV reads exactly as Pillow would."""
        return self.precision == 8 and len(self.components) in (1, 3)

    def coefficients(self) -> int:
        """Bytes libjpeg holds for the whole page's DCT coefficients (0 unless buffered)."""
        if not self.buffered:
            return 0
        most_h = max(h for h, _ in self.components)
        most_v = max(v for _, v in self.components)
        total = 0
        for h, v in self.components:
            blocks_x = ceil_div(ceil_div(self.width * h, most_h), 8) + h
            blocks_y = ceil_div(ceil_div(self.height * v, most_v), 8) + v
            total += blocks_x * blocks_y * 128
        return total


# Start-of-frame markers of baseline, extended, progressive and lossless JPEG; the progressive ones.
_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
_PROGRESSIVE = frozenset((0xC2, 0xC6, 0xCA, 0xCE))


# Up to this many pixels a JPEG's coefficients take at most 6 MB: the walk stops at the frame.
SMALL_JPEG = 1 << 20
_U16 = struct.Struct(">H")
_FRAME = struct.Struct(">BHHB")


def parse_jpeg(data: bytes) -> JpegHeader | None:
    """Walk the JPEG segments to the first scan; None if they are malformed or there is no frame."""
    pos, orientation, size = 2, 1, len(data)
    frame: tuple[int, int, int, tuple[tuple[int, int], ...], bool] | None = None
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a segment
            pos += 2
            continue
        length = _U16.unpack_from(data, pos + 2)[0]
        start, end = pos + 4, pos + 2 + length
        if length < 2 or end > size:
            return None
        if marker == 0xE1 and data.startswith(b"Exif\x00\x00", start):
            orientation = exif_orientation(data[start:end]) or 1
        elif marker in _SOF:
            if length < 8 or length < 8 + 3 * data[start + 5]:
                return None
            precision, height, width, count = _FRAME.unpack_from(data, start)
            sampling = tuple((data[start + 7 + 3 * i] >> 4, data[start + 7 + 3 * i] & 15) for i in range(count))
            if not width or not height or not count or any(not h or not v for h, v in sampling):
                return None
            frame = (width, height, precision, sampling, marker in _PROGRESSIVE)
            if width * height <= SMALL_JPEG:  # no need to know: even every coefficient is little
                return JpegHeader(width, height, precision, sampling, True, orientation)
        elif marker == 0xDA:  # the first scan: all components in it, or one scan per component
            if frame is None or length < 3:
                return None
            width, height, precision, sampling, progressive = frame
            buffered = progressive or data[start] < len(sampling)
            return JpegHeader(width, height, precision, sampling, buffered, orientation)
        pos = end
    return None
