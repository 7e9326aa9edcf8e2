"""Read the TF Serving config files that docker-compose uses, so both servers agree.

``models.config`` is a ``ModelServerConfig`` text proto (parsed with TF Serving's own message
definition). ``batching.config`` is TF Serving's ``BatchingParameters`` text format, whose
message is not shipped in tensorflow-serving-api, so its few wrapped scalar fields are read
here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
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
    """One ``config`` entry of a ``model_config_list``."""

    name: str
    policy: VersionPolicy = VersionPolicy()
    labels: dict[str, int] = field(default_factory=dict)
    base_path: str = ""


@dataclass(frozen=True)
class BatchingConfig:
    """The fields of TF Serving's ``BatchingParameters`` that shape a batch.

    As TF Serving's ``GetQueueOptions``: ``max_batch_size`` is the largest request a queue
    accepts (its ``input_batch_size_limit``); with ``enable_large_batch_splitting`` a request
    is cut into pieces of ``max_execution_batch_size`` (``max_batch_size`` when unset), and
    batches run at that size.
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    num_batch_threads: int = 2
    max_enqueued_batches: int = 10
    enable_large_batch_splitting: bool = False
    max_execution_batch_size: int | None = None

    @property
    def execution_batch_size(self) -> int:
        if self.enable_large_batch_splitting and self.max_execution_batch_size:
            return self.max_execution_batch_size
        return self.max_batch_size


def read_server_config(path: str | Path) -> list[ModelConfig]:
    """Every model of a ``models.config`` file, in file order."""
    path = Path(path)
    try:
        config = text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
    except (OSError, text_format.ParseError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    models = [ModelConfig(entry.name, _policy(entry.model_version_policy), dict(entry.version_labels),
                          entry.base_path) for entry in config.model_config_list.config]
    names = [model.name for model in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: a model is named twice: {names}")
    return models


def read_model_config(path: str | Path, name: str) -> ModelConfig:
    """The policy and labels of model ``name`` in a ``models.config`` file."""
    for model in read_server_config(path):
        if model.name == name:
            return model
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


_WRAPPED = re.compile(r"(\w+)\s*\{\s*value\s*:\s*(\w+)\s*\}")
# BatchingParameters fields the local server has no use for (padding is a no-op here).
_IGNORED = {"pad_variable_length_inputs", "allowed_batch_sizes", "thread_pool_name"}


def read_batching_config(path: str | Path) -> BatchingConfig:
    """Wrapped fields of a ``BatchingParameters`` text proto, e.g. ``max_batch_size { value: 256 }``."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    types = {f.name: f.type for f in fields(BatchingConfig)}
    values: dict[str, object] = {}
    for key, raw in _WRAPPED.findall(text):
        if key in _IGNORED:
            continue
        if key not in types:
            raise ConfigError(f"{path}: unsupported batching fields ['{key}']")
        if types[key] == "bool":
            if raw not in ("true", "false"):
                raise ConfigError(f"{path}: {key} must be true or false, not {raw!r}")
            values[key] = raw == "true"
        elif raw.isdigit():
            values[key] = int(raw)
        else:
            raise ConfigError(f"{path}: {key} must be a whole number, not {raw!r}")
    return BatchingConfig(**values)  # type: ignore[arg-type]
