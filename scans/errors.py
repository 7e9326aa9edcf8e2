"""Why a scan could not be read. Each error becomes that image's row, with its ``code``."""

from __future__ import annotations

from contracts.errors import ErrorCode, ReadError


class InvalidImageError(ReadError):
    """The bytes are not an image we can decode (empty, truncated, unknown format or mode)."""

    code = ErrorCode.INVALID_IMAGE


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than the configured limit (or is a decompression bomb)."""

    code = ErrorCode.IMAGE_TOO_LARGE


class NoDigitFoundError(ReadError):
    """The image decoded fine but holds no ink that could be a digit."""

    code = ErrorCode.NO_DIGIT_FOUND


class TooManyDigitsError(ReadError):
    """The image holds more separate marks than one number could have (a page, a photo)."""

    code = ErrorCode.TOO_MANY_DIGITS
