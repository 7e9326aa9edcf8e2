"""Cancelling a batch while a real worker reads it: chunks not yet run are not run."""

from __future__ import annotations

import time

import redis
from rq import Queue

from contracts.jobs import BATCH_QUEUE
from core.batch_store import BatchStore
from digits.processes import stop_all, wait_until
from gateway.dispatch import ChunkPolicy, cancel_chunks, enqueue_batch
from tests.conftest import scan_files, start_worker


def test_cancel_mid_batch_runs_no_further_chunk(db_url, model_server, mnist, tmp_path):
    conn = redis.Redis.from_url(db_url)
    store = BatchStore(conn, result_ttl=3600)
    files = scan_files(mnist, 4, side=1200) * 16
    batch_id = store.create(files)
    queue = Queue(BATCH_QUEUE, connection=conn)
    enqueue_batch(queue, batch_id, len(files), ChunkPolicy(size=4))
    worker = start_worker(db_url, model_server, tmp_path / "worker.log")
    try:
        wait_until(lambda: store.get(batch_id)["done"] > 0, "the first chunk", 60, worker, tmp_path / "worker.log",
                   interval=0.05)
        store.cancel(batch_id)
        cancel_chunks(queue, batch_id, len(files), 4)
        wait_until(lambda: store.get(batch_id)["running"] == 0, "the chunk in hand to finish", 60, worker,
                   tmp_path / "worker.log", interval=0.05)
        settled = store.get(batch_id)
        time.sleep(2)
        final = store.get(batch_id)
        assert final == settled  # nothing ran after the chunk in hand
        assert final["status"] == "cancelled"
        assert final["done"] + final["failed"] + final["cancelled"] == len(files)
        assert 0 < final["done"] < len(files) and final["cancelled"] > 0
        assert queue.count == 0
    finally:
        stop_all([worker])


def test_a_chunk_of_a_cancelled_batch_does_nothing_even_if_it_was_still_queued(db_url, model_server, mnist,
                                                                                tmp_path):
    conn = redis.Redis.from_url(db_url)
    store = BatchStore(conn, result_ttl=3600)
    batch_id = store.create(scan_files(mnist, 8), include_inputs=True)
    other_id = store.create(scan_files(mnist, 2), include_inputs=True)
    queue = Queue(BATCH_QUEUE, connection=conn)
    enqueue_batch(queue, batch_id, 8, ChunkPolicy(size=4))
    enqueue_batch(queue, other_id, 2, ChunkPolicy(size=4))
    store.cancel(batch_id)  # the chunks stay queued: only the worker's check stops them
    worker = start_worker(db_url, model_server, tmp_path / "worker.log")
    try:
        wait_until(lambda: store.get(other_id)["status"] == "done", "the other batch", 60, worker,
                   tmp_path / "worker.log")
        assert store.get(batch_id)["done"] == 0 and list(store.results(batch_id)) == []
        rows = list(store.results(other_id))
        assert all(digit["input_png"] for row in rows for digit in row["per_digit"])  # include_inputs kept
    finally:
        stop_all([worker])


def test_a_chunk_taken_and_finished_while_it_is_cancelled_is_skipped(redis_conn):
    # Seen in CI: cancel_chunks fetched a chunk while it waited; a worker then took and finished
    # it; RQ 3's Job.cancel listed its executions, found one gone and raised ValueError
    # ("Execution ... not found in Redis"): the user's DELETE answered 500. Here, the state that
    # race leaves: the job fetched while queued, started since, its execution's record gone.
    from rq.executions import ExecutionRegistry
    from rq.job import Job

    from gateway.dispatch import cancel_waiting

    store = BatchStore(redis_conn, result_ttl=3600)
    batch_id = store.create([(f"{i}.png", b"x") for i in range(8)])
    queue = Queue(BATCH_QUEUE, connection=redis_conn)
    enqueue_batch(queue, batch_id, 8, ChunkPolicy(size=4))
    first, second = queue.job_ids
    fetched = Job.fetch(first, connection=redis_conn)  # queued, as cancel_chunks saw it
    redis_conn.hset(fetched.key, "status", "started")
    redis_conn.zadd(ExecutionRegistry(first, redis_conn).key, {"vanished": time.time() + 600})
    assert cancel_waiting(fetched) is False
    assert cancel_waiting(Job.fetch(second, connection=redis_conn)) is True
    assert Job.fetch(second, connection=redis_conn).get_status() == "canceled"
