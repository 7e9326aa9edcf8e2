"""RQ job functions. Each is idempotent: running a job twice records every image once."""

from __future__ import annotations

from typing import Any

import numpy as np
from rq import get_current_job

from digits.batches import BatchStore
from worker.context import get_context
from worker.errors import ImageExpiredError, ModelUnavailableError, WorkerError
from worker.preprocess import preprocess
from worker.serving_client import ServingClient


def predict_image(data: bytes) -> dict[str, Any]:
    """Read one image. Bad input comes back as an ``error`` entry, not as a failed job."""
    ctx = get_context()
    rows = read_images([data], ctx.client, ctx.settings.max_pixels, ctx.settings.review_threshold)
    return rows[0]


def predict_chunk(batch_id: str, indices: list[int]) -> dict[str, int]:
    """Read the images ``indices`` of a batch with one batched Predict and record the rows."""
    job = get_current_job()
    ctx = get_context()
    store = BatchStore(job.connection, result_ttl=ctx.settings.result_ttl)
    todo = store.pending(batch_id, indices)
    if not todo:
        return {"succeeded": 0, "failed": 0}
    blobs = store.load_images(batch_id, todo)
    names = store.names(batch_id, todo)
    try:
        rows = read_images(blobs, ctx.client, ctx.settings.max_pixels, ctx.settings.review_threshold)
    except ModelUnavailableError as exc:
        if job.retries_left:
            raise  # RQ re-queues the chunk with its retry backoff
        # Out of retries: record a clear per-image error so the batch still finishes.
        rows = [_error_row(exc) for _ in todo]
    for row, index, name in zip(rows, todo, names):
        row["index"] = index
        row["file"] = name
    ok, failed = store.record(batch_id, dict(zip(todo, rows)))
    return {"succeeded": ok, "failed": failed}


def read_images(blobs: list[bytes | None], client: ServingClient, max_pixels: int,
                review_threshold: float) -> list[dict[str, Any]]:
    """Preprocess each blob, run all good ones in one Predict call, and build result rows.

    ``needs_review`` is set when the confidence is below ``review_threshold`` (and on errors:
    a person has to look at those too).
    """
    rows: list[dict[str, Any] | None] = [None] * len(blobs)
    batch: list[np.ndarray] = []
    positions: list[int] = []
    for pos, data in enumerate(blobs):
        if data is None:
            rows[pos] = _error_row(ImageExpiredError("the uploaded image is no longer stored"))
            continue
        try:
            batch.append(preprocess(data, max_pixels))
            positions.append(pos)
        except WorkerError as exc:
            rows[pos] = _error_row(exc)
    if batch:
        prediction = client.predict(np.stack(batch))
        for pos, probs in zip(positions, prediction.probabilities):
            digit = int(np.argmax(probs))
            confidence = float(probs[digit])
            rows[pos] = {
                "digits": str(digit),
                "digit": digit,
                "confidence": round(confidence, 6),
                "needs_review": confidence < review_threshold,
                "probabilities": [round(float(p), 6) for p in probs],
                "model_version": prediction.model_version,
                "error": None,
            }
    return rows  # type: ignore[return-value]


def _error_row(exc: WorkerError) -> dict[str, Any]:
    return {"digits": None, "digit": None, "confidence": None, "needs_review": True,
            "error": {"code": exc.code, "message": str(exc)}}
