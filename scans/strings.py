"""The string model's input: a scan's digit string, found, cleaned and scaled to 32 rows.

:func:`read_scan` reads a scan once for both models: the digit pipeline
(:func:`scans.preprocess.read_page`) finds the digits, and the page they were found on, at the
same scale, becomes the string image, made only when asked for (:class:`StringRegion`).
:func:`string_image` turns any grey region into the model's input, the same way for training
(synthetic strings) and serving:

1. **Size.** Regions taller than ``WORK_ROWS`` are shrunk first (area averaging).
2. **Polarity.** The paper is the median grey; ink is whichever tail (dark or bright) lies
   further from it. Dark ink is inverted: ink bright.
3. **Background.** A grey opening with a window wider than any stroke keeps the paper level,
   lighting gradients and solid regions (scanner margins); subtracting it leaves thin bright
   things: ink, fine print, ruled lines.
4. **Lines.** Thin rows (columns) of ink across most of the region are printed lines or box
   edges, and are erased (columns only at the sides, so that a tall 1 is never taken for one).
5. **Contrast.** The brightest ink (99.5th percentile) becomes 255.
6. **Crop.** The text band is the run of rows around the densest one; components that overlap
   it and are tall or heavy enough count, specks and stray marks do not. The crop, with a
   margin, is scaled to ``STRING_HEIGHT`` rows keeping its aspect ratio (squeezed only when
   wider than ``STRING_WIDTH``), left-aligned, padded with 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from contracts.errors import ReadError
from contracts.models import STRING_HEIGHT, STRING_WIDTH
from scans.decode import DEFAULT_MAX_PIXELS
from scans.errors import NoDigitFoundError, TooManyDigitsError
from scans.preprocess import Digits, Page, PageReader, _place

WORK_ROWS = 128
# Margins around the string's crop, as a share of its height (twice that left and right).
MARGIN = 0.08


@dataclass(frozen=True)
class StringImage:
    """The model input (``STRING_HEIGHT`` x ``STRING_WIDTH`` uint8) and where it came from.

    Model column u is page column ``x0 + u / scale``; the string spans page rows ``y0`` to
    ``y1``; ``width`` model columns hold it (the rest is padding).
    """

    image: np.ndarray
    x0: float
    scale: float
    y0: float
    y1: float
    width: int

    def page_box(self, left: float, right: float) -> list[int]:
        """[x, y, width, height] in page pixels of model columns ``left`` to ``right``."""
        x_left = self.x0 + left / self.scale
        x_right = self.x0 + right / self.scale
        return [int(round(x_left)), int(round(self.y0)), max(1, int(round(x_right - x_left))),
                max(1, int(round(self.y1 - self.y0)))]


class StringRegion:
    """Where a scan's string image comes from: a grey region and its place on the page
    (``left``, ``top``; ``factor`` page pixels per region pixel). The image is made on first
    use only (the worker skips the string model where the digit model is sure), then kept and
    the region let go."""

    def __init__(self, grey: np.ndarray, left: float, top: float, factor: float):
        self._grey: np.ndarray | None = grey
        self._place = (left, top, factor)
        self._image: StringImage | None = None

    @property
    def image(self) -> StringImage:
        """The string model's input, in page coordinates."""
        if self._image is None:
            assert self._grey is not None
            local = string_image(self._grey)
            left, top, factor = self._place
            self._image = StringImage(local.image, left + local.x0 * factor, local.scale / factor,
                                      top + local.y0 * factor, top + local.y1 * factor, local.width)
            self._grey = None
        return self._image


@dataclass(frozen=True)
class ScanReading:
    """A scan read for both models: its digits (boxes in page pixels) and its string region.

    When the digit pipeline found no digit, or more marks than a number has, ``digits`` is
    None, the string region is the whole page, and ``refusal`` is what the digit pipeline
    raised: the answer if the string model reads nothing either.
    """

    digits: Digits | None
    region: StringRegion
    refusal: ReadError | None = None

    @property
    def string(self) -> StringImage:
        """The string model's input (made on first use)."""
        return self.region.image


