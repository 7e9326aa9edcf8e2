"""Turning a stored batch into RQ jobs: one job per chunk, each one batched Predict call."""

from __future__ import annotations

from dataclasses import dataclass

from rq import Callback, Queue, Retry
from rq.exceptions import InvalidJobOperation
from rq.job import Job, JobStatus

from contracts.jobs import CHUNK_FAILED, PREDICT_CHUNK, chunk_job_id
from core.batch_store import DEFAULT_RESULT_TTL


@dataclass(frozen=True)
class ChunkPolicy:
    """How a batch is cut into jobs and how each job is retried.

    ``timeout`` only stops a chunk that hangs; a worker that dies is noticed by its missed
    heartbeats much sooner (the worker's heartbeat, README: what happens when something dies).
    """

    size: int = 256
    retries: int = 3
    retry_delays: tuple[int, ...] = (2, 10, 30)
    timeout: int = 600
    result_ttl: int = DEFAULT_RESULT_TTL


def enqueue_batch(queue: Queue, batch_id: str, total: int, policy: ChunkPolicy) -> int:
    """Queue every chunk of a batch of ``total`` images in one round trip; returns the chunk count."""
    retry = Retry(max=policy.retries, interval=list(policy.retry_delays)) if policy.retries else None
    jobs = []
    for start in range(0, total, policy.size):
        stop = min(start + policy.size, total)
        jobs.append(queue.prepare_data(
            PREDICT_CHUNK, args=(batch_id, list(range(start, stop))),
            job_id=chunk_job_id(batch_id, start), timeout=policy.timeout,
            result_ttl=3600, failure_ttl=policy.result_ttl, retry=retry,
            on_failure=Callback(CHUNK_FAILED),
            description=f"batch {batch_id} images {start}..{stop - 1}",
        ))
    queue.enqueue_many(jobs)
    return len(jobs)


def cancel_chunks(queue: Queue, batch_id: str, total: int, size: int) -> int:
    """Take a cancelled batch's waiting chunks off the queue; returns how many were removed.

    Only a tidy-up (queue depth drops at once): a chunk that slips through, or waits for a
    retry, still does nothing because the worker sees the batch is cancelled.
    """
    ids = [chunk_job_id(batch_id, start) for start in range(0, total, size)]
    removed = 0
    for first in range(0, len(ids), 500):
        for job in Job.fetch_many(ids[first : first + 500], connection=queue.connection):
            removed += job is not None and cancel_waiting(job)
    return removed


def cancel_waiting(job: Job) -> bool:
    """Cancel ``job`` if it was waiting when fetched; False if it was not, or has moved on
    since (a worker took it: that chunk sees the batch cancelled and does nothing)."""
    if job.get_status(refresh=False) not in (JobStatus.QUEUED, JobStatus.SCHEDULED):
        return False
    try:
        job.cancel()
    except InvalidJobOperation:
        return False  # cancelled meanwhile
    except ValueError:
        # Taken and finished meanwhile: RQ 3's cancel lists the started job's executions, then
        # finds one gone ("Execution ... not found in Redis").
        return False
    return True
