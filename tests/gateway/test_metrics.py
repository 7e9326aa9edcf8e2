"""/metrics: this process's HTTP traffic and the service totals kept in Redis."""

import io

from prometheus_client.parser import text_string_to_metric_families

from core.batch_store import BatchStore
from core.stats import count_predictions
from gateway import create_app
from gateway.settings import GatewaySettings
from tests.gateway.uploads import PNG


def _samples(client) -> dict[tuple, float]:
    text = client.get("/metrics").data.decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_requests_queues_images_and_digits(private_db):
    url, conn = private_db
    client = create_app(GatewaySettings(redis_url=url, chunk_size=1)).test_client()
    batch = client.post("/v1/batches", data={"files": [(io.BytesIO(PNG), f"{i}.png") for i in range(3)]}).json
    client.get("/v1/batches/nope")
    store = BatchStore(conn)
    rows = {0: {"digits": "42", "error": None}, 1: {"digits": None, "error": {"code": "x", "message": "y"}}}
    store.record(batch["id"], rows)
    store.record(batch["id"], rows)  # a retried chunk: counted once
    count_predictions(conn, [{"digits": "7", "error": None}])

    samples = _samples(client)
    route = (("method", "POST"), ("route", "/v1/batches"), ("status", "202"))
    assert samples[("digits_http_requests_total", route)] == 1
    assert samples[("digits_http_requests_total", (("method", "GET"), ("route", "/v1/batches/<batch_id>"),
                                                   ("status", "404")))] == 1
    assert samples[("digits_http_request_duration_seconds_count", (("method", "POST"),
                                                                   ("route", "/v1/batches")))] == 1
    assert samples[("digits_queue_jobs", (("queue", "digits-batches"), ("state", "queued")))] == 3
    assert samples[("digits_images_total", (("outcome", "done"), ("source", "batch")))] == 1
    assert samples[("digits_images_total", (("outcome", "failed"), ("source", "batch")))] == 1
    assert samples[("digits_images_total", (("outcome", "done"), ("source", "predict")))] == 1
    digits = {dict(labels)["digit"]: value for (name, labels), value in samples.items()
              if name == "digits_predicted_digits_total"}
    assert digits == {**{str(d): 0 for d in range(10)}, "4": 1, "2": 1, "7": 1}
    assert samples[("digits_redis_up", ())] == 1


def test_metrics_still_answer_when_redis_is_down():
    from digits.processes import free_port

    client = create_app(GatewaySettings(redis_url=f"redis://127.0.0.1:{free_port()}/0")).test_client()
    samples = _samples(client)
    assert samples[("digits_redis_up", ())] == 0
