"""The app from the factory, against a real Redis; paths that need no worker."""

import io

import pytest
from rq import Queue

from gateway import create_app
from gateway.settings import GatewaySettings
from tests.gateway.uploads import PNG, zip_of


@pytest.fixture
def client(private_db):
    app = create_app(GatewaySettings(redis_url=private_db[0], max_file_bytes=1000, max_files=3, chunk_size=2))
    return app.test_client()


def _files(count: int, data: bytes = PNG):
    return {"files": [(io.BytesIO(data), f"{i}.png") for i in range(count)]}


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"]["redis"] == "ok"


def test_readiness_fails_without_redis():
    from digits.processes import free_port

    app = create_app(GatewaySettings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.json["status"] == "unavailable"


def test_batch_is_chunked_onto_the_batch_queue(client, private_db):
    response = client.post("/v1/batches", data=_files(3))
    assert response.status_code == 202
    assert response.headers["Location"] == f"/v1/batches/{response.json['id']}"
    jobs = Queue("digits-batches", connection=private_db[1]).get_jobs()
    assert [job.args[1] for job in jobs] == [[0, 1], [2]]
    assert client.get(f"/v1/batches/{response.json['id']}").json["status"] == "queued"


def test_files_that_are_not_images_get_a_row_at_once_and_the_rest_are_queued(client):
    data = {"files": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(b"%PDF-1.4"), "b.png"), (io.BytesIO(b""), "c.png")]}
    batch = client.post("/v1/batches", data=data).json
    assert (batch["total"], batch["failed"], batch["queued"]) == (3, 2, 1)
    rows = client.get(f"/v1/batches/{batch['id']}/results").json["results"]
    assert [(r["index"], r["file"], r["error"]["code"]) for r in rows] == [
        (1, "b.png", "unsupported_type"), (2, "c.png", "unsupported_type")]
    assert "%PDF" in rows[0]["error"]["message"] and "empty" in rows[1]["error"]["message"]


def test_a_zip_keeps_the_folder_paths(private_db):
    app = create_app(GatewaySettings(redis_url=private_db[0], chunk_size=2))
    archive = zip_of({"scans/a/1.png": PNG, "scans/b/2.png": PNG, "scans/notes.txt": b"hello",
                      "__MACOSX/scans/._1.png": b"x", "scans/.DS_Store": b"x"})
    batch = app.test_client().post("/v1/batches", data={"files": [(io.BytesIO(archive), "scans.zip")]}).json
    assert batch["total"] == 3
    store_names = private_db[1].hgetall(f"digits:batch:{batch['id']}:names")
    assert sorted(v.decode() for v in store_names.values()) == ["scans/a/1.png", "scans/b/2.png", "scans/notes.txt"]


def test_a_zip_entry_that_cannot_be_unpacked_gets_its_own_row(client):
    from tests.gateway.uploads import zip_with_unknown_method

    batch = client.post("/v1/batches", data={"files": [(io.BytesIO(zip_with_unknown_method()), "a.zip")]}).json
    assert (batch["total"], batch["failed"], batch["queued"]) == (2, 1, 1)
    row = client.get(f"/v1/batches/{batch['id']}/results").json["results"][0]
    assert (row["file"], row["error"]["code"]) == ("odd.png", "unsupported_type")
    assert "compression method 99" in row["error"]["message"]


def test_results_page_by_index_with_a_next_link(client, private_db):
    from core.batch_store import BatchStore

    batch = client.post("/v1/batches", data=_files(3)).json
    store = BatchStore(private_db[1])
    store.record(batch["id"], {i: {"index": i, "file": f"{i}.png", "digits": str(i), "error": None} for i in range(3)})
    first = client.get(f"/v1/batches/{batch['id']}/results?limit=2")
    assert [r["index"] for r in first.json["results"]] == [0, 1]
    assert first.json["next"] == f"/v1/batches/{batch['id']}/results?format=json&offset=2&limit=2"
    assert first.headers["Link"] == f'<{first.json["next"]}>; rel="next"'
    second = client.get(first.json["next"]).json
    assert [r["index"] for r in second["results"]] == [2] and second["next"] is None
    jsonl = client.get(f"/v1/batches/{batch['id']}/results?format=jsonl&offset=1").data.decode().splitlines()
    assert len(jsonl) == 2


