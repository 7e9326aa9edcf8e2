"""Batch state against a real Redis: exactly-once recording and completion."""

import json

import pytest

from digits.batches import BatchNotFoundError, BatchStore


def _row(index, digit=None, error=None):
    return {"index": index, "file": f"f{index}", "digit": digit, "error": error}


def test_create_stores_images_names_and_counts(redis_conn):
    store = BatchStore(redis_conn, result_ttl=3600)
    batch_id = store.create([("a.png", b"A"), ("b/c.png", b"BC")])
    meta = store.get(batch_id)
    assert (meta["status"], meta["total"], meta["queued"], meta["running"]) == ("queued", 2, 2, 0)
    assert store.load_images(batch_id, [0, 1]) == [b"A", b"BC"]
    assert store.names(batch_id, [1, 0]) == ["b/c.png", "a.png"]
    assert 0 < redis_conn.ttl(f"digits:batch:{batch_id}") <= 3600


def test_recording_twice_counts_once(redis_conn):
    store = BatchStore(redis_conn)
    batch_id = store.create([(f"{i}.png", b"x") for i in range(3)])
    rows = {0: _row(0, 7), 1: _row(1, error={"code": "invalid_image", "message": "bad"})}
    assert store.record(batch_id, rows) == (1, 1)
    assert store.record(batch_id, rows) == (0, 0)  # a retried or duplicated chunk
    meta = store.get(batch_id)
    assert (meta["done"], meta["failed"], meta["status"]) == (1, 1, "running")
    assert store.pending(batch_id, [0, 1, 2]) == [2]
    assert store.load_images(batch_id, [0, 1, 2]) == [None, None, b"x"]


def test_status_is_done_when_every_image_has_a_row(redis_conn):
    store = BatchStore(redis_conn)
    batch_id = store.create([("a", b"x"), ("b", b"y")])
    store.record(batch_id, {1: _row(1, 3)})
    store.record(batch_id, {0: _row(0, 4)})
    meta = store.get(batch_id)
    assert meta["status"] == "done" and meta["finished_at"] is not None
    assert [r["index"] for r in store.results(batch_id)] == [0, 1]


def test_first_write_wins(redis_conn):
    store = BatchStore(redis_conn)
    batch_id = store.create([("a", b"x")])
    store.record(batch_id, {0: _row(0, 1)})
    store.record(batch_id, {0: _row(0, 9)})
    assert json.loads(redis_conn.hget(f"digits:batch:{batch_id}:results", "0"))["digit"] == 1


def test_unknown_batch(redis_conn):
    with pytest.raises(BatchNotFoundError):
        BatchStore(redis_conn).get("missing")
