"""Failure semantics with real processes: a killed worker, Serving down, a Redis restart.

Each test runs its own workers on its own Redis database (or its own redis-server), with
short heartbeat and maintenance timings so that recovery is quick to observe.
"""

from __future__ import annotations

import os
import signal
import time

import redis
from rq import Queue, Worker

from contracts.jobs import BATCH_QUEUE
from core.batch_store import BatchStore
from digits.processes import free_port, port_open, python_module, spawn, start_redis, stop_all, wait_until
from gateway.dispatch import ChunkPolicy, chunk_job_id, enqueue_batch
from tests.conftest import scan_files, start_worker

FAST_RECOVERY = {"DIGITS_HEARTBEAT_INTERVAL": "1", "DIGITS_HEARTBEAT_TTL": "3", "DIGITS_MAINTENANCE_INTERVAL": "1"}


def _submit(url: str, files, policy: ChunkPolicy) -> tuple[BatchStore, str]:
    conn = redis.Redis.from_url(url)
    store = BatchStore(conn, result_ttl=3600)
    batch_id = store.create(files)
    enqueue_batch(Queue(BATCH_QUEUE, connection=conn), batch_id, len(files), policy)
    return store, batch_id


def _assert_exactly_once(store: BatchStore, batch_id: str, total: int) -> list[dict]:
    meta = store.get(batch_id)
    rows = list(store.results(batch_id))
    assert meta["processed"] == meta["done"] + meta["failed"] == total
    assert (meta["queued"], meta["running"]) == (0, 0)
    assert sorted(row["index"] for row in rows) == list(range(total))
    return rows


def test_a_worker_killed_mid_chunk_loses_and_repeats_nothing(db_url, model_server, mnist, tmp_path):
    files = scan_files(mnist, 24, side=1600)
    victim = start_worker(db_url, model_server, tmp_path / "victim.log", **FAST_RECOVERY)
    store, batch_id = _submit(db_url, files, ChunkPolicy(size=12, retries=2, retry_delays=(0,)))
    wait_until(lambda: store.get(batch_id)["running"] > 0, "the first chunk to start", 60, victim,
               tmp_path / "victim.log", interval=0.02)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = time.monotonic()
    assert store.get(batch_id)["processed"] < len(files)  # the kill really was mid-batch

    survivor = start_worker(db_url, model_server, tmp_path / "survivor.log", **FAST_RECOVERY)
    try:
        wait_until(lambda: store.get(batch_id)["status"] == "done", "the batch to finish", 90, survivor,
                   tmp_path / "survivor.log")
    finally:
        stop_all([survivor])
    rows = _assert_exactly_once(store, batch_id, len(files))
    assert all(row["error"] is None and len(row["digits"]) == 1 for row in rows)
    # Recovery is bounded by the heartbeat TTL and the maintenance interval (3 s + 1 s here),
    # plus reading the chunks; the bound is loose so that a busy CI machine cannot trip it.
    assert time.monotonic() - killed_at < 60


def test_chunks_wait_for_serving_to_come_back(db_url, model_base, mnist, tmp_path):
    port = free_port()
    env = {**FAST_RECOVERY, "DIGITS_GRPC_RETRIES": "1", "DIGITS_GRPC_TIMEOUT": "2"}
    worker = start_worker(db_url, f"127.0.0.1:{port}", tmp_path / "worker.log", **env)
    files = scan_files(mnist, 6)
    store, batch_id = _submit(db_url, files, ChunkPolicy(size=3, retries=20, retry_delays=(1, 2, 3)))
    job = Queue(BATCH_QUEUE, connection=store.redis).fetch_job(chunk_job_id(batch_id, 0))

    def retried() -> bool:
        job.refresh()
        return job.retries_left < 20

    wait_until(retried, "a chunk to fail against the missing model server", 60, worker, tmp_path / "worker.log")
    assert store.get(batch_id)["processed"] == 0
    serving_env = {**os.environ, "DIGITS_MODEL_BASE": str(model_base), "DIGITS_GRPC_PORT": str(port),
                   "DIGITS_REST_PORT": "0"}
    serving = spawn(python_module("serving"), tmp_path / "serving.log", serving_env)
    try:
        wait_until(lambda: store.get(batch_id)["status"] == "done", "the batch to finish once Serving is up", 240,
                   worker, tmp_path / "worker.log")
    finally:
        stop_all([worker, serving])
    rows = _assert_exactly_once(store, batch_id, len(files))
    assert all(row["error"] is None for row in rows)


def test_a_batch_fails_clearly_when_the_retry_budget_is_spent(db_url, mnist, tmp_path):
    env = {**FAST_RECOVERY, "DIGITS_GRPC_RETRIES": "0", "DIGITS_GRPC_TIMEOUT": "1"}
    worker = start_worker(db_url, f"127.0.0.1:{free_port()}", tmp_path / "worker.log", **env)
    files = scan_files(mnist, 4)
    store, batch_id = _submit(db_url, files, ChunkPolicy(size=2, retries=2, retry_delays=(0,)))
    try:
        wait_until(lambda: store.get(batch_id)["status"] == "failed", "the batch to fail", 60, worker,
                   tmp_path / "worker.log")
    finally:
        stop_all([worker])
    meta = store.get(batch_id)
    assert meta["error"].startswith("model_unavailable: ")
    rows = _assert_exactly_once(store, batch_id, len(files))
    assert {row["error"]["code"] for row in rows} == {"model_unavailable"}
    assert meta["failed"] == len(files)


