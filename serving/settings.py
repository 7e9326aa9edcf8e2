"""Local model server settings, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from digits.config import Env, InvalidSettingError
from serving.precision import resolve_precision

CONFIG_DIR = Path(__file__).resolve().parent / "config"


@dataclass(frozen=True)
class ServingSettings:
    model_base: str
    model_name: str
    host: str = "127.0.0.1"
    grpc_port: int = 8500
    rest_port: int = 8501
    poll_seconds: float = 2.0
    threads: int = 16
    max_message_bytes: int = 64 * 1024 * 1024
    model_config_file: str | None = None
    batching_config_file: str | None = str(CONFIG_DIR / "batching.config")
    precision: str = "float32"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        env = Env(environ)
        batching = env.str("DIGITS_ENABLE_BATCHING", "true").lower() not in ("0", "false", "no")
        try:
            precision = resolve_precision(env.str("DIGITS_SERVING_PRECISION", "auto").lower())
        except ValueError as exc:
            raise InvalidSettingError(f"DIGITS_SERVING_PRECISION: {exc}") from None
        return cls(
            model_base=env.str("DIGITS_MODEL_BASE", "models"),
            model_name=env.str("DIGITS_MODEL_NAME", "digits"),
            host=env.str("DIGITS_SERVING_HOST", "127.0.0.1"),
            grpc_port=env.int("DIGITS_GRPC_PORT", 8500, minimum=0),
            rest_port=env.int("DIGITS_REST_PORT", 8501, minimum=0),
            poll_seconds=env.float("DIGITS_SERVING_POLL_SECONDS", 2.0, minimum=0.1),
            threads=env.int("DIGITS_SERVING_THREADS", 16, minimum=1),
            model_config_file=env.optional("DIGITS_MODEL_CONFIG_FILE"),
            batching_config_file=(env.str("DIGITS_BATCHING_CONFIG_FILE", str(CONFIG_DIR / "batching.config"))
                                  if batching else None),
            precision=precision,
        )
