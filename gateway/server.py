"""Serving the app with waitress, whose own error answers keep the API's JSON shape.

Waitress answers some requests without ever calling the app: a declared ``Content-Length``
over its ``max_request_body_size``, headers too large, a malformed request line. Its answer
would be plain text; :class:`JsonErrorTask` gives it the one error shape of the API
(``{"error": {"code": ..., "message": ...}}``) and the headers every answer carries.
"""

from __future__ import annotations

import json

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask

from contracts.errors import ErrorCode
from gateway.security import OTHER_CSP, SECURITY_HEADERS
from gateway.settings import GatewaySettings

# The headers of every answer, the app's and waitress' own.
BASE_HEADERS = (*SECURITY_HEADERS.items(), ("Content-Security-Policy", OTHER_CSP))


class JsonErrorTask(ErrorTask):
    """Waitress' error answer (413, 431, 400, 501, 500) as the API's JSON error."""

    def execute(self) -> None:
        error = self.request.error
        code = {413: str(ErrorCode.REQUEST_TOO_LARGE), 500: str(ErrorCode.INTERNAL_ERROR)}.get(
            error.code, error.reason.lower().replace(" ", "_"))
        message = error.body
        limit = self.channel.server.adj.max_request_body_size
        if error.code == 413:
            message = f"the request is larger than {limit - 1} bytes"
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), *BASE_HEADERS])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask


def serve(app, settings: GatewaySettings, threads: int = 16) -> None:
    """Serve ``app`` until interrupted.

    Waitress refuses a body whose declared length reaches ``max_request_body_size`` before
    reading it; it is set just above DIGITS_MAX_REQUEST_BYTES, so that the app's limit is the
    one that holds and anything over it is refused without being read.
    """
    server = waitress.create_server(app, host=settings.host, port=settings.port, threads=threads, ident="digits",
                                    max_request_body_size=settings.max_request_bytes + 1)
    # One listening socket is one server; several (e.g. IPv4 and IPv6) sit in its map.
    for candidate in {server, *getattr(server, "map", {}).values()}:
        if isinstance(candidate, BaseWSGIServer):
            candidate.channel_class = JsonErrorChannel
    server.run()
