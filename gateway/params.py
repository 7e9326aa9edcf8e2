"""Checking request parameters: each mistake is a 400 (or 415) that says what to send."""

from __future__ import annotations

from typing import IO

from flask import Request, request

from contracts.errors import ErrorCode
from gateway.errors import ApiError

# Form parts allowed beyond DIGITS_MAX_FILES, so that a request of exactly the limit and a
# few text fields is never refused by the multipart parser before our own count names the cause.
FORM_PARTS_SLACK = 16


class GatewayRequest(Request):
    """Flask's request, counting the file parts its multipart parser meets: when the parser
    stops a form of too many parts, the error handler can then say so (``too_many_files``)."""

    file_parts = 0

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        self.file_parts += 1
        return super()._get_file_stream(total_content_length, content_type, filename, content_length)


def flag(name: str) -> bool:
    """A boolean query parameter: true/false/1/0, false when absent."""
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"{name} must be true or false, not {value!r}")
    return value in ("true", "1")


def int_arg(name: str, default: int | None, minimum: int, maximum: int | None = None) -> int | None:
    """An integer query parameter within [minimum, maximum]; an empty one is not an integer
    (as the OpenAPI document says), so it is refused rather than read as absent."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"{name} must be an integer, not {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"{name} must be {bounds}, not {value}")
    return value


def require_multipart() -> None:
    """Uploads are multipart/form-data; anything else is a 415 that says so."""
    if request.mimetype != "multipart/form-data":
        got = request.mimetype or "no content type"
        raise ApiError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"send the images as multipart/form-data, not {got}")


def require_file_parts(field: str) -> None:
    """Refuse a request in which a part of ``field`` arrived without a file name.

    The multipart parser turns such a part into a text field, and it would silently get no row:
    a raw CR or LF inside ``filename="..."`` ends the part's header early (browsers, curl and
    urllib3 send them percent-encoded, as %0D and %0A), or the client sent text, not a file.
    """
    stray = request.form.getlist(field)
    if stray:
        raise ApiError(ErrorCode.INVALID_MULTIPART, f"{len(stray)} part(s) of field {field!r} carry no file name "
                       "that can be read, so they would get no row: a raw CR or LF in a file name ends its part's "
                       "header (percent-encode them, %0D and %0A, as browsers do), or the part is text, not a file")
