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
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import math
import struct
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from contracts.errors import ReadError
from scans.errors import ImageTooLargeError, InvalidImageError
from scans.fold import Grid, fold_band
from scans.orientation import exif_orientation, xmp_orientation
from scans.png import SIGNATURE as PNG_SIGNATURE
from scans.png import decode_plain
from scans.png_stream import PngFile, parse_png, read_png

# Scans larger than this are refused rather than decoded; 40 MP covers an A4 page at 600 dpi.
DEFAULT_MAX_PIXELS = 40_000_000
# The most memory one image may take while it is decoded, its file's bytes included. With a
# worker's own 240 MB and files of at most 20 MB, a worker stays under 300 MB.
MEMORY_BUDGET = 44 << 20

REDUCTIONS = (1, 2, 4, 8)
# Formats Pillow may open: those the gateway accepts (contracts.uploads), nothing else.
_PILLOW_FORMATS = ("JPEG", "GIF", "BMP", "TIFF", "WEBP")  # JPEG includes MPO
# Bytes Pillow keeps per pixel for each mode.
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# What a format's Pillow decoder holds beside the decoded page, in pages: WebP keeps libwebp's
# canvases and a copy of the frame (measured: 16.6 bytes per RGBA pixel); BMP's run-length
# decoder builds the page twice in Python.
_PAGES_BESIDE = {"WEBP": 3.2, "BMP": 0.1, "GIF": 0.1, "JPEG": 0.1, "MPO": 0.1, "TIFF": 0.0}
_FILE_COPIES = {"WEBP": 2, "JPEG": 1, "MPO": 1, "GIF": 1}
_BMP_RLE = (1, 2)
_MODE_NAMES = {"1": "bilevel", "L": "grey", "P": "palette", "LA": "grey+alpha", "PA": "palette+alpha",
               "I;16": "16-bit grey", "I;16B": "16-bit grey", "I;16L": "16-bit grey", "I;16N": "16-bit grey",
               "I": "32-bit grey", "F": "floating-point grey", "LAB": "CIELAB"}
# A band of rows converted to luminance at a time holds about this many pixels.
_BAND_PIXELS = 1 << 15
# Per band: the band's copy, its RGBA conversion and float32 planes, 64 bytes a pixel at most.
_BAND_BYTES = 64 * _BAND_PIXELS
# TIFF directories whose numeric tags hold more values than this are refused: Pillow turns each
# into a Python object (tens of bytes), and a strip or tile list becomes a tile entry each.
_TIFF_VALUES = 1 << 16
_TIFF_TILE_BYTES = 400


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
        jpeg = _parse_jpeg(data) if data.startswith(b"\xff\xd8") else None
        if jpeg is not None:
            return jpeg.width, jpeg.height
        with _pillow_warnings(), Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS) as image:
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
        _check_pixels(png.width, png.height, max_pixels)
        return PngScan(data, png)
    if data.startswith(b"\xff\xd8"):
        jpeg = _parse_jpeg(data)
        if jpeg is not None and jpeg.plain and data.rstrip(b"\x00")[-2:] == b"\xff\xd9":
            _check_pixels(jpeg.width, jpeg.height, max_pixels)
            return JpegScan(data, jpeg)
    return PillowScan(data, max_pixels)


