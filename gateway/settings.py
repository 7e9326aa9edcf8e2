"""Gateway settings, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from digits.batches import DEFAULT_RESULT_TTL
from digits.config import Env
from digits.dispatch import ChunkPolicy


@dataclass(frozen=True)
class GatewaySettings:
    redis_url: str
    chunk_size: int = 256
    chunk_retries: int = 3
    chunk_retry_delays: tuple[int, ...] = (2, 10, 30)
    chunk_timeout: int = 600
    max_file_bytes: int = 20 * 1024 * 1024
    max_request_bytes: int = 1024 * 1024 * 1024
    max_files: int = 100_000
    predict_timeout: int = 30
    result_ttl: int = DEFAULT_RESULT_TTL
    host: str = "127.0.0.1"
    port: int = 8080
    serving_rest_url: str | None = None
    model_name: str = "digits"
    model_base: Path | None = None
    # When any key is set, every /v1 route needs one (X-API-Key or Authorization: Bearer).
    api_keys: tuple[str, ...] = ()
    # Origins allowed to call the API from a browser; "*" allows any.
    cors_origins: tuple[str, ...] = ()
    # A zip whose entries expand more than this many times their compressed size is a bomb.
    max_zip_ratio: int = 200

    @property
    def chunk_policy(self) -> ChunkPolicy:
        return ChunkPolicy(size=self.chunk_size, retries=self.chunk_retries, retry_delays=self.chunk_retry_delays,
                           timeout=self.chunk_timeout, result_ttl=self.result_ttl)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        env = Env(environ)
        return cls(
            redis_url=env.str("DIGITS_REDIS_URL", required=True),
            chunk_size=env.int("DIGITS_CHUNK_SIZE", 256, minimum=1),
            chunk_retries=env.int("DIGITS_CHUNK_RETRIES", 3, minimum=0),
            chunk_retry_delays=env.int_list("DIGITS_CHUNK_RETRY_DELAYS", (2, 10, 30), minimum=0),
            chunk_timeout=env.int("DIGITS_CHUNK_TIMEOUT", 600, minimum=1),
            max_file_bytes=env.int("DIGITS_MAX_FILE_BYTES", 20 * 1024 * 1024, minimum=1),
            max_request_bytes=env.int("DIGITS_MAX_REQUEST_BYTES", 1024 * 1024 * 1024, minimum=1),
            max_files=env.int("DIGITS_MAX_FILES", 100_000, minimum=1),
            predict_timeout=env.int("DIGITS_PREDICT_TIMEOUT", 30, minimum=1),
            result_ttl=env.int("DIGITS_RESULT_TTL", DEFAULT_RESULT_TTL, minimum=60),
            host=env.str("DIGITS_GATEWAY_HOST", "127.0.0.1"),
            port=env.int("DIGITS_GATEWAY_PORT", 8080, minimum=0),
            serving_rest_url=env.optional("DIGITS_SERVING_REST_URL"),
            model_name=env.str("DIGITS_MODEL_NAME", "digits"),
            model_base=Path(base) if (base := env.optional("DIGITS_MODEL_BASE")) else None,
            api_keys=tuple(env.list("DIGITS_API_KEYS")),
            cors_origins=tuple(env.list("DIGITS_CORS_ORIGINS")),
            max_zip_ratio=env.int("DIGITS_MAX_ZIP_RATIO", 200, minimum=1),
        )
