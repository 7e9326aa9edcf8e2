"""Errors raised by the worker, named for the condition that caused them."""


class WorkerError(Exception):
    """Base class for worker errors. ``code`` is a stable machine-readable name."""

    code = "worker_error"


class InvalidImageError(WorkerError):
    """The bytes are not an image we can decode (empty, truncated, unknown format)."""

    code = "invalid_image"


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than the configured limit (or is a decompression bomb)."""

    code = "image_too_large"


class NoDigitFoundError(WorkerError):
    """The image decoded fine but holds no ink that could be a digit."""

    code = "no_digit_found"


class ImageExpiredError(WorkerError):
    """The uploaded bytes are gone from storage (their TTL ran out before a worker ran)."""

    code = "image_expired"


class ModelUnavailableError(WorkerError):
    """The model server could not be reached, or has no servable version, after retries."""

    code = "model_unavailable"


class PredictionRejectedError(WorkerError):
    """The model server rejected the request as malformed; retrying cannot help."""

    code = "prediction_rejected"


class TooManyDigitsError(WorkerError):
    """The image holds more separate marks than one number could have (a page, a photo)."""

    code = "too_many_digits"


class ChunkFailedError(WorkerError):
    """A chunk could not be run to the end (its worker died, or it timed out) and its retries are spent."""

    code = "chunk_failed"
