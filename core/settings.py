"""Typed settings read from ``DIGITS_*`` environment variables, shared by every service.

Each service declares one :class:`DigitsSettings` subclass: a field per setting, its default
written once, its bounds as pydantic constraints. A missing or malformed value fails at start
with an error that names the variable. Values are read from ``os.environ`` or from a mapping
given to :meth:`DigitsSettings.from_env`; a blank value counts as unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PREFIX = "DIGITS_"


class MissingSettingError(RuntimeError):
    """A required setting is absent. The message names the environment variable."""


class InvalidSettingError(ValueError):
    """A setting is present but cannot be used. The message names the variable."""


def env_name(name: str, field: FieldInfo) -> str:
    """The environment variable of a field: its alias, else ``DIGITS_`` + its name."""
    return field.alias or PREFIX + name.upper()


class MappingSource(PydanticBaseSettingsSource):
    """Field values from a mapping of environment variables (pydantic-settings' source API)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raw = self.environ.get(env_name(field_name, field), "").strip()
        return (raw or None), field_name, False

    def __call__(self) -> dict[str, Any]:
        values = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class DigitsSettings(BaseSettings):
    """Base of every service's settings: frozen, typed, read from ``DIGITS_*`` variables.

    Built directly (``GatewaySettings(redis_url=...)``) it takes only what it is given;
    :meth:`from_env` reads the environment.
    """

    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the caller passes: from_env() reads the environment through MappingSource.
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from ``environ`` (``os.environ`` by default).

        Raises MissingSettingError or InvalidSettingError, naming the variable.
        """
        values = MappingSource(cls, os.environ if environ is None else environ)()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise _named_error(cls, exc) from None

    @field_validator("*", mode="before")
    @classmethod
    def _split_lists(cls, value: Any, info: ValidationInfo) -> Any:
        # Comma-separated lists, e.g. DIGITS_API_KEYS=a,b or DIGITS_CHUNK_RETRY_DELAYS=2,10,30.
        annotation = str(cls.model_fields[info.field_name or ""].annotation)
        if isinstance(value, str) and annotation.startswith("tuple"):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value


def _named_error(cls: type[DigitsSettings], exc: ValidationError) -> Exception:
    """The first validation error, as a sentence that names the environment variable."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else ""
    field = cls.model_fields.get(name)
    variable = env_name(name, field) if field is not None else name
    kind, given, context = error["type"], error.get("input"), error.get("ctx", {})
    if kind == "missing":
        return MissingSettingError(f"{variable} is required but not set")
    if kind == "value_error":
        cause = context.get("error")
        return cause if isinstance(cause, InvalidSettingError) else InvalidSettingError(f"{variable}: {cause}")
    if kind in ("greater_than_equal", "greater_than"):
        return InvalidSettingError(f"{variable} must be at least {context.get('ge', context.get('gt'))}, got {given}")
    if kind.startswith("int_"):
        return InvalidSettingError(f"{variable} must be an integer, got {given!r}")
    if kind.startswith("float_"):
        return InvalidSettingError(f"{variable} must be a number, got {given!r}")
    return InvalidSettingError(f"{variable}: {error['msg']}, got {given!r}")