class Scan(ABC):
    """An image whose header has been read. ``size`` is the page's (width, height), upright."""

    data: bytes
    size: tuple[int, int]
    _known: dict[tuple[int, int], int]

    def cells(self, reduce: int, window: tuple[int, int, int, int] | None = None) -> int:
        """Pixels of the page reduced by ``reduce``, or of ``window`` (x0, y0, x1, y1) of it."""
        if window is not None:
            return (window[2] - window[0]) * (window[3] - window[1])
        return -(-self.size[0] // reduce) * -(-self.size[1] // reduce)

    def memory(self, reduce: int, cells: int) -> int:
        """Bytes, beyond the file, that reading ``cells`` cells of the page at ``reduce`` takes."""
        key = (reduce, cells)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = self._memory(reduce, cells)
        return known

    @abstractmethod
    def _memory(self, reduce: int, cells: int) -> int: ...

    @abstractmethod
    def describe(self) -> str:
        """What the image is, for messages: ``6300x6300 RGBA PNG``."""

    def affordable(self, reduce: int, cells: int) -> bool:
        """True when reading ``cells`` cells at ``reduce`` stays within ``MEMORY_BUDGET``."""
        return len(self.data) + self.memory(reduce, cells) <= MEMORY_BUDGET

    def check(self, reduce: int, cells: int) -> None:
        """Raise ImageTooLargeError unless reading at ``reduce`` is affordable."""
        if not self.affordable(reduce, cells):
            raise self.too_large(reduce, cells)

    def scale_words(self, reduce: int) -> str:
        return " at full size" if reduce == 1 else f" at 1/{reduce} scale"

    def too_large(self, reduce: int, cells: int) -> ImageTooLargeError:
        scale = self.scale_words(reduce)
        need = (len(self.data) + self.memory(reduce, cells)) / 2**20
        return ImageTooLargeError(f"decoding this {self.describe()}{scale} would take about {need:.0f} MB "
                                  f"(file included); one image may take at most {MEMORY_BUDGET >> 20} MB")

    def read(self, reduce: int, window: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The page's luminance reduced by ``reduce``, or only ``window`` (x0, y0, x1, y1, in
        cells of the reduced page) of it. Raises InvalidImageError on damaged data."""
        window = window or (0, 0, -(-self.size[0] // reduce), -(-self.size[1] // reduce))
        try:
            return self._read(reduce, window)
        except MemoryError as exc:
            raise ImageTooLargeError(f"decoding this {self.describe()} ran out of memory") from exc
        finally:
            if self.size[0] * self.size[1] > _TRIM_PIXELS or len(self.data) > _TRIM_PIXELS:
                release_memory()

    @abstractmethod
    def _read(self, reduce: int, window: tuple[int, int, int, int]) -> np.ndarray: ...


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
        # unfiltered rows, grey, and the halvings of _shrink (measured: 4.3 and 7 bytes a pixel).
        return len(self.data) + pixels * (3 * channels + 1) + pixels // 2

    def _memory(self, reduce: int, cells: int) -> int:
        return self.whole if self.fast else self.png.memory(cells)  # type: ignore[return-value]

    def _read(self, reduce: int, window: tuple[int, int, int, int]) -> np.ndarray:
        png = self.png
        if self.fast and png.palette == b"" and not png.exif:
            idat = png.idat[0] if len(png.idat) == 1 else b"".join(png.idat)
            grey = decode_plain(png.width, png.height, 1 if png.colour == 0 else 3, idat)
            if grey is not None:
                return _crop_shrink(grey, reduce, window)
        return read_png(png, Grid(png.width, png.height, png.orientation, reduce, window))


class _Jpeg(NamedTuple):
    width: int
    height: int
    precision: int
    components: tuple[tuple[int, int], ...]  # (horizontal, vertical) sampling of each
    buffered: bool  # progressive, or several scans: every coefficient is kept (True: maybe, for small pages)
    orientation: int

    @property
    def plain(self) -> bool:
        """8-bit grey or YCbCr/RGB: what OpenCV reads exactly as Pillow would."""
        return self.precision == 8 and len(self.components) in (1, 3)

    def coefficients(self) -> int:
        """Bytes libjpeg holds for the whole page's DCT coefficients (0 unless buffered)."""
        if not self.buffered:
            return 0
        most_h = max(h for h, _ in self.components)
        most_v = max(v for _, v in self.components)
        total = 0
        for h, v in self.components:
            blocks_x = _ceil(_ceil(self.width * h, most_h), 8) + h
            blocks_y = _ceil(_ceil(self.height * v, most_v), 8) + v
            total += blocks_x * blocks_y * 128
        return total


# Start-of-frame markers of baseline, extended, progressive and lossless JPEG; the progressive ones.
_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
_PROGRESSIVE = frozenset((0xC2, 0xC6, 0xCA, 0xCE))


# Up to this many pixels a JPEG's coefficients take at most 6 MB: the walk stops at the frame.
_SMALL_JPEG = 1 << 20
_U16 = struct.Struct(">H")
_FRAME = struct.Struct(">BHHB")


def _parse_jpeg(data: bytes) -> _Jpeg | None:
    """Walk the JPEG segments to the first scan; None if they are malformed or there is no frame."""
    pos, orientation, size = 2, 1, len(data)
    frame: tuple[int, int, int, tuple[tuple[int, int], ...], bool] | None = None
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a segment
            pos += 2
            continue
        length = _U16.unpack_from(data, pos + 2)[0]
        start, end = pos + 4, pos + 2 + length
        if length < 2 or end > size:
            return None
        if marker == 0xE1 and data.startswith(b"Exif\x00\x00", start):
            orientation = exif_orientation(data[start:end]) or 1
        elif marker in _SOF:
            if length < 8 or length < 8 + 3 * data[start + 5]:
                return None
            precision, height, width, count = _FRAME.unpack_from(data, start)
            sampling = tuple((data[start + 7 + 3 * i] >> 4, data[start + 7 + 3 * i] & 15) for i in range(count))
            if not width or not height or not count or any(not h or not v for h, v in sampling):
                return None
            frame = (width, height, precision, sampling, marker in _PROGRESSIVE)
            if width * height <= _SMALL_JPEG:  # no need to know: even every coefficient is little
                return _Jpeg(width, height, precision, sampling, True, orientation)
        elif marker == 0xDA:  # the first scan: all components in it, or one scan per component
            if frame is None or length < 3:
                return None
            width, height, precision, sampling, progressive = frame
            return _Jpeg(width, height, precision, sampling, progressive or data[start] < len(sampling), orientation)
        pos = end
    return None


class JpegScan(Scan):
    """An 8-bit grey or colour JPEG, read by OpenCV's libjpeg-turbo."""

    def __init__(self, data: bytes, jpeg: _Jpeg):
        self.data, self.jpeg, self._known = data, jpeg, {}
        turned = jpeg.orientation >= 5
        self.size = (jpeg.height, jpeg.width) if turned else (jpeg.width, jpeg.height)
        # Most scans: small enough to be decoded at full size, as they always were.
        small = jpeg.width * jpeg.height <= _SMALL_JPEG and len(data) <= MEMORY_BUDGET - (16 << 20)
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
        return _crop_shrink(grey, reduce // scale, window)


class PillowScan(Scan):
    """TIFF, BMP, GIF, WebP and JPEGs that OpenCV does not take: Pillow decodes the page whole.

    The header is read once; each read opens the image again, so that the decoded page is let
    go between reads (the pipeline runs in between)."""

    def __init__(self, data: bytes, max_pixels: int):
        self.data, self._known = data, {}
        # Pillow unpacks a TIFF's tags as it opens it: look at their size first.
        tags = _check_tiff_tags(data) if data[:4] in (b"II*\x00", b"MM\x00*") else 0
        with _pillow_errors("image header is corrupt"):
            image = self._open()
        with image:
            self.format = image.format or "image"
            self.mode = image.mode
            self.stored = image.size
            width, height = image.size
            if width <= 0 or height <= 0:
                raise InvalidImageError(f"{self.format} header gives an invalid size: {width}x{height}")
            _check_pixels(width, height, max_pixels)
            # Bytes held beside the page whatever its scale: copies of the file or of its metadata
            # (JPEG's APP segments, GIF's extensions; WebP's decoder copies the file twice), and
            # TIFF's strip or tile buffers.
            self.fixed = _FILE_COPIES.get(self.format, 0) * len(data)
            self.pages_beside = _PAGES_BESIDE.get(self.format, 1.0)
            if self.format == "TIFF":
                self.fixed = tags
            with _pillow_errors("image header is corrupt"):
                if self.format == "TIFF":
                    self.fixed += _tiff_buffers(image)
                    # Pillow turns a TIFF upright itself (its size is already turned), into a copy.
                    self.orientation = 1
                    if image.tag_v2.get(0x0112, 1) != 1:
                        self.pages_beside += 1.0
                else:
                    self.orientation = _pillow_orientation(image)
                if self.format == "BMP" and image.info.get("compression") in _BMP_RLE:
                    self.pages_beside = 2.3  # the run-length decoder builds the page twice in Python
        self.size = (height, width) if self.orientation >= 5 else (width, height)
        self.jpeg = _parse_jpeg(data) if self.format in ("JPEG", "MPO") else None

    def _open(self) -> Image.Image:
        with _pillow_warnings():
            return Image.open(io.BytesIO(self.data), formats=_PILLOW_FORMATS)

    def describe(self) -> str:
        fmt = {"WEBP": "WebP", "MPO": "JPEG"}.get(self.format, self.format)
        return f"{self.stored[0]}x{self.stored[1]} {_MODE_NAMES.get(self.mode, self.mode)} {fmt}"

    def scale_words(self, reduce: int) -> str:
        if self.jpeg is not None:
            return super().scale_words(self._scale(reduce))
        return ", which Pillow decodes whole,"

    def _scale(self, reduce: int) -> int:
        """libjpeg's scale for a JPEG (as for JpegScan); 1 for the others, decoded whole."""
        if self.jpeg is None:
            return 1
        for scale in REDUCTIONS:
            if scale <= reduce and len(self.data) + self._cost(scale, 0) <= MEMORY_BUDGET:
                return scale
        return reduce

    def _cost(self, scale: int, cells: int) -> int:
        width, height = (-(-side // scale) for side in self.stored)
        page = width * height * _MODE_BYTES.get(self.mode, 4)
        extra = self.jpeg.coefficients() if self.jpeg is not None else 0
        return int(page * (1 + self.pages_beside)) + self.fixed + extra + _BAND_BYTES + 5 * cells + (1 << 20)

    def _memory(self, reduce: int, cells: int) -> int:
        return self._cost(self._scale(reduce), cells)

    def _read(self, reduce: int, window: tuple[int, int, int, int]) -> np.ndarray:
        self.check(reduce, self.cells(reduce, window))
        scale = self._scale(reduce)
        with _pillow_errors("image data is corrupt or truncated"):
            image = self._open()
        with image:
            with _pillow_errors("image data is corrupt or truncated"), _pillow_warnings():
                image.seek(0)  # first frame of an animated GIF/WebP/TIFF
                if scale > 1:
                    image.draft(image.mode, (self.stored[0] // scale, self.stored[1] // scale))
                image.load()
            if image.size != (-(-self.stored[0] // scale), -(-self.stored[1] // scale)):
                raise InvalidImageError(f"{self.format} frame is {image.size[0]}x{image.size[1]}, "
                                        f"not the {self.stored[0]}x{self.stored[1]} its header gives")
            with _pillow_errors(f"the {self.mode} {self.format} image could not be turned to grey"):
                return _fold_pillow(image, reduce // scale, window, self.orientation)


@contextlib.contextmanager
def _pillow_errors(what: str) -> Iterator[None]:
    """Pillow's parsers and decoders raise nearly anything on damaged data: name it, as ours."""
    try:
        yield
    except ReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"image exceeds the pixel limit: {exc}") from exc
    except Image.UnidentifiedImageError as exc:
        raise InvalidImageError("not a recognised image format") from exc
    except MemoryError as exc:
        raise ImageTooLargeError("decoding the image needs more memory than there is") from exc
    except Exception as exc:  # noqa: BLE001 - see above
        raise InvalidImageError(f"{what}: {_name(exc)}") from exc


def release_memory() -> None:
    """Give the memory freed by a large decode back to the system (glibc's malloc_trim).

    glibc keeps freed blocks for reuse, and raises its threshold for serving large blocks
    from the heap each time one is freed: after a few large images a process would hold
    the largest decode's memory for good, and the next large decode would come on top."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc: nothing to trim this way
        return None


_MALLOC_TRIM = _malloc_trim()
# Pages (or files) larger than this give the memory of their decoding back when done (trimming
# takes about a ms); their decoders take up to several MB, which glibc would keep.
_TRIM_PIXELS = 2 << 20


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _name(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _pillow_warnings(warnings.catch_warnings):
    """Pillow's warnings about damaged metadata are not ours to print; its bomb warning is an error."""

    def __enter__(self) -> None:
        super().__enter__()
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")


def _check_tiff_tags(data: bytes) -> int:
    """The bytes of the tag values Pillow reads into memory from a TIFF's first directory and
    the EXIF, GPS and interoperability directories it points to. A TIFF whose numeric tags hold
    more values than Pillow should unpack (each becomes a Python object, each strip or tile an
    entry) is refused."""
    order = "<" if data[:2] == b"II" else ">"
    try:
        directories = [struct.unpack(order + "I", data[4:8])[0]]
    except struct.error:
        return 0  # Pillow names the damage
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
    values = payload = 0
    seen: set[int] = set()
    while directories and len(seen) < 8:
        offset = directories.pop()
        if offset in seen or offset + 2 > len(data):
            continue
        seen.add(offset)
        entries = struct.unpack(order + "H", data[offset : offset + 2])[0]
        for entry in range(offset + 2, min(offset + 2 + 12 * entries, len(data) - 11), 12):
            tag, kind, count = struct.unpack(order + "HHI", data[entry : entry + 8])
            if kind in sizes:
                count = min(count, len(data) // sizes[kind])  # Pillow reads no further than the file
                payload += count * sizes[kind]
                if kind not in (1, 2, 6, 7):  # bytes and text stay bytes; numbers become objects
                    values += count
            if tag in _TIFF_POINTERS and kind in (4, 13):
                directories.append(struct.unpack(order + "I", data[entry + 8 : entry + 12])[0])
    if values > _TIFF_VALUES:
        raise ImageTooLargeError(f"TIFF directories hold {values} numeric values (strip and tile lists); "
                                 f"at most {_TIFF_VALUES} are read")
    return min(payload, len(data)) + values * 40


# Tags that point to the EXIF, GPS and interoperability directories, which Pillow reads on loading.
_TIFF_POINTERS = frozenset((0x8769, 0x8825, 0xA005))


def _tiff_buffers(image: Image.Image) -> int:
    """Bytes libtiff and Pillow hold beside a TIFF's page: a strip or tile decoded (as RGBA for
    YCbCr data), and Pillow's entry per strip or tile."""
    tags = getattr(image, "tag_v2", {})
    width, height = image.size
    try:
        bits = tags.get(258, 1)
        bits = max(int(b) for b in bits) if isinstance(bits, tuple) else int(bits)
        samples = int(tags.get(277, 1))
        rows = min(int(tags.get(278, height)), height)
        tile_width, tile_height = int(tags.get(322, 0)), int(tags.get(323, 0))
        rgba = int(tags.get(262, 0)) == 6 or int(tags.get(259, 1)) == 6  # YCbCr, old-style JPEG
    except (TypeError, ValueError):
        return 8 * width * height  # tags too damaged to size the buffers: assume the worst
    if tile_width > 0 and tile_height > 0:
        span, lines = tile_width, tile_height
        pieces = -(-width // tile_width) * -(-height // tile_height)
    else:
        span, lines = width, max(rows, 1)
        pieces = -(-height // lines)
    row = 4 * span if rgba else -(-span * max(samples, 1) * max(bits, 1) // 8)
    return lines * row + pieces * _TIFF_TILE_BYTES


def _pillow_orientation(image: Image.Image) -> int:
    """EXIF (or XMP) orientation, as ImageOps.exif_transpose reads it; 1 when absent or broken."""
    try:
        exif = image.info.get("exif")
        value = exif_orientation(exif) if isinstance(exif, bytes) else None
        if value is None:
            value = xmp_orientation(image.info.get("XML:com.adobe.xmp") or image.info.get("xmp"))
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the image itself
        return 1
    return value or 1


def _fold_pillow(image: Image.Image, reduce: int, window: tuple[int, int, int, int], orientation: int) -> np.ndarray:
    """Pillow's decoded page, converted to luminance a band of rows at a time and folded into
    ``window`` of the page turned by ``orientation`` and reduced by ``reduce``."""
    width, height = image.size
    grid = Grid(width, height, orientation, reduce, window)
    sums = grid.new_sums()
    params = grid.params()
    convert = _band_converter(image)
    rows = max(1, _BAND_PIXELS // width)
    for top in range(0, height, rows):
        band = convert(image.crop((0, top, width, min(top + rows, height))))
        fold_band(np.require(band, np.uint8, "CW"), top, params, sums)  # one type: one compiled kernel
    return grid.finish(sums)


def _band_converter(image: Image.Image):
    """A function from a band of ``image`` to its uint8 luminance, by the image's mode."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        low, peak = _extrema(image)
        # 16-bit scans use either the full 0..65535 range or just 12 bits; scale by content.
        factor = 255.0 / (65535.0 if peak > 4095 else 4095.0 if peak > 255 else 255.0)
        return lambda band: _to_uint8(np.asarray(band, dtype=np.float32) * factor)
    if mode == "F":
        _, peak = _extrema(image)
        factor = 255.0 if peak <= 1.0 else 1.0
        return lambda band: _to_uint8(np.nan_to_num(np.asarray(band, dtype=np.float32)) * factor)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        return _composite
    if mode == "LAB":
        return lambda band: np.asarray(band)[..., 0]  # the lightness channel: L*, 0..100 as 0..255
    if mode in ("1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr"):
        return lambda band: np.asarray(band.convert("L"), dtype=np.uint8)
    return lambda band: _any_to_grey(band, image.format or "image")


def _any_to_grey(band: Image.Image, fmt: str) -> np.ndarray:
    """A mode without a rule of its own (HSV, ...): through RGB if Pillow knows no direct way."""
    for steps in (("L",), ("RGB", "L")):
        try:
            for mode in steps:
                band = band.convert(mode)
            return np.asarray(band, dtype=np.uint8)
        except ValueError:
            continue
    raise InvalidImageError(f"{fmt} colour mode {band.mode} is not supported (no conversion to grey)")


def _extrema(image: Image.Image) -> tuple[float, float]:
    """The least and greatest value of a one-channel image (NaN counts as 0)."""
    try:
        low, high = (float(v) for v in image.getextrema())  # type: ignore[arg-type]
    except ValueError:  # Pillow has no extrema for some modes (I;16B): a band at a time
        width, height = image.size
        rows = max(1, _BAND_PIXELS // width)
        low, high = math.inf, -math.inf
        for top in range(0, height, rows):
            band = np.asarray(image.crop((0, top, width, min(top + rows, height))), dtype=np.float32)
            low, high = min(low, float(band.min())), max(high, float(band.max()))
    return (0.0 if math.isnan(low) else low), (0.0 if math.isnan(high) else high)


def _composite(band: Image.Image) -> np.ndarray:
    """Transparency over white paper: transparent pixels become paper, opaque keep their tone."""
    rgba = np.asarray(band.convert("RGBA"), dtype=np.float32)
    alpha = rgba[..., 3] / 255.0
    grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return _to_uint8(grey * alpha + 255.0 * (1.0 - alpha))


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _crop_shrink(grey: np.ndarray, reduce: int, window: tuple[int, int, int, int]) -> np.ndarray:
    """``window`` (in cells of ``grey`` reduced by ``reduce``) of ``grey``, shrunk by ``reduce``."""
    x0, y0, x1, y1 = window
    height, width = grey.shape
    if (x0, y0) != (0, 0) or x1 * reduce < width or y1 * reduce < height:
        grey = grey[y0 * reduce : y1 * reduce, x0 * reduce : x1 * reduce]
    return _shrink(grey, reduce)


def _shrink(grey: np.ndarray, reduce: int) -> np.ndarray:
    """Halve the page until it is ``reduce`` times smaller, each side rounded up.

    OpenCV averages 2x2 cells in a fast vectorised path; any other ratio (4, 8, or an odd
    side) takes a general one that is 5-15x slower: 23 ms against 2 ms on an A4 page at
    300 dpi. An odd side gets its last row or column repeated, so that every cell lies on
    the grid the boxes are scaled back with (cell i covers pixels i*reduce onwards).
    """
    while reduce > 1:
        height, width = grey.shape
        if height % 2 or width % 2:
            grey = cv2.copyMakeBorder(grey, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
        grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
        reduce //= 2
    return grey
