"""Scan preprocessing: image bytes in, MNIST-style 28x28 arrays (one per digit) out.

This is the one place where a scan becomes digit-model input. The trainer's scan-like evaluation,
the worker and the benchmarks all call :func:`preprocess`, so there is no train/serve skew.
Decode (:mod:`scans.decode`) -> clean (:mod:`scans.clean`: polarity, lighting, noise,
printed lines) -> segment (:mod:`scans.segment`) -> each digit normalised as MNIST was
(:mod:`scans.normalise`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from scans.clean import Ink, clean
from scans.decode import DEFAULT_MAX_PIXELS, REDUCTIONS, Scan, open_scan
from scans.errors import ImageTooLargeError, NoDigitFoundError, TooManyDigitsError
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
# The most pixels cleaned and segmented at once: about 22 MB of work at worst (a page of noise).
# A finer reading of a larger page reads only a window around the ink found at the coarser one.
WORK_PIXELS = 1 << 20


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
    boxes are always in the scan's own pixels. Memory is bounded: at most ``WORK_PIXELS`` are
    worked on at once (a finer reading of a large page takes a window around the ink), and
    decoding stays within :data:`scans.decode.MEMORY_BUDGET`.

    Raises:
        InvalidImageError / ImageTooLargeError: the bytes cannot be decoded (within the budget).
        NoDigitFoundError: the image is blank (never a guess).
        TooManyDigitsError: more than ``MAX_DIGITS`` marks.
    """
    page = read_page(data, max_pixels)
    return _place(page.digits, page.factor, page.window, page.size)


@dataclass(frozen=True)
class Page:
    """The reading a scan's digits were found on: the luminance ``grey`` of the page reduced
    by ``factor`` (or of a ``window`` of it: x0, y0, x1, y1 in reduced pixels), and ``digits``
    with boxes in ``grey``'s pixels; ``size`` is the page's own (width, height)."""

    grey: np.ndarray
    factor: int
    window: tuple[int, int, int, int] | None
    size: tuple[int, int]
    digits: Digits

    def to_page(self, x: float, y: float) -> tuple[float, float]:
        """A point of ``grey`` in the page's own pixels."""
        left, top = (self.window[0], self.window[1]) if self.window is not None else (0, 0)
        return (left + x) * self.factor, (top + y) * self.factor


