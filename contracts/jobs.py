"""RQ queues and jobs: what the gateway enqueues and the workers run.

Job functions are named by their import path (RQ imports them in the worker), so the gateway
never imports the worker's code.
"""

from __future__ import annotations

# Single-image requests are listened to first, so they never wait behind batch chunks.
PRIORITY_QUEUE = "digits-priority"
BATCH_QUEUE = "digits-batches"
WORKER_QUEUES = (PRIORITY_QUEUE, BATCH_QUEUE)

# predict_image(data: bytes, include_inputs: bool) -> ResultRow
PREDICT_IMAGE = "worker.jobs.predict_image"
# predict_chunk(batch_id: str, indices: list[int]) -> {"done": int, "failed": int}
PREDICT_CHUNK = "worker.jobs.predict_chunk"
# RQ's on_failure callback of a chunk job.
CHUNK_FAILED = "worker.jobs.chunk_failed"


def chunk_job_id(batch_id: str, start: int) -> str:
    """Job ids are derived from the chunk, so a chunk is never queued twice under two ids."""
    return f"digits-{batch_id}-{start}"
