"""The result row of one image: what ``/v1/predict`` answers and a batch stores per file.

Workers build rows, the batch store keeps them as JSON, the gateway streams them and
``digits submit`` writes them out. A row that could not be read has ``digits`` None and an
``error``; every row says whether a person should look at it (``needs_review``).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class ErrorInfo(TypedDict):
    code: str
    message: str


class DigitReading(TypedDict):
    """One digit, left to right: its class, calibrated confidence, box and probabilities."""

    digit: int
    confidence: float
    box: list[int]  # [x, y, width, height] in the scan's pixels
    probabilities: list[float]
    input_png: NotRequired[str]  # the model input as a base64 PNG, with include_inputs


class ResultRow(TypedDict):
    """One image's reading. Batch rows add ``index`` and ``file``."""

    digits: str | None
    confidence: float | None  # the chance that the whole string is right
    needs_review: bool
    per_digit: list[DigitReading]
    error: ErrorInfo | None
    model_version: NotRequired[int]
    index: NotRequired[int]
    file: NotRequired[str]


def error_row(code: str, message: str) -> ResultRow:
    """The row of an image that could not be read: no digits, and a person must look."""
    return {"digits": None, "confidence": None, "needs_review": True, "per_digit": [],
            "error": {"code": str(code), "message": message}}


def is_failed(row: ResultRow) -> bool:
    """True for an error row."""
    return bool(row.get("error"))
