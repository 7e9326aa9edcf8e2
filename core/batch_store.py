"""Batch state in Redis, shared by the gateway (writer of uploads) and workers (writers of results).

Keys, all under ``digits:batch:<id>``:

* ``...`` (hash): status, total, done, failed, error, options, timestamps.
* ``...:names`` (hash): image index -> file name as uploaded.
* ``...:running`` (hash): chunk id -> images it is reading now. A chunk is added when a worker
  starts it and removed when its rows are recorded or it goes back to the queue for a retry.
  A chunk whose worker was killed stays here until another worker re-runs it.
* ``...:results`` (hash): image index -> JSON row. Written with HSETNX inside a Lua script
  that also bumps the counters, so a retried or duplicated chunk never counts an image twice.
* ``...:img:<index>`` (string): the uploaded bytes, with a TTL, deleted once read into a result.

``digits:batches`` (sorted set) lists every batch by a creation sequence number, newest last,
for paging; entries whose batch has expired are dropped as a listing meets them.
``digits:batches:owner:<owner>`` lists the batches of one owner the same way.

**Owners.** A batch created with an ``owner`` (the gateway passes an id derived from the API
key, never the key) records it, and every read that names an owner (:meth:`BatchStore.get`,
:meth:`~BatchStore.list_batches`, :meth:`~BatchStore.cancel`) sees only that owner's batches:
another's is "not found", so that ids do not leak. ``owner=None`` reads every batch (no keys,
an admin key, the workers).

Every image is in exactly one state: queued, running, done (read), failed (could not be read)
or cancelled (its batch was cancelled before it was read).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from contracts.batches import CANCELLED, DONE, FAILED, QUEUED, RUNNING
from contracts.rows import ResultRow
from core.batch_scripts import CANCEL, RECORD
from core.stats import STATS_KEY

DEFAULT_RESULT_TTL = 7 * 24 * 3600
INDEX_KEY = "digits:batches"
SEQUENCE_KEY = "digits:batches:seq"


class BatchNotFoundError(KeyError):
    """No batch with that id (never created, or expired)."""


class BatchFinishedError(ValueError):
    """The batch has already finished, so it cannot be cancelled."""


class BatchStore:
    """Reads and writes batch state. Takes its Redis connection explicitly."""

    def __init__(self, connection: redis.Redis, result_ttl: int = DEFAULT_RESULT_TTL):
        self.redis = connection
        self.result_ttl = result_ttl
        self._record = connection.register_script(RECORD)
        self._cancel = connection.register_script(CANCEL)

    @staticmethod
    def _key(batch_id: str, suffix: str = "") -> str:
        return f"digits:batch:{batch_id}{suffix}"

    def create(self, files: Sequence[tuple[str, bytes | None]], image_ttl: int | None = None,
               include_inputs: bool = False, owner: str | None = None) -> str:
        """Store the uploaded files and the batch record; returns the new batch id.

        A file given as ``None`` stores no bytes: the caller records its error row at once.
        ``include_inputs`` makes workers add each digit's 28x28 model input to the rows.
        ``owner`` (an id, never a secret) makes the batch that owner's.
        """
        batch_id = uuid.uuid4().hex
        now = _now()
        ttl = image_ttl or self.result_ttl
        sequence = self.redis.incr(SEQUENCE_KEY)
        pipe = self.redis.pipeline(transaction=True)
        for index, (_, data) in enumerate(files):
            if data is not None:
                pipe.set(self._key(batch_id, f":img:{index}"), data, ex=ttl)
        if files:
            pipe.hset(self._key(batch_id, ":names"), mapping={str(i): name for i, (name, _) in enumerate(files)})
            pipe.expire(self._key(batch_id, ":names"), self.result_ttl)
        meta: dict[str, Any] = {"status": QUEUED, "total": len(files), "done": 0, "failed": 0,
                                "include_inputs": int(include_inputs), "created_at": now, "updated_at": now}
        if owner:
            meta["owner"] = owner
        pipe.hset(self._key(batch_id), mapping=meta)
        pipe.expire(self._key(batch_id), self.result_ttl)
        pipe.zadd(INDEX_KEY, {batch_id: sequence})
        if owner:
            # The owner's list outlives its newest batch, and expires when nothing is left in it.
            pipe.zadd(_owner_index(owner), {batch_id: sequence})
            pipe.expire(_owner_index(owner), self.result_ttl)
        pipe.execute()
        return batch_id

    def get(self, batch_id: str, owner: str | None = None) -> dict[str, Any]:
        """Status, counts per state and timestamps of one batch.

        ``status`` is queued, running, done, failed (finished, but a system error such as the
        model server staying down, named in ``error``, stopped some images being read) or
        cancelled. With ``owner``, another owner's batch is not found.
        """
        found = self._get_many([batch_id], owner)
        if not found:
            raise BatchNotFoundError(batch_id)
        return found[0]

    def _get_many(self, batch_ids: Sequence[str], owner: str | None = None) -> list[dict[str, Any]]:
        pipe = self.redis.pipeline(transaction=False)
        for batch_id in batch_ids:
            pipe.hgetall(self._key(batch_id))
            pipe.hvals(self._key(batch_id, ":running"))
        replies = pipe.execute()
        return [_summary(batch_id, raw, running) for batch_id, raw, running
                in zip(batch_ids, replies[::2], replies[1::2])
                if raw and (owner is None or raw.get(b"owner") == owner.encode())]

    def list_batches(self, limit: int, before: int | None = None,
                     owner: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``limit`` batches, newest first, created before the cursor ``before``; with
        ``owner``, that owner's only.

        Returns the batches and the cursor of the next page (None on the last page).
        """
        index = _owner_index(owner) if owner is not None else INDEX_KEY
        top = f"({before}" if before is not None else "+inf"
        entries = self.redis.zrevrangebyscore(index, top, "-inf", start=0, num=limit + 1, withscores=True)
        page = entries[:limit]
        ids = [member.decode() for member, _ in page]
        batches = self._get_many(ids, owner)
        expired = set(ids) - {batch["id"] for batch in batches}
        if expired:
            self.redis.zrem(index, *expired)
        cursor = int(page[-1][1]) if len(entries) > limit else None
        return batches, cursor

    def cancel(self, batch_id: str, owner: str | None = None) -> dict[str, Any]:
        """Cancel a batch in progress: chunks not yet started will not run, and the images
        nobody is reading are deleted. Cancelling a cancelled batch changes nothing.

        Raises BatchNotFoundError (also for another owner's batch, with ``owner``), or
        BatchFinishedError when it is already done or failed.
        """
        before = self._cancel(keys=[self._key(batch_id)], args=[_now(), owner or ""])
        if before is None:
            raise BatchNotFoundError(batch_id)
        if before.decode() in (DONE, FAILED):
            raise BatchFinishedError(batch_id)
        self._drop_unread_images(batch_id)
        return self.get(batch_id)

    def _drop_unread_images(self, batch_id: str) -> None:
        # Chunks that are running keep their images (they may still be loading them); a chunk
        # id is the index of its first image and its count the images it is reading.
        running = {int(k): int(v) for k, v in self.redis.hgetall(self._key(batch_id, ":running")).items()}
        busy = {i for start, count in running.items() for i in range(start, start + count)}
        total = int(self.redis.hget(self._key(batch_id), "total") or 0)
        for start in range(0, total, 1000):
            indices = [i for i in self.pending(batch_id, range(start, min(start + 1000, total))) if i not in busy]
            if indices:
                self.redis.delete(*[self._key(batch_id, f":img:{i}") for i in indices])

    def chunk_state(self, batch_id: str) -> tuple[str, bool] | None:
        """(status, include_inputs) for a worker about to read a chunk; None if the batch expired."""
        status, include_inputs = self.redis.hmget(self._key(batch_id), ["status", "include_inputs"])
        if status is None:
            return None
        return status.decode(), include_inputs == b"1"

    def start_chunk(self, batch_id: str, chunk: str, count: int) -> None:
        """Mark ``count`` images of ``chunk`` as running (a re-run after a crash overwrites)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._key(batch_id, ":running"), chunk, count)
        pipe.expire(self._key(batch_id, ":running"), self.result_ttl)
        pipe.hsetnx(self._key(batch_id), "started_at", _now())
        pipe.execute()

    def release_chunk(self, batch_id: str, chunk: str) -> None:
        """Put a chunk's images back to queued: it will be retried."""
        self.redis.hdel(self._key(batch_id, ":running"), chunk)

    def names(self, batch_id: str, indices: Sequence[int]) -> list[str]:
        values = self.redis.hmget(self._key(batch_id, ":names"), [str(i) for i in indices])
        return [v.decode() if v is not None else "" for v in values]

    def pending(self, batch_id: str, indices: Sequence[int]) -> list[int]:
        """The subset of ``indices`` that has no result yet."""
        done = self.redis.hmget(self._key(batch_id, ":results"), [str(i) for i in indices])
        return [i for i, row in zip(indices, done) if row is None]

    def load_images(self, batch_id: str, indices: Sequence[int]) -> list[bytes | None]:
        """Uploaded bytes for ``indices``; None where they expired or were already consumed."""
        return self.redis.mget([self._key(batch_id, f":img:{i}") for i in indices])

    def record(self, batch_id: str, rows: dict[int, ResultRow], chunk: str | None = None,
               error: str | None = None) -> tuple[int, int]:
        """Record result rows once each; returns how many (done, failed) were new.

        ``chunk`` leaves the running state. ``error`` is a system error that stopped these
        images being read; the batch then ends as failed, with the first such error named.
        """
        args: list[Any] = [self.result_ttl, _now(), chunk or "", error or ""]
        for index, row in rows.items():
            args += [str(index), json.dumps(row), "1" if row.get("error") else "0", row.get("digits") or ""]
        keys = [self._key(batch_id), self._key(batch_id, ":results"), self._key(batch_id, ":running"), STATS_KEY]
        added = self._record(keys=keys, args=args)
        if rows:
            self.redis.delete(*[self._key(batch_id, f":img:{i}") for i in rows])
        return int(added[0]), int(added[1])

    def results(self, batch_id: str, start: int = 0, stop: int | None = None) -> Iterable[ResultRow]:
        """Result rows of images ``start`` to ``stop`` (exclusive; the batch's end by default) in
        upload order; images still pending are left out. Rows are fetched a page at a time,
        never all at once."""
        if stop is None:
            stop = self.get(batch_id)["total"]
        key = self._key(batch_id, ":results")
        page = 1000
        for first in range(start, stop, page):
            indices = [str(i) for i in range(first, min(first + page, stop))]
            for raw in self.redis.hmget(key, indices):
                if raw is not None:
                    yield json.loads(raw)


