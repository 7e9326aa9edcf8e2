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
from worker.decode import DEFAULT_MAX_PIXELS, REDUCTIONS, decode_grey, image_size
from worker.errors import NoDigitFoundError, TooManyDigitsError
from worker.levels import histogram, ink_level
from worker.resample import shrink_stretched
from worker.segment import segment

MNIST_SIZE = 28
DIGIT_BOX = 20
# A stroke's edge, as a share of its full ink level (MNIST boxes were cut at the pen's edge).
EDGE_LEVEL = 0.25
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


def to_mnist(crop: np.ndarray) -> np.ndarray:
    """Normalise one digit's uint8 ink crop (paper 0) the way MNIST was built.

    Strokes are stretched to full white, the longer side is scaled to 20 px keeping the aspect
    ratio, and the digit is placed in a 28x28 frame with its centre of mass at the centre.
    """
    level = ink_level(histogram(crop))
    # Segmentation keeps faint halo pixels for connectivity; MNIST's box is the pen's own edge.
    _, edge = cv2.threshold(crop, EDGE_LEVEL * level, 1, cv2.THRESH_BINARY)
    left, top, width, height = cv2.boundingRect(edge)
    if width:
        crop = crop[top : top + height, left : left + width]
    return _centre_by_mass(_fit_box(crop, 255.0 / level, DIGIT_BOX), MNIST_SIZE)


def _fit_box(crop: np.ndarray, gain: float, box: int) -> np.ndarray:
    """``min(crop * gain, 255)`` scaled so that its longer side is ``box`` px (float32)."""
    height, width = crop.shape
    scale = box / max(height, width)
    size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    if scale < 1.0:
        # Area averaging when shrinking is the anti-aliasing MNIST's own resampling had.
        return shrink_stretched(crop, gain, *size)
    stretched = np.minimum(crop.astype(np.float32) * gain, 255.0)
    # Bilinear interpolation stays within 0..255 too.
    return cv2.resize(stretched, size, interpolation=cv2.INTER_LINEAR)


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
    out[top : top + height, left : left + width] = cv2.convertScaleAbs(patch)  # rounds half to even, as np.round
    return out
