"""Scan preprocessing: image bytes in, MNIST-style 28x28 arrays (one per digit) out.

This is the one place where a scan becomes digit-model input. The trainer's scan-like evaluation,
the worker and the benchmarks all call :func:`preprocess`, so there is no train/serve skew.
Decode (:mod:`scans.decode`) -> clean (:mod:`scans.clean`: polarity, lighting, noise,
printed lines) -> segment (:mod:`scans.segment`) -> each digit normalised as MNIST was
(:mod:`scans.normalise`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scans.clean import clean
from scans.decode import DEFAULT_MAX_PIXELS, REDUCTIONS, decode_grey, image_size
from scans.errors import NoDigitFoundError, TooManyDigitsError
from scans.normalise import MNIST_SIZE, to_mnist
from scans.segment import segment

# More marks than this is a page of text or a photo, not a number.
MAX_DIGITS = 32
# Large pages are read at 1/2, 1/4 or 1/8 scale while the page keeps at least this many pixels
# a side: cost grows with pixels, and a 20 px MNIST box needs far fewer than a 1000 px digit
# has. (Down to 64 px, single-digit accuracy fell by 0.45%: faint joins within a digit fade.)
WORKING_SIDE = 128
# Digits found shorter than this at the reduced scale are read again at a finer one.
MIN_DIGIT_HEIGHT = 48


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

    Large pages are read at a reduced scale (``WORKING_SIDE``, ``MIN_DIGIT_HEIGHT``); the
    boxes are always in the scan's own pixels.

    Raises:
        InvalidImageError / ImageTooLargeError: the bytes cannot be decoded.
        NoDigitFoundError: the image is blank (never a guess).
        TooManyDigitsError: more than ``MAX_DIGITS`` marks.
    """
    size = image_size(data)
    factor = _reduction(int(np.sqrt(size[0] * size[1])) // WORKING_SIDE) if size else 1
    while True:
        grey = decode_grey(data, max_pixels, reduce=factor)
        try:
            digits = read_digits(grey)
        except NoDigitFoundError:
            if factor == 1:
                raise
            digits = None  # a small digit can vanish as a speck at a coarse scale
        tallest = int(digits.boxes[:, 3].max()) if digits is not None else 0
        if digits is not None and (factor == 1 or tallest >= MIN_DIGIT_HEIGHT):
            return _scale_boxes(digits, factor, grey.shape, size)
        factor = min(_reduction(factor * tallest // MIN_DIGIT_HEIGHT), factor // 2)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel preprocessing uses, before the first
    scan: a cold compile takes seconds, which a waiting single-image request should not pay."""
    page = np.full((120, 160), 230, np.uint8)
    cv2.circle(page, (60, 60), 30, 20, 6)
    for image in (page, cv2.cvtColor(page, cv2.COLOR_GRAY2RGB)):
        ok, png = cv2.imencode(".png", image)
        if ok:
            preprocess(png.tobytes())


def _reduction(most: int) -> int:
    """The largest supported reduction factor that is at most ``most`` (at least 1)."""
    return max((r for r in REDUCTIONS if r <= most), default=1)


def _scale_boxes(digits: Digits, factor: int, shape: tuple[int, ...], size: tuple[int, int] | None) -> Digits:
    """Boxes found on a page reduced by ``factor`` (of ``shape``), in the pixels of the ``size`` scan."""
    if factor == 1 or size is None:
        return digits
    width, height = size
    if (-(-width // factor), -(-height // factor)) != (shape[1], shape[0]):
        width, height = height, width  # EXIF orientation turned the page
    boxes = digits.boxes * factor
    # The reduced page was rounded up, so the last row and column can reach past the scan.
    boxes[:, 2] = np.minimum(boxes[:, 2], width - boxes[:, 0])
    boxes[:, 3] = np.minimum(boxes[:, 3], height - boxes[:, 1])
    return Digits(images=digits.images, boxes=boxes)


def read_digits(grey: np.ndarray) -> Digits:
    """The array half of :func:`preprocess`: 8-bit luminance in, digits out."""
    cleaned = clean(grey)
    if cleaned is None:
        raise NoDigitFoundError("no digit found: the image is blank")
    found = segment(cleaned.mask, cleaned.box)
    if not found.segments:
        raise NoDigitFoundError("no digit found: only specks and printed lines")
    if len(found.segments) > MAX_DIGITS:
        raise TooManyDigitsError(f"found {len(found.segments)} separate marks; "
                                 f"at most {MAX_DIGITS} digits are read per image")
    images = np.empty((len(found.segments), MNIST_SIZE, MNIST_SIZE), np.uint8)
    for i, seg in enumerate(found.segments):
        crop = cleaned.ink[seg.y0 : seg.y1, seg.x0 : seg.x1]
        intruders = found.intruders(seg)
        if intruders:
            # Strokes of neighbouring digits (and dropped specks) that reach into the box are not ours.
            crop = crop.copy()
            crop[np.isin(found.labels_in(seg), intruders)] = 0
        images[i] = to_mnist(crop)
    boxes = np.array([s.box for s in found.segments], np.int32).reshape(-1, 4)
    return Digits(images=images, boxes=boxes)
