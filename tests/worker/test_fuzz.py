"""Fuzzed files inside chunks of good scans, read by the worker against the real model server:
each image gets its own row, the good ones keep theirs, and a bad file never fails the chunk."""

from __future__ import annotations

import numpy as np

from contracts.errors import ReadError
from scans import preprocess
from scans.generate import number_scan, render_scan
from tests.scans import fuzz
from worker.reading import read_blobs

CHUNK = 256
GOOD_PER_CHUNK = 16


def test_fuzzed_files_in_chunks_of_good_scans_each_get_their_own_row(models, mnist):
    corpus = fuzz.corpus(40)
    # What each file gives when read alone: a number of digits, or an error code and message.
    expected: dict[str, tuple[str, object]] = {}
    for name, data in corpus:
        try:
            expected[name] = ("digits", len(preprocess(data).boxes))
        except ReadError as exc:
            expected[name] = (str(exc.code), str(exc))
    rng = np.random.default_rng(22)
    good = [render_scan(mnist.x_test[i]) for i in range(8)] + [
        number_scan([mnist.x_test[j] for j in rng.choice(1000, 3, replace=False)], rng) for _ in range(8)]
    good_rows = read_blobs(good, models, max_pixels=40_000_000, review_threshold=0.9)
    assert all(row["error"] is None for row in good_rows)
    step = CHUNK - GOOD_PER_CHUNK
    for start in range(0, len(corpus), step):
        bad = corpus[start : start + step]
        # The good scans spread through the chunk, between the fuzzed files.
        order: list[tuple[str, bytes | None]] = list(bad)
        for i, blob in enumerate(good):
            order.insert(i * (len(order) // len(good) + 1), (f"good/{i}", blob))
        rows = read_blobs([blob for _, blob in order], models, max_pixels=40_000_000, review_threshold=0.9)
        assert len(rows) == len(order)
        for (name, _), row in zip(order, rows):
            if name.startswith("good/"):
                kept = good_rows[int(name.split("/")[1])]
                assert row["digits"] == kept["digits"] and row["error"] is None, name
                continue
            kind, detail = expected[name]
            if kind == "digits":
                assert row["error"] is None and len(row["per_digit"]) == detail, name
            else:
                assert row["error"] == {"code": kind, "message": detail}, name
                assert row["digits"] is None and row["needs_review"], name
