import io
import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from scans.png import decode_png


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _filtered(pixels: np.ndarray, kinds: list[int], bpp: int) -> bytes:
    """PNG scanlines of ``pixels`` (height, stride), row y filtered with ``kinds[y]``."""
    out = bytearray()
    prev = np.zeros(pixels.shape[1], np.int32)
    for row, kind in zip(pixels.astype(np.int32), kinds):
        left = np.concatenate([np.zeros(bpp, np.int32), row[:-bpp]])
        corner = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
        if kind == 4:
            p = left + prev - corner
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - corner)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, corner))
        elif kind in (1, 2, 3):
            predictor = [left, prev, (left + prev) // 2][kind - 1]
        else:  # 0, or a type that does not exist
            predictor = np.zeros_like(row)
        out.append(kind)
        out += ((row - predictor) % 256).astype(np.uint8).tobytes()
        prev = row
    return bytes(out)


def _png(pixels: np.ndarray, colour: int, kinds: list[int], extra: bytes = b"") -> bytes:
    height, width = pixels.shape[:2]
    bpp = 1 if colour == 0 else 3
    rows = pixels.reshape(height, width * bpp)
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    data = zlib.compress(_filtered(rows, kinds, bpp))
    # Split the image data over two IDAT chunks, as encoders with small buffers do.
    half = len(data) // 2
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + extra + _chunk(b"IDAT", data[:half])
            + _chunk(b"IDAT", data[half:]) + _chunk(b"IEND", b""))


def _reference(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


@pytest.mark.parametrize("colour", [0, 2])
def test_every_row_filter_decodes_like_libpng(colour):
    rng = np.random.default_rng(colour)
    shape = (25, 31) if colour == 0 else (25, 31, 3)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    data = _png(pixels, colour, [y % 5 for y in range(25)])
    got = decode_png(data)
    assert got is not None
    if colour == 0:
        assert np.array_equal(got, pixels)
    # libpng's RGB-to-grey weights and OpenCV's agree to within one grey level.
    assert np.abs(got.astype(int) - _reference(data)).max() <= (0 if colour == 0 else 1)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_pillow_scans_decode_like_libpng(mode):
    rng = np.random.default_rng(1)
    page = np.clip(rng.normal(200, 8, (120, 90)), 0, 255).astype(np.uint8)
    page[30:90, 40:50] = 30
    image = Image.fromarray(page).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    got = decode_png(buffer.getvalue())
    assert got is not None and got.shape == page.shape
    assert np.abs(got.astype(int) - _reference(buffer.getvalue())).max() <= (0 if mode == "L" else 1)


def test_one_pixel_wide_and_one_row_images():
    for shape in ((1, 1), (1, 40), (40, 1)):
        pixels = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
        assert np.array_equal(decode_png(_png(pixels, 0, [4] * shape[0])), pixels)


@pytest.mark.parametrize("mode", ["P", "LA", "RGBA", "I;16", "1"])
def test_other_kinds_are_left_to_the_careful_path(mode):
    image = Image.fromarray(np.full((8, 8), 100, np.uint8))
    image = image.convert(mode) if mode != "I;16" else Image.fromarray(np.full((8, 8), 1000, np.uint16))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert decode_png(buffer.getvalue()) is None


def test_transparency_orientation_and_interlacing_are_left_to_the_careful_path():
    pixels = np.full((8, 8), 100, np.uint8)
    assert decode_png(_png(pixels, 0, [0] * 8, extra=_chunk(b"tRNS", b"\x00\x64"))) is None
    assert decode_png(_png(pixels, 0, [0] * 8, extra=_chunk(b"eXIf", b"MM\x00*"))) is None
    plain = _png(pixels, 0, [0] * 8)
    assert decode_png(plain) is not None
    interlaced = plain[:28] + b"\x01" + plain[29:]  # IHDR's interlace method: Adam7
    assert decode_png(interlaced) is None


def test_damaged_files_are_left_to_the_careful_path():
    pixels = np.random.default_rng(2).integers(0, 256, (30, 30), dtype=np.uint8)
    good = _png(pixels, 0, [4] * 30)
    assert decode_png(good) is not None
    assert decode_png(good[:-20]) is None  # truncated: no IEND
    assert decode_png(good[:60] + b"\x00" * 40 + good[100:]) is None  # image data overwritten
    assert decode_png(_png(pixels, 0, [7] * 30)) is None  # unknown filter type
    short = _png(pixels[:20], 0, [0] * 20)
    assert decode_png(short.replace(struct.pack(">II", 30, 20), struct.pack(">II", 30, 30), 1)) is None
    assert decode_png(b"\x89PNG\r\n\x1a\n") is None and decode_png(b"") is None


def test_image_data_that_inflates_past_its_header_is_not_inflated_whole():
    # A 10x10 header over 100 MB of zeros: the kind of file that takes a server's memory.
    header = struct.pack(">IIBBBBB", 10, 10, 8, 0, 0, 0, 0)
    bomb = zlib.compress(b"\0" * 100_000_000, 9)
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", bomb) + _chunk(b"IEND", b""))
    tracemalloc.start()
    try:
        assert decode_png(data) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000
