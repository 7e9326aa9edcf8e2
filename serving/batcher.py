"""Server-side batching: concurrent Predict requests for one servable run as one call.

As TF Serving's batching (its ``SharedBatchScheduler`` queue): a request larger than
``max_batch_size`` rows is refused (INVALID_ARGUMENT, "Task size N is larger than maximum
input batch size M"); with ``enable_large_batch_splitting`` a request is cut into pieces of
the execution batch size. A batch closes when it holds the execution batch size or when its
oldest request has waited ``batch_timeout_micros``; ``num_batch_threads`` batches run at once;
past ``max_enqueued_batches`` batches of waiting rows, requests are refused with UNAVAILABLE
rather than queued without bound.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

from serving.config_file import BatchingConfig

RunFn = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


class BatchQueueFullError(RuntimeError):
    """Too many rows are already waiting; the caller should answer UNAVAILABLE."""


class BatchTooLargeError(ValueError):
    """A request holds more rows than ``max_batch_size``; the caller answers INVALID_ARGUMENT."""


@dataclass
class _Task:
    key: Hashable
    run: RunFn
    feeds: dict[str, np.ndarray]
    rows: int
    enqueued: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, np.ndarray] | None = None
    error: BaseException | None = None


class Batcher:
    """Merges concurrent requests that share a key (servable version and signature)."""

    def __init__(self, config: BatchingConfig):
        self.config = config
        self._cond = threading.Condition()
        self._queues: dict[Hashable, deque[_Task]] = {}
        self._waiting_rows = 0
        self._stopped = False
        self.batches_run = 0
        self.requests_run = 0
        self._threads = [
            threading.Thread(target=self._loop, name=f"batch-{n}", daemon=True)
            for n in range(config.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, key: Hashable, run: RunFn, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run ``feeds`` (all inputs share dim 0) through ``run``, batched with others."""
        rows = int(next(iter(feeds.values())).shape[0])
        if rows > self.config.max_batch_size:
            raise BatchTooLargeError(f"Task size {rows} is larger than maximum input batch size "
                                     f"{self.config.max_batch_size}")
        size = self.config.execution_batch_size
        if rows <= size:
            return self._submit_one(key, run, feeds, rows)
        # Large-batch splitting: pieces of the execution size, each batched like any request.
        pieces = [self._enqueue(key, run, {n: v[start : start + size] for n, v in feeds.items()},
                                min(size, rows - start)) for start in range(0, rows, size)]
        results = [self._wait(task) for task in pieces]
        return {name: np.concatenate([r[name] for r in results]) if results[0][name].ndim else results[0][name]
                for name in results[0]}

    def _submit_one(self, key: Hashable, run: RunFn, feeds: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        if rows == self.config.execution_batch_size:
            return run(feeds)  # already a full batch: merging would only add latency
        return self._wait(self._enqueue(key, run, feeds, rows))

    def _enqueue(self, key: Hashable, run: RunFn, feeds: dict[str, np.ndarray], rows: int) -> _Task:
        task = _Task(key, run, feeds, rows)
        with self._cond:
            limit = self.config.max_enqueued_batches * self.config.execution_batch_size
            if self._waiting_rows + rows > limit:
                raise BatchQueueFullError("the batch queue is full; retry later")
            self._queues.setdefault(key, deque()).append(task)
            self._waiting_rows += rows
            self._cond.notify_all()
        return task

    @staticmethod
    def _wait(task: _Task) -> dict[str, np.ndarray]:
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.result  # type: ignore[return-value]

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._run(batch)

    def _next_batch(self) -> list[_Task] | None:
        timeout = self.config.batch_timeout_micros / 1e6
        with self._cond:
            while True:
                if self._stopped:
                    return None
                queue = self._oldest_queue()
                if queue is None:
                    self._cond.wait()
                    continue
                remaining = queue[0].enqueued + timeout - time.monotonic()
                if remaining > 0 and sum(t.rows for t in queue) < self.config.execution_batch_size:
                    self._cond.wait(remaining)
                    continue
                return self._take(queue)

    def _oldest_queue(self) -> deque[_Task] | None:
        heads = [q for q in self._queues.values() if q]
        return min(heads, key=lambda q: q[0].enqueued) if heads else None

    def _take(self, queue: deque[_Task]) -> list[_Task]:
        batch = [queue.popleft()]
        rows = batch[0].rows
        while queue and rows + queue[0].rows <= self.config.execution_batch_size:
            rows += queue[0].rows
            batch.append(queue.popleft())
        self._waiting_rows -= rows
        return batch

    def _run(self, batch: list[_Task]) -> None:
        try:
            feeds = {name: np.concatenate([t.feeds[name] for t in batch]) for name in batch[0].feeds}
            outputs = batch[0].run(feeds)
            total = sum(t.rows for t in batch)
            start = 0
            for task in batch:
                task.result = {
                    # An output without the batch dimension is shared by every request.
                    name: value[start : start + task.rows] if value.ndim and value.shape[0] == total else value
                    for name, value in outputs.items()
                }
                start += task.rows
        except BaseException as exc:  # noqa: BLE001 - every waiting caller must be woken
            for task in batch:
                task.error = exc
        finally:
            self.batches_run += 1
            self.requests_run += len(batch)
            for task in batch:
                task.done.set()
