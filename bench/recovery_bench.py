"""How long the stack takes to recover, with the default timings: a worker killed mid-chunk,
and Redis killed and started again mid-batch.

    python -m bench.recovery_bench --model-base models --data-dir ../shared/data/mnist [--runs 3]

Real processes, as in production: redis-server with its append-only file, the model server,
two workers with every DIGITS_* timing at its default. Each run submits one batch:

* worker killed: one chunk of 64 pages; the worker reading it gets SIGKILL. Reported: the time
  from the kill until the chunk is running again on the other worker (README promises the
  heartbeat TTL plus one maintenance interval, 15 + 10 s), and the whole batch's extra time
  over the same batch read without a kill (the baseline measured in the same run).
* Redis killed: Redis gets SIGKILL mid-batch and is started again 5 s later. Reported: the
  time from its restart until the workers record rows again.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import redis
from rq import Queue, Worker

from contracts.batches import DONE
from contracts.jobs import BATCH_QUEUE
from core.batch_store import BatchStore
from digits.processes import free_port, port_open, python_module, spawn, start_redis, stop_all, wait_until
from gateway.dispatch import ChunkPolicy, enqueue_batch
from trainer.data import load_mnist


def _pages(data_dir: str, count: int, side: int = 1600) -> list[tuple[str, bytes]]:
    """A4-like pages with one large digit: a chunk of them takes seconds to read."""
    mnist = load_mnist(data_dir)
    pages = []
    for i in range(count):
        page = np.full((side, side), 200, np.uint8)
        digit = np.minimum(200, np.kron(255 - mnist.x_test[i], np.ones((side // 40, side // 40), np.uint8)))
        page[side // 4 : side // 4 + digit.shape[0], side // 4 : side // 4 + digit.shape[1]] = digit
        ok, png = cv2.imencode(".png", page, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        pages.append((f"page-{i}.png", png.tobytes()))
    return pages


class Stack:
    """redis-server, the model server and two workers, all with default timings."""

    def __init__(self, folder: Path, model_base: str):
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.redis = self._start_redis()
        grpc = free_port()
        env = {**os.environ, "DIGITS_MODEL_BASE": model_base, "DIGITS_GRPC_PORT": str(grpc), "DIGITS_REST_PORT": "0"}
        self.serving = spawn(python_module("serving"), folder / "serving.log", env)
        wait_until(lambda: port_open(grpc), "model server", 120, self.serving, folder / "serving.log")
        worker_env = {**os.environ, "DIGITS_REDIS_URL": self.url, "DIGITS_SERVING_TARGET": f"127.0.0.1:{grpc}"}
        self.workers = [spawn(python_module("worker"), folder / f"worker-{n}.log", worker_env) for n in range(2)]
        for n, worker in enumerate(self.workers):
            wait_until(lambda n=n: "Listening on" in (folder / f"worker-{n}.log").read_text(), "worker", 120,
                       worker, folder / f"worker-{n}.log")
        self.store = BatchStore(redis.Redis.from_url(self.url), result_ttl=3600)

    def _start_redis(self):
        proc = start_redis(self.port, self.folder / "redis", self.folder / "redis.log")
        wait_until(lambda: port_open(self.port), "redis-server", 20, proc, self.folder / "redis.log")
        return proc

    def submit(self, pages, size: int) -> str:
        batch_id = self.store.create(pages)
        enqueue_batch(Queue(BATCH_QUEUE, connection=self.store.redis), batch_id, len(pages), ChunkPolicy(size=size))
        return batch_id

    def wait_done(self, batch_id: str) -> None:
        wait_until(lambda: self.store.get(batch_id)["status"] == DONE, "the batch", 600, interval=0.05)

    def stop(self) -> None:
        stop_all([*self.workers, self.serving, self.redis])


def worker_killed(stack: Stack, pages) -> tuple[float, float]:
    """(seconds until the chunk runs again, extra seconds for the batch) for one kill."""
    batch_id = stack.submit(pages, size=len(pages))
    wait_until(lambda: stack.store.get(batch_id)["running"] > 0, "the chunk", 60, interval=0.01)
    [busy] = [w for w in Worker.all(connection=stack.store.redis) if w.get_current_job_id()]
    victim = next(p for p in stack.workers if p.pid == busy.pid)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    killed = time.monotonic()
    job_id = busy.get_current_job_id()

    def running_elsewhere() -> bool:
        return any(w.get_current_job_id() == job_id and w.pid != busy.pid
                   for w in Worker.all(connection=stack.store.redis))

    wait_until(running_elsewhere, "the chunk to run again", 120, interval=0.05)
    rerun = time.monotonic() - killed
    stack.wait_done(batch_id)
    total = time.monotonic() - killed
    stack.workers[stack.workers.index(victim)] = spawn(
        python_module("worker"), stack.folder / "worker-respawn.log",
        {**os.environ, "DIGITS_REDIS_URL": stack.url,
         "DIGITS_SERVING_TARGET": _target(stack)})
    return rerun, total


def _target(stack: Stack) -> str:
    text = (stack.folder / "serving.log").read_text()
    return text.rsplit("serving gRPC on ", 1)[1].split(",", 1)[0]


def redis_killed(stack: Stack, pages) -> float:
    """Seconds from Redis being started again until rows are recorded again."""
    batch_id = stack.submit(pages, size=4)
    wait_until(lambda: stack.store.get(batch_id)["processed"] >= 8, "the batch to start", 60, interval=0.02)
    os.killpg(stack.redis.pid, signal.SIGKILL)
    stack.redis.wait()
    time.sleep(5)
    stack.redis = stack._start_redis()
    restarted = time.monotonic()
    before = stack.store.get(batch_id)["processed"]
    wait_until(lambda: stack.store.get(batch_id)["processed"] > before, "rows again", 180, interval=0.05)
    resumed = time.monotonic() - restarted
    stack.wait_done(batch_id)
    return resumed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pages = _pages(args.data_dir, 64)
    with tempfile.TemporaryDirectory() as folder:
        stack = Stack(Path(folder), args.model_base)
        try:
            baseline = []
            for _ in range(args.runs):
                started = time.monotonic()
                stack.wait_done(stack.submit(pages, size=len(pages)))
                baseline.append(time.monotonic() - started)
            kills = [worker_killed(stack, pages) for _ in range(args.runs)]
            outages = [redis_killed(stack, pages) for _ in range(args.runs)]
        finally:
            stack.stop()
    chunk = statistics.median(baseline)
    print("| measure | median | runs |\n| --- | ---: | --- |")
    print(f"| one 64-page chunk, no kill (baseline) | {chunk:.1f} s | {', '.join(f'{v:.1f}' for v in baseline)} |")
    reruns = [r for r, _ in kills]
    print(f"| worker killed: chunk running again after | {statistics.median(reruns):.1f} s | "
          f"{', '.join(f'{v:.1f}' for v in reruns)} |")
    extra = [t - chunk for _, t in kills]
    print(f"| worker killed: batch's extra time over the baseline | {statistics.median(extra):.1f} s | "
          f"{', '.join(f'{v:.1f}' for v in extra)} |")
    print(f"| Redis killed, restarted after 5 s: rows again after the restart | {statistics.median(outages):.1f} s | "
          f"{', '.join(f'{v:.1f}' for v in outages)} |")


if __name__ == "__main__":
    main()
