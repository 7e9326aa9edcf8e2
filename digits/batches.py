"""Batch state in Redis, shared by the gateway (writer of uploads) and workers (writers of results).

Keys, all under ``digits:batch:<id>``:

* ``...`` (hash): status, total, succeeded, failed, timestamps.
* ``...:names`` (hash): image index -> file name as uploaded.
* ``...:results`` (hash): image index -> JSON row. Written with HSETNX inside a Lua script
  that also bumps the counters, so a retried or duplicated chunk never counts an image twice.
* ``...:img:<index>`` (string): the uploaded bytes, with a TTL, deleted once read into a result.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import redis

DEFAULT_RESULT_TTL = 7 * 24 * 3600

# KEYS: meta, results. ARGV: ttl, now, then pairs of (index, json, failed 0/1).
_RECORD = """
local added_ok, added_failed = 0, 0
for i = 3, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    if ARGV[i + 2] == '1' then added_failed = added_failed + 1 else added_ok = added_ok + 1 end
  end
end
local ok = redis.call('HINCRBY', KEYS[1], 'succeeded', added_ok)
local failed = redis.call('HINCRBY', KEYS[1], 'failed', added_failed)
local total = tonumber(redis.call('HGET', KEYS[1], 'total'))
redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
if ok + failed >= total then
  if redis.call('HGET', KEYS[1], 'status') ~= 'done' then
    redis.call('HSET', KEYS[1], 'status', 'done', 'finished_at', ARGV[2])
  end
elseif added_ok + added_failed > 0 then
  redis.call('HSET', KEYS[1], 'status', 'running')
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
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
        meta = {"status": "queued", "total": len(files), "succeeded": 0, "failed": 0,
                "created_at": now, "updated_at": now}
        pipe.hset(self._key(batch_id), mapping=meta)
        pipe.expire(self._key(batch_id), self.result_ttl)
        pipe.execute()
        return batch_id

    def get(self, batch_id: str) -> dict[str, Any]:
        """Status and counts of one batch."""
        raw = self.redis.hgetall(self._key(batch_id))
        if not raw:
            raise BatchNotFoundError(batch_id)
        meta = {k.decode(): v.decode() for k, v in raw.items()}
        total, ok, failed = int(meta["total"]), int(meta["succeeded"]), int(meta["failed"])
        return {
            "id": batch_id,
            "status": meta["status"],
            "total": total,
            "processed": ok + failed,
            "succeeded": ok,
            "failed": failed,
            "pending": total - ok - failed,
            "created_at": float(meta["created_at"]),
            "updated_at": float(meta["updated_at"]),
            "finished_at": float(meta["finished_at"]) if "finished_at" in meta else None,
        }

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

    def record(self, batch_id: str, rows: dict[int, dict[str, Any]]) -> tuple[int, int]:
        """Record result rows once each; returns how many (succeeded, failed) were new."""
        if not rows:
            return (0, 0)
        args: list[Any] = [self.result_ttl, _now()]
        for index, row in rows.items():
            args += [str(index), json.dumps(row), "1" if row.get("error") else "0"]
        added = self._record(keys=[self._key(batch_id), self._key(batch_id, ":results")], args=args)
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


def _now() -> float:
    return round(time.time(), 3)