def read_scan(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ScanReading:
    """Decode a scan once; the digit model's inputs and the string model's region.

    Raises as :func:`scans.preprocess.preprocess`, except where the string model can still
    look: a page on which the digit pipeline finds no digit or too many marks, but with
    something like a line of text on it.
    """
    reader = PageReader(data, max_pixels)
    try:
        page = reader.page()
    except (NoDigitFoundError, TooManyDigitsError) as refusal:
        reading = ScanReading(None, StringRegion(reader.first, 0.0, 0.0, reader.factor), refusal)
        if not reading.string.width:
            raise  # blank: nothing for either model
        return reading
    return ScanReading(_place(page.digits, page.factor, page.window, page.size), _region_of(page))


def _region_of(page: Page) -> StringRegion:
    """The page (or the window of it) the digits were found on, at the scale they were read.

    The whole of it, not only the boxes the digit pipeline found: a piece it dropped as a
    speck, a line or a separator may be part of a digit, and string_image finds the text band
    itself. Chosen by measurement: on synthetic strings from held-out MNIST training digits
    the string model read 67.2% of 1,500 exactly this way against 63.4% from the region
    around the boxes, and the generated scans read as well or better (BENCHMARKS.md).
    """
    left, top = page.to_page(0, 0)
    return StringRegion(page.grey, left, top, page.factor)


def string_image(grey: np.ndarray) -> StringImage:
    """The string model's input for a grey uint8 region (coordinates in the region's pixels)."""
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    rows, cols = grey.shape
    shrink = 1.0
    if rows > WORK_ROWS:
        shrink = WORK_ROWS / rows
        grey = cv2.resize(grey, (max(1, round(cols * shrink)), WORK_ROWS), interpolation=cv2.INTER_AREA)
    ink = _flatten(_bright_ink(grey))
    # Printed lines and margin remnants first (on a rough mask): they must set neither the
    # contrast nor the crop.
    _, rough = cv2.threshold(ink, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    _erase_lines(ink, rough)
    ink = cv2.convertScaleAbs(ink, alpha=255.0 / max(float(_percentile(ink, 99.5)), 24.0))
    # Otsu between paper and ink, kept above faint print and noise, and low enough to keep
    # thin or light strokes of the string.
    level, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = (ink > min(max(level, 50), 110)).astype(np.uint8)
    _erase_lines(ink, mask)
    box = _text_box(mask)
    if box is None:
        return StringImage(np.zeros((STRING_HEIGHT, STRING_WIDTH), np.uint8), 0.0, 1.0, 0.0, float(rows), 0)
    x0, y0, x1, y1 = box
    margin = MARGIN * (y1 - y0)
    top, bottom, left, right = y0 - margin, y1 + margin, x0 - 2 * margin, x1 + 2 * margin
    scale_y = STRING_HEIGHT / (bottom - top)
    natural = (right - left) * scale_y
    scale_x = scale_y if natural <= STRING_WIDTH else STRING_WIDTH / (right - left)
    width = int(min(STRING_WIDTH, round(natural)))
    out = _warp(ink, left, top, scale_x, scale_y)
    out[:, width:] = 0
    return StringImage(out, left / shrink, scale_x * shrink, top / shrink, bottom / shrink, width)


def _warp(ink: np.ndarray, left: float, top: float, scale_x: float, scale_y: float) -> np.ndarray:
    """Crop, scale and pad in one affine warp (area-shrunk first when the height shrinks 2x or more)."""
    matrix = np.array([[scale_x, 0, -left * scale_x], [0, scale_y, -top * scale_y]], np.float64)
    step = int(1 / scale_y)
    if step >= 2:
        # warpAffine has no area averaging: shrink by a whole factor first, then warp.
        ink = cv2.resize(ink, (max(1, ink.shape[1] // step), max(1, ink.shape[0] // step)),
                         interpolation=cv2.INTER_AREA)
        matrix[:, :2] *= step
    return cv2.warpAffine(ink, matrix, (STRING_WIDTH, STRING_HEIGHT), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _bright_ink(grey: np.ndarray) -> np.ndarray:
    step = max(1, int(np.sqrt(grey.size / 4096)))
    sample = np.ascontiguousarray(grey[::step, ::step])
    low, median, high = (_percentile(sample, q) for q in (1, 50, 99))
    return cv2.bitwise_not(grey) if median - low > high - median else grey


def _flatten(ink: np.ndarray) -> np.ndarray:
    side = min(31, max(5, min(ink.shape) // 3) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    paper = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)
    paper = cv2.blur(paper, (side, side), borderType=cv2.BORDER_REPLICATE)
    return cv2.subtract(ink, paper)


def _erase_lines(ink: np.ndarray, mask: np.ndarray) -> None:
    rows, cols = mask.shape
    row_ink = cv2.reduce(mask, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    col_ink = cv2.reduce(mask, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    # Anywhere: thin rows of ink across most of the width (ruled lines, box edges).
    _erase(ink, mask, row_ink, 0.7 * cols, max(2, rows // 12), axis=0, edge=None)
    # Next to an edge: bands of any thickness (scanner margins, box sides, the page's edge).
    _erase(ink, mask, row_ink, 0.7 * cols, rows, axis=0, edge=max(2, int(0.2 * rows)))
    # Columns: only nearly full-height bands at the very sides.
    _erase(ink, mask, col_ink, 0.9 * rows, cols, axis=1, edge=max(2, int(0.05 * cols)))


def _erase(ink: np.ndarray, mask: np.ndarray, profile: np.ndarray, need: float, thick: int, axis: int,
           edge: int | None) -> None:
    """Erase runs of ``profile >= need`` at most ``thick`` long; with ``edge``, only runs that
    start or end within ``edge`` of either end."""
    on = np.concatenate(([0], (profile >= need).astype(np.int8), [0]))
    changes = np.diff(on)
    count = len(profile)
    for start, stop in zip(np.flatnonzero(changes == 1).tolist(), np.flatnonzero(changes == -1).tolist()):
        if stop - start <= thick and (edge is None or start < edge or stop > count - edge):
            band = np.s_[max(0, start - 1) : min(count, stop + 1)]
            target = (band, slice(None)) if axis == 0 else (slice(None), band)
            ink[target] = 0
            mask[target] = 0


def _percentile(image: np.ndarray, q: float) -> int:
    hist = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel()
    return int(np.searchsorted(np.cumsum(hist), q / 100 * image.size))


def _text_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around the string, or None without ink.

    The text band is the run of rows around the densest one (smoothed) keeping 15% of its
    ink; components count if they overlap the band and are a quarter of its height (digits,
    a thin 1) or large (a long joined stroke).
    """
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    stats = stats[1:]
    area = stats[:, cv2.CC_STAT_AREA]
    biggest = area.max()
    solid = area >= max(3, 0.02 * biggest)
    profile = np.zeros(mask.shape[0], np.float64)
    for _, y, _, h, a in stats[solid]:
        profile[y : y + h] += a / h
    window = max(1, mask.shape[0] // 10)
    profile = np.convolve(profile, np.ones(window) / window, mode="same")
    peak = int(profile.argmax())
    low, high = peak, peak + 1
    while low > 0 and profile[low - 1] >= 0.15 * profile[peak]:
        low -= 1
    while high < len(profile) and profile[high] >= 0.15 * profile[peak]:
        high += 1
    band = high - low
    tops, bottoms = stats[:, 1], stats[:, 1] + stats[:, 3]
    overlap = np.minimum(bottoms, high) - np.maximum(tops, low)
    keep = solid & (overlap >= 0.5 * np.minimum(stats[:, 3], band)) & (
        (stats[:, 3] >= 0.25 * band) | (area >= 0.1 * biggest))
    if not keep.any():
        keep = area == biggest
    kept = stats[keep]
    return (int(kept[:, 0].min()), int(kept[:, 1].min()), int((kept[:, 0] + kept[:, 2]).max()),
            int((kept[:, 1] + kept[:, 3]).max()))
