"""Gateway settings, read from ``DIGITS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from contracts.models import DEFAULT_MODEL_NAME, STRING_MODEL_NAME
from core.batch_store import DEFAULT_RESULT_TTL
from core.settings import DigitsSettings, InvalidSettingError
from gateway.dispatch import ChunkPolicy

# Keys published in this project's docs and examples over time.
PUBLIC_KEYS = frozenset({"digits-change-me"})


class GatewaySettings(DigitsSettings):
    redis_url: str
    chunk_size: int = Field(256, ge=1)
    chunk_retries: int = Field(3, ge=0)
    chunk_retry_delays: tuple[int, ...] = Field((2, 10, 30), min_length=1)
    chunk_timeout: int = Field(600, ge=1)
    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1)
    max_request_bytes: int = Field(1024 * 1024 * 1024, ge=1)
    max_files: int = Field(100_000, ge=1)
    predict_timeout: int = Field(30, ge=1)
    result_ttl: int = Field(DEFAULT_RESULT_TTL, ge=60)
    host: str = Field("127.0.0.1", alias="DIGITS_GATEWAY_HOST")
    port: int = Field(8080, ge=0, alias="DIGITS_GATEWAY_PORT")
    serving_rest_url: str | None = None
    model_name: str = DEFAULT_MODEL_NAME
    string_model_name: str = STRING_MODEL_NAME
    model_base: Path | None = None
    # When any key is set, every /v1 route needs one (X-API-Key or Authorization: Bearer).
    # A batch belongs to the key that created it: another key neither sees nor cancels it.
    api_keys: tuple[str, ...] = ()
    # Keys that also see and cancel every key's batches.
    admin_api_keys: tuple[str, ...] = ()
    # Origins allowed to call the API from a browser; "*" allows any.
    cors_origins: tuple[str, ...] = ()
    # A zip whose entries expand more than this many times their compressed size is a bomb.
    max_zip_ratio: int = Field(200, ge=1)
    # Requests per client (API key, or address without one), e.g. "600/minute" or
    # "20/second;600/minute"; none by default.
    rate_limit: str | None = None
    # The example key of earlier versions' docs is public: the gateway refuses to start with it
    # unless this development flag is set.
    allow_public_key: bool = False

    @field_validator("rate_limit")
    @classmethod
    def _parse_rate_limit(cls, value: str | None) -> str | None:
        from limits import parse_many

        if value:
            try:
                parse_many(value)
            except ValueError:
                raise InvalidSettingError(f"DIGITS_RATE_LIMIT: {value!r} is not a rate limit such as "
                                          "'600/minute' or '20/second;600/minute'") from None
        return value or None

    @model_validator(mode="after")
    def _no_public_key(self) -> GatewaySettings:
        public = PUBLIC_KEYS & set(self.api_keys + self.admin_api_keys)
        if public and not self.allow_public_key:
            raise InvalidSettingError(
                f"DIGITS_API_KEYS holds {sorted(public)[0]!r}, a key anyone can read in this project's examples: "
                "set a key of your own (e.g. `openssl rand -hex 16`), or DIGITS_ALLOW_PUBLIC_KEY=true for development")
        return self

    @property
    def chunk_policy(self) -> ChunkPolicy:
        return ChunkPolicy(size=self.chunk_size, retries=self.chunk_retries, retry_delays=self.chunk_retry_delays,
                           timeout=self.chunk_timeout, result_ttl=self.result_ttl)

    @property
    def keys_required(self) -> bool:
        """True when /v1 needs a key (any key, admin or not, is configured)."""
        return bool(self.api_keys or self.admin_api_keys)
