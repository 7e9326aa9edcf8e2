"""Test images of every format and mode: a PNG writer for the kinds Pillow does not write
(Adam7, 16-bit colour, any bit depth, any chunk), streamed a row at a time so that pages of
40 MP cost little to make, and Pillow for the other formats."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _pack(samples: np.ndarray, depth: int) -> bytes:
    """One scanline's samples (uint8 or uint16) at ``depth`` bits, big-endian, padded to a byte."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    per = 8 // depth
    padded = np.zeros(-(-len(samples) // per) * per, np.uint8)
    padded[: len(samples)] = samples
    shifts = (8 - depth * (1 + np.arange(per))).astype(np.uint8)
    return (padded.reshape(-1, per) << shifts).sum(axis=1, dtype=np.uint16).astype(np.uint8).tobytes()


def png(width: int, height: int, colour: int, depth: int, row: Callable[[int], np.ndarray], *,
        interlace: bool = False, extra: bytes = b"", level: int = 1) -> bytes:
    """A PNG whose row ``y`` holds ``row(y)`` (width x channels samples), written a row at a time.

    ``extra`` (whole chunks: PLTE, tRNS, eXIf, ...) goes before the image data. Rows are not
    filtered (filter type 0), so the image data is exactly what ``row`` gives.
    """
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 1 if interlace else 0)
    channels = CHANNELS[colour]
    packer = zlib.compressobj(level)
    out = [SIGNATURE, chunk(b"IHDR", header), extra]
    idat = bytearray()
    for x0, y0, dx, dy in ADAM7 if interlace else ((0, 0, 1, 1),):
        if x0 >= width or y0 >= height:
            continue
        for y in range(y0, height, dy):
            samples = row(y).reshape(width, channels)[x0::dx].ravel()
            idat += packer.compress(b"\x00" + _pack(samples, depth))
            if len(idat) > 1 << 20:
                out.append(chunk(b"IDAT", bytes(idat)))
                idat.clear()
    idat += packer.flush()
    out += [chunk(b"IDAT", bytes(idat)), chunk(b"IEND", b"")]
    return b"".join(out)


def pad_png(data: bytes, total: int) -> bytes:
    """``data`` grown to ``total`` bytes by a private ancillary chunk before IEND (still a valid PNG)."""
    return data[:-12] + chunk(b"prVt", b"\0" * max(0, total - len(data) - 24)) + data[-12:]


def pad_jpeg(data: bytes, total: int) -> bytes:
    """``data`` grown to about ``total`` bytes by comment segments after SOI (still a valid JPEG)."""
    comments = bytearray()
    while len(data) + len(comments) + 65537 < total:
        comments += b"\xff\xfe\xff\xff" + b"\0" * 65533
    return data[:2] + bytes(comments) + data[2:]


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def exif_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()
