"""Which RQ worker process model to run: measured, not guessed.

    python -m bench.worker_model_bench --model-base models --data-dir ../shared/data/mnist [--runs 3]

For each model (ours: SimpleWorker with a heartbeat thread; RQ's Worker, which forks a
work horse per job; RQ's SpawnWorker, which spawns a fresh interpreter per job), the same
number of worker processes run on a private Redis against one model server, and this
measures, in the same run:

* batch throughput: ``--chunks`` chunks of 256 scans through ``worker.jobs.predict_chunk``;
* single-image latency: ``--requests`` sequential ``predict_image`` jobs (enqueue to result);
* peak RSS of a worker process together with its work horse (for the forking models).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import redis
from rq import Queue

from bench.e2e_parts import children_by_parent, vm_kb
from contracts.jobs import BATCH_QUEUE, PRIORITY_QUEUE
from core.batch_store import BatchStore
from digits.processes import free_port, port_open, python_module, spawn, start_redis, stop_all, wait_until
from gateway.dispatch import ChunkPolicy, enqueue_batch
from scans.generate import sized_scan
from trainer.data import load_mnist

MODELS = {
    "SimpleWorker + heartbeat (ours)": "worker.runner.HeartbeatWorker",
    "Worker (fork per job)": "rq.worker.Worker",
    "SpawnWorker (spawn per job)": "rq.worker.SpawnWorker",
}


def _start_workers(worker_class: str, count: int, url: str, target: str, logs: Path) -> list:
    env = {**os.environ, "DIGITS_REDIS_URL": url, "DIGITS_SERVING_TARGET": target}
    return [spawn(python_module("rq.cli", "worker", "--worker-class", worker_class, "--url", url, "--with-scheduler",
                                PRIORITY_QUEUE, BATCH_QUEUE), logs / f"worker-{n}.log", env) for n in range(count)]


def _throughput(conn: redis.Redis, blobs: list[bytes], chunks: int) -> float:
    store = BatchStore(conn)
    files = [(f"{i}.jpg", blobs[i % len(blobs)]) for i in range(chunks * 256)]
    batch_id = store.create(files)
    started = time.perf_counter()
    enqueue_batch(Queue(BATCH_QUEUE, connection=conn), batch_id, len(files), ChunkPolicy())
    while store.get(batch_id)["status"] not in ("done", "failed"):
        time.sleep(0.01)
    return len(files) / (time.perf_counter() - started)


def _latency(conn: redis.Redis, blobs: list[bytes], requests: int) -> float:
    queue = Queue(PRIORITY_QUEUE, connection=conn)
    timings = []
    for i in range(requests + 5):
        started = time.perf_counter()
        job = queue.enqueue("worker.jobs.predict_image", blobs[i % len(blobs)], result_ttl=60)
        if job.latest_result(timeout=30) is None:
            raise RuntimeError("no worker answered")
        if i >= 5:
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


class RssSampler:
    """Peak RSS of each worker together with its work horse, sampled while jobs run."""

    def __init__(self, workers: list):
        self.pids = [proc.pid for proc in workers]
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            children = children_by_parent()
            for pid in self.pids:
                try:
                    total = vm_kb(pid, "VmRSS") + sum(vm_kb(c, "VmRSS") for c in children.get(pid, []))
                except (OSError, KeyError):
                    continue  # a horse exited between listing and reading
                self.peak_kb = max(self.peak_kb, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base", type=Path, default=Path("models"))
    parser.add_argument("--data-dir", default=os.environ.get("DIGITS_MNIST_DIR"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = load_mnist(args.data_dir)
    rng = np.random.default_rng(0)
    blobs = [sized_scan(data.x_test[i], int(rng.integers(90, 131)), rng) for i in range(512)]
    logs = Path(tempfile.mkdtemp(prefix="digits-workers-"))
    redis_port, grpc_port = free_port(), free_port()
    server = start_redis(redis_port, logs / "redis", logs / "redis.log", appendonly=False)
    serving = spawn(python_module("serving"), logs / "serving.log",
                    {**os.environ, "DIGITS_MODEL_BASE": str(args.model_base), "DIGITS_GRPC_PORT": str(grpc_port),
                     "DIGITS_REST_PORT": "0"})
    url = f"redis://127.0.0.1:{redis_port}/0"
    results: dict[str, dict[str, list[float]]] = {name: {"rate": [], "latency": [], "rss": []} for name in MODELS}
    try:
        wait_until(lambda: port_open(redis_port) and port_open(grpc_port), "redis and serving", 120, serving,
                   logs / "serving.log")
        conn = redis.Redis.from_url(url)
        for _ in range(args.runs):
            for name, worker_class in MODELS.items():
                workers = _start_workers(worker_class, args.workers, url, f"127.0.0.1:{grpc_port}", logs)
                try:
                    _latency(conn, blobs, 5)  # workers up, model warm
                    with RssSampler(workers) as rss:
                        results[name]["rate"].append(_throughput(conn, blobs, args.chunks))
                        results[name]["latency"].append(_latency(conn, blobs, args.requests))
                    results[name]["rss"].append(rss.peak_kb / 1024)
                finally:
                    stop_all(workers)
                conn.flushdb()
    finally:
        stop_all([serving, server])
    print(f"\n{args.workers} workers, chunks of 256 scans (~200x200 JPEG), {args.runs} interleaved runs\n")
    print("| process model | batch throughput (scans/s) | single-image latency p50 (ms) | worker peak RSS (MB) |")
    print("| --- | ---: | ---: | ---: |")
    for name, figures in results.items():
        print(f"| {name} | {statistics.median(figures['rate']):,.0f} | {statistics.median(figures['latency']):.1f} | "
              f"{statistics.median(figures['rss']):,.0f} |")


if __name__ == "__main__":
    main()
