"""Liveness and readiness probes."""

from __future__ import annotations

import redis
from flask import Blueprint, jsonify

from gateway import deps

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up and answering."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when Redis answers."""
    try:
        deps.connection().ping()
    except redis.RedisError as exc:
        return jsonify({"status": "unavailable", "checks": {"redis": str(exc)}}), 503
    return jsonify({"status": "ok", "checks": {"redis": "ok"}})
