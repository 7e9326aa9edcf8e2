"""RQ job functions. Each is idempotent: running a job twice records every image once."""

from __future__ import annotations

import base64
import io
import logging
from typing import Any

import numpy as np
from PIL import Image
from redis import Redis
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from contracts.errors import ErrorCode, ReadError
from contracts.rows import DigitReading, ResultRow, error_row
from core.batch_store import BatchStore
from core.stats import count_predictions
from scans import Digits, preprocess
from worker.context import get_context
from worker.errors import ChunkFailedError, ImageExpiredError
from worker.runner import retry_at_once
from worker.serving_client import ServingClient

log = logging.getLogger(__name__)


def predict_image(data: bytes, include_inputs: bool = False) -> ResultRow:
    """Read one image. Bad input comes back as an ``error`` entry, not as a failed job.

    ``include_inputs`` adds each digit's 28x28 model input as a base64 PNG.
    """
    ctx = get_context()
    rows = read_blobs([data], ctx.client, ctx.settings.max_pixels, ctx.settings.review_threshold,
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
    rows = read_blobs(blobs, ctx.client, ctx.settings.max_pixels, ctx.settings.review_threshold,
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


def read_blobs(blobs: list[bytes | None], client: ServingClient, max_pixels: int,
                review_threshold: float, include_inputs: bool = False) -> list[ResultRow]:
    """Preprocess each blob, run every digit of every good one in one Predict call, build rows.

    A row's ``confidence`` is the product of its digits' calibrated confidences: the chance
    that the whole string is right. ``needs_review`` is set when it is below
    ``review_threshold``, and on errors: a person has to look at those too.
    """
    rows: list[ResultRow | None] = [None] * len(blobs)
    scans: list[tuple[int, Digits]] = []
    for pos, data in enumerate(blobs):
        if data is None:
            rows[pos] = _error_row(ImageExpiredError("the uploaded image is no longer stored"))
            continue
        try:
            scans.append((pos, preprocess(data, max_pixels)))
        except ReadError as exc:
            rows[pos] = _error_row(exc)
        except JobTimeoutException:
            raise  # the chunk ran out of time: not this image's doing
        except Exception as exc:  # noqa: BLE001 - one image's failure is its own row, never the chunk's
            log.exception("image %d of %d could not be read", pos + 1, len(blobs))
            what = "reading it ran out of memory" if isinstance(exc, MemoryError) else f"{type(exc).__name__}: {exc}"
            rows[pos] = error_row(ErrorCode.INVALID_IMAGE, f"the image could not be read ({what})")
    if scans:
        prediction = client.predict(np.concatenate([digits.images for _, digits in scans]))
        start = 0
        for pos, digits in scans:
            probs = prediction.probabilities[start : start + len(digits.images)]
            start += len(digits.images)
            rows[pos] = _result_row(digits, probs, prediction.model_version, review_threshold, include_inputs)
    return rows  # type: ignore[return-value]


def _result_row(digits: Digits, probs: np.ndarray, version: int, review_threshold: float,
                include_inputs: bool) -> ResultRow:
    classes = probs.argmax(axis=1)
    confidences = probs[np.arange(len(classes)), classes]
    confidence = float(np.prod(confidences))
    per_digit: list[DigitReading] = []
    for i, (digit, conf, box) in enumerate(zip(classes, confidences, digits.boxes)):
        entry: DigitReading = {"digit": int(digit), "confidence": round(float(conf), 6), "box": [int(v) for v in box],
                 "probabilities": [round(float(p), 6) for p in probs[i]]}
        if include_inputs:
            entry["input_png"] = png_base64(digits.images[i])
        per_digit.append(entry)
    return {
        "digits": "".join(str(int(d)) for d in classes),
        "confidence": round(confidence, 6),
        "needs_review": confidence < review_threshold,
        "per_digit": per_digit,
        "model_version": version,
        "error": None,
    }


def png_base64(image: np.ndarray) -> str:
    """A uint8 array as a base64-encoded PNG (for showing users what the model saw)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _error_row(exc: ReadError) -> ResultRow:
    return error_row(exc.code, str(exc))
