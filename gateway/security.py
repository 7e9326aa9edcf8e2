"""API keys for ``/v1`` (and whose batches each key sees), CORS headers for browsers on other
origins, and the security headers of every answer."""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, g, request

from contracts.errors import ErrorCode
from gateway.errors import error_response
from gateway.settings import GatewaySettings

KEY_HEADER = "X-API-Key"
ALLOWED_HEADERS = f"Content-Type, {KEY_HEADER}, Authorization"
EXPOSED_HEADERS = "Location, Link, Retry-After"
# Every answer: no MIME sniffing, no framing (clickjacking), no Referer to other sites.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
# The page and /docs run only our own scripts and styles (no inline ones); images may be data:
# URLs (the model inputs) and blob: URLs (thumbnails of the chosen files); calls go to this
# origin only; no page may frame them.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
# Everything else (JSON, CSV, scripts, styles) is never a document that runs anything.
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'"
# The label under which a key is hashed into the id that owns its batches.
_KEY_ID_LABEL = b"digits api key id v1"


def key_id(key: str) -> str:
    """The id stored as the owner of a key's batches: HMAC-SHA256 of the key (under a fixed
    label), never the key itself."""
    return hmac.new(_KEY_ID_LABEL, key.encode(), hashlib.sha256).hexdigest()[:32]


def presented_key() -> str | None:
    """The key in ``X-API-Key``, or in ``Authorization: Bearer <key>``."""
    key = request.headers.get(KEY_HEADER)
    if key:
        return key
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def key_kind(key: str, settings: GatewaySettings) -> str | None:
    """"admin", "key" or None (not a key of this gateway), comparing in constant time."""
    presented = key.encode()
    admin = any([hmac.compare_digest(presented, known.encode()) for known in settings.admin_api_keys])
    plain = any([hmac.compare_digest(presented, known.encode()) for known in settings.api_keys])
    return "admin" if admin else "key" if plain else None


def install(app: Flask, settings: GatewaySettings) -> None:
    """Require a key on ``/v1`` when keys are configured, and note whose it is (``g.key_id``,
    ``g.admin``); answer CORS for allowed origins."""

    @app.before_request
    def _require_key():
        if not settings.keys_required or not request.path.startswith("/v1/") or request.method == "OPTIONS":
            return None  # preflights carry no credentials by design
        key = presented_key()
        if key is None:
            response = error_response(ErrorCode.MISSING_API_KEY, f"send an API key in the {KEY_HEADER} header")
        elif (kind := key_kind(key, settings)) is None:
            response = error_response(ErrorCode.INVALID_API_KEY, "the API key is not valid")
        else:
            g.key_id, g.admin = key_id(key), kind == "admin"
            return None
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = PAGE_CSP if response.mimetype == "text/html" else OTHER_CSP
        return response

    origins = set(settings.cors_origins)

    @app.after_request
    def _cors(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if not origin or not origins or ("*" not in origins and origin not in origins):
            return response
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if "*" not in origins:
            response.vary.add("Origin")
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        return response
