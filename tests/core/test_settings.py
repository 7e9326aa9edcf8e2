import pytest

from core.settings import InvalidSettingError, MissingSettingError
from gateway.settings import GatewaySettings
from worker.settings import WorkerSettings


def test_missing_required_setting_names_the_variable():
    with pytest.raises(MissingSettingError, match="DIGITS_REDIS_URL"):
        WorkerSettings.from_env({})
    with pytest.raises(MissingSettingError, match="DIGITS_REDIS_URL"):
        GatewaySettings.from_env({"DIGITS_REDIS_URL": "  "})


def test_bad_number_names_the_variable():
    with pytest.raises(InvalidSettingError, match="DIGITS_CHUNK_SIZE"):
        GatewaySettings.from_env({"DIGITS_REDIS_URL": "redis://x", "DIGITS_CHUNK_SIZE": "many"})
    with pytest.raises(InvalidSettingError, match="DIGITS_CHUNK_SIZE must be at least 1"):
        GatewaySettings.from_env({"DIGITS_REDIS_URL": "redis://x", "DIGITS_CHUNK_SIZE": "0"})


def test_typed_values_and_defaults():
    settings = WorkerSettings.from_env({"DIGITS_REDIS_URL": "redis://h:1/2", "DIGITS_GRPC_TIMEOUT": "2.5",
                                        "DIGITS_MODEL_VERSION": "3"})
    assert settings.grpc_timeout == 2.5 and settings.model_version == 3
    assert settings.serving_target == "127.0.0.1:8500"
    assert GatewaySettings.from_env({"DIGITS_REDIS_URL": "r", "DIGITS_API_KEYS": "a, b,,c"}).api_keys == ("a", "b", "c")


def test_chunk_policy_and_heartbeat_settings():
    gateway = GatewaySettings.from_env({"DIGITS_REDIS_URL": "redis://x", "DIGITS_CHUNK_RETRY_DELAYS": "1, 5",
                                        "DIGITS_CHUNK_SIZE": "64"})
    assert (gateway.chunk_policy.size, gateway.chunk_policy.retry_delays) == (64, (1, 5))
    with pytest.raises(InvalidSettingError, match="DIGITS_CHUNK_RETRY_DELAYS"):
        GatewaySettings.from_env({"DIGITS_REDIS_URL": "redis://x", "DIGITS_CHUNK_RETRY_DELAYS": "1,soon"})
    worker = WorkerSettings.from_env({"DIGITS_REDIS_URL": "redis://x", "DIGITS_HEARTBEAT_INTERVAL": "2"})
    assert (worker.heartbeat_interval, worker.heartbeat_ttl) == (2, 6)  # the TTL follows the interval
    with pytest.raises(InvalidSettingError, match="DIGITS_HEARTBEAT_TTL must be at least 3"):
        WorkerSettings.from_env({"DIGITS_REDIS_URL": "redis://x", "DIGITS_HEARTBEAT_INTERVAL": "2",
                                 "DIGITS_HEARTBEAT_TTL": "2"})


def test_the_gateway_refuses_the_public_example_key_unless_told_it_is_development():
    with pytest.raises(InvalidSettingError, match="DIGITS_API_KEYS holds 'digits-change-me'"):
        GatewaySettings.from_env({"DIGITS_REDIS_URL": "r", "DIGITS_API_KEYS": "mine, digits-change-me"})
    with pytest.raises(InvalidSettingError, match="digits-change-me"):
        GatewaySettings.from_env({"DIGITS_REDIS_URL": "r", "DIGITS_ADMIN_API_KEYS": "digits-change-me"})
    allowed = GatewaySettings.from_env({"DIGITS_REDIS_URL": "r", "DIGITS_API_KEYS": "digits-change-me",
                                        "DIGITS_ALLOW_PUBLIC_KEY": "true"})
    assert allowed.api_keys == ("digits-change-me",)