def test_batches_are_listed_newest_first_page_by_page(client):
    ids = [client.post("/v1/batches", data=_files(1)).json["id"] for _ in range(5)]
    first = client.get("/v1/batches?limit=2").json
    assert [b["id"] for b in first["batches"]] == ids[:-3:-1]
    second = client.get(first["next"]).json
    third = client.get(second["next"]).json
    assert [b["id"] for b in second["batches"] + third["batches"]] == ids[-3::-1]
    assert third["next"] is None


def test_an_expired_batch_leaves_the_list(client, private_db):
    ids = [client.post("/v1/batches", data=_files(1)).json["id"] for _ in range(2)]
    private_db[1].delete(f"digits:batch:{ids[0]}")
    assert [b["id"] for b in client.get("/v1/batches").json["batches"]] == [ids[1]]
    assert private_db[1].zscore("digits:batches", ids[0]) is None


def test_cancel_takes_waiting_chunks_off_the_queue_and_frees_their_images(client, private_db):
    batch = client.post("/v1/batches", data=_files(3)).json
    response = client.delete(f"/v1/batches/{batch['id']}")
    assert response.status_code == 200
    assert (response.json["status"], response.json["cancelled"], response.json["queued"]) == ("cancelled", 3, 0)
    assert Queue("digits-batches", connection=private_db[1]).count == 0
    assert not private_db[1].keys(f"digits:batch:{batch['id']}:img:*")
    again = client.delete(f"/v1/batches/{batch['id']}")
    assert again.status_code == 200 and again.json["status"] == "cancelled"


def test_a_finished_batch_cannot_be_cancelled(client, private_db):
    from core.batch_store import BatchStore

    batch = client.post("/v1/batches", data=_files(1)).json
    BatchStore(private_db[1]).record(batch["id"], {0: {"digits": "1", "error": None}})
    response = client.delete(f"/v1/batches/{batch['id']}")
    assert response.status_code == 409 and response.json["error"]["code"] == "batch_finished"


def test_models_lists_versions_with_state_and_metrics(private_db, model_base, model_rest_url):
    settings = GatewaySettings(redis_url=private_db[0], model_base=model_base, serving_rest_url=model_rest_url)
    digits, strings = create_app(settings).test_client().get("/v1/models").json["models"]
    assert (digits["name"], digits["reader"]) == ("digits", "digits")
    assert (strings["name"], strings["reader"]) == ("strings", "string")
    assert digits["serving_error"] is None and strings["versions"] == []  # no string model in the tests' base
    newest = digits["versions"][0]
    assert newest["state"] == "AVAILABLE"
    assert 0.5 < newest["metrics"]["test"]["accuracy"] <= 1
    assert set(newest["metrics"]["scans"]) >= {"single", "boxed"}


def test_models_says_why_serving_state_is_missing(client):
    for model in client.get("/v1/models").json["models"]:
        assert model["versions"] == [] and "DIGITS_SERVING_REST_URL" in model["serving_error"]


FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1)", "@x", "-2+3", "\tx", "\rx", '=HYPERLINK("http://evil.example")']


def test_csv_cells_that_spreadsheets_would_run_are_neutralised():
    from contracts.rows import csv_cell

    assert [csv_cell(text) for text in FORMULAS] == ["'" + text for text in FORMULAS]
    assert csv_cell("a\0b.png") == "ab.png" and csv_cell("\0=1") == "'=1"
    assert [csv_cell(value) for value in ("scans/=1.png", "7", "", 3, 0.5, True, None)] == [
        "scans/=1.png", "7", "", 3, 0.5, True, None]


