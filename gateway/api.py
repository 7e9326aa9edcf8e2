"""The ``/v1`` API: single-image prediction and batches."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, request, stream_with_context, url_for
from rq.results import Result

from digits.dispatch import enqueue_batch
from gateway import deps
from gateway.errors import WORKER_ERROR_STATUS, ApiError

bp = Blueprint("api", __name__, url_prefix="/v1")

CSV_COLUMNS = ("index", "file", "digits", "confidence", "needs_review", "error")


def _flag(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError(400, "invalid_parameter", f"{name} must be true or false, not {value!r}")
    return value in ("true", "1")


def _read_upload(storage) -> bytes:
    limit = deps.settings().max_file_bytes
    data = storage.stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "file_too_large", f"{storage.filename!r} is larger than {limit} bytes")
    return data


@bp.post("/predict")
def predict():
    """Read one image (multipart field ``file``) synchronously.

    ``?include_inputs=true`` adds the 28x28 image the model saw for each digit (base64 PNG).
    """
    storage = request.files.get("file")
    if storage is None:
        raise ApiError(400, "missing_file", "send the image as multipart/form-data field 'file'")
    data = _read_upload(storage)
    settings = deps.settings()
    job = deps.priority_queue().enqueue(
        "worker.jobs.predict_image", data, _flag("include_inputs"),
        job_timeout=settings.predict_timeout, result_ttl=60, failure_ttl=3600,
    )
    result = job.latest_result(timeout=settings.predict_timeout)
    if result is None:
        job.cancel()
        raise ApiError(504, "timeout", f"no worker answered within {settings.predict_timeout} s")
    if result.type != Result.Type.SUCCESSFUL:
        raise ApiError(503, "model_unavailable", _last_line(result.exc_string))
    row = result.return_value
    if row.get("error"):
        code = row["error"]["code"]
        raise ApiError(WORKER_ERROR_STATUS.get(code, 422), code, row["error"]["message"])
    return jsonify({"file": storage.filename, **row})


@bp.post("/batches")
def create_batch():
    """Queue many images (multipart field ``files``); answers 202 with the batch id."""
    uploads = request.files.getlist("files")
    if not uploads:
        raise ApiError(400, "missing_files", "send images as multipart/form-data field 'files'")
    settings = deps.settings()
    if len(uploads) > settings.max_files:
        raise ApiError(413, "too_many_files", f"{len(uploads)} files; the limit is {settings.max_files}")
    files = [(storage.filename or f"file-{i}", _read_upload(storage)) for i, storage in enumerate(uploads)]
    store = deps.batch_store()
    batch_id = store.create(files)
    enqueue_batch(deps.batch_queue(), batch_id, len(files), settings.chunk_policy)
    body = store.get(batch_id)
    body["links"] = {
        "self": url_for("api.get_batch", batch_id=batch_id),
        "results": url_for("api.get_results", batch_id=batch_id),
    }
    return jsonify(body), 202, {"Location": body["links"]["self"]}


@bp.get("/batches/<batch_id>")
def get_batch(batch_id: str):
    """Status and counts of one batch."""
    return jsonify(deps.batch_store().get(batch_id))


@bp.get("/batches/<batch_id>/results")
def get_results(batch_id: str):
    """One row per processed file, streamed as JSON (default), JSONL or CSV (``?format=``)."""
    store = deps.batch_store()
    meta = store.get(batch_id)
    fmt = request.args.get("format", "json")
    rows = store.results(batch_id)
    if fmt == "json":
        body, mimetype = _json_stream(meta, rows), "application/json"
    elif fmt == "jsonl":
        body, mimetype = (json.dumps(row) + "\n" for row in rows), "application/x-ndjson"
    elif fmt == "csv":
        body, mimetype = _csv_stream(rows), "text/csv"
    else:
        raise ApiError(400, "bad_format", "format must be one of json, jsonl, csv")
    return Response(stream_with_context(body), mimetype=mimetype)


def _json_stream(meta: dict, rows) -> Iterator[str]:
    yield '{"batch": ' + json.dumps(meta) + ', "results": ['
    for n, row in enumerate(rows):
        yield ("," if n else "") + json.dumps(row)
    yield "]}"


def _csv_stream(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        error = row.get("error")
        writer.writerow([row.get("index"), row.get("file"), row.get("digits"), row.get("confidence"),
                         row.get("needs_review"), f"{error['code']}: {error['message']}" if error else ""])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "prediction failed"
