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
import numba
import numpy as np

from scans.levels import histogram, ink_threshold, noise_floor

# Scans are small and workers run one per core: OpenCV's thread pool only adds overhead.
cv2.setNumThreads(1)

# Below this ink contrast (in grey levels) an image is treated as blank paper.
MIN_CONTRAST = 24
# The paper level is estimated on a copy shrunk to about this many pixels on its long side.
BACKGROUND_GRID = 32
# A printed line is at least this many times longer than it is thick; pen strokes are not.
LINE_ASPECT = 15.0
# Lines shorter than this are taken for pen strokes, unless they are the sides of a small box
# (at least MIN_BOX_SIDE long) whose top and bottom were found.
MIN_LINE = 28
MIN_BOX_SIDE = 12
# Polarity and the paper level of small scans come from a grid sample of about this many pixels.
SAMPLE = 4096


@dataclass(frozen=True)
class Ink:
    """Cleaned scan: ``ink`` uint8 (paper 0, ink bright), the boolean ``mask`` of strokes, and
    ``box``, the (x, y, width, height) rectangle that holds every stroke."""

    ink: np.ndarray
    mask: np.ndarray
    box: tuple[int, int, int, int]


def clean(grey: np.ndarray) -> Ink | None:
    """Turn 8-bit luminance into an ink map; None when it is blank paper."""
    ink = _flatten(_bright_ink(grey))
    # One histogram serves both the noise floor and, above it, the ink threshold.
    hist = histogram(ink)
    floor = min(noise_floor(hist), 255)
    peak, threshold = ink_threshold(hist, floor)
    if peak < MIN_CONTRAST:
        return None
    ink = cv2.subtract(ink, floor)
    mask = ink > threshold
    box = _remove_printed_lines(mask, ink)
    if not box[2]:
        return None
    return Ink(ink=ink, mask=mask, box=box)


def _sample_histogram(image: np.ndarray) -> np.ndarray:
    step = max(1, int(np.sqrt(image.size / SAMPLE)))
    return histogram(image[::step, ::step])


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
    small_w, small_h = max(1, width // factor), max(1, height // factor)
    # Shrinking by a whole factor takes OpenCV's fast path (a general ratio costs 5x as much);
    # the last few rows and columns left out do not change a smooth paper level.
    small = cv2.resize(ink[: small_h * factor, : small_w * factor], (small_w, small_h), interpolation=cv2.INTER_AREA)
    kernel = np.ones((7, 7), np.uint8)
    paper = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)
    paper = cv2.blur(paper, (5, 5), borderType=cv2.BORDER_REPLICATE)
    return cv2.subtract(ink, cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR))


def _remove_printed_lines(mask: np.ndarray, ink: np.ndarray) -> tuple[int, int, int, int]:
    """Erase form boxes, comb dividers and underlines from ``mask`` and ``ink`` in place, and
    return the rectangle (x, y, width, height) holding the ink left (width 0 if none).

    A printed line is long (70% of the ink's extent along it) and thin (``LINE_ASPECT``): a
    band of consecutive rows (columns) that each hold that much ink, no thicker than the line's
    length allows. A pen bar fails on thickness. A lone upright "1" is spared because nothing
    beside it is wide enough to be a box.
    """
    row_ink, col_ink = profiles(mask)
    bands = printed_lines(row_ink, col_ink, LINE_ASPECT)
    for axis, lo, hi in bands.tolist():
        band = np.s_[lo:hi, :] if axis == 0 else np.s_[:, lo:hi]
        mask[band] = False
        ink[band] = 0
    if len(bands):
        return cv2.boundingRect(mask.view(np.uint8))
    top, bottom = extent(row_ink, 1)
    left, right = extent(col_ink, 1)
    return left, top, right - left, bottom - top


@numba.njit(cache=True, nogil=True)
def extent(profile: np.ndarray, least: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """(first, last + 1) of the entries of ``profile`` that are at least ``least``; (0, 0) if none."""
    first, last = -1, -1
    for i in range(len(profile)):
        if profile[i] >= least:
            if first < 0:
                first = i
            last = i
    return (0, 0) if first < 0 else (first, last + 1)


@numba.njit(cache=True, nogil=True)
def printed_lines(row_ink: np.ndarray, col_ink: np.ndarray, aspect: float) -> np.ndarray:  # pragma: no cover
    """Bands to erase, as rows of (axis, start, stop): axis 0 for rows, 1 for columns.

    Extents ignore rows (columns) with only a grain or two of noise in them. Short spans
    are a digit's own strokes, except the sides of a small box whose top and bottom lines
    were found: those are the very first and last columns of the ink. A vertical span with
    little ink beside it is a lone "1", not a box side (boxes and combs are at least a third
    as wide as tall).
    """
    bands = np.empty((len(row_ink) + len(col_ink), 3), np.int64)
    count = 0
    top, bottom = extent(row_ink, 3)
    left, right = extent(col_ink, 3)
    if bottom == 0 or right == 0:
        return bands[:0]
    for axis in range(2):
        profile = row_ink if axis == 0 else col_ink
        length = (right - left) if axis == 0 else (bottom - top)
        other = (bottom - top) if axis == 0 else (right - left)
        if axis == 1 and other < 0.3 * length:
            continue
        small_box = length < MIN_LINE
        if small_box and not (axis == 1 and count >= 2 and length >= MIN_BOX_SIDE):
            continue
        limit = max(2.0, length / aspect)
        x = 0
        while x < len(profile):
            if profile[x] < 0.7 * length:
                x += 1
                continue
            start = x
            while x < len(profile) and profile[x] >= 0.7 * length:
                x += 1
            if small_box and start > left + 2 and x < right - 2:
                continue  # inside a small box: a stroke of the digit
            if _thickness(profile, start, x, 0.4 * length, limit) > limit:
                continue  # a thick bar: handwriting
            # Printed lines have soft edges: erase a little beyond the band, across it only.
            reach = (x - start) // 2 + 2
            bands[count, 0], bands[count, 1], bands[count, 2] = axis, max(0, start - reach), x + reach
            count += 1
    return bands[:count]


@numba.njit(cache=True, nogil=True)
def _thickness(profile: np.ndarray, start: int, stop: int, level: float, limit: float) -> int:  # pragma: no cover
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
