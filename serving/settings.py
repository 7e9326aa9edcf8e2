"""Local model server settings, read from ``DIGITS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from contracts.models import DEFAULT_MODEL_NAME, STRING_MODEL_NAME
from core.settings import DigitsSettings
from serving.precision import resolve_precision

CONFIG_DIR = Path(__file__).resolve().parent / "config"
# gRPC message limits; a 256-image chunk is about 200 KB.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ServingSettings(DigitsSettings):
    model_base: str = "models"
    # Without a models.config, the server hosts these two models' latest versions.
    model_name: str = DEFAULT_MODEL_NAME
    string_model_name: str = STRING_MODEL_NAME
    host: str = Field("127.0.0.1", alias="DIGITS_SERVING_HOST")
    grpc_port: int = Field(8500, ge=0)
    rest_port: int = Field(8501, ge=0)
    poll_seconds: float = Field(2.0, ge=0.1, alias="DIGITS_SERVING_POLL_SECONDS")
    threads: int = Field(16, ge=1, alias="DIGITS_SERVING_THREADS")
    model_config_file: str | None = None
    # How often models.config is read again (TF Serving's --model_config_file_poll_wait_seconds); 0: never.
    model_config_poll_seconds: float = Field(10.0, ge=0.0)
    enable_batching: bool = True
    batching_config_file: str = str(CONFIG_DIR / "batching.config")
    # auto: bfloat16 where the CPU computes it natively, else float32.
    precision: str = Field("auto", alias="DIGITS_SERVING_PRECISION")

    @field_validator("precision")
    @classmethod
    def _resolve(cls, value: str) -> str:
        return resolve_precision(value.lower())

    @property
    def models(self) -> list[str]:
        """The models hosted when no models.config names them."""
        return list(dict.fromkeys([self.model_name, self.string_model_name]))

    @property
    def batching(self) -> str | None:
        """The batching parameters file, or None when batching is off."""
        return self.batching_config_file if self.enable_batching else None