def _owner_index(owner: str) -> str:
    return f"{INDEX_KEY}:owner:{owner}"


def _summary(batch_id: str, raw: dict[bytes, bytes], running_counts: list[bytes]) -> dict[str, Any]:
    meta = {k.decode(): v.decode() for k, v in raw.items()}
    total, done, failed = int(meta["total"]), int(meta["done"]), int(meta["failed"])
    running = min(sum(int(v) for v in running_counts), total - done - failed)
    status = meta["status"]
    if status == QUEUED and ("started_at" in meta or done + failed):
        status = RUNNING
    unread = total - done - failed - running
    return {
        "id": batch_id,
        "status": status,
        "total": total,
        QUEUED: 0 if status == CANCELLED else unread,
        "running": running,
        "done": done,
        "failed": failed,
        CANCELLED: unread if status == CANCELLED else 0,
        "processed": done + failed,
        "error": meta.get("error"),
        "created_at": float(meta["created_at"]),
        "started_at": _float_or_none(meta.get("started_at")),
        "updated_at": float(meta["updated_at"]),
        "finished_at": _float_or_none(meta.get("finished_at")),
    }


def _float_or_none(value: str | None) -> float | None:
    return float(value) if value is not None else None


def _now() -> float:
    return round(time.time(), 3)
