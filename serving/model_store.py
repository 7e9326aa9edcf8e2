"""Versioned models on disk, loaded and swapped with TF Serving's semantics.

Only numeric folders that contain ``saved_model.pb`` are candidates, so a trainer's
dot-prefixed temporary folder is never loaded. The version policy (latest N by default)
picks the versions to serve; new ones are loaded first and old ones unloaded only once every
wanted version is AVAILABLE, so requests never see a gap.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_status_pb2, prediction_log_pb2

from contracts.models import SAVED_MODEL_FILE, SIGNATURE_NAME, WARMUP_FILE, servable_versions
from serving.config_file import VersionPolicy

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
    warmup_replayed: int = 0

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
    policy: VersionPolicy = field(default_factory=VersionPolicy)
    labels: dict[str, int] = field(default_factory=dict)
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

    def is_loading(self, version: int | None = None) -> bool:
        with self._lock:
            if version is not None:
                state = self._states.get(version)
                return state is not None and state.state in (State.START, State.LOADING)
            return any(s.state in (State.START, State.LOADING) for s in self._states.values())

    def candidate_versions(self) -> list[int]:
        """Complete numeric version folders on disk, oldest first."""
        return servable_versions(self.base, self.name)

    def poll(self) -> None:
        """Bring the loaded set in line with the policy: load new versions, then retire old ones."""
        wanted = self.policy.choose(self.candidate_versions())
        for version in sorted(wanted, reverse=True):  # newest first: it serves "latest"
            self._load(version)
        with self._lock:
            if not all(v in self._servables or self._gave_up(v) for v in wanted):
                return
            keep = set(wanted) & set(self._servables)
            if not keep:
                return  # never unload the last good version for a broken new one
            for version in [v for v in self._servables if v not in keep]:
                self._states[version] = VersionState(State.UNLOADING)
                del self._servables[version]
                self._states[version] = VersionState(State.END)
                log.info("model %s version %s unloaded", self.name, version)

    def retire(self) -> None:
        """Unload every version: the model is no longer configured."""
        with self._lock:
            for version in list(self._servables):
                del self._servables[version]
                self._states[version] = VersionState(State.END)

    def _gave_up(self, version: int) -> bool:
        return self._load_failures.get(version, 0) >= MAX_LOAD_ATTEMPTS

    def _load(self, version: int) -> None:
        with self._lock:
            known = self._states.get(version)
            if version in self._servables or (known is not None and known.state == State.LOADING):
                return
            if self._gave_up(version):
                return  # as TF Serving: stop retrying a version that keeps failing to load
            self._states[version] = VersionState(State.LOADING)
        try:
            servable = load_servable(self.base / self.name / str(version), version)
        except Exception as exc:  # noqa: BLE001 - a bad version must not take the server down
            log.exception("failed to load %s version %s", self.name, version)
            with self._lock:
                self._states[version] = VersionState(State.END, f"load failed: {exc}")
                self._load_failures[version] = self._load_failures.get(version, 0) + 1
            return
        with self._lock:
            self._servables[version] = servable
            self._states[version] = VersionState(State.AVAILABLE)
        log.info("model %s version %s is AVAILABLE", self.name, version)


MAX_WARMUP_RECORDS = 1000  # TF Serving's own cap


def load_servable(path: Path, version: int) -> Servable:
    """Load one SavedModel version, then replay its warmup requests as TF Serving does."""
    loaded = tf.saved_model.load(str(path))
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / SAVED_MODEL_FILE).read_bytes())
    signature_defs = {
        name: sig
        for name, sig in proto.meta_graphs[0].signature_def.items()
        if not name.startswith("__")  # internal init ops, not callable signatures
    }
    servable = Servable(version=version, path=path, loaded=loaded, signature_defs=signature_defs)
    servable.warmup_replayed = _replay_warmup(servable)
    return servable


def read_warmup_requests(path: str | Path) -> list[Any]:
    """The Predict requests recorded in a TF Serving warmup file (at most TF Serving's cap)."""
    requests = []
    for record in tf.data.TFRecordDataset(str(path)).take(MAX_WARMUP_RECORDS):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        if log.HasField("predict_log"):
            requests.append(log.predict_log.request)
    return requests


def _replay_warmup(servable: Servable) -> int:
    """Run the recorded Predict requests so the first real request finds traced graphs."""
    warmup = servable.path / WARMUP_FILE
    if not warmup.is_file():
        return 0
    requests = read_warmup_requests(warmup)
    for request in requests:
        fn = servable.signature(request.model_spec.signature_name or SIGNATURE_NAME)
        if fn is None:
            raise ValueError(f"{warmup}: warmup request names an unknown signature")
        fn(**{name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()})
    return len(requests)
