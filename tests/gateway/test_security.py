"""API keys on /v1 and CORS, on an app from the factory against a real Redis."""

import io

import pytest

from gateway import create_app
from gateway.settings import GatewaySettings
from tests.gateway.uploads import PNG


@pytest.fixture
def url(private_db):
    return private_db[0]


@pytest.fixture
def client(url):
    settings = GatewaySettings(redis_url=url, api_keys=("key-one", "key-two"),
                               cors_origins=("https://forms.example.org",))
    return create_app(settings).test_client()


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/v1/predict"), ("post", "/v1/batches"), ("get", "/v1/batches"), ("get", "/v1/batches/x"),
    ("delete", "/v1/batches/x"), ("get", "/v1/batches/x/results"), ("get", "/v1/models"), ("get", "/v1/nothing"),
])
def test_every_v1_route_needs_a_key(client, method, path):
    missing = getattr(client, method)(path)
    assert missing.status_code == 401 and missing.json["error"]["code"] == "missing_api_key"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = getattr(client, method)(path, headers={"X-API-Key": "key-three"})
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "invalid_api_key"


def test_either_key_works_in_either_header(client):
    for headers in ({"X-API-Key": "key-one"}, {"Authorization": "Bearer key-two"}):
        response = client.post("/v1/batches", headers=headers, data={"files": [(io.BytesIO(PNG), "a.png")]})
        assert response.status_code == 202


def test_probes_page_docs_and_metrics_stay_open(client):
    for path in ("/healthz", "/readyz", "/", "/openapi.json", "/docs", "/metrics"):
        assert client.get(path).status_code == 200, path


def test_without_keys_the_api_is_open(url):
    assert create_app(GatewaySettings(redis_url=url)).test_client().get("/v1/batches").status_code == 200


