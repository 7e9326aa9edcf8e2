"""The digits the string model read, cut out of its input for the digit model to read too.

The string model finds how many digits a string has and where each lies (its CTC alignment,
:mod:`scans.ctc`) without cutting the string first; the digit model, trained on MNIST with
augmentation for real single digits, is the better judge of one digit's shape. Cutting the
string image at the alignment's edges gives the digit model one crop per digit the string
model read, so the two can be weighed digit by digit (``worker.fusion``).

Each crop is the string image's columns between the digit's edges, cleaned before it is
normalised as MNIST was built (:func:`scans.normalise.to_mnist`): the string image keeps faint
background (security print, paper texture, the neighbours' stray ends), which would otherwise
set the crop's box. Kept: the components above Otsu's level (and at least ``MIN_INK``) that are
large enough next to the crop's largest and a few rows tall, with a pixel of their halo.
"""

from __future__ import annotations

import cv2
import numpy as np

from contracts.models import DIGIT_SIZE
from scans.normalise import to_mnist

# Ink level floor (the string image's ink is stretched so that its brightest is 255).
MIN_INK = 60
# A kept component has at least this share of the largest one's pixels, and MIN_ROWS rows.
MIN_SHARE = 0.15
MIN_ROWS = 4
MIN_PIXELS = 4


def digit_inputs(string: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 digit-model inputs for the ``columns`` (n, 2: left, right edges in
    model columns) of a string image (``STRING_HEIGHT`` rows, ink bright on 0). A crop with
    no ink is all zeros."""
    out = np.zeros((len(columns), DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    width = string.shape[1]
    for k, (left, right) in enumerate(np.asarray(columns, np.float64).reshape(-1, 2)):
        start = int(min(max(round(left), 0), width - 1))
        stop = int(min(max(round(right), start + 1), width))
        crop = _clean(string[:, start:stop])
        if crop is not None:
            out[k] = to_mnist(crop)
    return out


def _clean(crop: np.ndarray) -> np.ndarray | None:
    """The crop with only the digit's own strokes (None when nothing is left)."""
    if not crop.size or int(crop.max()) == 0:
        return None
    crop = np.ascontiguousarray(crop)
    level, _ = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = (crop > max(level, MIN_INK)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    big = (areas >= max(MIN_PIXELS, MIN_SHARE * areas.max())) & (stats[1:, cv2.CC_STAT_HEIGHT] >= MIN_ROWS)
    if not big.any():
        return None
    keep = np.isin(labels, np.flatnonzero(big) + 1).astype(np.uint8)
    keep = cv2.dilate(keep, np.ones((3, 3), np.uint8))  # the strokes' anti-aliased edge
    return np.where(keep > 0, crop, 0).astype(np.uint8)
