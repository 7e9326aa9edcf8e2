"""What every decoder of a scan shares: the limits, the :class:`Scan` a header makes, giving
memory back after a large decode, and cropping and shrinking a decoded page."""

from __future__ import annotations

import ctypes
from abc import ABC, abstractmethod
from collections.abc import Callable

import cv2
import numpy as np

from scans.errors import ImageTooLargeError

# Scans larger than this are refused rather than decoded; 40 MP covers an A4 page at 600 dpi.
DEFAULT_MAX_PIXELS = 40_000_000
# The most memory one image may take while it is decoded, its file's bytes included. With a
# worker's own 240 MB and files of at most 20 MB, a worker stays under 300 MB.
MEMORY_BUDGET = 44 << 20

REDUCTIONS = (1, 2, 4, 8)


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


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")


def to_uint8(arr: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def crop_shrink(grey: np.ndarray, reduce: int, window: tuple[int, int, int, int]) -> np.ndarray:
    """``window`` (in cells of ``grey`` reduced by ``reduce``) of ``grey``, shrunk by ``reduce``."""
    x0, y0, x1, y1 = window
    height, width = grey.shape
    if (x0, y0) != (0, 0) or x1 * reduce < width or y1 * reduce < height:
        grey = grey[y0 * reduce : y1 * reduce, x0 * reduce : x1 * reduce]
    return shrink(grey, reduce)


def shrink(grey: np.ndarray, reduce: int) -> np.ndarray:
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
