"""A corpus of bad requests: each gets its documented status and error code, never a 500."""

import io

import numpy as np
import pytest

from gateway import create_app
from gateway.settings import GatewaySettings
from tests.gateway import uploads as u


@pytest.fixture
def client(private_db):
    settings = GatewaySettings(redis_url=private_db[0], max_file_bytes=2_000_000, max_request_bytes=8_000_000,
                               max_files=5)
    return create_app(settings).test_client()


def _upload(field: str, *files: tuple[str, bytes]) -> dict:
    return {"data": {field: [(io.BytesIO(data), name) for name, data in files]}}


CORPUS = [
    # (id, method, path, request kwargs, status, code)
    ("predict: empty body", "post", "/v1/predict", {}, 415, "unsupported_media_type"),
    ("predict: json body", "post", "/v1/predict", {"json": {"file": "x"}}, 415, "unsupported_media_type"),
    ("predict: raw bytes", "post", "/v1/predict", {"data": u.PNG, "content_type": "image/png"}, 415,
     "unsupported_media_type"),
    ("predict: wrong field", "post", "/v1/predict", _upload("image", ("a.png", u.PNG)), 400, "missing_file"),
    ("predict: url-encoded form", "post", "/v1/predict", {"data": {"file": "text"}}, 415, "unsupported_media_type"),
    ("predict: empty file", "post", "/v1/predict", _upload("file", ("a.png", b"")), 415, "unsupported_type"),
    ("predict: text file", "post", "/v1/predict", _upload("file", ("a.png", b"hello")), 415, "unsupported_type"),
    ("predict: a zip", "post", "/v1/predict", _upload("file", ("a.zip", u.zip_of({"a.png": u.PNG}))), 415,
     "unsupported_type"),
    ("predict: oversized file", "post", "/v1/predict", _upload("file", ("a.png", b"\x89PNG" + b"0" * 2_000_000)),
     413, "file_too_large"),
    ("predict: bad flag", "post", "/v1/predict?include_inputs=maybe", _upload("file", ("a.png", u.PNG)), 400,
     "invalid_parameter"),
    ("batches: empty body", "post", "/v1/batches", {}, 415, "unsupported_media_type"),
    ("batches: json body", "post", "/v1/batches", {"json": {"files": []}}, 415, "unsupported_media_type"),
    ("batches: wrong field", "post", "/v1/batches", _upload("file", ("a.png", u.PNG)), 400, "missing_files"),
    ("batches: too many files", "post", "/v1/batches", _upload("files", *[(f"{i}.png", u.PNG) for i in range(6)]),
     413, "too_many_files"),
    ("batches: oversized request", "post", "/v1/batches",
     _upload("files", *[(f"{i}.png", b"\x89PNG" + b"0" * 1_900_000) for i in range(5)]), 413, "request_too_large"),
    ("batches: oversized file", "post", "/v1/batches", _upload("files", ("a.png", b"\x89PNG" + b"0" * 2_000_000)),
     413, "file_too_large"),
    ("batches: broken zip", "post", "/v1/batches", _upload("files", ("a.zip", u.broken_zip())), 400, "invalid_zip"),
    ("batches: damaged zip entry", "post", "/v1/batches", _upload("files", ("a.zip", u.corrupt_entry_zip())), 400,
     "invalid_zip"),
    ("batches: zip-slip", "post", "/v1/batches", _upload("files", ("a.zip", u.zip_slip())), 400, "unsafe_zip"),
    ("batches: zip bomb", "post", "/v1/batches", _upload("files", ("a.zip", u.zip_bomb())), 413, "file_too_large"),
    ("batches: zip bomb of small entries", "post", "/v1/batches",
     _upload("files", ("a.zip", u.zip_of({f"{i}.png": b"\0" * 1_900_000 for i in range(5)}))), 413, "zip_bomb"),
    ("batches: zip lying about sizes", "post", "/v1/batches", _upload("files", ("a.zip", u.zip_lying_about_size())),
     400, "invalid_zip"),
    ("batches: zip with too many files", "post", "/v1/batches",
     _upload("files", ("a.zip", u.zip_of({f"{i}.png": u.PNG for i in range(6)}))), 413, "too_many_files"),
    ("batches: a part with no file name", "post", "/v1/batches",
     {"data": {"files": "text, not a file"}, "content_type": "multipart/form-data"}, 400, "invalid_multipart"),
    ("predict: a part with no file name", "post", "/v1/predict",
     {"data": {"file": "text, not a file"}, "content_type": "multipart/form-data"}, 400, "invalid_multipart"),
    ("batches: overlapping zip entries", "post", "/v1/batches",
     _upload("files", ("a.zip", u.overlapping_zip(3, size=5000))), 413, "zip_bomb"),
    ("batches: only folder clutter", "post", "/v1/batches",
     _upload("files", ("a.zip", u.zip_of({"__MACOSX/._a.png": b"x"}))), 400, "missing_files"),
    ("list: limit zero", "get", "/v1/batches?limit=0", {}, 400, "invalid_parameter"),
    ("list: limit too big", "get", "/v1/batches?limit=100000", {}, 400, "invalid_parameter"),
    ("list: cursor not a number", "get", "/v1/batches?cursor=abc", {}, 400, "invalid_parameter"),
    ("list: cursor empty", "get", "/v1/batches?cursor=", {}, 400, "invalid_parameter"),
    ("batch: unknown", "get", "/v1/batches/abc", {}, 404, "batch_not_found"),
    ("cancel: unknown", "delete", "/v1/batches/abc", {}, 404, "batch_not_found"),
    ("results: unknown", "get", "/v1/batches/abc/results", {}, 404, "batch_not_found"),
    ("no such route", "get", "/v1/nothing", {}, 404, "not_found"),
    ("wrong method", "delete", "/v1/predict", {}, 405, "method_not_allowed"),
    ("wrong method on a batch", "put", "/v1/batches/abc", {}, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), [c[1:] for c in CORPUS],
                         ids=[c[0] for c in CORPUS])
