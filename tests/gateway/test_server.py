"""The gateway as a real process behind waitress: answers that waitress gives on its own keep
the API's JSON error shape."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit


def _raw(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is over a socket; returns status, headers and body of the answer."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_a_declared_body_of_2_gb_gets_the_json_error_without_being_read(gateway_url):
    status, headers, body = _raw(gateway_url, (
        b"POST /v1/batches HTTP/1.1\r\nHost: gateway\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        b"Content-Length: 2147483648\r\n\r\n"))
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    error = json.loads(body)["error"]
    assert error["code"] == "request_too_large" and "1073741824 bytes" in error["message"]


def test_a_body_just_over_the_limit_is_refused_by_the_server_too(gateway_url):
    status, headers, body = _raw(gateway_url, (
        b"POST /v1/predict HTTP/1.1\r\nHost: gateway\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        b"Content-Length: 1073741825\r\n\r\n"))
    assert (status, json.loads(body)["error"]["code"]) == (413, "request_too_large")


def test_a_malformed_request_gets_a_json_error(gateway_url):
    status, headers, body = _raw(gateway_url, b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nContent-Length: x\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "bad_request"
