"""Versioned models on disk, loaded and swapped with TF Serving's "latest" policy.

Only numeric folders that contain ``saved_model.pb`` are candidates, so a trainer's
dot-prefixed temporary folder is never loaded. A new version is loaded next to the old one;
the old one is unloaded only after the new one is AVAILABLE, so requests never see a gap.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from tensorflow_serving.apis import get_model_status_pb2

State = get_model_status_pb2.ModelVersionStatus.State
MAX_LOAD_ATTEMPTS = 5
log = logging.getLogger(__name__)


@dataclass
class Servable:
    """One loaded model version."""

    version: int
    path: Path
    loaded: Any  # the tf.saved_model.load() object; keeps the variables alive
    signature_defs: dict[str, Any]

    def signature(self, name: str) -> Any | None:
        return self.loaded.signatures.get(name) if name in self.signature_defs else None


@dataclass
class VersionState:
    state: int
    error: str = ""


@dataclass
class ModelStore:
    """Loads ``<base>/<name>/<version>`` folders and tracks their TF Serving states."""

    base: Path
    name: str
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _servables: dict[int, Servable] = field(default_factory=dict)
    _states: dict[int, VersionState] = field(default_factory=dict)
    _load_failures: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base = Path(self.base)

    def latest(self) -> Servable | None:
        with self._lock:
            return self._servables[max(self._servables)] if self._servables else None

    def get(self, version: int) -> Servable | None:
        with self._lock:
            return self._servables.get(version)

    def states(self) -> dict[int, VersionState]:
        with self._lock:
            return dict(self._states)

    def is_loading(self) -> bool:
        with self._lock:
            return any(s.state in (State.START, State.LOADING) for s in self._states.values())

    def candidate_versions(self) -> list[int]:
        """Complete numeric version folders on disk, oldest first."""
        model_dir = self.base / self.name
        if not model_dir.is_dir():
            return []
        return sorted(
            int(p.name)
            for p in model_dir.iterdir()
            if p.name.isdigit() and (p / "saved_model.pb").is_file()
        )

    def poll(self) -> None:
        """Load the newest version if it is not loaded yet, then retire older ones."""
        candidates = self.candidate_versions()
        if not candidates:
            return
        newest = candidates[-1]
        with self._lock:
            known = self._states.get(newest)
            if known is not None and known.state != State.END:
                return
            if self._load_failures.get(newest, 0) >= MAX_LOAD_ATTEMPTS:
                return  # as TF Serving: give up on a version that keeps failing to load
            self._states[newest] = VersionState(State.LOADING)
        try:
            servable = load_servable(self.base / self.name / str(newest), newest)
        except Exception as exc:  # noqa: BLE001 - a bad version must not take the server down
            log.exception("failed to load %s version %s", self.name, newest)
            with self._lock:
                self._states[newest] = VersionState(State.END, f"load failed: {exc}")
                self._load_failures[newest] = self._load_failures.get(newest, 0) + 1
            return
        with self._lock:
            self._servables[newest] = servable
            self._states[newest] = VersionState(State.AVAILABLE)
            for version in [v for v in self._servables if v != newest]:
                self._states[version] = VersionState(State.UNLOADING)
                del self._servables[version]
                self._states[version] = VersionState(State.END)
        log.info("model %s version %s is AVAILABLE", self.name, newest)

    def run_poller(self, interval: float, stop: threading.Event) -> threading.Thread:
        """Poll the model folder every ``interval`` seconds until ``stop`` is set."""

        def loop() -> None:
            while not stop.is_set():
                try:
                    self.poll()
                except Exception:  # noqa: BLE001 - keep polling whatever one pass hit
                    log.exception("model poll failed")
                stop.wait(interval)

        thread = threading.Thread(target=loop, name="model-poller", daemon=True)
        thread.start()
        return thread


def load_servable(path: Path, version: int) -> Servable:
    """Load one SavedModel version with its signatures and their SignatureDef protos."""
    loaded = tf.saved_model.load(str(path))
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    signature_defs = {
        name: sig
        for name, sig in proto.meta_graphs[0].signature_def.items()
        if not name.startswith("__")  # internal init ops, not callable signatures
    }
    return Servable(version=version, path=path, loaded=loaded, signature_defs=signature_defs)
