"""Per-process resources for jobs: settings and the gRPC client, created after any fork."""

from __future__ import annotations

import os
from dataclasses import dataclass

from worker.serving_client import ServingClient
from worker.settings import WorkerSettings


@dataclass
class WorkerContext:
    settings: WorkerSettings
    client: ServingClient


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
