"""Read the TF Serving config files that docker-compose uses, so both servers agree.

``models.config`` is a ``ModelServerConfig`` text proto (parsed with TF Serving's own message
definition). ``batching.config`` is TF Serving's ``BatchingParameters`` text format, whose
message is not shipped in tensorflow-serving-api, so its few scalar fields are read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2


class ConfigError(ValueError):
    """A config file is missing, unparsable, or does not name the model. Names the file."""


@dataclass(frozen=True)
class VersionPolicy:
    """TF Serving's ServableVersionPolicy: ``latest`` N, ``all``, or ``specific`` versions."""

    kind: str = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def choose(self, on_disk: list[int]) -> list[int]:
        """The versions to serve, out of the complete ones on disk (oldest first)."""
        if self.kind == "all":
            return list(on_disk)
        if self.kind == "specific":
            return [v for v in on_disk if v in self.versions]
        return on_disk[-self.num_versions :] if on_disk else []


@dataclass(frozen=True)
class ModelConfig:
    name: str
    policy: VersionPolicy = VersionPolicy()
    labels: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchingConfig:
    max_batch_size: int = 256
    batch_timeout_micros: int = 2000
    num_batch_threads: int = 2
    max_enqueued_batches: int = 100


def read_model_config(path: str | Path, name: str) -> ModelConfig:
    """The policy and labels of model ``name`` in a ``models.config`` file."""
    path = Path(path)
    try:
        config = text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
    except (OSError, text_format.ParseError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for entry in config.model_config_list.config:
        if entry.name == name:
            return ModelConfig(name, _policy(entry.model_version_policy), dict(entry.version_labels))
    raise ConfigError(f"{path}: no model named {name!r}")


def _policy(proto) -> VersionPolicy:
    which = proto.WhichOneof("policy_choice")
    if which == "all":
        return VersionPolicy("all")
    if which == "specific":
        return VersionPolicy("specific", versions=tuple(proto.specific.versions))
    if which == "latest" and proto.latest.num_versions:
        return VersionPolicy("latest", num_versions=proto.latest.num_versions)
    return VersionPolicy()


def read_batching_config(path: str | Path) -> BatchingConfig:
    """Scalar fields of a ``BatchingParameters`` text proto, e.g. ``max_batch_size { value: 256 }``."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    values = {key: int(value) for key, value in re.findall(r"(\w+)\s*\{\s*value\s*:\s*(\d+)\s*\}", text)}
    known = {f for f in BatchingConfig.__dataclass_fields__}
    unknown = set(values) - known - {"pad_variable_length_inputs", "allowed_batch_sizes"}
    if unknown:
        raise ConfigError(f"{path}: unsupported batching fields {sorted(unknown)}")
    return BatchingConfig(**{k: v for k, v in values.items() if k in known})