def _opened(data: bytes, max_pixels: int) -> tuple[Scan, int]:
    """The scan, and the reduction its reading starts from."""
    scan = open_scan(data, max_pixels)
    width, height = scan.size
    return scan, _first_factor(scan, _reduction(math.isqrt(width * height) // WORKING_SIDE))


def read_page(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Page:
    """Decode a scan at the coarsest scale that keeps its digits legible, and find them.

    Raises as :func:`preprocess`.
    """
    return PageReader(data, max_pixels).page()


class PageReader:
    """One scan's reading. ``first`` is the whole page at the scale the reading starts from
    (``factor``), kept for the readers of the whole page when the digits are refused (no digit
    found, too many marks), so that the page is not decoded again for them: it is at most
    ``WORK_PIXELS``."""

    def __init__(self, data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS):
        self.scan, self.factor = _opened(data, max_pixels)
        self.first = self.scan.read(self.factor, None)

    def page(self) -> Page:
        """The digits, read again finer where they came out small (raises as :func:`preprocess`)."""
        scan, factor, grey = self.scan, self.factor, self.first
        window: tuple[int, int, int, int] | None = None
        while True:
            cleaned = clean(grey)
            digits: Digits | None = None
            missing: NoDigitFoundError | None = None
            if cleaned is None:
                missing = NoDigitFoundError("no digit found: the image is blank")
            else:
                try:
                    digits = _digits_of(cleaned)
                except NoDigitFoundError as exc:  # a small digit can vanish as a speck at a coarse scale
                    missing = exc
            if missing is not None and factor == 1:
                raise missing
            tallest = int(digits.boxes[:, 3].max()) if digits is not None else 0
            if digits is not None and (factor == 1 or tallest >= MIN_DIGIT_HEIGHT):
                return Page(grey, factor, window, scan.size, digits)
            finer = min(_reduction(factor * tallest // MIN_DIGIT_HEIGHT), factor // 2)
            # Where to look again: around all the ink, or else (specks all over a large page) around the digits.
            regions = [_page_box(cleaned.box, factor, window)] if cleaned is not None else []
            if digits is not None:
                boxes = digits.boxes
                left, top = int(boxes[:, 0].min()), int(boxes[:, 1].min())
                right, bottom = int((boxes[:, 0] + boxes[:, 2]).max()), int((boxes[:, 1] + boxes[:, 3]).max())
                regions.append(_page_box((left, top, right - left, bottom - top), factor, window))
            step = _finer_read(scan, finer, factor, regions)
            if step is None:  # nothing finer fits in memory: keep what this scale gives
                if digits is not None:
                    return Page(grey, factor, window, scan.size, digits)
                raise missing  # type: ignore[misc]
            factor, window = step
            grey = scan.read(factor, window)


def _first_factor(scan: Scan, factor: int) -> int:
    """``factor``, or the first coarser one at which the whole page fits the working and
    memory bounds; ImageTooLargeError when none does."""
    for candidate in REDUCTIONS:
        cells = scan.cells(candidate)
        if candidate >= factor and cells <= WORK_PIXELS and scan.affordable(candidate, cells):
            return candidate
    coarsest = REDUCTIONS[-1]
    cells = scan.cells(coarsest)
    if cells > WORK_PIXELS:
        width, height = scan.size
        raise ImageTooLargeError(f"a {width}x{height} page is {cells} pixels even at 1/{coarsest} scale; "
                                 f"at most {WORK_PIXELS} are read at once")
    raise scan.too_large(coarsest, cells)


def _finer_read(scan: Scan, finer: int, factor: int, regions: list[tuple[int, int, int, int]]
                ) -> tuple[int, tuple[int, int, int, int] | None] | None:
    """The next reading: the finest factor from ``finer`` up to (not including) ``factor`` at
    which the whole page, or else a window around one of ``regions`` (x0, y0, x1, y1 in the
    page's pixels, in order of preference), fits the working and memory bounds; None if none does."""
    width, height = scan.size
    for candidate in REDUCTIONS:
        if candidate < finer or candidate >= factor:
            continue
        cells = scan.cells(candidate)
        if cells <= WORK_PIXELS and scan.affordable(candidate, cells):
            return candidate, None  # the whole page, as for any page of ordinary size
        for x0, y0, x1, y1 in regions:
            # Paper all around, as much as the ink's extent: polarity and paper level are found
            # from the majority of pixels, which must stay paper.
            margin = max(x1 - x0, y1 - y0) + 2 * factor
            window = (max(0, x0 - margin) // candidate, max(0, y0 - margin) // candidate,
                      -(-min(width, x1 + margin) // candidate), -(-min(height, y1 + margin) // candidate))
            cells = scan.cells(candidate, window)
            if cells <= WORK_PIXELS and scan.affordable(candidate, cells):
                return candidate, window
    return None


def _page_box(box: tuple[int, int, int, int], factor: int,
              window: tuple[int, int, int, int] | None) -> tuple[int, int, int, int]:
    """A box (x, y, width, height) of a reading, as (x0, y0, x1, y1) in the page's pixels."""
    x, y, w, h = box
    left, top = (window[0], window[1]) if window is not None else (0, 0)
    return (left + x) * factor, (top + y) * factor, (left + x + w) * factor, (top + y + h) * factor


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel preprocessing uses, before the first
    scan: a cold compile takes seconds, which a waiting single-image request should not pay."""
    page = np.full((120, 160), 230, np.uint8)
    cv2.circle(page, (60, 60), 30, 20, 6)
    # Plain grey and RGB PNGs (the fast decoder), RGBA (read row by row) and TIFF (Pillow, in bands).
    for image, ext in ((page, ".png"), (cv2.cvtColor(page, cv2.COLOR_GRAY2RGB), ".png"),
                       (cv2.cvtColor(page, cv2.COLOR_GRAY2BGRA), ".png"), (page, ".tiff")):
        ok, encoded = cv2.imencode(ext, image)
        if ok:
            preprocess(encoded.tobytes())


def _reduction(most: int) -> int:
    """The largest supported reduction factor that is at most ``most`` (at least 1)."""
    return max((r for r in REDUCTIONS if r <= most), default=1)


def _place(digits: Digits, factor: int, window: tuple[int, int, int, int] | None,
           size: tuple[int, int]) -> Digits:
    """Boxes found in ``window`` of a page reduced by ``factor``, in the pixels of the page of ``size``."""
    if factor == 1 and window is None:
        return digits
    boxes = digits.boxes.copy()
    if window is not None:
        boxes[:, 0] += window[0]
        boxes[:, 1] += window[1]
    boxes *= factor
    # The reduced page was rounded up, so the last row and column can reach past the scan.
    width, height = size
    boxes[:, 2] = np.minimum(boxes[:, 2], width - boxes[:, 0])
    boxes[:, 3] = np.minimum(boxes[:, 3], height - boxes[:, 1])
    return Digits(images=digits.images, boxes=boxes)


def read_digits(grey: np.ndarray) -> Digits:
    """The array half of :func:`preprocess`: 8-bit luminance in, digits out."""
    cleaned = clean(grey)
    if cleaned is None:
        raise NoDigitFoundError("no digit found: the image is blank")
    return _digits_of(cleaned)


def _digits_of(cleaned: Ink) -> Digits:
    """Segment a cleaned page and bring each digit to 28x28."""
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
