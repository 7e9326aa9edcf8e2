"""The whole path over HTTP: gateway -> Redis/RQ -> worker -> gRPC model server -> results."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
import requests
from PIL import Image

from scans.generate import number_scan, render_scan
from scans.preprocess import preprocess


@pytest.fixture(scope="module")
def reference(model_base):
    """The exported model called in-process: what the service must agree with."""
    import tensorflow as tf

    folder = sorted((model_base / "digits").iterdir())[-1]
    fn = tf.saved_model.load(str(folder)).signatures["serving_default"]
    return lambda images: fn(images=tf.constant(images))["probabilities"].numpy()


def test_predict_reads_scans_like_the_model_in_process(gateway_url, mnist, reference):
    scans = [render_scan(mnist.x_test[i]) for i in range(20)]
    expected = reference(np.concatenate([preprocess(s).images for s in scans])).argmax(axis=1)
    got = []
    for i, scan in enumerate(scans):
        response = requests.post(f"{gateway_url}/v1/predict", files={"file": (f"scan{i}.png", scan)}, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_version"] == 1
        assert 0.0 <= body["confidence"] <= 1.0
        [digit] = body["per_digit"]
        assert len(digit["probabilities"]) == 10 and len(digit["box"]) == 4
        assert body["digits"] == str(digit["digit"]) and body["confidence"] == digit["confidence"]
        assert body["needs_review"] == (body["confidence"] < 0.9)
        assert "input_png" not in digit
        got.append(digit["digit"])
    assert got == expected.tolist()
    # A tiny model, yet it must read most clear scans right.
    assert np.mean(np.array(got) == mnist.y_test[:20]) >= 0.75


def test_predict_reads_a_whole_number_and_shows_its_inputs(gateway_url, mnist, reference):
    scan = number_scan([mnist.x_test[i] for i in (0, 1, 2)], np.random.default_rng(1))
    digits = preprocess(scan)
    expected = "".join(str(d) for d in reference(digits.images).argmax(axis=1))
    response = requests.post(f"{gateway_url}/v1/predict?include_inputs=true", files={"file": ("n.png", scan)},
                             timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["digits"] == expected and len(body["per_digit"]) == 3
    assert body["confidence"] == pytest.approx(np.prod([d["confidence"] for d in body["per_digit"]]), rel=1e-4)
    for entry, image, box in zip(body["per_digit"], digits.images, digits.boxes):
        seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(entry["input_png"]))))
        np.testing.assert_array_equal(seen, image)
        assert entry["box"] == box.tolist()


def test_predict_says_no_digit_for_blank_paper(gateway_url):
    buffer = io.BytesIO()
    Image.fromarray(np.full((100, 100), 210, np.uint8)).save(buffer, format="PNG")
    response = requests.post(f"{gateway_url}/v1/predict", files={"file": ("blank.png", buffer.getvalue())}, timeout=30)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_digit_found"


def test_predict_rejects_a_non_image_by_its_content(gateway_url):
    response = requests.post(f"{gateway_url}/v1/predict", files={"file": ("notes.png", b"hello")}, timeout=30)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_type"


def test_predict_reports_an_image_that_starts_right_but_is_broken(gateway_url):
    response = requests.post(f"{gateway_url}/v1/predict", files={"file": ("scan.jpg", b"\xff\xd8\xff\xe0 junk")},
                             timeout=30)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_image"


def test_batch_processes_every_file_and_reports_bad_ones(gateway_url, mnist):
    files = [("files", (f"folder/{i:03d}.png", render_scan(mnist.x_test[i]))) for i in range(30)]
    files.insert(5, ("files", ("broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")))
    files.insert(12, ("files", ("empty.png", b"")))
    response = requests.post(f"{gateway_url}/v1/batches", files=files, timeout=30)
    assert response.status_code == 202, response.text
    batch_id = response.json()["id"]
    assert response.json()["total"] == 32

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = requests.get(f"{gateway_url}/v1/batches/{batch_id}", timeout=10).json()
        if status["status"] == "done":
            break
        time.sleep(0.2)
    assert status["status"] == "done"
    assert (status["done"], status["failed"], status["processed"]) == (30, 2, 32)

    rows = requests.get(f"{gateway_url}/v1/batches/{batch_id}/results", timeout=10).json()["results"]
    assert [r["file"] for r in rows] == [name for _, (name, _) in files]
    errors = {r["file"]: r["error"]["code"] for r in rows if r["error"]}
    assert errors == {"broken.jpg": "invalid_image", "empty.png": "unsupported_type"}
    good = [r for r in rows if not r["error"]]
    assert all(len(r["per_digit"]) == 1 for r in good)
    accuracy = np.mean([r["digits"] == str(mnist.y_test[int(r["file"][7:10])]) for r in good])
    assert accuracy >= 0.75

    csv_text = requests.get(f"{gateway_url}/v1/batches/{batch_id}/results?format=csv", timeout=10).text
    lines = csv_text.strip().splitlines()
    assert lines[0] == "index,file,digits,confidence,needs_review,error"
    assert len(lines) == 33


def test_unknown_batch_is_a_json_404(gateway_url):
    response = requests.get(f"{gateway_url}/v1/batches/nope", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "batch_not_found"
