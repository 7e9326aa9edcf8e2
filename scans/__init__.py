"""The scan library: image bytes in, model inputs out. No Redis, RQ or gRPC in here.

Reading a scan is decode -> clean -> segment -> normalise:

* :mod:`scans.decode` (and :mod:`scans.png`, :mod:`scans.png_stream`, :mod:`scans.fold`): any PNG,
  JPEG, GIF, BMP, TIFF or WebP to 8-bit luminance, refusing pixel bombs and images that would
  take more than ``MEMORY_BUDGET`` before decoding, large pages at a reduced scale;
* :mod:`scans.clean`: ink polarity, uneven light, noise, printed lines and boxes;
* :mod:`scans.segment` (and :mod:`scans.components`): the ink split into digits, left to right;
* :mod:`scans.normalise` (and :mod:`scans.resample`): each digit as MNIST was built, 28x28.

Every function is pure (bytes or arrays in, arrays out), so the worker, the trainer's
evaluation and the benchmarks read scans exactly alike. :mod:`scans.generate` draws synthetic
scans from MNIST digits for evaluation, tests and benchmarks.

The public API:

* :func:`preprocess` ``(data, max_pixels) -> Digits``: a scan's digits as (n, 28, 28) uint8
  images and their (x, y, width, height) boxes in the scan's pixels;
* :func:`read_digits`: the same from a decoded luminance array;
* :func:`decode_grey`, :func:`image_size`: decoding alone;
* :func:`warm_up`: compile the image kernels before the first scan;
* the errors, each with its contract code: :class:`InvalidImageError`,
  :class:`ImageTooLargeError`, :class:`NoDigitFoundError`, :class:`TooManyDigitsError`.
"""

from scans.decode import DEFAULT_MAX_PIXELS, decode_grey, image_size
from scans.errors import ImageTooLargeError, InvalidImageError, NoDigitFoundError, TooManyDigitsError
from scans.preprocess import MAX_DIGITS, Digits, preprocess, read_digits, warm_up

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_DIGITS",
    "Digits",
    "ImageTooLargeError",
    "InvalidImageError",
    "NoDigitFoundError",
    "TooManyDigitsError",
    "decode_grey",
    "image_size",
    "preprocess",
    "read_digits",
    "warm_up",
]
