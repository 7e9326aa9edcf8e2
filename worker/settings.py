"""Worker settings, read from ``DIGITS_*`` environment variables."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from contracts.models import DEFAULT_MODEL_NAME, STRING_MODEL_NAME
from core.batch_store import DEFAULT_RESULT_TTL
from core.settings import DigitsSettings, InvalidSettingError
from scans import DEFAULT_MAX_PIXELS
from worker.serving_client import DEFAULT_MAX_ROWS


class WorkerSettings(DigitsSettings):
    redis_url: str
    serving_target: str = "127.0.0.1:8500"
    model_name: str = DEFAULT_MODEL_NAME
    string_model_name: str = STRING_MODEL_NAME
    # Pins the digit model's version; a label pins both models (compose: stable).
    model_version: int | None = Field(None, ge=1)
    model_label: str | None = None
    # The most rows one Predict carries: at most the server's max_batch_size (batching.config).
    predict_max_rows: int = Field(DEFAULT_MAX_ROWS, ge=1)
    grpc_timeout: float = Field(10.0, ge=0.1)
    grpc_retries: int = Field(5, ge=0)
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1)
    result_ttl: int = Field(DEFAULT_RESULT_TTL, ge=60)
    review_threshold: float = Field(0.9, ge=0.0)
    heartbeat_interval: int = Field(5, ge=1)
    # Three missed beats by default: the TTL follows the interval unless set.
    heartbeat_ttl: int | None = None
    maintenance_interval: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _heartbeat(self) -> Any:
        if self.heartbeat_ttl is None:
            object.__setattr__(self, "heartbeat_ttl", 3 * self.heartbeat_interval)
        elif self.heartbeat_ttl < self.heartbeat_interval + 1:
            raise InvalidSettingError(f"DIGITS_HEARTBEAT_TTL must be at least {self.heartbeat_interval + 1}, "
                                      f"got {self.heartbeat_ttl}")
        return self
