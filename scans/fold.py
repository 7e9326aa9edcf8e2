"""Folding decoded rows into a reduced page as they come: bounded memory, whatever the image.

A decoder that hands over its rows a few at a time (our streaming PNG reader, Pillow's image
read in bands) adds each pixel's luminance to the cell it falls in: EXIF orientation applied,
the side reduced by ``reduce`` (cell i covers pixels i*reduce onwards, as in
:func:`scans.scan.shrink`), and only the cells of a window kept. The page is never held at
full size; the sums take 4 bytes per kept cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True)
class Grid:
    """Where the pixels of a ``width`` x ``height`` image (as stored) go.

    ``orientation`` is the EXIF value (1 upright ... 8); ``reduce`` a power of two; ``window``
    (x0, y0, x1, y1) the cells kept, in the turned page reduced by ``reduce``.
    """

    width: int
    height: int
    orientation: int
    reduce: int
    window: tuple[int, int, int, int]

    def new_sums(self) -> np.ndarray:
        x0, y0, x1, y1 = self.window
        return np.zeros((y1 - y0, x1 - x0), np.uint32)

    def params(self) -> np.ndarray:
        """The kernel's view: width, height, orientation, log2(reduce), x0, y0."""
        x0, y0, _, _ = self.window
        shift = self.reduce.bit_length() - 1
        return np.array([self.width, self.height, self.orientation, shift, x0, y0], np.int64)

    def upright_size(self) -> tuple[int, int]:
        """(width, height) of the page once turned by its orientation."""
        return (self.height, self.width) if self.orientation >= 5 else (self.width, self.height)

    def finish(self, sums: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """The mean of each kept cell (``sums`` over its pixels) times ``scale``, rounded, as uint8."""
        width, height = self.upright_size()
        x0, y0, x1, y1 = self.window
        cols = np.minimum(self.reduce, width - np.arange(x0, x1, dtype=np.int64) * self.reduce)
        rows = np.minimum(self.reduce, height - np.arange(y0, y1, dtype=np.int64) * self.reduce)
        out = np.empty(sums.shape, np.uint8)
        finish_cells(sums, rows, cols, scale, out)
        return out


@numba.njit(inline="always")
def cell_of_row(params: np.ndarray, y: int) -> tuple[int, bool]:  # pragma: no cover - compiled
    """Where stored row ``y`` goes: the window's cell row it falls in (True: orientations 1-4,
    which keep rows as rows) or its cell column (False: 5-8, which turn rows into columns)."""
    height, orientation, shift = params[1], params[2], params[3]
    if orientation == 1 or orientation == 2:
        return (y >> shift) - params[5], True
    if orientation == 3 or orientation == 4:
        return ((height - 1 - y) >> shift) - params[5], True
    if orientation == 5 or orientation == 8:
        return (y >> shift) - params[4], False
    return ((height - 1 - y) >> shift) - params[4], False  # 6, 7


@numba.njit(inline="always")
def cell_of_column(params: np.ndarray, x: int) -> int:  # pragma: no cover - compiled
    """For stored column ``x``: the window's cell column (orientations 1-4) or cell row (5-8)."""
    width, orientation, shift = params[0], params[2], params[3]
    if orientation == 1 or orientation == 4:
        return (x >> shift) - params[4]
    if orientation == 2 or orientation == 3:
        return ((width - 1 - x) >> shift) - params[4]
    if orientation == 5 or orientation == 6:
        return (x >> shift) - params[5]
    return ((width - 1 - x) >> shift) - params[5]  # 7, 8


@numba.njit(cache=True, nogil=True, boundscheck=False)
def fold_band(band: np.ndarray, y0: int, params: np.ndarray, sums: np.ndarray) -> None:  # pragma: no cover
    """Add the uint8 luminance of stored rows ``y0 .. y0 + len(band)`` to their cells in ``sums``."""
    rows, cols = sums.shape
    for i in range(band.shape[0]):
        fixed, is_row = cell_of_row(params, y0 + i)
        if fixed < 0 or fixed >= (rows if is_row else cols):
            continue
        line = band[i]
        for x in range(band.shape[1]):
            other = cell_of_column(params, x)
            if is_row:
                if 0 <= other < cols:
                    sums[fixed, other] += line[x]
            elif 0 <= other < rows:
                sums[other, fixed] += line[x]


@numba.njit(cache=True, nogil=True, boundscheck=False)
def finish_cells(sums: np.ndarray, rows: np.ndarray, cols: np.ndarray, scale: float,
                 out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out`` = each cell's sum over its ``rows[i] * cols[j]`` pixels, times ``scale``, rounded, clipped to uint8.

    The last row and column of a page whose side is not a multiple of the reduction hold fewer pixels.
    """
    for i in range(sums.shape[0]):
        for j in range(sums.shape[1]):
            count = max(rows[i] * cols[j], 1)
            value = np.rint(sums[i, j] * scale / count)
            out[i, j] = 255 if value > 255 else (0 if value < 0 else np.uint8(value))
