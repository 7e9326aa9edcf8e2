"""The app from the factory, against a real Redis; paths that need no worker."""

import pytest

from gateway import create_app
from gateway.settings import GatewaySettings


@pytest.fixture
def private_db(redis_url):
    """Database 1 of the test Redis: no worker of the end-to-end stack listens there."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/1"
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    yield url, conn
    conn.close()


@pytest.fixture
def client(private_db):
    app = create_app(GatewaySettings(redis_url=private_db[0], max_file_bytes=1000, max_files=3, chunk_size=2))
    return app.test_client()


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"]["redis"] == "ok"


def test_readiness_fails_without_redis():
    from digits.processes import free_port

    app = create_app(GatewaySettings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.json["status"] == "unavailable"


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), [
    ("post", "/v1/predict", {}, 400, "missing_file"),
    ("post", "/v1/predict", {"data": {"other": "x"}}, 400, "missing_file"),
    ("post", "/v1/batches", {}, 400, "missing_files"),
    ("get", "/v1/batches/abc", {}, 404, "batch_not_found"),
    ("get", "/v1/batches/abc/results", {}, 404, "batch_not_found"),
    ("get", "/v1/nothing", {}, 404, "not_found"),
    ("delete", "/v1/predict", {}, 405, "method_not_allowed"),
])
def test_errors_have_one_json_shape(client, method, path, kwargs, status, code):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]


def test_oversized_file_is_413(client):
    import io

    response = client.post("/v1/predict", data={"file": (io.BytesIO(b"x" * 1001), "big.png")})
    assert response.status_code == 413 and response.json["error"]["code"] == "file_too_large"


def test_too_many_files_is_413(client):
    import io

    data = {"files": [(io.BytesIO(b"x"), f"{i}.png") for i in range(4)]}
    response = client.post("/v1/batches", data=data)
    assert response.status_code == 413 and response.json["error"]["code"] == "too_many_files"


def test_batch_is_chunked_onto_the_batch_queue(client, private_db):
    import io

    from rq import Queue

    data = {"files": [(io.BytesIO(b"x"), f"{i}.png") for i in range(3)]}
    response = client.post("/v1/batches", data=data)
    assert response.status_code == 202
    assert response.headers["Location"] == f"/v1/batches/{response.json['id']}"
    jobs = Queue("digits-batches", connection=private_db[1]).get_jobs()
    assert [job.args[1] for job in jobs] == [[0, 1], [2]]
    assert client.get(f"/v1/batches/{response.json['id']}").json["status"] == "queued"


def test_bad_results_format(client):
    import io

    batch = client.post("/v1/batches", data={"files": [(io.BytesIO(b"x"), "a.png")]}).json
    response = client.get(f"/v1/batches/{batch['id']}/results?format=xml")
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_format"
