"""Every kind of PNG, read row by row into a reduced page: memory bounded whatever its size.

:mod:`scans.png` decodes the common case (8-bit grey or RGB) whole, as fast as it can. Every
other PNG, and any PNG too large to hold whole, comes here: 1, 2, 4, 8 and 16 bits; grey,
RGB, palette, grey + alpha, RGBA; palette transparency; Adam7 interlacing; EXIF orientation.
The image data is inflated a block at a time (ISA-L, never past the rows the header declares),
each row is unfiltered and turned into luminance, and folded into its cell of the reduced
page (:mod:`scans.fold`) at once. Nothing of the page is held at full size: a 6300x6300 RGBA
scan read at 1/8 scale takes about 2 MB beyond its file.

Luminance is what the careful path always gave: transparency is paper (alpha composited over
white), 16-bit grey is scaled by its content (full range, 12 bits or 8 bits), 16-bit colour
keeps its high byte, palette entries are converted once.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import numba
import numpy as np
from isal import isal_zlib

from scans.errors import InvalidImageError
from scans.fold import Grid, cell_of_column, cell_of_row
from scans.orientation import exif_orientation
from scans.png import SIGNATURE, _predictor

_GREY, _RGB, _PALETTE, _GREY_ALPHA, _RGBA = 0, 2, 3, 4, 6
_CHANNELS = {_GREY: 1, _RGB: 3, _PALETTE: 1, _GREY_ALPHA: 2, _RGBA: 4}
_DEPTHS = {_GREY: (1, 2, 4, 8, 16), _RGB: (8, 16), _PALETTE: (1, 2, 4, 8), _GREY_ALPHA: (8, 16), _RGBA: (8, 16)}
# Adam7: (first column, first row, column step, row step) of each pass.
_ADAM7 = np.array([[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]],
                  np.int64)
_PLAIN = np.array([[0, 0, 1, 1]], np.int64)
# Inflated bytes asked for at a time (at least a row more).
BLOCK = 1 << 18
# Compressed bytes handed to the inflater at a time.
_IN_STEP = 1 << 14


class PngFile(NamedTuple):
    """What the chunks of a PNG say, and where its image data is."""

    width: int
    height: int
    depth: int
    colour: int
    interlaced: bool
    palette: bytes
    transparency: bytes | None
    orientation: int
    exif: bool
    idat: list[memoryview]

    @property
    def row_bytes(self) -> int:
        """Bytes of the longest row (the full width), without its filter byte."""
        return (self.width * _CHANNELS[self.colour] * self.depth + 7) // 8

    def memory(self, cells: int) -> int:
        """Bytes that reading it into ``cells`` cells takes at most, beyond the file."""
        # Two rows, the inflater's output and its join with the last partial row, the sums and
        # the result per cell, and the inflater's own state.
        return 2 * self.row_bytes + 3 * max(BLOCK, self.row_bytes + 1) + 6 * cells + (2 << 20)


def parse_png(data: bytes) -> PngFile:
    """Read the header and walk the chunks of ``data`` (a PNG). Raises InvalidImageError, naming what is wrong."""
    if not data.startswith(SIGNATURE):
        raise InvalidImageError("not a recognised image format: no PNG signature")
    if len(data) < 33 or data[12:16] != b"IHDR" or struct.unpack(">I", data[8:12])[0] != 13:
        raise InvalidImageError(f"image header is corrupt: the PNG file ends or is damaged within its header "
                                f"({len(data)} bytes, no complete IHDR chunk)")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if not width or not height or width >= 1 << 31 or height >= 1 << 31:
        raise InvalidImageError(f"image header is corrupt: the PNG header gives a size of {width}x{height}")
    if colour not in _DEPTHS or depth not in _DEPTHS[colour]:
        raise InvalidImageError(f"image header is corrupt: the PNG header gives bit depth {depth} "
                                f"for colour type {colour}")
    if compression or filtering or interlace > 1:
        raise InvalidImageError(f"image header is corrupt: the PNG header gives compression {compression}, "
                                f"filter {filtering}, interlace {interlace} (only 0, 0, 0 or 1 exist)")
    palette, transparency, orientation, exif = b"", None, 1, False
    idat: list[memoryview] = []
    view = memoryview(data)
    pos = 33
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = view[pos + 8 : min(pos + 8 + length, len(data))]  # a cut-off chunk keeps what is there
        if kind == b"IDAT":
            idat.append(body)
        elif kind == b"PLTE" and not palette:
            palette = bytes(body[: len(body) - len(body) % 3])
        elif kind == b"tRNS" and transparency is None:
            transparency = bytes(body)
        elif kind == b"eXIf":
            exif = True
            orientation = exif_orientation(bytes(body[: 1 << 16])) or 1  # the entry sits in the first directory
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not idat:
        raise InvalidImageError("image data is corrupt or truncated: the PNG file has no image data (no IDAT chunk)")
    if colour == _PALETTE and not palette:
        raise InvalidImageError("image header is corrupt: the PNG palette image has no palette (no PLTE chunk)")
    return PngFile(width, height, depth, colour, bool(interlace), palette, transparency, orientation, exif, idat)


def read_png(png: PngFile, grid: Grid) -> np.ndarray:
    """The cells of ``grid`` of the PNG's luminance, as uint8. Raises InvalidImageError on damaged data."""
    passes = _ADAM7 if png.interlaced else _PLAIN
    spec = np.array([png.width, png.height, png.depth, png.colour, _CHANNELS[png.colour]], np.int64)
    state = np.zeros(3, np.int64)  # pass, row within the pass, peak of 16-bit grey
    prev = np.zeros(png.row_bytes, np.uint8)
    cur = np.zeros(png.row_bytes, np.uint8)
    lut = _palette_luminance(png)
    params = grid.params()
    sums = grid.new_sums()
    ask = max(BLOCK, png.row_bytes + 1)
    inflater = isal_zlib.decompressobj()
    pending = b""
    done = False
    try:
        for data in _slices(png.idat):
            while True:
                # At most ``ask`` bytes out per call: a small file can inflate to gigabytes.
                out = inflater.decompress(data, ask)
                data = inflater.unconsumed_tail
                if out:
                    buffer = pending + out if pending else out
                    used = _fold_rows(np.frombuffer(buffer, np.uint8), passes, spec, state, prev, cur, lut, params,
                                      sums)
                    if used < 0:
                        raise InvalidImageError(f"image data is corrupt or truncated: PNG row filter type {-used - 1} "
                                                "does not exist")
                    pending = buffer[used:]
                    done = state[0] >= len(passes)
                if done or inflater.eof or (not data and len(out) < ask):
                    break
            if done or inflater.eof:
                break
    except isal_zlib.error as exc:
        raise InvalidImageError(f"image data is corrupt or truncated: the PNG image data does not inflate "
                                f"({exc})") from exc
    if state[0] < len(passes):
        raise InvalidImageError("image data is corrupt or truncated: the PNG image data ends before the last "
                                "row its header declares")
    if png.colour == _GREY and png.depth == 16:
        peak = int(state[2])
        # 16-bit scans use either the full 0..65535 range or just 12 bits; scale by content.
        return grid.finish(sums, 255.0 / (65535.0 if peak > 4095 else 4095.0 if peak > 255 else 255.0))
    return grid.finish(sums)


