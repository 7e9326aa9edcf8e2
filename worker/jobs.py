"""RQ job functions. Each is idempotent: running a job twice records every image once."""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from contracts.errors import ReadError
from contracts.rows import ResultRow, error_row
from core.batch_store import BatchStore
from core.stats import count_predictions
from worker.context import get_context
from worker.errors import ChunkFailedError
from worker.reading import read_blobs
from worker.runner import retry_at_once

log = logging.getLogger(__name__)


def predict_image(data: bytes, include_inputs: bool = False) -> ResultRow:
    """Read one image. Bad input comes back as an ``error`` entry, not as a failed job.

    ``include_inputs`` adds each digit's 28x28 model input as a base64 PNG.
    """
    ctx = get_context()
    rows = read_blobs([data], ctx.models, ctx.settings.max_pixels, ctx.settings.review_threshold,
                      include_inputs=include_inputs)
    job = get_current_job()
    if job is not None:
        count_predictions(job.connection, rows)
    return rows[0]


def predict_chunk(batch_id: str, indices: list[int]) -> dict[str, int]:
    """Read the images ``indices`` of a batch with one batched Predict and record the rows.

    Safe to run twice: images that already have a row are skipped, and rows are recorded
    with HSETNX. A ModelUnavailableError propagates, so RQ retries the chunk with backoff.
    A chunk of a cancelled (or expired) batch does nothing.
    """
    job = get_current_job()
    ctx = get_context()
    store = BatchStore(job.connection, result_ttl=ctx.settings.result_ttl)
    state = store.chunk_state(batch_id)
    if state is None or state[0] == "cancelled":
        return {"done": 0, "failed": 0}
    todo = store.pending(batch_id, indices)
    if not todo:
        return {"done": 0, "failed": 0}
    chunk = str(indices[0])
    store.start_chunk(batch_id, chunk, len(todo))
    blobs = store.load_images(batch_id, todo)
    if None in blobs:
        now = store.chunk_state(batch_id)
        if now is None or now[0] == "cancelled":
            # Cancelled between our check and start_chunk: its images were deleted, not lost.
            store.release_chunk(batch_id, chunk)
            return {"done": 0, "failed": 0}
    names = store.names(batch_id, todo)
    rows = read_blobs(blobs, ctx.models, ctx.settings.max_pixels, ctx.settings.review_threshold,
                      include_inputs=state[1])
    done, failed = store.record(batch_id, _with_names(rows, todo, names), chunk=chunk)
    return {"done": done, "failed": failed}


def chunk_failed(job: Job, connection: Redis, exc_type: type, exc_value: BaseException, traceback: Any) -> None:
    """RQ's failure callback for chunks: runs on an exception, a timeout, or an abandoned job.

    While retries are left, the chunk goes back to queued. After the last one, each image
    still pending gets an error row, so the batch finishes (as failed, naming the cause)
    instead of waiting forever.
    """
    batch_id, indices = job.args
    store = BatchStore(connection, result_ttl=get_context().settings.result_ttl)
    chunk = str(indices[0])
    state = store.chunk_state(batch_id)
    if job.retries_left or state is None or state[0] == "cancelled":
        store.release_chunk(batch_id, chunk)
        if exc_type is AbandonedJobError:
            retry_at_once(job)
        return
    exc = exc_value if isinstance(exc_value, ReadError) else ChunkFailedError(_describe(exc_type, exc_value))
    todo = store.pending(batch_id, indices)
    rows = [_error_row(exc) for _ in todo]
    store.record(batch_id, _with_names(rows, todo, store.names(batch_id, todo)), chunk=chunk,
                 error=f"{exc.code}: {exc} (images {indices[0]}..{indices[-1]})")


def _describe(exc_type: type, exc_value: BaseException | None) -> str:
    if exc_type is AbandonedJobError:
        return "the worker reading this chunk stopped (killed or lost) and the retries are spent"
    if exc_type is JobTimeoutException:
        return f"the chunk took longer than its timeout: {exc_value}"
    return f"{exc_type.__name__}: {exc_value}"


def _with_names(rows: list[ResultRow], indices: list[int], names: list[str]) -> dict[int, ResultRow]:
    for row, index, name in zip(rows, indices, names):
        row["index"] = index
        row["file"] = name
    return dict(zip(indices, rows))


def _error_row(exc: ReadError) -> ResultRow:
    return error_row(exc.code, str(exc))
