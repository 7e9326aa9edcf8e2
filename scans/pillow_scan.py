"""TIFF, BMP, GIF, WebP and the JPEGs OpenCV does not take: Pillow decodes the page whole, after
its decoded bytes are checked against the budget from the header; the luminance is made a
band of rows at a time."""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image

from contracts.errors import ReadError
from scans.errors import ImageTooLargeError, InvalidImageError
from scans.fold import Grid, fold_band
from scans.jpeg import parse_jpeg
from scans.orientation import exif_orientation, xmp_orientation
from scans.scan import MEMORY_BUDGET, REDUCTIONS, Scan, check_pixels, to_uint8
from scans.tiff import check_tiff_tags, tiff_buffers

# Formats Pillow may open: those the gateway accepts (contracts.uploads), nothing else.
PILLOW_FORMATS = ("JPEG", "GIF", "BMP", "TIFF", "WEBP")  # JPEG includes MPO
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


class PillowScan(Scan):
    """TIFF, BMP, GIF, WebP and JPEGs that OpenCV does not take: Pillow decodes the page whole.

    The header is read once; each read opens the image again, so that the decoded page is let
    go between reads (the pipeline runs in between)."""

    def __init__(self, data: bytes, max_pixels: int):
        self.data, self._known = data, {}
        # Pillow unpacks a TIFF's tags as it opens it: look at their size first.
        tags = check_tiff_tags(data) if data[:4] in (b"II*\x00", b"MM\x00*") else 0
        with _pillow_errors("image header is corrupt"):
            image = self._open()
        with image:
            self.format = image.format or "image"
            self.mode = image.mode
            self.stored = image.size
            width, height = image.size
            if width <= 0 or height <= 0:
                raise InvalidImageError(f"{self.format} header gives an invalid size: {width}x{height}")
            check_pixels(width, height, max_pixels)
            # Bytes held beside the page whatever its scale: copies of the file or of its metadata
            # (JPEG's APP segments, GIF's extensions; WebP's decoder copies the file twice), and
            # TIFF's strip or tile buffers.
            self.fixed = _FILE_COPIES.get(self.format, 0) * len(data)
            self.pages_beside = _PAGES_BESIDE.get(self.format, 1.0)
            if self.format == "TIFF":
                self.fixed = tags
            with _pillow_errors("image header is corrupt"):
                if self.format == "TIFF":
                    self.fixed += tiff_buffers(image)
                    # Pillow turns a TIFF upright itself (its size is already turned), into a copy.
                    self.orientation = 1
                    if image.tag_v2.get(0x0112, 1) != 1:
                        self.pages_beside += 1.0
                else:
                    self.orientation = _pillow_orientation(image)
                if self.format == "BMP" and image.info.get("compression") in _BMP_RLE:
                    self.pages_beside = 2.3  # the run-length decoder builds the page twice in Python
        self.size = (height, width) if self.orientation >= 5 else (width, height)
        self.jpeg = parse_jpeg(data) if self.format in ("JPEG", "MPO") else None

    def _open(self) -> Image.Image:
        with pillow_warnings():
            return Image.open(io.BytesIO(self.data), formats=PILLOW_FORMATS)

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
            with _pillow_errors("image data is corrupt or truncated"), pillow_warnings():
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


def _name(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class pillow_warnings(warnings.catch_warnings):
    """Pillow's warnings about damaged metadata are not ours to print; its bomb warning is an error."""

    def __enter__(self) -> None:
        super().__enter__()
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)


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
        return lambda band: to_uint8(np.asarray(band, dtype=np.float32) * factor)
    if mode == "F":
        _, peak = _extrema(image)
        factor = 255.0 if peak <= 1.0 else 1.0
        return lambda band: to_uint8(np.nan_to_num(np.asarray(band, dtype=np.float32)) * factor)
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
    return to_uint8(grey * alpha + 255.0 * (1.0 - alpha))
