"""Error codes: the ``code`` of every JSON error and error row, with its HTTP status.

The gateway answers ``{"error": {"code": ..., "message": ...}}`` with the status named here;
workers put the same codes in the rows of images they could not read. Clients match on the
code, so codes never change meaning.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """A stable, machine-readable error name; ``status`` is its HTTP status."""

    def __new__(cls, value: str, status: int) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        return member

    status: int

    # The request itself.
    INVALID_PARAMETER = ("invalid_parameter", 400)
    MISSING_FILE = ("missing_file", 400)
    MISSING_FILES = ("missing_files", 400)
    INVALID_ZIP = ("invalid_zip", 400)
    UNSAFE_ZIP = ("unsafe_zip", 400)
    INVALID_MULTIPART = ("invalid_multipart", 400)
    MISSING_API_KEY = ("missing_api_key", 401)
    INVALID_API_KEY = ("invalid_api_key", 401)
    BATCH_NOT_FOUND = ("batch_not_found", 404)
    BATCH_FINISHED = ("batch_finished", 409)
    REQUEST_TOO_LARGE = ("request_too_large", 413)
    FILE_TOO_LARGE = ("file_too_large", 413)
    TOO_MANY_FILES = ("too_many_files", 413)
    ZIP_BOMB = ("zip_bomb", 413)
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", 415)
    RATE_LIMITED = ("rate_limited", 429)
    # One image: the same codes answer /v1/predict and fill a batch row.
    UNSUPPORTED_TYPE = ("unsupported_type", 415)
    INVALID_IMAGE = ("invalid_image", 422)
    IMAGE_TOO_LARGE = ("image_too_large", 413)
    NO_DIGIT_FOUND = ("no_digit_found", 422)
    TOO_MANY_DIGITS = ("too_many_digits", 422)
    IMAGE_EXPIRED = ("image_expired", 410)
    # The system.
    PREDICTION_REJECTED = ("prediction_rejected", 500)
    CHUNK_FAILED = ("chunk_failed", 500)
    INTERNAL_ERROR = ("internal_error", 500)
    MODEL_UNAVAILABLE = ("model_unavailable", 503)
    TIMEOUT = ("timeout", 504)


class ReadError(Exception):
    """An image could not be read; it becomes that image's error row (``code`` and message).

    Subclasses are named for the condition and set ``code``.
    """

    code: ErrorCode = ErrorCode.INVALID_IMAGE
