"""Decode image bytes into 8-bit luminance, whatever the file format or mode, in bounded memory.

:func:`open_scan` reads the header alone and says what decoding will cost; :meth:`Scan.read`
decodes the page at a reduced scale (``reduce``: each side divided by 1, 2, 4 or 8, rounding up)
and, optionally, only a window of it. One image never takes more than ``MEMORY_BUDGET`` bytes
(its file included) while it is decoded:

* PNG, every kind: plain 8-bit grey or RGB pages that fit are decoded whole by
  :mod:`scans.png` (fast); everything else is read row by row (:mod:`scans.png_stream`), each
  row folded at once into the reduced page, so any accepted size fits.
* JPEG (8-bit grey or YCbCr): OpenCV's libjpeg-turbo, at full size when that fits, else
  scaled while decoding (libjpeg's 1/2, 1/4, 1/8). Progressive and multi-scan JPEGs also hold
  every DCT coefficient of the page (2 bytes per pixel and component) whatever the scale.
* TIFF, BMP, GIF, WebP and other JPEGs (CMYK, damaged): Pillow decodes the page whole, so the
  page's decoded bytes (width x height x the bytes of its mode, times what the format's decoder
  holds beside it) are checked against the budget from the header, before decoding; the
  luminance is then made a band of rows at a time.

Above the budget the image is refused with ``image_too_large`` and a message that says what it
would take. Every failure while decoding is an :class:`InvalidImageError` (or
:class:`ImageTooLargeError`) naming what went wrong.

This module opens a scan and reads PNGs and plain JPEGs; :mod:`scans.scan` holds the limits
and what every kind shares, :mod:`scans.jpeg` reads a JPEG's header, :mod:`scans.pillow_scan`
decodes the rest (with :mod:`scans.tiff` sizing a TIFF's tags and buffers).
"""

from __future__ import annotations

import functools
import io

import cv2
import numpy as np
from PIL import Image

from scans.errors import InvalidImageError
from scans.fold import Grid
from scans.jpeg import SMALL_JPEG, JpegHeader, parse_jpeg
from scans.pillow_scan import PILLOW_FORMATS, PillowScan, pillow_warnings
from scans.png import SIGNATURE as PNG_SIGNATURE
from scans.png import decode_plain
from scans.png_stream import PngFile, parse_png, read_png
from scans.scan import DEFAULT_MAX_PIXELS, MEMORY_BUDGET, REDUCTIONS, Scan, check_pixels, crop_shrink

__all__ = ["DEFAULT_MAX_PIXELS", "MEMORY_BUDGET", "REDUCTIONS", "Scan", "decode_grey", "image_size", "open_scan"]


def decode_grey(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, reduce: int = 1) -> np.ndarray:
    """Decode ``data`` to a 2-D uint8 array of luminance.

    Transparency is treated as paper: a canvas drawing that puts ink only in the alpha
    channel comes out as dark ink on white. EXIF orientation is applied. ``reduce`` (one of
    ``REDUCTIONS``) shrinks each side by that factor, rounding up, by area averaging.

    Raises:
        InvalidImageError: empty, truncated, damaged or non-image bytes, or a mode we cannot read.
        ImageTooLargeError: more than ``max_pixels`` pixels, or more memory than ``MEMORY_BUDGET``
            at this ``reduce``.
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}, not {reduce}")
    scan = open_scan(data, max_pixels)
    scan.check(reduce, scan.cells(reduce))
    return scan.read(reduce)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from the header alone (before EXIF rotation); None if unreadable."""
    try:
        if data.startswith(PNG_SIGNATURE):
            png = parse_png(data)
            return png.width, png.height
        jpeg = parse_jpeg(data) if data.startswith(b"\xff\xd8") else None
        if jpeg is not None:
            return jpeg.width, jpeg.height
        with pillow_warnings(), Image.open(io.BytesIO(data), formats=PILLOW_FORMATS) as image:
            return image.size
    except Exception:  # noqa: BLE001 - decoding will raise the precise error
        return None


