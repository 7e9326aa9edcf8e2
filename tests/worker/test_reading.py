"""Reading a chunk of images against the real model server: good and bad input side by side."""

import io
import logging
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from scans.generate import number_scan, render_scan
from worker.reading import Models, read_blobs
from worker.serving_client import ServingClient


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _bomb() -> bytes:
    """A 20000x20000 PNG of a few KB: decompressing it would take 400 MB."""
    header = _png(Image.new("L", (1, 1)))[:8]
    ihdr = b"IHDR" + (20000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    raw = zlib.compress(b"\x00" * (20001 * 64))
    idat = b"IDAT" + raw
    chunk = lambda body: len(body[4:]).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")  # noqa: E731
    return header + chunk(ihdr) + chunk(idat) + chunk(b"IEND")


@pytest.fixture(scope="module")
def models(model_server):
    """The digit model alone: the test server has no string model."""
    client = ServingClient(model_server, "digits", timeout=10)
    yield Models(client.predict)
    client.close()


def test_bad_files_get_their_own_error_and_the_rest_of_the_chunk_is_read(models, mnist):
    good = render_scan(mnist.x_test[0])
    truncated = good[: len(good) // 2]
    blank = _png(Image.new("L", (64, 64), 230))
    corpus = {
        "good": good, "empty": b"", "truncated": truncated, "text": b"Name,Amount\nA,12\n",
        "pdf": b"%PDF-1.4\n%...", "bomb": _bomb(), "blank": blank, "expired": None,
        "number": number_scan([mnist.x_test[i] for i in (1, 2)], np.random.default_rng(0)),
    }
    rows = dict(zip(corpus, read_blobs(list(corpus.values()), models, max_pixels=40_000_000, review_threshold=0.9)))
    errors = {name: row["error"]["code"] for name, row in rows.items() if row["error"]}
    assert errors == {"empty": "invalid_image", "truncated": "invalid_image", "text": "invalid_image",
                      "pdf": "invalid_image", "bomb": "image_too_large", "blank": "no_digit_found",
                      "expired": "image_expired"}
    assert all(row["needs_review"] and row["digits"] is None for name, row in rows.items() if name in errors)
    assert len(rows["good"]["digits"]) == 1 and len(rows["number"]["digits"]) == 2
    assert "pixels" in next(r for n, r in rows.items() if n == "bomb")["error"]["message"]


def test_needs_review_follows_the_whole_number_confidence(models, mnist):
    scan = number_scan([mnist.x_test[i] for i in (3, 4, 5, 6)], np.random.default_rng(2))
    [row] = read_blobs([scan], models, max_pixels=40_000_000, review_threshold=0.9)
    confidences = [d["confidence"] for d in row["per_digit"]]
    assert row["confidence"] == pytest.approx(np.prod(confidences), rel=1e-4)
    assert row["confidence"] <= min(confidences)
    assert row["needs_review"] == (row["confidence"] < 0.9)
    [strict] = read_blobs([scan], models, max_pixels=40_000_000, review_threshold=1.0)
    assert strict["needs_review"]


def _tiff(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF")
    return buffer.getvalue()


def test_files_that_used_to_fail_their_whole_chunk_get_their_own_row(models, mnist):
    # Issue #22: a 20-byte PNG raised struct.error, a CIELAB TIFF a ValueError: the chunk was
    # retried, then ended chunk_failed, and every good image in it lost its row.
    good = [render_scan(mnist.x_test[i]) for i in range(4)]
    twenty = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDRIEND"
    lab = _tiff(Image.open(io.BytesIO(good[0])).convert("RGB").convert("LAB"))
    alone = read_blobs(good, models, max_pixels=40_000_000, review_threshold=0.9)
    rows = read_blobs([good[0], twenty, good[1], lab, good[2], good[3]], models, max_pixels=40_000_000,
                      review_threshold=0.9)
    assert [r["digits"] for r in (rows[0], rows[2], rows[4], rows[5])] == [r["digits"] for r in alone]
    assert rows[1]["error"]["code"] == "invalid_image" and rows[1]["digits"] is None
    assert "PNG" in rows[1]["error"]["message"] and "header" in rows[1]["error"]["message"]
    # CIELAB's L channel is the lightness: the digit is read like its RGB original.
    assert rows[3]["error"] is None and rows[3]["digits"] == alone[0]["digits"]


@pytest.mark.parametrize("exc", [MemoryError(), RuntimeError("a decoder bug"), struct.error("unpack requires 10")])
def test_any_unexpected_failure_reading_one_image_is_that_images_row(models, mnist, monkeypatch, caplog, exc):
    import worker.reading

    good = [render_scan(mnist.x_test[i]) for i in range(3)]
    poison = b"poison"
    real = worker.reading.read_scan

    def preprocess(data, max_pixels):
        if data == poison:
            raise exc
        return real(data, max_pixels)

    monkeypatch.setattr(worker.reading, "read_scan", preprocess)
    with caplog.at_level(logging.ERROR, logger="worker.reading"):
        rows = read_blobs([good[0], poison, good[1], good[2]], models, max_pixels=40_000_000, review_threshold=0.9)
    assert all(rows[i]["error"] is None and len(rows[i]["digits"]) == 1 for i in (0, 2, 3))
    assert rows[1]["error"]["code"] == "invalid_image" and rows[1]["needs_review"]
    message = rows[1]["error"]["message"]
    assert ("out of memory" in message) if isinstance(exc, MemoryError) else (type(exc).__name__ in message)
    # Logged with its traceback, for whoever fixes the cause.
    [record] = [r for r in caplog.records if r.name == "worker.reading"]
    assert record.exc_info is not None and "image 2 of 4" in record.getMessage()


def test_the_chunks_own_timeout_is_not_taken_for_an_images_failure(models, mnist, monkeypatch):
    from rq.timeouts import JobTimeoutException

    import worker.reading

    def preprocess(data, max_pixels):
        raise JobTimeoutException("the chunk took too long")

    monkeypatch.setattr(worker.reading, "read_scan", preprocess)
    with pytest.raises(JobTimeoutException):
        read_blobs([render_scan(mnist.x_test[0])], models, max_pixels=40_000_000, review_threshold=0.9)


def _answer(reader, text, confidence):
    from worker.reading import Answer

    per_digit = [{"digit": int(c), "confidence": 0.9, "box": [0, 0, 1, 1], "probabilities": [0.1] * 10}
                 for c in text]
    return Answer(reader, text, confidence, per_digit, 1)


def test_the_rule_takes_agreement_as_more_sure_and_discounts_a_disagreement():
    from worker.reading import BOTH, choose

    scan = object()  # the rule looks at the answers only
    agree = choose(scan, _answer("digits", "123", 0.6), _answer("string", "123", 0.7))
    assert (agree.reader, agree.text) == (BOTH, "123") and agree.confidence == pytest.approx(1 - 0.4 * 0.3)
    assert agree.per_digit[0]["confidence"] == 0.9  # the digit model's boxes, cut from the ink
    differ = choose(scan, _answer("digits", "1234", 0.5), _answer("string", "124", 0.8))
    assert (differ.reader, differ.text) == ("string", "124") and differ.confidence == pytest.approx(0.8 * 0.5)
    other = choose(scan, _answer("digits", "77", 0.95), _answer("string", "71", 0.2))
    assert (other.reader, other.text) == ("digits", "77") and other.confidence == pytest.approx(0.95 * 0.8)


def test_the_rule_uses_one_model_where_the_other_cannot_read():
    from worker.reading import choose

    scan = object()
    long_number = _answer("digits", "1234567890123", 0.3)  # more digits than the string model reads
    assert choose(scan, long_number, _answer("string", "123456789012", 0.99)) is long_number
    alone = _answer("string", "42", 0.5)
    assert choose(scan, None, alone) is alone  # the digit pipeline found no digit
    digits = _answer("digits", "42", 0.5)
    assert choose(scan, digits, None) is digits  # no string model served
    assert choose(scan, None, None) is None
