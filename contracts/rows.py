"""The result row of one image: what ``/v1/predict`` answers and a batch stores per file.

Workers build rows, the batch store keeps them as JSON, the gateway streams them and
``digits submit`` writes them out. A row that could not be read has ``digits`` None and an
``error``; every row says whether a person should look at it (``needs_review``).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict, TypeVar

_Cell = TypeVar("_Cell")


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
    reader: NotRequired[str]  # which model answered: "digits" (digit by digit), "string", or "both" alike
    index: NotRequired[int]
    file: NotRequired[str]


def error_row(code: str, message: str) -> ResultRow:
    """The row of an image that could not be read: no digits, and a person must look."""
    return {"digits": None, "confidence": None, "needs_review": True, "per_digit": [],
            "error": {"code": str(code), "message": message}}


def is_failed(row: ResultRow) -> bool:
    """True for an error row."""
    return bool(row.get("error"))


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection, OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: _Cell) -> _Cell | str:
    """A value made safe to write into a CSV cell that a spreadsheet will open.

    Text that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return) gets a leading single quote, as OWASP advises, so that it shows
    as the text it is; NUL bytes are dropped. Other values (numbers, booleans, None) are left as
    they are. The gateway's CSV results, ``digits submit -o x.csv`` and the web page's CSV
    download (``gateway/static/app.js``, the same rule in JavaScript) all write cells through it.
    """
    if not isinstance(value, str):
        return value
    text = value.replace("\0", "")
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
