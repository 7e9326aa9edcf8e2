"""Checking request parameters: each mistake is a 400 (or 415) that says what to send."""

from __future__ import annotations

from flask import request

from contracts.errors import ErrorCode
from gateway.errors import ApiError


def flag(name: str) -> bool:
    """A boolean query parameter: true/false/1/0, false when absent."""
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"{name} must be true or false, not {value!r}")
    return value in ("true", "1")


def int_arg(name: str, default: int | None, minimum: int, maximum: int | None = None) -> int | None:
    """An integer query parameter within [minimum, maximum]."""
    raw = request.args.get(name)
    if raw is None or raw == "":
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
