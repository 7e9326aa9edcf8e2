"""``/v1/batches``: create from files or a zip, list, follow, cancel, and read results."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context, url_for

from contracts.errors import ErrorCode
from contracts.rows import csv_cell, error_row
from gateway import deps
from gateway.dispatch import cancel_chunks, enqueue_batch
from gateway.errors import ApiError
from gateway.params import flag, int_arg, require_file_parts, require_multipart
from gateway.uploads import collect

bp = Blueprint("batches", __name__, url_prefix="/v1")

CSV_COLUMNS = ("index", "file", "digits", "confidence", "needs_review", "error")
FORMATS = {"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"}


@bp.post("/batches")
def create_batch():
    """Queue many images (multipart field ``files``: images and/or zip archives); answers 202.

    Files that are not images get an ``unsupported_type`` row at once; the rest are queued.
    ``?include_inputs=true`` keeps each digit's 28x28 model input in the rows.
    """
    require_multipart()
    require_file_parts("files")
    storages = request.files.getlist("files")
    if not storages:
        raise ApiError(ErrorCode.MISSING_FILES, "send images or a .zip as multipart/form-data field 'files'")
    settings = deps.settings()
    if len(storages) > settings.max_files:
        raise ApiError(ErrorCode.TOO_MANY_FILES, f"{len(storages)} files; the limit is {settings.max_files} per "
                       "request (send the rest in another)")
    include_inputs = flag("include_inputs")
    uploads = collect(storages, settings)
    if not uploads:
        raise ApiError(ErrorCode.MISSING_FILES, "the upload holds no files (only folders or clutter)")
    store = deps.batch_store()
    batch_id = store.create([(u.name, u.data) for u in uploads], include_inputs=include_inputs,
                            owner=deps.creator())
    rejected = {i: {"index": i, "file": u.name, **error_row(**u.error)} for i, u in enumerate(uploads) if u.error}
    if rejected:
        store.record(batch_id, rejected)
    enqueue_batch(deps.batch_queue(), batch_id, len(uploads), settings.chunk_policy)
    body = _with_links(store.get(batch_id))
    return jsonify(body), 202, {"Location": body["links"]["self"]}


def _with_links(batch: dict[str, Any]) -> dict[str, Any]:
    batch["links"] = {
        "self": url_for("batches.get_batch", batch_id=batch["id"]),
        "results": url_for("batches.get_results", batch_id=batch["id"]),
    }
    return batch


@bp.get("/batches")
def list_batches():
    """Batches, newest first, ``limit`` per page; ``next`` is the URL of the next page. A key
    sees its own batches; an admin key (or no keys) every batch."""
    limit = int_arg("limit", 20, minimum=1, maximum=200)
    cursor = int_arg("cursor", None, minimum=0)
    batches, next_cursor = deps.batch_store().list_batches(limit, before=cursor, owner=deps.owner())
    next_url = url_for("batches.list_batches", limit=limit, cursor=next_cursor) if next_cursor else None
    return jsonify({"batches": [_with_links(b) for b in batches], "next": next_url})


@bp.get("/batches/<batch_id>")
def get_batch(batch_id: str):
    """Status and counts of one batch (another key's batch is not found)."""
    return jsonify(_with_links(deps.batch_store().get(batch_id, owner=deps.owner())))


@bp.delete("/batches/<batch_id>")
def cancel_batch(batch_id: str):
    """Cancel a batch: chunks not yet started are not run; rows already read are kept."""
    batch = deps.batch_store().cancel(batch_id, owner=deps.owner())
    cancel_chunks(deps.batch_queue(), batch_id, batch["total"], deps.settings().chunk_size)
    return jsonify(_with_links(batch))


@bp.get("/batches/<batch_id>/results")
def get_results(batch_id: str):
    """Rows in upload order as JSON (default), JSONL or CSV (``?format=``), streamed.

    ``offset`` and ``limit`` select images by index; a page that stops short of the end links
    to the next one (``next`` in JSON, a ``Link`` header in every format).
    """
    fmt = request.args.get("format", "json")
    if fmt not in FORMATS:
        raise ApiError(ErrorCode.INVALID_PARAMETER, f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    offset = int_arg("offset", 0, minimum=0)
    limit = int_arg("limit", None, minimum=1, maximum=10_000)
    store = deps.batch_store()
    meta = store.get(batch_id, owner=deps.owner())
    stop = meta["total"] if limit is None else min(offset + limit, meta["total"])
    next_url = None
    if stop < meta["total"]:
        next_url = url_for("batches.get_results", batch_id=batch_id, format=fmt, offset=stop, limit=limit)
    rows = store.results(batch_id, start=offset, stop=stop)
    if fmt == "json":
        body: Iterable[str] = _json_stream(meta, rows, next_url)
    elif fmt == "jsonl":
        body = (json.dumps(row) + "\n" for row in rows)
    else:
        body = _csv_stream(rows)
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    return Response(stream_with_context(body), mimetype=FORMATS[fmt], headers=headers)


def _json_stream(meta: dict, rows: Iterable[dict], next_url: str | None) -> Iterator[str]:
    yield '{"batch": ' + json.dumps(meta) + ', "next": ' + json.dumps(next_url) + ', "results": ['
    for n, row in enumerate(rows):
        yield ("," if n else "") + json.dumps(row)
    yield "]}"


def _csv_stream(rows: Iterable[dict]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        error = row.get("error")
        cells = [row.get("index"), row.get("file"), row.get("digits"), row.get("confidence"),
                 row.get("needs_review"), f"{error['code']}: {error['message']}" if error else ""]
        writer.writerow([csv_cell(cell) for cell in cells])  # no formulas for spreadsheets
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
