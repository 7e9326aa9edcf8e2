"""``POST /v1/predict``: one image, read synchronously through the priority queue."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request
from rq.job import Job
from rq.results import Result

from contracts.errors import ErrorCode
from contracts.jobs import PREDICT_IMAGE
from gateway import deps
from gateway.errors import ApiError, row_error
from gateway.params import flag, require_file_parts, require_multipart
from gateway.uploads import clean_name, kind_of, not_an_image, read_upload

bp = Blueprint("predict", __name__, url_prefix="/v1")


@bp.post("/predict")
def predict():
    """Read one image (multipart field ``file``) synchronously.

    ``?include_inputs=true`` adds the 28x28 image the model saw for each digit (base64 PNG).
    """
    require_multipart()
    require_file_parts("file")
    storage = request.files.get("file")
    if storage is None:
        raise ApiError(ErrorCode.MISSING_FILE, "send the image as multipart/form-data field 'file'")
    settings = deps.settings()
    data = read_upload(storage, settings.max_file_bytes)
    name = clean_name(storage.filename, "file")
    if kind_of(data) != "image":
        raise ApiError(ErrorCode.UNSUPPORTED_TYPE, f"{name!r}: {not_an_image(data)}")
    include_inputs = flag("include_inputs")
    job = deps.priority_queue().enqueue(
        PREDICT_IMAGE, data, include_inputs,
        job_timeout=settings.predict_timeout, result_ttl=60, failure_ttl=3600,
    )
    result = _wait_for_result(job, settings.predict_timeout)
    if result is None:
        job.cancel()
        raise ApiError(ErrorCode.TIMEOUT, f"no worker answered within {settings.predict_timeout} s")
    if result.type != Result.Type.SUCCESSFUL:
        raise ApiError(ErrorCode.MODEL_UNAVAILABLE, _last_line(result.exc_string))
    row = result.return_value
    if row.get("error"):
        raise row_error(row["error"]["code"], row["error"]["message"])
    return jsonify({"file": name, **row})


def _wait_for_result(job: Job, timeout: float) -> Result | None:
    """The job's result, or None after ``timeout`` seconds.

    Each blocking read is short: redis-py's socket timeout (5 s by default) would otherwise
    turn a long wait for a busy worker into a connection error instead of a 504.
    """
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        result = job.latest_result(timeout=max(1, min(2, int(remaining))))
        if result is not None:
            return result
    return None


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "prediction failed"
