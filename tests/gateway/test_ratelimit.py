"""Per-key rate limits (DIGITS_RATE_LIMIT), counted in the real Redis."""

import pytest

from core.settings import InvalidSettingError
from gateway import create_app
from gateway.settings import GatewaySettings


def _app(url: str, **extra):
    return create_app(GatewaySettings(redis_url=url, rate_limit="3/minute", **extra))


def _over_the_limit(response) -> None:
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited" and "3 per 1 minute" in response.json["error"]["message"]
    assert set(response.json) == {"error"}
    assert 0 <= int(response.headers["Retry-After"]) <= 60


def test_each_key_has_its_own_limit(private_db):
    client = _app(private_db[0], api_keys=("alice", "bob")).test_client()
    # One count over every route.
    for path in ("/v1/batches", "/v1/batches/nope", "/v1/models"):
        assert client.get(path, headers={"X-API-Key": "alice"}).status_code in (200, 404)
    _over_the_limit(client.get("/v1/batches", headers={"X-API-Key": "alice"}))
    assert private_db[1].keys("LIMITS:*")  # counted in Redis, where every gateway process sees it
    # The same key in the other header is the same client.
    _over_the_limit(client.get("/v1/batches", headers={"Authorization": "Bearer alice"}))
    assert client.get("/v1/batches", headers={"X-API-Key": "bob"}).status_code == 200


def test_wrong_keys_are_limited_by_address(private_db):
    client = _app(private_db[0], api_keys=("alice",)).test_client()
    for guess in ("a", "b", "c"):
        assert client.get("/v1/batches", headers={"X-API-Key": guess}).status_code == 401
    _over_the_limit(client.get("/v1/batches", headers={"X-API-Key": "d"}))
    assert client.get("/v1/batches", headers={"X-API-Key": "alice"}).status_code == 200


def test_open_mode_limits_by_address(private_db):
    client = _app(private_db[0]).test_client()
    for _ in range(3):
        assert client.get("/v1/batches").status_code == 200
    _over_the_limit(client.get("/v1/batches"))
    other = client.get("/v1/batches", environ_overrides={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_probes_metrics_and_static_files_are_never_limited(private_db):
    client = _app(private_db[0]).test_client()
    for _ in range(3):
        client.get("/v1/batches")
    for _ in range(5):
        for path in ("/healthz", "/readyz", "/metrics", "/static/app.js", "/docs/static/swagger-ui.css"):
            assert client.get(path).status_code == 200, path
    assert client.options("/v1/batches").status_code == 200


def test_off_by_default(private_db):
    client = create_app(GatewaySettings(redis_url=private_db[0])).test_client()
    assert all(client.get("/v1/batches").status_code == 200 for _ in range(20))
    assert not private_db[1].keys("*LIMIT*")


def test_the_setting_is_checked_at_start():
    settings = GatewaySettings.from_env({"DIGITS_REDIS_URL": "redis://x", "DIGITS_RATE_LIMIT": "20/second;600/minute"})
    assert settings.rate_limit == "20/second;600/minute"
    with pytest.raises(InvalidSettingError, match="DIGITS_RATE_LIMIT"):
        GatewaySettings.from_env({"DIGITS_REDIS_URL": "redis://x", "DIGITS_RATE_LIMIT": "often"})
