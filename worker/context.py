"""Per-process resources for jobs: settings and the gRPC client, created after any fork."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from worker.errors import ModelNotFoundError
from worker.reading import Models
from worker.serving_client import Prediction, ServingClient
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)


@dataclass
class WorkerContext:
    settings: WorkerSettings
    client: ServingClient
    _missing_string_model: bool = False

    @property
    def models(self) -> Models:
        """Both models over the client's channel; the digit model alone while no string model is served."""
        return Models(digits=self.client.predict, strings=self._predict_strings)

    def _predict_strings(self, images: np.ndarray) -> Prediction | None:
        try:
            prediction = self.client.predict(images, model=self.settings.string_model_name, confidence=True)
        except ModelNotFoundError as exc:
            if not self._missing_string_model:
                log.warning("no string model is served (%s): the digit model reads alone", exc)
            self._missing_string_model = True
            return None
        if self._missing_string_model:
            log.info("the string model %r is served again", self.settings.string_model_name)
        self._missing_string_model = False
        return prediction


_context: WorkerContext | None = None
_context_pid: int | None = None


def get_context() -> WorkerContext:
    """The context for this process, built on first use (never at import, never pre-fork)."""
    global _context, _context_pid
    if _context is None or _context_pid != os.getpid():
        settings = WorkerSettings.from_env()
        _context = WorkerContext(settings, build_client(settings))
        _context_pid = os.getpid()
    return _context


def build_client(settings: WorkerSettings) -> ServingClient:
    return ServingClient(
        settings.serving_target,
        settings.model_name,
        timeout=settings.grpc_timeout,
        retries=settings.grpc_retries,
        version=settings.model_version,
        label=settings.model_label,
        max_rows=settings.predict_max_rows,
    )
