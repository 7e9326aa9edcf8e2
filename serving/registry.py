"""The models a server hosts, by name, and the reload of its ``models.config``.

As TF Serving's ``ServerCore::ReloadConfig`` with ``--allow_version_labels_for_unavailable_models``
(the way compose runs it): the file is re-read every poll; its labels are checked first, and
a label may point at a version that is not AVAILABLE only when it is new or keeps its version.
Moving an existing label to a version that is not loaded fails the whole reload (TF Serving's
FAILED_PRECONDITION "Request to assign label to version N of model M, which is not currently
available for inference"): labels, models and policies then stay as they were until a later
poll succeeds. Otherwise new models are added, models no longer listed are unloaded, and
version policies are updated.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from serving.config_file import ConfigError, ModelConfig, read_server_config
from serving.model_store import ModelStore, State

log = logging.getLogger(__name__)


class LabelError(ValueError):
    """A label moves to a version that is not AVAILABLE: TF Serving refuses the reload."""


class ModelRegistry:
    """Holds one :class:`ModelStore` per model name; thread-safe."""

    def __init__(self, model_base: str | Path, configs: list[ModelConfig]):
        self.model_base = Path(model_base)
        self._lock = threading.Lock()
        self._stores: dict[str, ModelStore] = {}
        self.apply(configs)

    def get(self, name: str) -> ModelStore | None:
        with self._lock:
            return self._stores.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._stores)

    def poll(self) -> None:
        """Load and retire versions of every model as its policy says."""
        for name in self.names():
            store = self.get(name)
            if store is not None:
                store.poll()

    def apply(self, configs: list[ModelConfig]) -> None:
        """Take a new config. Raises LabelError (changing nothing) when a label cannot move."""
        with self._lock:
            labels = {config.name: self._checked_labels(config) for config in configs}
            wanted = {config.name: config for config in configs}
            for name in [n for n in self._stores if n not in wanted]:
                log.info("model %s is no longer configured: unloading it", name)
                self._stores.pop(name).retire()
            for name, config in wanted.items():
                store = self._stores.get(name)
                if store is None:
                    # As the config documents, the local server reads <model base>/<name>.
                    store = self._stores[name] = ModelStore(base=self.model_base, name=name)
                store.policy = config.policy
                store.labels = labels[name]

    def _checked_labels(self, config: ModelConfig) -> dict[str, int]:
        store = self._stores.get(config.name)
        old = store.labels if store is not None else {}
        states = store.states() if store is not None else {}
        for label, version in config.labels.items():
            moved = label in old and old[label] != version
            loaded = version in states and states[version].state == State.AVAILABLE
            if moved and not loaded:
                raise LabelError(f"Request to assign label to version {version} of model {config.name}, "
                                 "which is not currently available for inference")
        return dict(config.labels)

    def reload_from(self, path: str | Path) -> bool:
        """Re-read ``models.config``; True when it was taken. A bad file or label is logged and
        changes nothing, as TF Serving keeps serving its last good config."""
        try:
            self.apply(read_server_config(path))
        except (ConfigError, LabelError) as exc:
            log.error("model config %s not applied: %s", path, exc)
            return False
        return True
