"""TF Serving's REST model status: ``GET /v1/models/<name>[/versions/<n>|/labels/<label>]``.

The JSON matches TF Serving's, so the same probes (compose healthchecks, ``digits up``,
operators' curl) work against both servers.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from tensorflow_serving.apis import model_pb2

from serving.registry import ModelRegistry
from serving.servicer import RequestError, model_status

_PATH = re.compile(r"^/v1/models/(?P<name>[^/]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/]+))?/?$")
_HTTP_STATUS = {"NOT_FOUND": 404, "INVALID_ARGUMENT": 400, "UNAVAILABLE": 503}


def start_rest_server(registry: ModelRegistry, host: str, port: int) -> ThreadingHTTPServer:
    """Serve the status endpoint on a daemon thread; returns the bound server."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "digits-serving"

        def do_GET(self):  # noqa: N802 - http.server's naming
            match = _PATH.match(self.path.split("?", 1)[0])
            if not match:
                return self._send(404, {"error": f"Malformed request: GET {self.path}"})
            spec = model_pb2.ModelSpec(name=match["name"])
            if match["version"]:
                spec.version.value = int(match["version"])
            elif match["label"]:
                spec.version_label = match["label"]
            try:
                response = model_status(registry, spec)
            except RequestError as exc:
                return self._send(_HTTP_STATUS.get(exc.code.name, 500), {"error": exc.message})
            body = json_format.MessageToDict(response, preserving_proto_field_name=True)
            for entry in body.get("model_version_status", []):
                entry.setdefault("status", {}).setdefault("error_code", "OK")
                entry["status"].setdefault("error_message", "")
            return self._send(200, body)

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body, indent=1).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # probes every few seconds would flood the log
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="rest-status", daemon=True).start()
    return server
