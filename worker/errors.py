"""Errors the worker raises beyond the scan's own (:mod:`scans.errors`), named for the condition."""

from __future__ import annotations

from contracts.errors import ErrorCode, ReadError


class ImageExpiredError(ReadError):
    """The uploaded bytes are gone from storage (their TTL ran out before a worker ran)."""

    code = ErrorCode.IMAGE_EXPIRED


class ModelUnavailableError(ReadError):
    """The model server could not be reached, or has no servable version, after retries."""

    code = ErrorCode.MODEL_UNAVAILABLE


class ModelNotFoundError(ModelUnavailableError):
    """The model server does not serve the model (NOT_FOUND): not configured, or no version."""


class PredictionRejectedError(ReadError):
    """The model server rejected the request as malformed; retrying cannot help."""

    code = ErrorCode.PREDICTION_REJECTED


class ChunkFailedError(ReadError):
    """A chunk could not be run to the end (its worker died, or it timed out) and its retries are spent."""

    code = ErrorCode.CHUNK_FAILED
