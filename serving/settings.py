"""Local model server settings, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from digits.config import Env


@dataclass(frozen=True)
class ServingSettings:
    model_base: str
    model_name: str
    host: str = "127.0.0.1"
    grpc_port: int = 8500
    poll_seconds: float = 2.0
    threads: int = 8
    max_message_bytes: int = 64 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        env = Env(environ)
        return cls(
            model_base=env.str("DIGITS_MODEL_BASE", "models"),
            model_name=env.str("DIGITS_MODEL_NAME", "digits"),
            host=env.str("DIGITS_SERVING_HOST", "127.0.0.1"),
            grpc_port=env.int("DIGITS_GRPC_PORT", 8500, minimum=0),
            poll_seconds=env.float("DIGITS_SERVING_POLL_SECONDS", 2.0, minimum=0.1),
            threads=env.int("DIGITS_SERVING_THREADS", 8, minimum=1),
        )
