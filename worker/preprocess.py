"""Scan preprocessing: image bytes in, MNIST-style 28x28 arrays (one per digit) out.

This is the one place where a scan becomes model input. The trainer's scan-like evaluation,
the worker and the benchmarks all call :func:`preprocess`, so there is no train/serve skew.
Decode (:mod:`worker.decode`) -> clean (:mod:`worker.clean`: polarity, lighting, noise,
printed lines) -> segment (:mod:`worker.segment`) -> each digit normalised as MNIST was.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from worker.clean import clean
from worker.decode import DEFAULT_MAX_PIXELS, decode_grey
from worker.errors import NoDigitFoundError, TooManyDigitsError
from worker.segment import segment

MNIST_SIZE = 28
DIGIT_BOX = 20
# A stroke's edge, as a share of its full ink level (MNIST boxes were cut at the pen's edge).
EDGE_LEVEL = 0.25
# More marks than this is a page of text or a photo, not a number.
MAX_DIGITS = 32


@dataclass(frozen=True)
class Digits:
    """The digits of one scan, left to right.

    ``images``: (n, 28, 28) uint8, white ink on black, as the model expects.
    ``boxes``: (n, 4) int32 boxes (x, y, width, height) in the scan's pixels.
    """

    images: np.ndarray
    boxes: np.ndarray


def preprocess(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Digits:
    """Decode a scan and cut it into MNIST-style digits.

    Raises:
        InvalidImageError / ImageTooLargeError: the bytes cannot be decoded.
        NoDigitFoundError: the image is blank (never a guess).
        TooManyDigitsError: more than ``MAX_DIGITS`` marks.
    """
    return read_digits(decode_grey(data, max_pixels))


def read_digits(grey: np.ndarray) -> Digits:
    """The array half of :func:`preprocess`: 8-bit luminance in, digits out."""
    cleaned = clean(grey)
    if cleaned is None:
        raise NoDigitFoundError("no digit found: the image is blank")
    labels, segments = segment(cleaned.mask)
    if not segments:
        raise NoDigitFoundError("no digit found: only specks and printed lines")
    if len(segments) > MAX_DIGITS:
        raise TooManyDigitsError(f"found {len(segments)} separate marks; at most {MAX_DIGITS} digits are read per image")
    images = np.empty((len(segments), MNIST_SIZE, MNIST_SIZE), np.uint8)
    foreign = np.ones(int(labels.max()) + 1, bool)
    foreign[0] = False
    for i, seg in enumerate(segments):
        crop = cleaned.ink[seg.y0 : seg.y1, seg.x0 : seg.x1].astype(np.float32)
        # Strokes of neighbouring digits (and dropped specks) that reach into the box are not ours.
        foreign[list(seg.labels)] = False
        crop[foreign[labels[seg.y0 : seg.y1, seg.x0 : seg.x1]]] = 0.0
        foreign[list(seg.labels)] = True
        images[i] = to_mnist(crop)
    return Digits(images=images, boxes=np.array([s.box for s in segments], np.int32).reshape(-1, 4))


def to_mnist(crop: np.ndarray) -> np.ndarray:
    """Normalise one digit's ink crop the way MNIST was built.

    Strokes are stretched to full white, the longer side is scaled to 20 px keeping the aspect
    ratio, and the digit is placed in a 28x28 frame with its centre of mass at the centre.
    """
    positive = crop[crop > 0]
    # The 90th percentile, not the maximum, so that one hot pixel cannot dim the digit.
    k = int(positive.size * 0.9)
    level = max(float(np.partition(positive, k)[k]) if positive.size else 1.0, 1.0)
    # Segmentation keeps faint halo pixels for connectivity; MNIST's box is the pen's own edge.
    strong = crop > EDGE_LEVEL * level
    rows, cols = np.flatnonzero(strong.any(axis=1)), np.flatnonzero(strong.any(axis=0))
    if rows.size:
        crop = crop[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    crop = np.clip(crop * (255.0 / level), 0.0, 255.0, dtype=np.float32)
    return _centre_by_mass(_fit_box(crop, DIGIT_BOX), MNIST_SIZE)


def _fit_box(crop: np.ndarray, box: int) -> np.ndarray:
    height, width = crop.shape
    scale = box / max(height, width)
    size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    # Area averaging when shrinking is the anti-aliasing MNIST's own resampling had.
    method = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return np.clip(cv2.resize(crop, size, interpolation=method), 0.0, 255.0)


def _centre_by_mass(patch: np.ndarray, size: int) -> np.ndarray:
    height, width = patch.shape
    moments = cv2.moments(patch)
    if moments["m00"] <= 0.0:
        cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    else:
        cy, cx = moments["m01"] / moments["m00"], moments["m10"] / moments["m00"]
    # MNIST's centres of mass sit at (14.0, 14.0) in pixel-index coordinates.
    top = min(max(int(round(size / 2.0 - cy)), 0), size - height)
    left = min(max(int(round(size / 2.0 - cx)), 0), size - width)
    out = np.zeros((size, size), dtype=np.uint8)
    out[top : top + height, left : left + width] = np.round(patch).astype(np.uint8)
    return out
