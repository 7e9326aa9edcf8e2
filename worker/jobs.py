"""RQ job functions. Each is idempotent: running a job twice records every image once."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image
from rq import get_current_job

from digits.batches import BatchStore
from worker.context import get_context
from worker.errors import ImageExpiredError, ModelUnavailableError, WorkerError
from worker.preprocess import Digits, preprocess
from worker.serving_client import ServingClient


def predict_image(data: bytes, include_inputs: bool = False) -> dict[str, Any]:
    """Read one image. Bad input comes back as an ``error`` entry, not as a failed job.

    ``include_inputs`` adds each digit's 28x28 model input as a base64 PNG.
    """
    ctx = get_context()
    rows = read_images([data], ctx.client, ctx.settings.max_pixels, ctx.settings.review_threshold,
                       include_inputs=include_inputs)
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
                review_threshold: float, include_inputs: bool = False) -> list[dict[str, Any]]:
    """Preprocess each blob, run every digit of every good one in one Predict call, build rows.

    A row's ``confidence`` is the product of its digits' calibrated confidences: the chance
    that the whole string is right. ``needs_review`` is set when it is below
    ``review_threshold``, and on errors: a person has to look at those too.
    """
    rows: list[dict[str, Any] | None] = [None] * len(blobs)
    scans: list[tuple[int, Digits]] = []
    for pos, data in enumerate(blobs):
        if data is None:
            rows[pos] = _error_row(ImageExpiredError("the uploaded image is no longer stored"))
            continue
        try:
            scans.append((pos, preprocess(data, max_pixels)))
        except WorkerError as exc:
            rows[pos] = _error_row(exc)
    if scans:
        prediction = client.predict(np.concatenate([digits.images for _, digits in scans]))
        start = 0
        for pos, digits in scans:
            probs = prediction.probabilities[start : start + len(digits.images)]
            start += len(digits.images)
            rows[pos] = _result_row(digits, probs, prediction.model_version, review_threshold, include_inputs)
    return rows  # type: ignore[return-value]


def _result_row(digits: Digits, probs: np.ndarray, version: int, review_threshold: float,
                include_inputs: bool) -> dict[str, Any]:
    classes = probs.argmax(axis=1)
    confidences = probs[np.arange(len(classes)), classes]
    confidence = float(np.prod(confidences))
    per_digit = []
    for i, (digit, conf, box) in enumerate(zip(classes, confidences, digits.boxes)):
        entry = {"digit": int(digit), "confidence": round(float(conf), 6), "box": [int(v) for v in box],
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


def _error_row(exc: WorkerError) -> dict[str, Any]:
    return {"digits": None, "confidence": None, "needs_review": True, "per_digit": [],
            "error": {"code": exc.code, "message": str(exc)}}
