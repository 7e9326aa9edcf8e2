"""The worker process: queue priority and the running job's heartbeat, with real processes."""

from __future__ import annotations

import time

import redis
from rq import Queue

from contracts.jobs import BATCH_QUEUE, PRIORITY_QUEUE
from core.batch_store import BatchStore
from digits.processes import stop_all, wait_until
from gateway.dispatch import ChunkPolicy, chunk_job_id, enqueue_batch
from tests.conftest import scan_files, start_worker


def _slow_batch(url: str, mnist, chunks: int, per_chunk: int) -> tuple[BatchStore, str]:
    """A batch of large pages (about 10 ms each), so that a chunk takes per_chunk / 100 seconds."""
    conn = redis.Redis.from_url(url)
    store = BatchStore(conn, result_ttl=3600)
    files = scan_files(mnist, 4, side=2000) * (chunks * per_chunk // 4)
    batch_id = store.create(files)
    enqueue_batch(Queue(BATCH_QUEUE, connection=conn), batch_id, len(files), ChunkPolicy(size=per_chunk))
    return store, batch_id


def test_a_single_image_does_not_wait_behind_a_batch(db_url, model_server, mnist, tmp_path):
    worker = start_worker(db_url, model_server, tmp_path / "worker.log")
    try:
        store, batch_id = _slow_batch(db_url, mnist, chunks=8, per_chunk=40)
        wait_until(lambda: store.get(batch_id)["running"] > 0, "the batch to start", 60, worker,
                   tmp_path / "worker.log")
        single = Queue(PRIORITY_QUEUE, connection=store.redis).enqueue(
            "worker.jobs.predict_image", scan_files(mnist, 1)[0][1], result_ttl=60)
        result = single.latest_result(timeout=60)
        assert result is not None and result.return_value["digits"]
        # The one worker took the single image as soon as its chunk in hand was done.
        assert store.get(batch_id)["queued"] >= 4 * 40
    finally:
        stop_all([worker])


def test_a_running_job_keeps_its_heartbeat(db_url, model_server, mnist, tmp_path):
    env = {"DIGITS_HEARTBEAT_INTERVAL": "1", "DIGITS_HEARTBEAT_TTL": "2", "DIGITS_MAINTENANCE_INTERVAL": "1"}
    store, batch_id = _slow_batch(db_url, mnist, chunks=1, per_chunk=400)  # several seconds
    queue = Queue(BATCH_QUEUE, connection=store.redis)
    job_id = chunk_job_id(batch_id, 0)
    worker = start_worker(db_url, model_server, tmp_path / "worker.log", **env)
    try:
        wait_until(lambda: job_id in queue.started_job_registry.get_job_ids(), "the chunk to start", 60, worker,
                   tmp_path / "worker.log", interval=0.02)
        expiries = []
        while store.get(batch_id)["status"] in ("queued", "running"):
            # The registry entry's score is when the job counts as abandoned: it must keep moving.
            entries = store.redis.zrange(queue.started_job_registry.key, 0, -1, withscores=True)
            expiries += [score for member, score in entries if member.decode().startswith(job_id)]
            time.sleep(0.2)
        assert store.get(batch_id)["status"] == "done"
        assert queue.fetch_job(job_id).retries_left == ChunkPolicy().retries  # never abandoned, never retried
    finally:
        stop_all([worker])
    assert len(set(expiries)) >= 2, "the heartbeat did not renew the running job"
