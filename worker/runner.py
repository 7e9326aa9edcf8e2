"""The worker process: an RQ SimpleWorker that keeps a heartbeat while a job runs.

Why SimpleWorker: jobs run in this process, so the gRPC channel is created once, after any
fork, and lives as long as the worker; a chunk pays no fork and no model-client setup. A
forking worker would pay both per job and break gRPC's fork rules. Parallelism comes from
running one worker process per core (see BENCHMARKS.md for the measurements).

Why the heartbeat thread: a SimpleWorker only touches Redis between jobs, so RQ must assume
a job is alive until its whole timeout has passed. Here a thread renews the job's entry in
the started-job registry every ``heartbeat_interval`` seconds. When the process is killed,
the entry lapses after ``heartbeat_ttl`` seconds, and the next maintenance pass of any
worker (every ``maintenance_interval`` seconds, idle or busy) hands the chunk to RQ's retry,
which re-queues it at once (:func:`retry_at_once`).

Why :func:`run`: RQ's work loop quits on any Redis error outside its blocking dequeue (a
heartbeat, a maintenance pass, recording a result), so a Redis restart would leave the
stack without workers. ``run`` waits for Redis with backoff and starts a fresh worker.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.worker import WorkerStatus

from contracts.jobs import WORKER_QUEUES
from worker.settings import WorkerSettings


class HeartbeatWorker(SimpleWorker):
    """SimpleWorker whose running jobs are declared abandoned seconds after the process dies."""

    heartbeat_ttl = 15

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job, execution, stop), name="rq-heartbeat", daemon=True)
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            stop.set()
            beat.join()
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.heartbeat_ttl

    def _beat(self, job: Job, execution, stop: threading.Event) -> None:
        while not stop.wait(self.job_monitoring_interval):
            try:
                self.maintain_heartbeats(job, execution)
            except redis.RedisError as exc:  # Redis restarting: the next beat tries again
                self.log.warning("heartbeat for job %s failed: %s", job.id, exc)


def build_worker(settings: WorkerSettings, connection: redis.Redis) -> HeartbeatWorker:
    """A worker on the priority queue first, then the batch queue, with the settings' timings.

    A killed worker's chunk is re-run within ``heartbeat_ttl + maintenance_interval`` seconds
    (plus the time to re-read it), whatever the chunk's timeout.
    """
    worker = HeartbeatWorker(
        list(WORKER_QUEUES), connection=connection,
        job_monitoring_interval=settings.heartbeat_interval,
        maintenance_interval=settings.maintenance_interval,
        # An idle worker wakes this often (RQ waits worker_ttl - 15 s) to run maintenance.
        worker_ttl=settings.maintenance_interval + 15,
    )
    worker.heartbeat_ttl = settings.heartbeat_ttl
    return worker


def retry_at_once(job: Job) -> None:
    """Make the retry RQ is about to schedule for an abandoned chunk immediate.

    The chunk's retry delays are there for a model server that is down; a worker that died
    says nothing about the next attempt, which another worker can start at once. RQ picks
    the delay of this retry from ``retry_intervals`` after the failure callback runs, and
    waiting for its scheduler (whose lock a dead worker may hold for a minute) would add to
    the recovery time. Only this retry's delay is zeroed; later ones keep theirs.
    """
    if not job.retry_intervals or not job.retries_left:
        return
    intervals = list(job.retry_intervals)
    intervals[max(len(intervals) - job.retries_left, 0)] = 0
    job.retry_intervals = intervals


log = logging.getLogger("worker")


def run(settings: WorkerSettings, connection: redis.Redis, max_wait: float = 30.0) -> None:
    """Work until asked to stop, riding out Redis outages with a fresh worker each time."""
    wait = 1.0
    while True:
        started = time.monotonic()
        worker = None
        try:
            worker = build_worker(settings, connection)
            worker.work(with_scheduler=True)
        except redis.RedisError as exc:  # from RQ's set-up or teardown while Redis is away
            log.warning("Redis error: %s", exc)
        if worker is not None and worker._stop_requested:  # SIGTERM or Ctrl-C: a stop, not an outage
            return
        if time.monotonic() - started > 60:
            wait = 1.0  # it worked for a while: this is a new outage
        log.warning("the worker quit; a new one starts once Redis answers (in %.0f s at the earliest)", wait)
        time.sleep(wait)
        while not _redis_answers(connection):
            wait = min(wait * 2, max_wait)
            time.sleep(wait)


def _redis_answers(connection: redis.Redis) -> bool:
    try:
        return bool(connection.ping())
    except redis.RedisError:
        return False
