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


def _answer(reader, text, confidence, pitch=None):
    """An answer; with ``pitch``, its digits' boxes 10 x 20 px, ``pitch`` px apart."""
    from worker.reading import Answer

    per_digit = [{"digit": int(c), "confidence": 0.9, "probabilities": [0.1] * 10,
                  "box": [0, 0, 1, 1] if pitch is None else [30 + k * pitch, 5, 10, 20]} for k, c in enumerate(text)]
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


def test_a_count_disagreement_goes_to_the_string_model_unless_the_digits_stand_apart():
    from worker.reading import APART, choose

    scan = object()
    string = _answer("string", "1000", 0.3)
    for pitch in (8, 10, 10 + 20 * APART):  # overlapping, touching, closer than APART x their height
        joined = choose(scan, _answer("digits", "100", 0.8, pitch), string)
        assert (joined.reader, joined.text) == ("string", "1000") and joined.confidence == pytest.approx(0.3 * 0.2)
    apart = choose(scan, _answer("digits", "100", 0.8, 10 + 20 * APART + 1), string)
    assert (apart.reader, apart.text) == ("digits", "100") and apart.confidence == pytest.approx(0.8 * 0.7)
    never = choose(scan, _answer("digits", "100", 0.8, 8), string, apart=None)  # the rule before
    assert never.reader == "digits"
    # One digit stands alone; a string model that read nothing overrules nothing.
    assert choose(scan, _answer("digits", "7", 0.8, 10), _answer("string", "71", 0.3)).text == "7"
    assert choose(scan, _answer("digits", "71", 0.8, 8), _answer("string", "", 0.3)).text == "71"


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


@pytest.fixture(scope="module")
def both(both_model_server):
    """Both models over the real server, counting the scans the string model is asked about."""
    client = ServingClient(both_model_server, "digits", timeout=10)
    asked: list[int] = []

    def strings(images):
        asked.append(len(images))
        return client.predict(images, model="strings", confidence=True)

    yield Models(client.predict, strings), asked
    client.close()


def test_the_string_model_reads_only_where_the_digit_model_is_not_sure(both, mnist):
    from worker.reading import SURE

    models, asked = both
    scans = [render_scan(mnist.x_test[i]) for i in range(6)] + [
        number_scan([mnist.x_test[i] for i in (7, 8, 9)], np.random.default_rng(3))]
    alone = read_blobs(scans, Models(models.digits), max_pixels=40_000_000, review_threshold=0.9)
    rows = read_blobs(scans, models, max_pixels=40_000_000, review_threshold=0.9)
    sure = [row["confidence"] >= SURE for row in alone]
    assert sum(asked) == len(scans) - sum(sure)
    for row, digit_row, skipped in zip(rows, alone, sure):
        if skipped:  # the digit model's own answer, untouched
            assert row == digit_row and row["reader"] == "digits"
        else:
            assert row["reader"] in ("digits", "string", "both") and row["error"] is None
    asked.clear()
    everyone = read_blobs(scans, models, max_pixels=40_000_000, review_threshold=0.9, sure=2.0)
    assert asked == [len(scans)] and all(row["error"] is None for row in everyone)


def test_the_served_string_model_gives_a_calibrated_confidence_per_scan(both, mnist):
    models, _ = both
    scans = [number_scan([mnist.x_test[i] for i in (10, 11, 12)], np.random.default_rng(k)) for k in range(3)]
    from scans.strings import read_scan

    prediction = models.strings(np.stack([read_scan(scan).string.image for scan in scans]))
    assert prediction.probabilities.shape == (3, 48, 11) and prediction.model_version == 1
    assert prediction.confidence.shape == (3,) and ((prediction.confidence >= 0) & (prediction.confidence <= 1)).all()


