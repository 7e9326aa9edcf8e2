"""HTTP gateway: a Flask app factory over Redis/RQ."""

from __future__ import annotations

import redis
from flask import Flask

from gateway.errors import register_error_handlers
from gateway.settings import GatewaySettings


def create_app(config: GatewaySettings | None = None, connection: redis.Redis | None = None) -> Flask:
    """Build the gateway app. ``config`` defaults to the environment (``DIGITS_*``).

    ``connection`` lets a caller share a Redis client; by default one is made from the
    settings' URL. redis-py connects lazily, so building the app opens no socket.
    """
    settings = config or GatewaySettings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.extensions["digits.settings"] = settings
    app.extensions["digits.redis"] = connection or redis.Redis.from_url(settings.redis_url)

    from gateway.api import bp as api_bp
    from gateway.health import bp as health_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)
    register_error_handlers(app)
    return app
