"""Reading a chunk of images against the real model server: good and bad input side by side."""

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from scans.generate import number_scan, render_scan
from worker.jobs import read_blobs
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
def client(model_server):
    client = ServingClient(model_server, "digits", timeout=10)
    yield client
    client.close()


def test_bad_files_get_their_own_error_and_the_rest_of_the_chunk_is_read(client, mnist):
    good = render_scan(mnist.x_test[0])
    truncated = good[: len(good) // 2]
    blank = _png(Image.new("L", (64, 64), 230))
    corpus = {
        "good": good, "empty": b"", "truncated": truncated, "text": b"Name,Amount\nA,12\n",
        "pdf": b"%PDF-1.4\n%...", "bomb": _bomb(), "blank": blank, "expired": None,
        "number": number_scan([mnist.x_test[i] for i in (1, 2)], np.random.default_rng(0)),
    }
    rows = dict(zip(corpus, read_blobs(list(corpus.values()), client, max_pixels=40_000_000, review_threshold=0.9)))
    errors = {name: row["error"]["code"] for name, row in rows.items() if row["error"]}
    assert errors == {"empty": "invalid_image", "truncated": "invalid_image", "text": "invalid_image",
                      "pdf": "invalid_image", "bomb": "image_too_large", "blank": "no_digit_found",
                      "expired": "image_expired"}
    assert all(row["needs_review"] and row["digits"] is None for name, row in rows.items() if name in errors)
    assert len(rows["good"]["digits"]) == 1 and len(rows["number"]["digits"]) == 2
    assert "pixels" in next(r for n, r in rows.items() if n == "bomb")["error"]["message"]


def test_needs_review_follows_the_whole_number_confidence(client, mnist):
    scan = number_scan([mnist.x_test[i] for i in (3, 4, 5, 6)], np.random.default_rng(2))
    [row] = read_blobs([scan], client, max_pixels=40_000_000, review_threshold=0.9)
    confidences = [d["confidence"] for d in row["per_digit"]]
    assert row["confidence"] == pytest.approx(np.prod(confidences), rel=1e-4)
    assert row["confidence"] <= min(confidences)
    assert row["needs_review"] == (row["confidence"] < 0.9)
    [strict] = read_blobs([scan], client, max_pixels=40_000_000, review_threshold=1.0)
    assert strict["needs_review"]
