"""Liveness and readiness probes."""

from __future__ import annotations

import redis
from flask import Blueprint, jsonify

from contracts.models import is_available
from core.serving_status import model_states
from gateway import deps

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up and answering."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when Redis answers and (if its REST URL is configured) the model is AVAILABLE."""
    checks = {"redis": _check_redis()}
    settings = deps.settings()
    if settings.serving_rest_url:
        checks["model"] = _check_model(settings.serving_rest_url, settings.model_name)
    ready = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), 200 if ready else 503


def _check_redis() -> str:
    try:
        deps.connection().ping()
    except redis.RedisError as exc:
        return f"unavailable: {exc}"
    return "ok"


def _check_model(rest_url: str, name: str) -> str:
    """TF Serving's REST status (ours answers the same): ok when any version is AVAILABLE."""
    states, error = model_states(rest_url, name)
    if error:
        return f"unavailable: {error}"
    found = list(states.values())
    return "ok" if is_available(found) else f"unavailable: model states {found}"
