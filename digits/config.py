"""Typed reading of ``DIGITS_*`` environment variables, shared by every service's settings."""

from __future__ import annotations

import os
from collections.abc import Mapping


class MissingSettingError(RuntimeError):
    """A required setting is absent. The message names the environment variable."""


class InvalidSettingError(ValueError):
    """A setting is present but cannot be parsed. The message names the variable."""


class Env:
    """Reads settings from a mapping (``os.environ`` by default) with types and defaults."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self._environ = os.environ if environ is None else environ

    def str(self, name: str, default: str | None = None, required: bool = False) -> str:
        value = self._environ.get(name, "").strip()
        if value:
            return value
        if required or default is None:
            raise MissingSettingError(f"{name} is required but not set")
        return default

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def int(self, name: str, default: int, minimum: int | None = None) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise InvalidSettingError(f"{name} must be an integer, got {raw!r}") from exc
        if minimum is not None and value < minimum:
            raise InvalidSettingError(f"{name} must be at least {minimum}, got {value}")
        return value

    def float(self, name: str, default: float, minimum: float | None = None) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError as exc:
            raise InvalidSettingError(f"{name} must be a number, got {raw!r}") from exc
        if minimum is not None and value < minimum:
            raise InvalidSettingError(f"{name} must be at least {minimum}, got {value}")
        return value

    def list(self, name: str) -> list[str]:
        raw = self.optional(name) or ""
        return [item.strip() for item in raw.split(",") if item.strip()]

    def int_list(self, name: str, default: tuple[int, ...], minimum: int | None = None) -> tuple[int, ...]:
        """Comma-separated integers, e.g. ``DIGITS_CHUNK_RETRY_DELAYS=2,10,30``."""
        items = self.list(name)
        if not items:
            return default
        try:
            values = tuple(int(item) for item in items)
        except ValueError as exc:
            raise InvalidSettingError(f"{name} must be comma-separated integers, got {self.optional(name)!r}") from exc
        if minimum is not None and min(values) < minimum:
            raise InvalidSettingError(f"{name} values must be at least {minimum}, got {min(values)}")
        return values
