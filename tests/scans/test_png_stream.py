"""The row-by-row PNG reader: every kind of PNG gives the luminance Pillow's careful path gave,
at full size and reduced, turned by EXIF, and windowed, without holding the page."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from scans.decode import decode_grey, open_scan
from scans.errors import InvalidImageError
from scans.fold import Grid
from scans.png_stream import parse_png, read_png
from scans.scan import shrink
from tests.scans import images

W, H = 53, 37


def _reference(data: bytes) -> np.ndarray:
    """What the careful path made of a PNG before: Pillow, EXIF applied, alpha over white,
    16-bit grey scaled by its content."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3] / 255.0
        grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.clip(np.rint(grey * alpha + 255.0 * (1.0 - alpha)), 0, 255).astype(np.uint8)
    if image.mode.startswith("I"):
        arr = np.asarray(image, dtype=np.float32)
        peak = arr.max()
        scale = 255.0 / (65535.0 if peak > 4095 else 4095.0 if peak > 255 else 255.0)
        return np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
    return np.asarray(image.convert("L"))


def _kinds():
    """(name, colour type, depth, samples (H, W, channels), extra chunks) of every kind of PNG."""
    rng = np.random.default_rng(7)
    for depth in (1, 2, 4, 8, 16):
        yield f"grey {depth}", 0, depth, rng.integers(0, 1 << depth, (H, W, 1)), b""
    for depth in (8, 16):
        top = 1 << depth
        yield f"RGB {depth}", 2, depth, rng.integers(0, top, (H, W, 3)), b""
        yield f"grey+alpha {depth}", 4, depth, rng.integers(0, top, (H, W, 2)), b""
        yield f"RGBA {depth}", 6, depth, rng.integers(0, top, (H, W, 4)), b""
    for depth in (1, 2, 4, 8):
        entries = 1 << depth
        palette = images.chunk(b"PLTE", rng.integers(0, 256, 3 * entries, dtype=np.uint8).tobytes())
        samples = rng.integers(0, entries, (H, W, 1))
        yield f"palette {depth}", 3, depth, samples, palette
        alpha = rng.integers(0, 256, max(1, entries // 2), dtype=np.uint8).tobytes()  # some entries without
        yield f"palette {depth} transparent", 3, depth, samples, palette + images.chunk(b"tRNS", alpha)
    yield "grey 16 in 12 bits", 0, 16, rng.integers(0, 4096, (H, W, 1)), b""


KINDS = list(_kinds())


def _encode(colour, depth, samples, extra, interlace=False) -> bytes:
    rows = samples.astype(np.uint16 if depth == 16 else np.uint8)
    return images.png(W, H, colour, depth, lambda y: rows[y].ravel(), interlace=interlace, extra=extra)


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize(("name", "colour", "depth", "samples", "extra"), KINDS, ids=[k[0] for k in KINDS])
def test_every_kind_of_png_reads_as_the_careful_path_did(name, colour, depth, samples, extra, interlace):
    data = _encode(colour, depth, samples, extra, interlace)
    png = parse_png(data)
    got = read_png(png, Grid(W, H, 1, 1, (0, 0, W, H)))
    expected = _reference(data)
    # Pillow keeps 16-bit colour's high byte as we do. RGB's weights are OpenCV's, transparency is
    # composited in double precision: one level apart at most.
    assert np.abs(got.astype(int) - expected).max() <= (1 if colour == 2 or b"tRNS" in extra else 0), name
    # Plain 8-bit RGB takes the fast path (OpenCV's conversion, in its own fixed point).
    assert np.abs(decode_grey(data).astype(int) - got).max() <= (1 if colour == 2 else 0)


@pytest.mark.parametrize("reduce", [2, 4, 8])
def test_reduced_reading_averages_each_cell(reduce):
    name, colour, depth, samples, extra = KINDS[[k[0] for k in KINDS].index("RGBA 8")]
    data = _encode(colour, depth, samples, extra, interlace=True)
    got = decode_grey(data, reduce=reduce)
    full = _reference(data).astype(np.float64)
    assert got.shape == (-(-H // reduce), -(-W // reduce))
    # Whole cells are the mean of their pixels, exactly; the last row and column average what they hold.
    inner = full[: H // reduce * reduce, : W // reduce * reduce]
    means = inner.reshape(H // reduce, reduce, W // reduce, reduce).mean(axis=(1, 3))
    assert np.abs(got[: H // reduce, : W // reduce] - np.rint(means)).max() <= 1
    assert abs(float(got[-1, -1]) - full[(H - 1) // reduce * reduce :, (W - 1) // reduce * reduce :].mean()) <= 1


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("reduce", [1, 4])
def test_exif_orientation_and_windows_read_the_upright_page(orientation, reduce):
    rng = np.random.default_rng(orientation)
    samples = rng.integers(0, 256, (H, W, 4))
    data = _encode(6, 8, samples, images.chunk(b"eXIf", images.exif_with_orientation(orientation)))
    upright = _reference(data)
    scan = open_scan(data)
    assert scan.size == (upright.shape[1], upright.shape[0])
    whole = scan.read(reduce)
    if reduce == 1:
        assert np.array_equal(whole, upright)
    window = (1, 2, whole.shape[1] - 1, whole.shape[0] - 3)
    assert np.array_equal(scan.read(reduce, window), whole[2:-3, 1:-1])


def test_damage_is_named():
    data = _encode(2, 8, np.zeros((H, W, 3)), b"")
    idat = data.find(b"IDAT")
    cases = {
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDRIEND": "header",
        data[:idat - 4] + images.chunk(b"IEND", b""): "no image data",
        data[:-40]: "ends before the last row",
        data[: idat + 10] + b"\xff" * 20 + data[idat + 30 :]: "does not inflate",
        data.replace(struct.pack(">II", W, H), struct.pack(">II", 0, H), 1): "size of 0x37",
        data[:24] + bytes([3]) + data[25:]: "bit depth 3",
    }
    for bad, words in cases.items():
        with pytest.raises(InvalidImageError, match=words):
            decode_grey(bad)


def test_image_data_that_inflates_past_its_rows_is_not_inflated_whole():
    # A 10x10 header over 100 MB of zeros: reading stops at the last row.
    header = images.chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 10, 8, 6, 0, 0, 0))
    data = images.SIGNATURE + header + images.chunk(b"IDAT", zlib.compress(b"\0" * 100_000_000, 9))
    tracemalloc.start()
    try:
        assert decode_grey(data + images.chunk(b"IEND", b"")).shape == (10, 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_a_large_page_is_never_held_whole():
    # 4000x4000 RGBA: 64 MB decoded, 16 MB as grey; read at 1/8 scale it takes a row or two.
    side = 4000
    blank = np.full((side, 4), 255, np.uint8)
    data = images.png(side, side, 6, 8, lambda y: blank.ravel())
    tracemalloc.start()
    try:
        out = decode_grey(data, reduce=8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (500, 500) and (out == 255).all()
    assert peak < 4_000_000


def test_every_reduced_grid_matches_the_fast_decoders_for_plain_pngs():
    # A plain grey PNG too large for the fast path is read row by row: the same page, to a level.
    rng = np.random.default_rng(3)
    page = rng.integers(0, 256, (H, W), dtype=np.uint8)
    data = images.png(W, H, 0, 8, lambda y: page[y])
    for reduce in (1, 2, 4, 8):
        png = parse_png(data)
        rows = read_png(png, Grid(W, H, 1, reduce, (0, 0, -(-W // reduce), -(-H // reduce))))
        # shrink halves by steps with OpenCV, repeating an odd last row: interior cells agree.
        fast = shrink(page, reduce)
        inner = (H // reduce, W // reduce)
        assert np.abs(rows[: inner[0], : inner[1]].astype(int) - fast[: inner[0], : inner[1]]).max() <= 1