def open_scan(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Scan:
    """Read the header of ``data``: the page's size and what decoding it will cost.

    Raises:
        InvalidImageError: empty, damaged or non-image bytes.
        ImageTooLargeError: more than ``max_pixels`` pixels.
    """
    if not data:
        raise InvalidImageError("empty file (0 bytes)")
    if data.startswith(PNG_SIGNATURE):
        png = parse_png(data)
        check_pixels(png.width, png.height, max_pixels)
        return PngScan(data, png)
    if data.startswith(b"\xff\xd8"):
        jpeg = parse_jpeg(data)
        if jpeg is not None and jpeg.plain and data.rstrip(b"\x00")[-2:] == b"\xff\xd9":
            check_pixels(jpeg.width, jpeg.height, max_pixels)
            return JpegScan(data, jpeg)
    return PillowScan(data, max_pixels)


class PngScan(Scan):
    """A PNG: plain pages that fit are decoded whole (:mod:`scans.png`), the rest row by row."""

    def __init__(self, data: bytes, png: PngFile):
        self.data, self.png, self._known = data, png, {}
        self.size = (png.height, png.width) if png.orientation >= 5 else (png.width, png.height)
        self.whole = self._whole()
        self.fast = self.whole is not None and len(data) + self.whole <= MEMORY_BUDGET

    def describe(self) -> str:
        kind = {0: "grey", 2: "RGB", 3: "palette", 4: "grey+alpha", 6: "RGBA"}[self.png.colour]
        return f"{self.png.width}x{self.png.height} {self.png.depth}-bit {kind} PNG"

    def _whole(self) -> int | None:
        """Bytes a whole decode by the fast path takes, None when it does not take this PNG."""
        png = self.png
        if (png.depth != 8 or png.colour not in (0, 2) or png.interlaced or png.transparency is not None
                or png.orientation != 1):
            return None
        pixels = png.width * png.height
        channels = 1 if png.colour == 0 else 3
        # The image data joined, the inflated rows (and the inflater's growing buffer), the
        # unfiltered rows, grey, and the halvings of shrink (measured: 4.3 and 7 bytes a pixel).
        return len(self.data) + pixels * (3 * channels + 1) + pixels // 2

    def _memory(self, reduce: int, cells: int) -> int:
        return self.whole if self.fast else self.png.memory(cells)  # type: ignore[return-value]

    def _read(self, reduce: int, window: tuple[int, int, int, int]) -> np.ndarray:
        png = self.png
        if self.fast and png.palette == b"" and not png.exif:
            idat = png.idat[0] if len(png.idat) == 1 else b"".join(png.idat)
            grey = decode_plain(png.width, png.height, 1 if png.colour == 0 else 3, idat)
            if grey is not None:
                return crop_shrink(grey, reduce, window)
        return read_png(png, Grid(png.width, png.height, png.orientation, reduce, window))


class JpegScan(Scan):
    """An 8-bit grey or colour JPEG, read by OpenCV's libjpeg-turbo."""

    def __init__(self, data: bytes, jpeg: JpegHeader):
        self.data, self.jpeg, self._known = data, jpeg, {}
        turned = jpeg.orientation >= 5
        self.size = (jpeg.height, jpeg.width) if turned else (jpeg.width, jpeg.height)
        # Most scans: small enough to be decoded at full size, as they always were.
        small = jpeg.width * jpeg.height <= SMALL_JPEG and len(data) <= MEMORY_BUDGET - (16 << 20)
        self.full_size = small or len(data) + self._cost(1) <= MEMORY_BUDGET

    @functools.cached_property
    def coefficients(self) -> int:
        return self.jpeg.coefficients()

    def describe(self) -> str:
        kind = "grey" if len(self.jpeg.components) == 1 else "colour"
        progressive = " progressive or multi-scan" if self.jpeg.buffered else ""
        return f"{self.jpeg.width}x{self.jpeg.height} {kind}{progressive} JPEG"

    def _cost(self, scale: int) -> int:
        """Bytes to decode the page scaled by 1/``scale``: OpenCV's output and its copy (and a
        turned copy), libjpeg's coefficients when buffered, our crop and halvings."""
        pixels = -(-self.jpeg.width // scale) * -(-self.jpeg.height // scale)
        turned = 1 if self.jpeg.orientation != 1 else 0
        return pixels * (3 + turned) + self.coefficients + (2 << 20)

    def _scale(self, reduce: int) -> int:
        """The finest libjpeg scale, at most ``reduce``, that fits (``reduce`` if none does).

        Full size is kept whenever it fits: libjpeg's own scaling is blocky at low JPEG
        qualities (it cost 0.4% of single-digit accuracy on small scans)."""
        if self.full_size:
            return 1
        for scale in REDUCTIONS:
            if scale <= reduce and len(self.data) + self._cost(scale) <= MEMORY_BUDGET:
                return scale
        return reduce

    def _memory(self, reduce: int, cells: int) -> int:
        return self._cost(self._scale(reduce))

    def _read(self, reduce: int, window: tuple[int, int, int, int]) -> np.ndarray:
        scale = self._scale(reduce)
        flags = cv2.IMREAD_GRAYSCALE if scale == 1 else getattr(cv2, f"IMREAD_REDUCED_GRAYSCALE_{scale}")
        grey = cv2.imdecode(np.frombuffer(self.data, np.uint8), flags)
        expected = (-(-self.size[1] // scale), -(-self.size[0] // scale))
        if grey is None or grey.shape != expected:
            # OpenCV gives up on damage Pillow can name (or reads what it can): let Pillow say.
            return PillowScan(self.data, self.jpeg.width * self.jpeg.height)._read(reduce, window)
        return crop_shrink(grey, reduce // scale, window)