def test_a_string_answer_puts_each_digits_box_where_its_frames_lie_on_the_page(models, mnist):
    from worker.serving_client import Prediction

    scan = number_scan([mnist.x_test[i] for i in (10, 11, 12, 13)], np.random.default_rng(4))
    [digit_row] = read_blobs([scan], models, max_pixels=40_000_000, review_threshold=0.9)

    def frames(images):
        # The string model's answer "4173": digit k on the frames over the k-th digit the digit
        # pipeline cut (from its box on the page, through the string image's columns).
        from scans.strings import read_scan

        image = read_scan(scan).string
        out = np.zeros((len(images), 48, 11), np.float32)
        out[:, :, 0] = 1
        for digit, entry in zip((4, 1, 7, 3), digit_row["per_digit"]):
            x, _, w, _ = entry["box"]
            centre = int((x + w / 2 - image.x0) * image.scale) // 4
            out[:, centre] = np.eye(11)[digit + 1]
        return Prediction(out, 3, np.full(len(images), 0.75, np.float32))

    rule = lambda scan, digits, string: string  # noqa: E731 - the string model's own answer
    [row] = read_blobs([scan], Models(models.digits, frames), max_pixels=40_000_000, review_threshold=0.9,
                       include_inputs=True, rule=rule, sure=2.0)
    assert (row["reader"], row["digits"], row["model_version"], row["confidence"]) == ("string", "4173", 3, 0.75)
    assert row["needs_review"]
    for entry, cut in zip(row["per_digit"], digit_row["per_digit"]):
        x, _, w, _ = entry["box"]
        cx, _, cw, _ = cut["box"]
        assert x <= cx + cw and cx <= x + w  # over the digit the pipeline cut there
        assert len(entry["probabilities"]) == 10 and entry["input_png"]


def test_a_string_reading_longer_than_the_model_reads_is_an_error_not_a_truncated_answer(models, mnist):
    from worker.serving_client import Prediction

    def thirteen(images):
        out = np.zeros((len(images), 48, 11), np.float32)
        out[:, :, 0] = 1
        for k in range(13):  # "1234567890123", a digit every third frame
            out[:, 3 * k + 1] = np.eye(11)[k % 10 + 1]
        return Prediction(out, 1, np.full(len(images), 0.95, np.float32))

    scan = number_scan([mnist.x_test[i] for i in (1, 2)], np.random.default_rng(0))
    [row] = read_blobs([scan], Models(models.digits, thirteen), max_pixels=40_000_000, review_threshold=0.9,
                       rule=lambda scan, digits, string: string, sure=2.0)
    assert row["error"]["code"] == "too_many_digits" and row["digits"] is None and row["needs_review"]
    assert "13 digits" in row["error"]["message"]


def test_the_digit_model_reads_the_string_models_cuts_where_it_was_torn(models, mnist):
    from scans.strings import read_scan
    from worker.serving_client import Prediction

    picks = (10, 11, 12, 13)
    truth = "".join(str(int(mnist.y_test[i])) for i in picks)
    scan = number_scan([mnist.x_test[i] for i in picks], np.random.default_rng(4))
    [digit_row] = read_blobs([scan], models, max_pixels=40_000_000, review_threshold=0.9)
    image = read_scan(scan).string
    wrong = [(int(d) + 5) % 10 for d in truth]

    def torn(images):
        # At each digit's place: the wrong digit a little more probable than the true one.
        out = np.zeros((len(images), 48, 11), np.float32)
        out[:, :, 0] = 1
        for digit, other, entry in zip(truth, wrong, digit_row["per_digit"]):
            x, _, w, _ = entry["box"]
            frame = int((x + w / 2 - image.x0) * image.scale) // 4
            out[:, frame] = 0
            out[:, frame, int(digit) + 1], out[:, frame, other + 1] = 0.45, 0.55
        return Prediction(out, 2, np.full(len(images), 0.75, np.float32))

    alone = lambda scan, digits, string: string  # noqa: E731 - the string model's answer, as fused
    kwargs = {"max_pixels": 40_000_000, "review_threshold": 0.9, "rule": alone, "sure": 2.0}
    [before] = read_blobs([scan], Models(models.digits, torn), cut_weight=0.0, **kwargs)
    [after] = read_blobs([scan], Models(models.digits, torn), **kwargs)
    assert before["digits"] == "".join(map(str, wrong)) and before["confidence"] == 0.75
    assert (after["reader"], after["digits"], after["model_version"]) == ("string", truth, 2)
    assert after["confidence"] == pytest.approx(0.75 * (0.45 / 0.55) ** 4, rel=1e-3) and after["needs_review"]
    assert [entry["digit"] for entry in after["per_digit"]] == [int(d) for d in truth]
    assert all(entry["confidence"] == max(entry["probabilities"]) for entry in after["per_digit"])

