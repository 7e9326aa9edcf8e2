"""Grey-level statistics of 256-bin histograms: the noise floor, the ink threshold, the ink level.

Compiled because each scan needs a few of them and NumPy's overhead on 256 numbers (a dozen
calls of a few microseconds each) cost more than the pixel work around them.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def noise_floor(hist: np.ndarray) -> int:  # pragma: no cover - compiled
    """Level below which a pixel is paper grain or JPEG ringing: median + 4 robust sigmas.

    The robust sigma is 1.4826 times the median absolute deviation: the least ``d`` such
    that half of the pixels lie within ``d`` levels of the median.
    """
    below = np.cumsum(hist)  # pixels at or below each level
    half = 0.5 * below[-1]
    median = int(np.searchsorted(below, half))
    mad = 255
    for d in range(256):
        high = below[min(median + d, 255)]
        low = below[median - 1 - d] if median - 1 - d >= 0 else 0.0
        if high - low >= half:
            mad = d
            break
    return int(np.rint(median + 4.0 * 1.4826 * mad))


@numba.njit(cache=True, nogil=True)
def ink_threshold(hist: np.ndarray, floor: int) -> tuple[int, float]:  # pragma: no cover - compiled
    """(peak, threshold) of the ink above ``floor``, in levels counted from the floor.

    ``peak`` is the brightest level present (0 when nothing is above the floor). The
    threshold is a third of Otsu's over levels 1..peak (paper, level 0, is left out), so
    that faint thin strokes and anti-aliased edges count as ink, and at least a tenth of
    the peak.
    """
    peak = 0
    for level in range(255, floor, -1):
        if hist[level] > 0:
            peak = level - floor
            break
    if peak == 0:
        return 0, 0.0
    total = 0.0
    mass_total = 0.0
    for level in range(1, peak + 1):
        total += hist[floor + level]
        mass_total += hist[floor + level] * level
    best, otsu = -1.0, 1
    weight_low = 0.0
    mass = 0.0
    for level in range(1, peak + 1):
        weight_low += hist[floor + level]
        mass += hist[floor + level] * level
        weight_high = total - weight_low
        mean_low = mass / max(weight_low, 1e-9)
        mean_high = (mass_total - mass) / max(weight_high, 1e-9)
        spread = weight_low * weight_high * (mean_low - mean_high) ** 2
        if spread > best:
            best, otsu = spread, level
    return peak, max(otsu * 0.35, peak * 0.1)


@numba.njit(cache=True, nogil=True)
def ink_level(hist: np.ndarray) -> float:  # pragma: no cover - compiled
    """The 90th percentile of the inked levels (1..255), so one hot pixel cannot set it; 1 if none."""
    inked = np.cumsum(hist[1:])
    if inked[-1] <= 0:
        return 1.0
    return float(np.searchsorted(inked, int(inked[-1] * 0.9), side="right") + 1)


# Any 2-D uint8 image, read only: writable or not (a decoded buffer), whatever its memory
# layout (pages are contiguous, crops are views), every array converts to this one type.
IMAGE = numba.types.Array(numba.uint8, 2, "A", readonly=True)


# One signature for every layout, compiled when the module is first imported rather than once
# per layout met while reading.
@numba.njit([numba.float32[::1](IMAGE)], cache=True, nogil=True, boundscheck=False)
def histogram(image: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Pixels per grey level of a 2-D uint8 image (float32, like ``cv2.calcHist``).

    Four interleaved counters per level: consecutive equal pixels (paper) would otherwise
    stall on incrementing one counter. 1.4x faster than calcHist.
    """
    counts = np.zeros((4, 256), np.int32)
    rows, cols = image.shape
    for y in range(rows):
        row = image[y]
        x = 0
        while x + 4 <= cols:
            counts[0, row[x]] += 1
            counts[1, row[x + 1]] += 1
            counts[2, row[x + 2]] += 1
            counts[3, row[x + 3]] += 1
            x += 4
        while x < cols:
            counts[0, row[x]] += 1
            x += 1
    out = np.empty(256, np.float32)
    for level in range(256):
        out[level] = counts[0, level] + counts[1, level] + counts[2, level] + counts[3, level]
    return out
