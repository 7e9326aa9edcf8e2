"""The contracts: version folders as TF Serving reads them, error codes, rows, model states."""

from __future__ import annotations

import pytest

from contracts.errors import ErrorCode, ReadError
from contracts.models import (
    existing_versions,
    is_available,
    servable_versions,
    states_from_rest,
    version_folders,
)
from contracts.rows import error_row, is_failed
from scans.errors import ImageTooLargeError, InvalidImageError, NoDigitFoundError, TooManyDigitsError
from worker.errors import ChunkFailedError, ImageExpiredError, ModelUnavailableError, PredictionRejectedError


def test_version_folders_are_numeric_directories_and_servable_ones_hold_a_saved_model(tmp_path):
    model = tmp_path / "digits"
    for name in ("1", "2", "10", ".tmp-3f2a", "latest", "4a", "007"):
        (model / name).mkdir(parents=True)
    (model / "11").write_text("a file, not a version")
    for version in ("2", "10"):
        (model / version / "saved_model.pb").write_bytes(b"")
    assert sorted(version_folders(model)) == [1, 2, 7, 10]
    assert existing_versions(tmp_path, "digits") == [1, 2, 7, 10]
    assert servable_versions(tmp_path, "digits") == [2, 10]
    assert existing_versions(tmp_path, "missing") == []


def test_every_error_code_has_an_error_status_and_a_unique_name():
    assert all(400 <= code.status < 600 for code in ErrorCode)
    assert len({code.value for code in ErrorCode}) == len(ErrorCode)
    assert ErrorCode("no_digit_found") is ErrorCode.NO_DIGIT_FOUND and f"{ErrorCode.TIMEOUT}" == "timeout"


@pytest.mark.parametrize("error", [InvalidImageError, ImageTooLargeError, NoDigitFoundError, TooManyDigitsError,
                                   ImageExpiredError, ModelUnavailableError, PredictionRejectedError,
                                   ChunkFailedError])
def test_read_errors_carry_a_contract_code(error):
    assert issubclass(error, ReadError) and isinstance(error.code, ErrorCode)
    row = error_row(error.code, "why")
    assert row == {"digits": None, "confidence": None, "needs_review": True, "per_digit": [],
                   "error": {"code": error.code.value, "message": "why"}}
    assert is_failed(row)


def test_model_states_from_tf_servings_rest_answer():
    body = {"model_version_status": [{"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK"}},
                                     {"version": "1", "state": "END"}]}
    assert states_from_rest(body) == {2: "AVAILABLE", 1: "END"}
    assert is_available(states_from_rest(body).values())
    assert not is_available(["LOADING", "END"]) and not is_available([])