def test_csv_results_neutralise_formulas_in_names(client):
    import csv

    names = ["=cmd|' /C calc'!A0.png", "+SUM(1).png", "@x.png"]  # the client takes 3 files at most
    data = {"files": [(io.BytesIO(b"not an image"), name) for name in names]}
    batch = client.post("/v1/batches", data=data).json
    text = client.get(f"/v1/batches/{batch['id']}/results?format=csv").data.decode()
    table = list(csv.reader(io.StringIO(text)))
    assert [row[1] for row in table[1:]] == ["'" + name for name in names]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in table for cell in row)


def _raw_post(client, path: str, files: list[tuple[bytes, bytes]], field: bytes = b"files"):
    from tests.gateway.uploads import multipart

    body, content_type = multipart(files, field)
    return client.post(path, data=body, content_type=content_type)


def test_more_than_a_thousand_files_in_one_request(private_db):
    # Werkzeug parses 1,000 form parts by default; README promises DIGITS_MAX_FILES.
    app = create_app(GatewaySettings(redis_url=private_db[0], chunk_size=500))
    response = _raw_post(app.test_client(), "/v1/batches", [(f"{i}.png".encode(), PNG) for i in range(2500)])
    assert response.status_code == 202, response.json
    assert response.json["total"] == 2500


@pytest.mark.parametrize("count", [1201, 1300])
def test_too_many_files_in_one_request_names_the_limit(private_db, count):
    # 1201: our own count; 1300: beyond the parser's limit (the files and a few parts more).
    app = create_app(GatewaySettings(redis_url=private_db[0], max_files=1200))
    response = _raw_post(app.test_client(), "/v1/batches", [(f"{i}.png".encode(), PNG) for i in range(count)])
    assert (response.status_code, response.json["error"]["code"]) == (413, "too_many_files"), response.json
    assert "1200" in response.json["error"]["message"] and "bytes" not in response.json["error"]["message"]


def test_line_breaks_in_file_names_never_lose_a_part(client, private_db):
    # 106 parts, 3 of them with a raw CR or LF in the name: werkzeug reads those 3 as text
    # fields, so they used to vanish (103 rows for 106 parts). Now the request says why.
    app = create_app(GatewaySettings(redis_url=private_db[0]))
    files = [(f"{i}.png".encode(), PNG) for i in range(103)]
    files += [(b"line1\nline2.png", PNG), (b"line1\r\nline2.png", PNG), (b"cr\rx.png", PNG)]
    response = _raw_post(app.test_client(), "/v1/batches", files)
    assert (response.status_code, response.json["error"]["code"]) == (400, "invalid_multipart"), response.json
    assert "3 part(s)" in response.json["error"]["message"] and "CR or LF" in response.json["error"]["message"]
    assert private_db[1].dbsize() == 0
    one = _raw_post(app.test_client(), "/v1/predict", [(b"a\nb.png", PNG)], field=b"file")
    assert (one.status_code, one.json["error"]["code"]) == (400, "invalid_multipart")


def test_control_characters_in_file_names_are_replaced(client):
    names = [b"nul\x00x.png", b"tab\tx.png", b"esc\x1b[31mx.png", b"del\x7fx.png", b"plain.png"]
    batch = _raw_post(client, "/v1/batches", [(name, b"not an image") for name in names[:3]]).json
    rows = client.get(f"/v1/batches/{batch['id']}/results").json["results"]
    assert [row["file"] for row in rows] == ["nul\ufffdx.png", "tab\ufffdx.png", "esc\ufffd[31mx.png"]
    batch = _raw_post(client, "/v1/batches", [(name, b"not an image") for name in names[3:]]).json
    rows = client.get(f"/v1/batches/{batch['id']}/results").json["results"]
    assert [row["file"] for row in rows] == ["del\ufffdx.png", "plain.png"]
    zipped = client.post("/v1/batches", data={"files": [(io.BytesIO(zip_of({"a\tb.txt": b"x"})), "z.zip")]}).json
    rows = client.get(f"/v1/batches/{zipped['id']}/results").json["results"]
    assert [row["file"] for row in rows] == ["a\ufffdb.txt"]
