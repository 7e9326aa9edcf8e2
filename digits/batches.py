"""Batch state in Redis, shared by the gateway (writer of uploads) and workers (writers of results).

Keys, all under ``digits:batch:<id>``:

* ``...`` (hash): status, total, done, failed, error, timestamps.
* ``...:names`` (hash): image index -> file name as uploaded.
* ``...:running`` (hash): chunk id -> images it is reading now. A chunk is added when a worker
  starts it and removed when its rows are recorded or it goes back to the queue for a retry.
  A chunk whose worker was killed stays here until another worker re-runs it.
* ``...:results`` (hash): image index -> JSON row. Written with HSETNX inside a Lua script
  that also bumps the counters, so a retried or duplicated chunk never counts an image twice.
* ``...:img:<index>`` (string): the uploaded bytes, with a TTL, deleted once read into a result.

Every image is in exactly one state: queued, running, done (read) or failed (could not be read).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import redis

DEFAULT_RESULT_TTL = 7 * 24 * 3600

# KEYS: meta, results, running. ARGV: ttl, now, chunk id or '', batch error or '',
# then triples of (index, json, failed 0/1).
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local added_ok, added_failed = 0, 0
for i = 5, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    if ARGV[i + 2] == '1' then added_failed = added_failed + 1 else added_ok = added_ok + 1 end
  end
end
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[3], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'error', ARGV[4]) end
local ok = redis.call('HINCRBY', KEYS[1], 'done', added_ok)
local failed = redis.call('HINCRBY', KEYS[1], 'failed', added_failed)
local total = tonumber(redis.call('HGET', KEYS[1], 'total'))
redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
if ok + failed >= total and redis.call('HGET', KEYS[1], 'status') == 'queued' then
  local final = 'done'
  if redis.call('HEXISTS', KEYS[1], 'error') == 1 then final = 'failed' end
  redis.call('HSET', KEYS[1], 'status', final, 'finished_at', ARGV[2])
  redis.call('DEL', KEYS[3])
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return {added_ok, added_failed}
"""


class BatchNotFoundError(KeyError):
    """No batch with that id (never created, or expired)."""


class BatchStore:
    """Reads and writes batch state. Takes its Redis connection explicitly."""

    def __init__(self, connection: redis.Redis, result_ttl: int = DEFAULT_RESULT_TTL):
        self.redis = connection
        self.result_ttl = result_ttl
        self._record = connection.register_script(_RECORD)

    @staticmethod
    def _key(batch_id: str, suffix: str = "") -> str:
        return f"digits:batch:{batch_id}{suffix}"

    def create(self, files: Sequence[tuple[str, bytes]], image_ttl: int | None = None) -> str:
        """Store the uploaded files and the batch record; returns the new batch id."""
        batch_id = uuid.uuid4().hex
        now = _now()
        ttl = image_ttl or self.result_ttl
        pipe = self.redis.pipeline(transaction=True)
        for index, (_, data) in enumerate(files):
            pipe.set(self._key(batch_id, f":img:{index}"), data, ex=ttl)
        if files:
            pipe.hset(self._key(batch_id, ":names"), mapping={str(i): name for i, (name, _) in enumerate(files)})
            pipe.expire(self._key(batch_id, ":names"), self.result_ttl)
        meta = {"status": "queued", "total": len(files), "done": 0, "failed": 0,
                "created_at": now, "updated_at": now}
        pipe.hset(self._key(batch_id), mapping=meta)
        pipe.expire(self._key(batch_id), self.result_ttl)
        pipe.execute()
        return batch_id

    def get(self, batch_id: str) -> dict[str, Any]:
        """Status, counts per state and timestamps of one batch.

        ``status`` is queued, running, done, or failed (finished, but a system error such as
        the model server staying down, named in ``error``, stopped some images being read).
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self._key(batch_id))
        pipe.hvals(self._key(batch_id, ":running"))
        raw, running_counts = pipe.execute()
        if not raw:
            raise BatchNotFoundError(batch_id)
        meta = {k.decode(): v.decode() for k, v in raw.items()}
        total, done, failed = int(meta["total"]), int(meta["done"]), int(meta["failed"])
        running = min(sum(int(v) for v in running_counts), total - done - failed)
        status = meta["status"]
        if status == "queued" and ("started_at" in meta or done + failed):
            status = "running"
        return {
            "id": batch_id,
            "status": status,
            "total": total,
            "queued": total - done - failed - running,
            "running": running,
            "done": done,
            "failed": failed,
            "processed": done + failed,
            "error": meta.get("error"),
            "created_at": float(meta["created_at"]),
            "started_at": _float_or_none(meta.get("started_at")),
            "updated_at": float(meta["updated_at"]),
            "finished_at": _float_or_none(meta.get("finished_at")),
        }

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

    def exists(self, batch_id: str) -> bool:
        return bool(self.redis.exists(self._key(batch_id)))

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

    def record(self, batch_id: str, rows: dict[int, dict[str, Any]], chunk: str | None = None,
               error: str | None = None) -> tuple[int, int]:
        """Record result rows once each; returns how many (done, failed) were new.

        ``chunk`` leaves the running state. ``error`` is a system error that stopped these
        images being read; the batch then ends as failed, with the first such error named.
        """
        args: list[Any] = [self.result_ttl, _now(), chunk or "", error or ""]
        for index, row in rows.items():
            args += [str(index), json.dumps(row), "1" if row.get("error") else "0"]
        keys = [self._key(batch_id), self._key(batch_id, ":results"), self._key(batch_id, ":running")]
        added = self._record(keys=keys, args=args)
        if rows:
            self.redis.delete(*[self._key(batch_id, f":img:{i}") for i in rows])
        return int(added[0]), int(added[1])

    def results(self, batch_id: str) -> Iterable[dict[str, Any]]:
        """Result rows in upload order; images still pending are left out."""
        meta = self.get(batch_id)
        key = self._key(batch_id, ":results")
        page = 1000
        for start in range(0, meta["total"], page):
            indices = [str(i) for i in range(start, min(start + page, meta["total"]))]
            for raw in self.redis.hmget(key, indices):
                if raw is not None:
                    yield json.loads(raw)


def _float_or_none(value: str | None) -> float | None:
    return float(value) if value is not None else None


def _now() -> float:
    return round(time.time(), 3)