def test_a_queued_batch_survives_a_redis_crash_with_aof(model_server, mnist, tmp_path):
    port = free_port()
    data, log = tmp_path / "redis", tmp_path / "redis.log"
    server = start_redis(port, data, log)  # the same AOF settings as docker-compose.yml
    wait_until(lambda: port_open(port), "redis-server", 20, server, log)
    url = f"redis://127.0.0.1:{port}/0"
    files = scan_files(mnist, 10)
    _, batch_id = _submit(url, files, ChunkPolicy(size=4))
    time.sleep(1.5)  # appendfsync everysec: at most the last second is at risk on power loss
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()

    server = start_redis(port, data, log)
    worker = None
    try:
        wait_until(lambda: port_open(port), "redis-server to restart", 20, server, log)
        store = BatchStore(redis.Redis.from_url(url), result_ttl=3600)
        assert store.get(batch_id)["queued"] == len(files)
        worker = start_worker(url, model_server, tmp_path / "worker.log", **FAST_RECOVERY)
        wait_until(lambda: store.get(batch_id)["status"] == "done", "the batch to finish after the restart", 60,
                   worker, tmp_path / "worker.log")
        rows = _assert_exactly_once(store, batch_id, len(files))
        assert all(row["error"] is None for row in rows)
    finally:
        stop_all([p for p in (worker, server) if p is not None])


def test_a_killed_workers_chunk_runs_again_without_waiting_for_its_retry_delay(db_url, model_server, mnist, tmp_path):
    """Abandoned is not failed: the chunk's retry delays (30 s here) are for Serving down. It
    runs again once its heartbeat lapses and a maintenance pass finds it (3 s + 1 s here)."""
    files = scan_files(mnist, 48, side=1600)
    workers = [start_worker(db_url, model_server, tmp_path / f"worker-{n}.log", **FAST_RECOVERY) for n in range(2)]
    try:
        for n, worker in enumerate(workers):
            wait_until(lambda n=n: "Listening on" in (tmp_path / f"worker-{n}.log").read_text(), "a worker", 60,
                       worker, tmp_path / f"worker-{n}.log")
        store, batch_id = _submit(db_url, files, ChunkPolicy(size=48, retries=2, retry_delays=(30,)))
        wait_until(lambda: store.get(batch_id)["running"] > 0, "the chunk to start", 60, interval=0.02)
        [busy] = [w for w in Worker.all(connection=store.redis) if w.get_current_job_id()]
        victim = next(w for w in workers if w.pid == busy.pid)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic()
        assert store.get(batch_id)["processed"] < len(files)  # the kill really was mid-chunk
        survivor = next(w for w in workers if w is not victim)
        wait_until(lambda: store.get(batch_id)["status"] == "done", "the batch to finish", 90, survivor,
                   tmp_path / f"worker-{workers.index(survivor)}.log")
        recovered = time.monotonic() - killed_at
    finally:
        stop_all(workers)
    _assert_exactly_once(store, batch_id, len(files))
    assert recovered < 30, f"{recovered:.1f} s: the retry waited for its delay"


def test_workers_ride_out_a_redis_restart_mid_batch(model_server, mnist, tmp_path):
    port = free_port()
    data, log = tmp_path / "redis", tmp_path / "redis.log"
    server = start_redis(port, data, log)
    wait_until(lambda: port_open(port), "redis-server", 20, server, log)
    url = f"redis://127.0.0.1:{port}/0"
    workers = [start_worker(url, model_server, tmp_path / f"worker-{n}.log", **FAST_RECOVERY) for n in range(2)]
    files = scan_files(mnist, 60, side=1200)
    store, batch_id = _submit(url, files, ChunkPolicy(size=4, retries=3, retry_delays=(1,)))
    try:
        wait_until(lambda: store.get(batch_id)["processed"] >= 8, "the batch to start", 60, workers[0],
                   tmp_path / "worker-0.log")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        time.sleep(3)  # the workers meet a dead Redis: heartbeats, dequeues and results fail
        server = start_redis(port, data, log)
        wait_until(lambda: port_open(port), "redis-server to restart", 20, server, log)
        wait_until(lambda: store.get(batch_id)["status"] == "done", "the batch to finish", 180, workers[1],
                   tmp_path / "worker-1.log")
        assert all(worker.poll() is None for worker in workers)  # nobody restarted them
        rows = _assert_exactly_once(store, batch_id, len(files))
        assert all(row["error"] is None for row in rows)
    finally:
        stop_all([*workers, server])
