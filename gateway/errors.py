"""One JSON error shape everywhere: ``{"error": {"code": ..., "message": ...}}``.

Codes and their HTTP statuses are the contract's (:class:`contracts.errors.ErrorCode`).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from contracts.errors import ErrorCode
from core.batch_store import BatchFinishedError, BatchNotFoundError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as JSON with its code's HTTP status."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def error_response(code: ErrorCode, message: str, status: int | None = None) -> Response:
    """The JSON error answer; ``status`` defaults to the code's own."""
    response = jsonify({"error": {"code": str(code), "message": message}})
    response.status_code = status or code.status
    return response


def row_error(code: str, message: str) -> ApiError:
    """The answer for a row that could not be read (a worker's code, e.g. ``invalid_image``)."""
    try:
        known = ErrorCode(code)
    except ValueError:
        known = ErrorCode.INVALID_IMAGE
    return ApiError(known, message)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.code, exc.message)

    @app.errorhandler(BatchNotFoundError)
    def _batch_not_found(exc: BatchNotFoundError):
        return error_response(ErrorCode.BATCH_NOT_FOUND, f"no batch with id {exc.args[0]!r}")

    @app.errorhandler(BatchFinishedError)
    def _batch_finished(exc: BatchFinishedError):
        return error_response(ErrorCode.BATCH_FINISHED, f"batch {exc.args[0]!r} has already finished")

    @app.errorhandler(RequestEntityTooLarge)
    def _request_too_large(exc: RequestEntityTooLarge):
        # Werkzeug raises this for a body over MAX_CONTENT_LENGTH, a form of more than
        # MAX_FORM_PARTS parts, and a text field over MAX_FORM_MEMORY_SIZE: name the real cause.
        limit = app.config["MAX_CONTENT_LENGTH"]
        length = request.content_length
        if length is not None and length > limit:
            return error_response(ErrorCode.REQUEST_TOO_LARGE, f"the request is larger than {limit} bytes")
        files = app.extensions["digits.settings"].max_files
        if getattr(request, "file_parts", 0) >= files:
            return error_response(ErrorCode.TOO_MANY_FILES, f"more than {files} files in one request; the limit "
                                  f"is {files} per request (send the rest in another)")
        if length is None:  # a chunked body that went over the limit
            return error_response(ErrorCode.REQUEST_TOO_LARGE, f"the request is larger than {limit} bytes")
        return error_response(ErrorCode.REQUEST_TOO_LARGE, f"a form part that is not a file is larger than "
                              f"{app.config['MAX_FORM_MEMORY_SIZE']} bytes, or the form has more than "
                              f"{app.config['MAX_FORM_PARTS']} parts")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # Routing and method errors keep werkzeug's status, named after its reason phrase.
        response = jsonify({"error": {"code": (exc.name or "error").lower().replace(" ", "_"),
                                      "message": exc.description or exc.name}})
        response.status_code = exc.code or 500
        # Keep the exception's own headers, such as a 405's Allow (RFC 9110 requires it).
        for name, value in exc.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(ErrorCode.INTERNAL_ERROR, "internal server error")
