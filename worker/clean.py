"""Scan cleaning: a luminance image in, an ink map and an ink mask out.

Scans arrive as dark ink on grey paper (or chalk-on-slate, or MNIST itself), under uneven
light, with sensor noise, JPEG ringing, specks and printed form lines. Everything after this
module can assume: ink is bright, paper is exactly 0, and printed lines are gone.

Everything here stays in 8 bits and uses OpenCV's saturating arithmetic: a worker reads
thousands of scans per second per core, and float copies of whole pages would halve that.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Scans are small and workers run one per core: OpenCV's thread pool only adds overhead.
cv2.setNumThreads(1)

# Below this ink contrast (in grey levels) an image is treated as blank paper.
MIN_CONTRAST = 24
# The paper level is estimated on a copy shrunk to about this many pixels on its long side.
BACKGROUND_GRID = 32
# A printed line is at least this many times longer than it is thick; pen strokes are not.
LINE_ASPECT = 15.0
# Polarity and the paper level of small scans come from a grid sample of about this many pixels.
SAMPLE = 4096


@dataclass(frozen=True)
class Ink:
    """Cleaned scan: ``ink`` uint8 (paper 0, ink bright) and the boolean ``mask`` of strokes."""

    ink: np.ndarray
    mask: np.ndarray


def clean(grey: np.ndarray) -> Ink | None:
    """Turn 8-bit luminance into an ink map; None when it is blank paper."""
    ink = _flatten(_bright_ink(grey))
    # One histogram serves both the noise floor and, shifted down by it, the ink threshold.
    hist = _histogram(ink)
    floor = min(_noise_floor(hist), 255)
    above = np.flatnonzero(hist[floor + 1 :])
    peak = int(above[-1]) + 1 if above.size else 0
    if peak < MIN_CONTRAST:
        return None
    ink = cv2.subtract(ink, floor)
    mask = ink > _threshold(hist[floor + 1 : floor + 1 + peak], peak)
    _remove_printed_lines(mask, ink)
    if not mask.any():
        return None
    return Ink(ink=ink, mask=mask)


def _sample_histogram(image: np.ndarray) -> np.ndarray:
    step = max(1, int(np.sqrt(image.size / SAMPLE)))
    return _histogram(np.ascontiguousarray(image[::step, ::step]))


def _histogram(image: np.ndarray) -> np.ndarray:
    return cv2.calcHist([image], [0], None, [256], [0, 256]).ravel()


def profiles(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ink pixels per row and per column of a boolean mask (OpenCV: 5x faster than NumPy)."""
    counts = mask.view(np.uint8)
    return (cv2.reduce(counts, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel(),
            cv2.reduce(counts, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel())


def _quantile(hist: np.ndarray, q: float) -> int:
    return int(np.searchsorted(np.cumsum(hist), q * hist.sum()))


def _bright_ink(grey: np.ndarray) -> np.ndarray:
    """Flip dark-on-light scans so that ink is bright; the paper is the majority of pixels."""
    step = max(1, int(np.sqrt(grey.size / SAMPLE)))
    sample = grey[::step, ::step]
    # The median is light exactly when more than half of the pixels are.
    if 2 * np.count_nonzero(sample >= 128) > sample.size:
        return cv2.bitwise_not(grey)
    return np.ascontiguousarray(grey)


def _flatten(ink: np.ndarray) -> np.ndarray:
    """Subtract the paper level, estimated locally so that a lighting gradient cancels out.

    On a heavily shrunk copy, strokes are a few pixels wide; a grey opening (min then max
    filter) deletes them and leaves the paper, which is then smoothed and scaled back up.
    """
    height, width = ink.shape
    factor = max(1, max(height, width) // BACKGROUND_GRID)
    if factor == 1:
        return cv2.subtract(ink, _quantile(_sample_histogram(ink), 0.25))
    small = cv2.resize(ink, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    kernel = np.ones((7, 7), np.uint8)
    paper = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)
    paper = cv2.blur(paper, (5, 5), borderType=cv2.BORDER_REPLICATE)
    return cv2.subtract(ink, cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR))


_LEVELS = np.arange(256)


def _noise_floor(hist: np.ndarray) -> int:
    """Level below which a pixel is paper grain or JPEG ringing: median + 4 robust sigmas."""
    below = np.cumsum(hist)  # pixels at or below each level
    half = 0.5 * below[-1]
    median = int(np.searchsorted(below, half))
    # The median absolute deviation: the least d with half of the pixels within d of the median.
    lower = median - 1 - _LEVELS
    within = below[np.minimum(median + _LEVELS, 255)] - np.where(lower >= 0, below[np.maximum(lower, 0)], 0)
    mad = int(np.searchsorted(within, half))
    return int(round(median + 4.0 * 1.4826 * mad))


def _threshold(ink_hist: np.ndarray, peak: int) -> float:
    """A third of Otsu's threshold, so that faint thin strokes and anti-aliased edges count as ink.

    ``ink_hist`` counts the ink levels 1..``peak`` (paper, level 0, is left out).
    """
    hist = ink_hist.astype(np.float64)
    levels = np.arange(1, peak + 1, dtype=np.float64)
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mass = np.cumsum(hist * levels)
    mean_low = mass / np.maximum(weight_low, 1e-9)
    mean_high = (mass[-1] - mass) / np.maximum(weight_high, 1e-9)
    otsu = float(levels[int(np.argmax(weight_low * weight_high * (mean_low - mean_high) ** 2))])
    return max(otsu * 0.35, peak * 0.1)


def _remove_printed_lines(mask: np.ndarray, ink: np.ndarray) -> None:
    """Erase form boxes, comb dividers and underlines from ``mask`` and ``ink`` in place.

    A printed line is long (70% of the ink's extent along it) and thin (``LINE_ASPECT``): a
    band of consecutive rows (columns) that each hold that much ink, no thicker than the line's
    length allows. A pen bar fails on thickness. A lone upright "1" is spared because nothing
    beside it is wide enough to be a box.
    """
    row_ink, col_ink = profiles(mask)
    # Extents ignore rows (columns) with only a grain or two of noise in them.
    rows, cols = np.flatnonzero(row_ink >= 3), np.flatnonzero(col_ink >= 3)
    if not rows.size or not cols.size:
        return
    extent_h = int(rows[-1] - rows[0] + 1)
    extent_w = int(cols[-1] - cols[0] + 1)
    for profile, length, other, axis in ((row_ink, extent_w, extent_h, 0), (col_ink, extent_h, extent_w, 1)):
        # Short spans are a digit's own strokes. A vertical span with little ink beside it is a
        # lone "1", not a box side (boxes and combs are at least a third as wide as tall).
        if length < 28 or (axis == 1 and other < 0.3 * length):
            continue
        if profile.max() < 0.7 * length:
            continue  # no row (column) holds enough ink for a line: the usual case
        limit = max(2.0, length / LINE_ASPECT)
        for start, stop in _runs(profile >= 0.7 * length):
            if _thickness(profile, start, stop, 0.4 * length, limit) > limit:
                continue  # a thick bar: handwriting
            # Printed lines have soft edges: erase a little beyond the band, across it only.
            reach = (stop - start) // 2 + 2
            lo, hi = max(0, start - reach), stop + reach
            band = np.s_[lo:hi, :] if axis == 0 else np.s_[:, lo:hi]
            mask[band] = False
            ink[band] = 0


def _thickness(profile: np.ndarray, start: int, stop: int, level: float, limit: float) -> int:
    """Rows (columns) around ``start:stop`` that still hold ``level`` ink, counted up to just past ``limit``.

    The thickness counts every row where the stroke is still substantial, not only the few
    where it is longest: a pen bar tapers at both ends; a printed line does not.
    """
    lo, hi = start, stop
    while lo > 0 and profile[lo - 1] >= level and hi - lo <= limit:
        lo -= 1
    while hi < len(profile) and profile[hi] >= level and hi - lo <= limit:
        hi += 1
    return hi - lo


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D boolean array."""
    runs: list[tuple[int, int]] = []
    # Candidate rows are few, so walking their indices beats array arithmetic on the whole profile.
    for index in np.flatnonzero(flags).tolist():
        if runs and runs[-1][1] == index:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs
