"""Shrinking a digit's crop to MNIST's 20 px box by area averaging, with its strokes stretched.

This is OpenCV's INTER_AREA (each output pixel is the mean of the input pixels its footprint
covers, edge pixels weighted by their share) fused with the stretch to full white. OpenCV
takes a general, unvectorised path for ratios that are not whole numbers, which is every
digit; here rows are summed first, a whole row at a time, so the work vectorises, and the
stretch costs no extra pass over the crop.
"""

from __future__ import annotations

import numba
import numpy as np

from scans.levels import IMAGE


@numba.njit(cache=True, nogil=True)
def area_table(size: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """(source index, target index, weight) of every input pixel's share in an output pixel.

    The same shares as OpenCV's ``computeResizeAreaTab`` for shrinking ``size`` to ``target``.
    """
    scale = size / target
    sources = np.empty(size + target + 1, np.int64)
    targets = np.empty(size + target + 1, np.int64)
    weights = np.empty(size + target + 1, np.float32)
    count = 0
    for out in range(target):
        start = out * scale
        stop = start + scale
        cell = min(scale, size - start)
        first = min(int(np.ceil(start)), size - 1)
        last = min(int(np.floor(stop)), size - 1)
        if first - start > 1e-3:
            sources[count], targets[count], weights[count] = first - 1, out, (first - start) / cell
            count += 1
        for index in range(first, last):
            sources[count], targets[count], weights[count] = index, out, 1.0 / cell
            count += 1
        if stop - last > 1e-3:
            sources[count], targets[count], weights[count] = last, out, min(min(stop - last, 1.0), cell) / cell
            count += 1
    return sources[:count], targets[:count], weights[:count]


# Signatures for every layout (crops are views, or copies), compiled when the module is first
# imported rather than once per layout met while reading.
@numba.njit([numba.float32[:, ::1](IMAGE, numba.float64, numba.int64, numba.int64)],
            cache=True, nogil=True, boundscheck=False)
def shrink_stretched(crop: np.ndarray, gain: float, width: int, height: int) -> np.ndarray:  # pragma: no cover
    """``min(crop * gain, 255)`` shrunk to ``height`` x ``width`` by area averaging (float32).

    Both output sides must be at most the crop's.
    """
    rows, cols = crop.shape
    row_src, row_dst, row_w = area_table(rows, height)
    col_src, col_dst, col_w = area_table(cols, width)
    stretched = np.empty(cols, np.float32)
    tall = np.zeros((height, cols), np.float32)
    g = np.float32(gain)
    for k in range(len(row_src)):
        line = crop[row_src[k]]
        for x in range(cols):
            stretched[x] = min(np.float32(line[x]) * g, np.float32(255.0))
        acc = tall[row_dst[k]]
        w = row_w[k]
        for x in range(cols):
            acc[x] += w * stretched[x]
    out = np.zeros((height, width), np.float32)
    for k in range(len(col_src)):
        source, target, w = col_src[k], col_dst[k], col_w[k]
        for y in range(height):
            out[y, target] += w * tall[y, source]
    return out