def test_bad_request_gets_its_documented_error(client, method, path, kwargs, status, code):
    response = getattr(client, method)(path, **kwargs)
    assert (response.status_code, response.json["error"]["code"]) == (status, code), response.json
    assert response.json["error"]["message"]
    assert set(response.json) == {"error"}


@pytest.mark.parametrize("query", ["format=xml", "offset=-1", "limit=0", "limit=x", "limit=20000"])
def test_bad_results_parameters(client, query):
    batch = client.post("/v1/batches", **_upload("files", ("a.png", u.PNG))).json
    response = client.get(f"/v1/batches/{batch['id']}/results?{query}")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_parameter"


def test_the_status_codes_used_are_the_ones_documented(client):
    spec = client.get("/openapi.json").json
    documented = {(path, method, int(status)) for path, item in spec["paths"].items()
                  for method, op in item.items() if isinstance(op, dict) and "responses" in op
                  for status in op["responses"]}
    templates = {"/v1/batches/abc": "/v1/batches/{batch_id}",
                 "/v1/batches/abc/results": "/v1/batches/{batch_id}/results"}
    for _, method, path, _, status, _ in CORPUS:
        route = templates.get(path.split("?")[0], path.split("?")[0])
        if route in spec["paths"] and method in spec["paths"][route]:
            assert (route, method, status) in documented, (route, method, status)


def test_405_names_the_allowed_methods(client):
    response = client.put("/v1/batches")
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


@pytest.fixture
def roomy_client(private_db):
    """The default limits (1 GB a request, 20 MB a file), under which these archives stay."""
    return create_app(GatewaySettings(redis_url=private_db[0])).test_client()


@pytest.mark.parametrize("archive", [
    pytest.param(lambda: u.overlapping_zip(), id="300 entries over the same 1 MB"),
    pytest.param(lambda: u.overlapping_zip(50, names=True), id="entries of other names sharing one offset"),
    pytest.param(lambda: u.zip_of_many_small_bombs(), id="many entries under 1 MB each"),
])
def test_zip_bombs_of_many_entries_are_refused_before_anything_is_stored(roomy_client, private_db, archive):
    data = archive()
    assert len(data) < 100_000
    response = roomy_client.post("/v1/batches", **_upload("files", ("a.zip", data)))
    assert (response.status_code, response.json["error"]["code"]) == (413, "zip_bomb"), response.json
    assert private_db[1].dbsize() == 0  # nothing was queued or stored


def test_overlapping_entries_are_named(roomy_client):
    response = roomy_client.post("/v1/batches", **_upload("files", ("a.zip", u.overlapping_zip(3, size=5000))))
    assert response.status_code == 413 and "overlap" in response.json["error"]["message"]


def test_a_zip_of_ordinary_scans_still_expands(roomy_client):
    archive = u.zip_of({f"scans/{i}.png": u.png_bytes(np.random.default_rng(i).integers(0, 255, (40, 40), np.uint8))
                        for i in range(50)})
    response = roomy_client.post("/v1/batches", **_upload("files", ("a.zip", archive)))
    assert response.status_code == 202 and response.json["total"] == 50
