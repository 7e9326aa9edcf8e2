"""Worker settings, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from digits.batches import DEFAULT_RESULT_TTL
from digits.config import Env


@dataclass(frozen=True)
class WorkerSettings:
    redis_url: str
    serving_target: str = "127.0.0.1:8500"
    model_name: str = "digits"
    model_version: int | None = None
    model_label: str | None = None
    grpc_timeout: float = 10.0
    grpc_retries: int = 5
    max_pixels: int = 40_000_000
    result_ttl: int = DEFAULT_RESULT_TTL
    review_threshold: float = 0.9
    heartbeat_interval: int = 5
    heartbeat_ttl: int = 15
    maintenance_interval: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        env = Env(environ)
        version = env.optional("DIGITS_MODEL_VERSION")
        interval = env.int("DIGITS_HEARTBEAT_INTERVAL", 5, minimum=1)
        return cls(
            redis_url=env.str("DIGITS_REDIS_URL", required=True),
            serving_target=env.str("DIGITS_SERVING_TARGET", "127.0.0.1:8500"),
            model_name=env.str("DIGITS_MODEL_NAME", "digits"),
            model_version=int(version) if version else None,
            model_label=env.optional("DIGITS_MODEL_LABEL"),
            grpc_timeout=env.float("DIGITS_GRPC_TIMEOUT", 10.0, minimum=0.1),
            grpc_retries=env.int("DIGITS_GRPC_RETRIES", 5, minimum=0),
            max_pixels=env.int("DIGITS_MAX_PIXELS", 40_000_000, minimum=1),
            result_ttl=env.int("DIGITS_RESULT_TTL", DEFAULT_RESULT_TTL, minimum=60),
            review_threshold=env.float("DIGITS_REVIEW_THRESHOLD", 0.9, minimum=0.0),
            heartbeat_interval=interval,
            heartbeat_ttl=env.int("DIGITS_HEARTBEAT_TTL", 3 * interval, minimum=interval + 1),
            maintenance_interval=env.int("DIGITS_MAINTENANCE_INTERVAL", 10, minimum=1),
        )
