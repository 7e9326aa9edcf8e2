"""Per-key rate limits (``DIGITS_RATE_LIMIT``, off by default), counted in the gateway's Redis.

Requests are counted per API key (by an id of the key, as batches are owned) or, for a request
without a valid key (and in open mode), per client address; over the limit the answer is
``429 rate_limited`` with ``Retry-After``. The probes, ``/metrics``, static files and CORS
preflights are never limited. Flask-Limiter does the counting, with a sliding window kept in
Redis, so that every gateway process shares one count.
"""

from __future__ import annotations

import logging

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from contracts.errors import ErrorCode
from gateway.errors import error_response
from gateway.security import key_id, key_kind, presented_key
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

UNLIMITED_PATHS = ("/healthz", "/readyz", "/metrics")
UNLIMITED_PREFIXES = ("/static/", "/docs/static/")


def install(app: Flask, settings: GatewaySettings) -> Limiter | None:
    """Count requests against ``settings.rate_limit``; nothing at all when it is not set.

    Installed before the key check, so that requests with a wrong key are counted too (per
    address): guessing keys costs the same budget as using one.
    """
    if not settings.rate_limit:
        return None

    def client() -> str:
        key = presented_key()
        if key is not None and key_kind(key, settings) is not None:
            return f"key:{key_id(key)}"
        return f"address:{request.remote_addr or 'unknown'}"

    limiter = Limiter(
        client, app=app, application_limits=[settings.rate_limit], storage_uri=settings.redis_url,
        strategy="sliding-window-counter", headers_enabled=True, key_prefix="digits",
        # application_limits: one count per client over every route (default_limits count per route).
        # Redis down: requests are not refused for it (the probes say Redis is down).
        swallow_errors=True,
    )

    @limiter.request_filter
    def _unlimited() -> bool:
        path = request.path
        return request.method == "OPTIONS" or path in UNLIMITED_PATHS or path.startswith(UNLIMITED_PREFIXES)

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded):
        # Flask-Limiter adds Retry-After (seconds) and X-RateLimit-* as the answer leaves.
        return error_response(ErrorCode.RATE_LIMITED, f"more than {exc.limit.limit} requests from this client; "
                              "retry after the number of seconds in Retry-After")

    return limiter
