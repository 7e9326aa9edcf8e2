"""Batch state against a real Redis: exactly-once recording and completion."""

import json

import pytest

from core.batch_store import BatchNotFoundError, BatchStore


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


def test_images_move_through_queued_running_done_and_failed(redis_conn):
    store = BatchStore(redis_conn)
    batch_id = store.create([(f"{i}", b"x") for i in range(5)])
    store.start_chunk(batch_id, "0", 3)
    meta = store.get(batch_id)
    assert (meta["status"], meta["queued"], meta["running"], meta["started_at"] is not None) == ("running", 2, 3, True)
    store.release_chunk(batch_id, "0")  # going back for a retry
    assert (store.get(batch_id)["queued"], store.get(batch_id)["running"]) == (5, 0)
    store.start_chunk(batch_id, "0", 3)
    store.record(batch_id, {0: _row(0, 1), 1: _row(1, 2), 2: _row(2, error={"code": "invalid_image"})}, chunk="0")
    meta = store.get(batch_id)
    assert (meta["queued"], meta["running"], meta["done"], meta["failed"]) == (2, 0, 2, 1)


def test_a_system_error_ends_the_batch_as_failed_naming_the_first_cause(redis_conn):
    store = BatchStore(redis_conn)
    batch_id = store.create([("a", b"x"), ("b", b"y")])
    bad = {"code": "model_unavailable", "message": "down"}
    store.record(batch_id, {0: _row(0, error=bad)}, chunk="0", error="model_unavailable: first")
    assert store.get(batch_id)["status"] == "running"
    store.record(batch_id, {1: _row(1, error=bad)}, chunk="1", error="model_unavailable: second")
    meta = store.get(batch_id)
    assert (meta["status"], meta["error"], meta["failed"]) == ("failed", "model_unavailable: first", 2)
    assert meta["finished_at"] is not None


def test_recording_into_an_expired_batch_changes_nothing(redis_conn):
    store = BatchStore(redis_conn)
    batch_id = store.create([("a", b"x")])
    redis_conn.delete(f"digits:batch:{batch_id}")
    assert store.record(batch_id, {0: _row(0, 1)}) == (0, 0)
    assert not redis_conn.exists(f"digits:batch:{batch_id}:results")


def test_cancel_stops_a_batch_and_keeps_what_was_read(redis_conn):
    store = BatchStore(redis_conn)
    batch_id = store.create([(f"{i}.png", b"x") for i in range(6)])
    store.record(batch_id, {0: _row(0, 1)})
    store.start_chunk(batch_id, "4", 2)  # a worker is reading images 4 and 5
    meta = store.cancel(batch_id)
    assert (meta["status"], meta["done"], meta["running"], meta["cancelled"], meta["queued"]) == (
        "cancelled", 1, 2, 3, 0)
    # The unread images nobody is reading are gone; the running chunk keeps its own.
    assert store.load_images(batch_id, range(6)) == [None, None, None, None, b"x", b"x"]
    store.record(batch_id, {4: _row(4, 3), 5: _row(5, 4)}, chunk="4")  # it finishes its chunk
    meta = store.get(batch_id)
    assert (meta["status"], meta["done"], meta["running"], meta["cancelled"]) == ("cancelled", 3, 0, 3)
    assert meta["finished_at"] is not None
    assert store.cancel(batch_id)["status"] == "cancelled"  # cancelling twice changes nothing


def test_a_finished_batch_is_not_cancelled(redis_conn):
    from core.batch_store import BatchFinishedError

    store = BatchStore(redis_conn)
    batch_id = store.create([("a.png", b"x")])
    store.record(batch_id, {0: _row(0, 1)})
    with pytest.raises(BatchFinishedError):
        store.cancel(batch_id)
    with pytest.raises(BatchNotFoundError):
        store.cancel("nope")


def test_list_pages_newest_first(redis_conn):
    store = BatchStore(redis_conn)
    ids = [store.create([("a.png", b"x")]) for _ in range(5)]
    seen, cursor = [], None
    while True:
        page, cursor = store.list_batches(2, before=cursor)
        seen += [batch["id"] for batch in page]
        if cursor is None:
            break
    assert seen == ids[::-1]


def test_recorded_rows_feed_the_statistics_once(redis_conn):
    from core.stats import count_predictions, read_stats

    store = BatchStore(redis_conn)
    batch_id = store.create([(f"{i}.png", b"x") for i in range(3)])
    rows = {0: {"digits": "90210", "error": None}, 1: {"digits": None, "error": {"code": "x", "message": "y"}}}
    store.record(batch_id, rows)
    store.record(batch_id, rows)
    count_predictions(redis_conn, [{"digits": "11", "error": None}, {"digits": None, "error": {"code": "x"}}])
    assert read_stats(redis_conn) == {"batch:done": 1, "batch:failed": 1, "digit:9": 1, "digit:0": 2,
                                      "digit:2": 1, "digit:1": 3, "predict:done": 1, "predict:failed": 1}


def test_an_owner_sees_and_cancels_only_its_own_batches(redis_conn):
    store = BatchStore(redis_conn)
    alice = [store.create([("a.png", b"x")], owner="id-alice") for _ in range(3)]
    bob = store.create([("b.png", b"x")], owner="id-bob")
    unowned = store.create([("c.png", b"x")])
    assert store.get(alice[0], owner="id-alice")["id"] == alice[0]
    with pytest.raises(BatchNotFoundError):
        store.get(alice[0], owner="id-bob")
    with pytest.raises(BatchNotFoundError):
        store.get(unowned, owner="id-bob")
    with pytest.raises(BatchNotFoundError):
        store.cancel(alice[0], owner="id-bob")
    assert store.get(alice[0])["status"] == "queued"
    assert store.cancel(alice[0], owner="id-alice")["status"] == "cancelled"
    page, cursor = store.list_batches(2, owner="id-alice")
    rest, last = store.list_batches(2, before=cursor, owner="id-alice")
    assert [b["id"] for b in page + rest] == alice[::-1] and last is None
    assert [b["id"] for b in store.list_batches(10, owner="id-bob")[0]] == [bob]
    assert [b["id"] for b in store.list_batches(10)[0]] == [unowned, bob, *alice[::-1]]
    assert store.cancel(bob)["status"] == "cancelled"  # no owner named: any batch
