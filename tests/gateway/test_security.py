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
