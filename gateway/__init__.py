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
    from gateway.params import FORM_PARTS_SLACK, GatewayRequest

    app = Flask(__name__)
    app.request_class = GatewayRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    # Werkzeug parses at most 1,000 form parts by default: a batch may hold DIGITS_MAX_FILES.
    app.config["MAX_FORM_PARTS"] = settings.max_files + FORM_PARTS_SLACK
    app.json.sort_keys = False
    app.extensions["digits.settings"] = settings
    app.extensions["digits.redis"] = connection or redis.Redis.from_url(settings.redis_url)

    from gateway import metrics, ratelimit, security
    from gateway.batches import bp as batches_bp
    from gateway.health import bp as health_bp
    from gateway.models import bp as models_bp
    from gateway.predict import bp as predict_bp
    from gateway.web import bp as web_bp

    # Metrics first, so that requests refused by the limit or the key check are timed and
    # counted too; the limit before the key check, so that wrong keys are limited too.
    metrics.install(app, app.extensions["digits.redis"])
    ratelimit.install(app, settings)
    security.install(app, settings)
    for blueprint in (predict_bp, batches_bp, models_bp, health_bp, web_bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