def test_cors_answers_allowed_origins_only(client):
    preflight = client.options("/v1/batches", headers={
        "Origin": "https://forms.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-API-Key"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://forms.example.org"
    assert "X-API-Key" in preflight.headers["Access-Control-Allow-Headers"]
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Origin" in preflight.headers["Vary"]
    allowed = client.get("/v1/batches", headers={"Origin": "https://forms.example.org", "X-API-Key": "key-one"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://forms.example.org"
    assert "Location" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get("/v1/batches", headers={"Origin": "https://evil.example", "X-API-Key": "key-one"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_wildcard(url):
    client = create_app(GatewaySettings(redis_url=url, cors_origins=("*",))).test_client()
    response = client.get("/healthz", headers={"Origin": "https://anywhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_settings_read_keys_and_origins_from_the_environment():
    settings = GatewaySettings.from_env({"DIGITS_REDIS_URL": "redis://x", "DIGITS_API_KEYS": "a, b",
                                         "DIGITS_CORS_ORIGINS": "https://a.example,https://b.example"})
    assert settings.api_keys == ("a", "b")
    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.fixture
def tenants(url):
    """A gateway with the keys of alice and bob, and an admin key."""
    settings = GatewaySettings(redis_url=url, api_keys=("alice-key", "bob-key"), admin_api_keys=("admin-key",))
    return create_app(settings).test_client()


def _as(key: str) -> dict:
    return {"X-API-Key": key}


def _create(client, key: str) -> str:
    """A batch of one image, queued (no worker listens on this database)."""
    response = client.post("/v1/batches", headers=_as(key), data={"files": [(io.BytesIO(PNG), "a.png")]})
    assert response.status_code == 202
    return response.json["id"]


def test_a_batch_belongs_to_the_key_that_created_it(tenants):
    mine = _create(tenants, "alice-key")
    for method, path in (("get", f"/v1/batches/{mine}"), ("get", f"/v1/batches/{mine}/results"),
                         ("get", f"/v1/batches/{mine}/results?format=csv"),
                         ("get", f"/v1/batches/{mine}/results?format=jsonl"), ("delete", f"/v1/batches/{mine}")):
        other = getattr(tenants, method)(path, headers=_as("bob-key"))
        # Not 403: another key cannot even learn that the id exists.
        assert (other.status_code, other.json["error"]["code"]) == (404, "batch_not_found"), path
        assert getattr(tenants, method)(path, headers=_as("alice-key")).status_code == 200, path
    assert tenants.get(f"/v1/batches/{mine}", headers=_as("alice-key")).json["status"] == "cancelled"


def test_bob_cannot_cancel_alices_batch(tenants):
    mine = _create(tenants, "alice-key")
    assert tenants.delete(f"/v1/batches/{mine}", headers=_as("bob-key")).status_code == 404
    assert tenants.get(f"/v1/batches/{mine}", headers=_as("alice-key")).json["status"] == "queued"


def test_each_key_lists_its_own_batches_page_by_page_and_an_admin_all(tenants):
    alice = [_create(tenants, "alice-key") for _ in range(3)]
    bob = [_create(tenants, "bob-key") for _ in range(2)]
    admins = [_create(tenants, "admin-key")]

    def listing(key: str) -> list[str]:
        seen, url = [], "/v1/batches?limit=2"
        while url:
            page = tenants.get(url, headers=_as(key)).json
            seen += [batch["id"] for batch in page["batches"]]
            url = page["next"]
        return seen

    assert listing("alice-key") == alice[::-1]
    assert listing("bob-key") == bob[::-1]
    assert listing("admin-key") == (alice + bob + admins)[::-1]


def test_an_admin_key_reads_and_cancels_any_batch(tenants):
    queued = _create(tenants, "alice-key")
    assert tenants.get(f"/v1/batches/{queued}", headers=_as("admin-key")).status_code == 200
    assert tenants.get(f"/v1/batches/{queued}/results", headers=_as("admin-key")).status_code == 200
    response = tenants.delete(f"/v1/batches/{queued}", headers=_as("admin-key"))
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    # An admin's own batch is still its own: a plain key does not see it.
    own = _create(tenants, "admin-key")
    assert tenants.get(f"/v1/batches/{own}", headers=_as("alice-key")).status_code == 404


def test_only_an_id_of_the_key_is_stored_never_the_key(tenants, private_db):
    _create(tenants, "alice-key")
    conn = private_db[1]
    stored = b"".join(key + b"".join(conn.hgetall(key).values()) if conn.type(key) == b"hash" else key
                      for key in conn.keys("*"))
    assert b"alice-key" not in stored
    assert b"owner" in stored


def test_an_admin_key_alone_guards_the_api(url):
    client = create_app(GatewaySettings(redis_url=url, admin_api_keys=("root",))).test_client()
    assert client.get("/v1/batches").status_code == 401
    assert client.get("/v1/batches", headers=_as("root")).status_code == 200


def test_without_keys_every_batch_is_everyones_as_before(url):
    client = create_app(GatewaySettings(redis_url=url)).test_client()
    batch = client.post("/v1/batches", data={"files": [(io.BytesIO(PNG), "a.png")]}).json["id"]
    assert [b["id"] for b in client.get("/v1/batches").json["batches"]] == [batch]
    assert client.delete(f"/v1/batches/{batch}").status_code == 200


@pytest.mark.parametrize("path", ["/", "/docs", "/openapi.json", "/healthz", "/metrics", "/static/app.js",
                                  "/docs/static/swagger-ui.css", "/v1/batches", "/v1/nothing", "/nothing"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    if response.mimetype == "text/html":
        assert "script-src 'self';" in policy and "connect-src 'self'" in policy and "'unsafe-" not in policy
        assert "img-src 'self' data: blob:" in policy
    else:
        assert policy.startswith("default-src 'none'")


def test_the_pages_have_no_inline_script_or_style(client):
    import re

    for path in ("/", "/docs"):
        page = client.get(path).data.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert "<style" not in page and " style=" not in page, path