def _slices(pieces: list[memoryview]):
    """The image data a little at a time, so that the inflater's unconsumed input stays small."""
    for piece in pieces:
        for start in range(0, len(piece), _IN_STEP):
            yield piece[start : start + _IN_STEP]


def _palette_luminance(png: PngFile) -> np.ndarray:
    """Luminance of each palette entry (missing entries are black), transparency composited over white."""
    lut = np.zeros(256, np.uint8)
    if png.colour != _PALETTE:
        return lut
    rgb = np.frombuffer(png.palette, np.uint8).reshape(-1, 3)[:256].astype(np.int64)
    if png.transparency is None:
        # Pillow's conversion of a palette image to grey (ITU-R 601-2 luma, rounded).
        lut[: len(rgb)] = (rgb[:, 0] * 19595 + rgb[:, 1] * 38470 + rgb[:, 2] * 7471 + 0x8000) >> 16
        return lut
    alpha = np.full(len(rgb), 255.0)
    given = np.frombuffer(png.transparency, np.uint8)[: len(rgb)]
    alpha[: len(given)] = given
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    lut[: len(rgb)] = np.clip(np.rint(grey * alpha / 255.0 + 255.0 * (1.0 - alpha / 255.0)), 0, 255)
    return lut


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _fold_rows(raw, passes, spec, state, prev, cur, lut, params, sums):  # pragma: no cover - compiled
    """Unfilter and fold the complete rows at the start of ``raw``; the bytes used, or -1 - the
    filter type of a row whose filter does not exist. ``state`` carries the pass, the row and
    the 16-bit peak from one block to the next."""
    width, height, depth, colour, channels = spec[0], spec[1], spec[2], spec[3], spec[4]
    bpp = max(1, channels * depth // 8)  # the filters' byte distance
    nrows, ncols = sums.shape
    pos = 0
    while state[0] < passes.shape[0]:
        x0, y0, dx, dy = passes[state[0], 0], passes[state[0], 1], passes[state[0], 2], passes[state[0], 3]
        pw = (width - x0 + dx - 1) // dx if width > x0 else 0
        ph = (height - y0 + dy - 1) // dy if height > y0 else 0
        if pw == 0 or ph == 0 or state[1] >= ph:
            state[0] += 1
            state[1] = 0
            prev[:] = 0  # each pass starts as if above an all-zero row
            continue
        nbytes = (pw * channels * depth + 7) // 8
        if pos + 1 + nbytes > raw.shape[0]:
            break
        kind = raw[pos]
        if kind > 4:
            return -1 - np.int64(kind)
        _unfilter_row(raw, pos + 1, prev, cur, nbytes, bpp, kind)
        pos += 1 + nbytes
        y = y0 + state[1] * dy
        state[1] += 1
        if colour == 0 and depth == 16:
            for i in range(pw):
                value = (np.int64(cur[2 * i]) << 8) | cur[2 * i + 1]
                if value > state[2]:
                    state[2] = value
        fixed, is_row = cell_of_row(params, y)
        if 0 <= fixed < (nrows if is_row else ncols):
            for i in range(pw):
                other = cell_of_column(params, x0 + i * dx)
                if not 0 <= other < (ncols if is_row else nrows):
                    continue
                value = _luminance(cur, i, depth, colour, lut)
                if is_row:
                    sums[fixed, other] += value
                else:
                    sums[other, fixed] += value
        prev[:nbytes] = cur[:nbytes]
    return pos


@numba.njit(inline="always", boundscheck=False)
def _unfilter_row(raw, start, prev, cur, nbytes, bpp, kind):  # pragma: no cover - compiled
    if kind == 0:
        cur[:nbytes] = raw[start : start + nbytes]
    elif kind == 2:
        for k in range(nbytes):
            cur[k] = (np.int32(raw[start + k]) + np.int32(prev[k])) & 255
    else:
        for k in range(nbytes):
            left = np.int32(cur[k - bpp]) if k >= bpp else np.int32(0)
            corner = np.int32(prev[k - bpp]) if k >= bpp else np.int32(0)
            cur[k] = (np.int32(raw[start + k]) + _predictor(kind, left, np.int32(prev[k]), corner)) & 255


@numba.njit(inline="always", boundscheck=False)
def _luminance(row, i, depth, colour, lut):  # pragma: no cover - compiled
    """Pixel ``i`` of an unfiltered row: 8-bit luminance, or the raw value of 16-bit grey."""
    if colour == 0:
        if depth == 16:
            return (np.int64(row[2 * i]) << 8) | row[2 * i + 1]
        if depth == 8:
            return np.int64(row[i])
        return _packed(row, i, depth) * 255 // ((1 << depth) - 1)
    if colour == 3:
        return np.int64(lut[_packed(row, i, depth)])
    step = depth // 8  # 16-bit samples keep their high byte
    if colour == 2:
        base = 3 * i * step
        red, green, blue = np.int64(row[base]), np.int64(row[base + step]), np.int64(row[base + 2 * step])
        return (red * 4899 + green * 9617 + blue * 1868 + 8192) >> 14  # OpenCV's RGB to grey
    if colour == 4:
        base = 2 * i * step
        grey = np.float64(row[base])
        alpha = np.float64(row[base + step]) / 255.0
    else:
        base = 4 * i * step
        grey = 0.299 * row[base] + 0.587 * row[base + step] + 0.114 * row[base + 2 * step]
        alpha = np.float64(row[base + 3 * step]) / 255.0
    # Composite over white paper: transparent pixels become paper, opaque keep their tone.
    return np.int64(np.rint(grey * alpha + 255.0 * (1.0 - alpha)))


@numba.njit(inline="always", boundscheck=False)
def _packed(row, i, depth):  # pragma: no cover - compiled
    """Sample ``i`` of a row of 1, 2, 4 or 8-bit samples."""
    if depth == 8:
        return np.int64(row[i])
    bit = i * depth
    return (np.int64(row[bit >> 3]) >> (8 - depth - (bit & 7))) & ((1 << depth) - 1)
