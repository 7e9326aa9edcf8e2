"""One JSON error shape everywhere: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from digits.batches import BatchFinishedError, BatchNotFoundError

log = logging.getLogger(__name__)

# Worker error codes (see worker.errors) and the HTTP status each maps to.
WORKER_ERROR_STATUS = {
    "invalid_image": 422,
    "image_too_large": 413,
    "no_digit_found": 422,
    "too_many_digits": 422,
    "image_expired": 410,
    "prediction_rejected": 500,
    "model_unavailable": 503,
}


class ApiError(Exception):
    """An error answered as JSON with ``status``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(BatchNotFoundError)
    def _batch_not_found(exc: BatchNotFoundError):
        return error_response(404, "batch_not_found", f"no batch with id {exc.args[0]!r}")

    @app.errorhandler(BatchFinishedError)
    def _batch_finished(exc: BatchFinishedError):
        return error_response(409, "batch_finished", f"batch {exc.args[0]!r} has already finished")

    @app.errorhandler(RequestEntityTooLarge)
    def _request_too_large(exc: RequestEntityTooLarge):
        limit = app.config["MAX_CONTENT_LENGTH"]
        return error_response(413, "request_too_large", f"the request is larger than {limit} bytes")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        # Keep the exception's own headers, such as a 405's Allow (RFC 9110 requires it).
        for name, value in exc.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal server error")
