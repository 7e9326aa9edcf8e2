"""Scan cleaning: a luminance image in, an ink map and an ink mask out.

Scans arrive as dark ink on grey paper (or chalk-on-slate, or MNIST itself), under uneven
light, with sensor noise, JPEG ringing, specks and printed form lines. Everything after this
module can assume: ink is bright, paper is exactly 0, and printed lines are gone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Scans are small and workers run one per core: OpenCV's thread pool only adds overhead.
cv2.setNumThreads(1)

# Below this ink contrast (in grey levels) an image is treated as blank paper.
MIN_CONTRAST = 24.0
# The paper level is estimated on a copy shrunk to about this many pixels on its long side.
BACKGROUND_GRID = 32
# A printed line is at least this many times longer than it is thick; pen strokes are not.
LINE_ASPECT = 15.0


@dataclass(frozen=True)
class Ink:
    """Cleaned scan: ``ink`` float32 (paper 0, ink up to ~255) and the boolean ``mask`` of strokes."""

    ink: np.ndarray
    mask: np.ndarray


def clean(grey: np.ndarray) -> Ink | None:
    """Turn a luminance image (float32, 0..255) into an ink map; None when it is blank paper."""
    ink = _flatten(_bright_ink(grey))
    floor = _noise_floor(ink)
    ink = np.subtract(ink, floor, out=ink)
    np.clip(ink, 0.0, None, out=ink)
    peak = float(ink.max()) if ink.size else 0.0
    if peak < MIN_CONTRAST:
        return None
    mask = ink > _threshold(ink, peak)
    _remove_printed_lines(mask, ink)
    if not mask.any():
        return None
    return Ink(ink=ink, mask=mask)


def _bright_ink(grey: np.ndarray) -> np.ndarray:
    """Flip dark-on-light scans so that ink is bright; the paper is the majority of pixels."""
    step = max(1, int(np.sqrt(grey.size / 4096)))
    if float(np.median(grey[::step, ::step])) >= 128.0:
        return np.subtract(255.0, grey, dtype=np.float32)
    return grey.astype(np.float32, copy=True)


def _flatten(ink: np.ndarray) -> np.ndarray:
    """Subtract the paper level, estimated locally so that a lighting gradient cancels out.

    On a heavily shrunk copy, strokes are a few pixels wide; a grey opening (min then max
    filter) deletes them and leaves the paper, which is then smoothed and scaled back up.
    """
    height, width = ink.shape
    factor = max(1, max(height, width) // BACKGROUND_GRID)
    if factor == 1:
        background = float(np.percentile(ink, 25))
        return np.subtract(ink, background, out=ink)
    small = cv2.resize(ink, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    kernel = np.ones((7, 7), np.uint8)
    paper = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)
    paper = cv2.blur(paper, (5, 5), borderType=cv2.BORDER_REPLICATE)
    background = cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.subtract(ink, background, out=ink)


def _noise_floor(ink: np.ndarray) -> float:
    """Level below which a pixel is paper grain or JPEG ringing: median + 4 robust sigmas."""
    step = max(1, int(np.sqrt(ink.size / 4096)))  # a few thousand pixels pin a median down
    sample = ink[::step, ::step]
    median = float(np.median(sample))
    spread = float(np.median(np.abs(sample - median))) * 1.4826
    return median + 4.0 * spread


def _threshold(ink: np.ndarray, peak: float) -> float:
    """A third of Otsu's threshold, so that faint thin strokes and anti-aliased edges count as ink."""
    hist, edges = np.histogram(ink[ink > 0], bins=64, range=(0.0, peak))
    hist = hist.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mass = np.cumsum(hist * centres)
    mean_low = mass / np.maximum(weight_low, 1e-9)
    mean_high = (mass[-1] - mass) / np.maximum(weight_high, 1e-9)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    otsu = float(centres[int(np.argmax(between))])
    return max(otsu * 0.35, peak * 0.1)


def _remove_printed_lines(mask: np.ndarray, ink: np.ndarray) -> None:
    """Erase form boxes, comb dividers and underlines from ``mask`` and ``ink`` in place.

    A printed line is long (70% of the ink's extent along it), thin (``LINE_ASPECT``) and
    straight enough to survive an opening with a one-pixel-wide line. Handwritten strokes fail
    at least one of those; a lone upright "1" is spared because
    nothing beside it is wide enough to be a box.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    extent_h = int(rows[-1] - rows[0] + 1)
    extent_w = int(cols[-1] - cols[0] + 1)
    binary = mask.view(np.uint8)
    erase = np.zeros_like(binary)
    for length, other, horizontal in ((extent_w, extent_h, True), (extent_h, extent_w, False)):
        span = int(length * 0.7)
        # Short spans are a digit's own strokes. A vertical span with little ink beside it is a
        # lone "1", not a box side (boxes and combs are at least a third as wide as tall).
        if span < 20 or (not horizontal and other < 0.3 * length):
            continue
        # Cheap test first: most scans have no row (column) with that much ink in it at all.
        if mask.sum(axis=1 if horizontal else 0).max() < 0.8 * span:
            continue
        along = (lambda n: np.ones((1, n) if horizontal else (n, 1), np.uint8))
        # Closing first bridges the pixel gaps that thresholding leaves in faint printed lines.
        opened = cv2.morphologyEx(cv2.morphologyEx(binary, cv2.MORPH_CLOSE, along(7)), cv2.MORPH_OPEN, along(span))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
        lines = np.zeros_like(binary)
        widest = 0.0
        for label in range(1, count):
            x, y, w, h, _ = stats[label]
            thickness = _line_thickness(mask, x, y, w, h, horizontal)
            if thickness is not None:
                lines[y : y + h, x : x + w] |= (labels[y : y + h, x : x + w] == label).view(np.uint8)
                widest = max(widest, thickness)
        if widest:
            # Printed lines have soft edges: erase a band a little wider than the line, across it only.
            reach = int(widest) // 2 + 2
            kernel = np.ones((2 * reach + 1, 1) if horizontal else (1, 2 * reach + 1), np.uint8)
            erase |= cv2.dilate(lines, kernel)
    if erase.any():
        cleared = erase.view(bool)
        mask &= ~cleared
        ink[cleared] = 0.0


def _line_thickness(mask: np.ndarray, x: int, y: int, w: int, h: int, horizontal: bool) -> float | None:
    """The stroke thickness across the straight run at (x, y, w, h), if it is a thin line.

    The opening keeps any straight sliver, including one inside a thick pen stroke; only the
    full thickness of the *original* mask across the run tells a printed line from a pen bar.
    None when the run is too thick for its length to be a printed line.
    """
    length = w if horizontal else h
    limit = max(2.0, length / LINE_ASPECT)
    reach = int(limit) + 2
    if horizontal:
        band = mask[max(0, y - reach) : y + h + reach, x : x + w].sum(axis=0)
    else:
        band = mask[y : y + h, max(0, x - reach) : x + w + reach].sum(axis=1)
    # The median ignores the places where handwriting crosses the line.
    thickness = float(np.median(band))
    return thickness if thickness <= limit else None
