"""Which server the protocol tests talk to: ours by default, or any TF Serving endpoint.

    DIGITS_CONFORMANCE_TARGET=127.0.0.1:8500 DIGITS_CONFORMANCE_REST_URL=http://127.0.0.1:8501 \\
        python -m pytest tests/serving/test_protocol.py

runs the same suite against, e.g., the official image serving our exported models with the
shipped serving/config files (README: Tests). The digit model must be served as ``digits``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Endpoint:
    target: str  # gRPC host:port
    rest_url: str
    external: bool


@pytest.fixture(scope="session")
def endpoint(request) -> Endpoint:
    target = os.environ.get("DIGITS_CONFORMANCE_TARGET")
    if target:
        rest = os.environ.get("DIGITS_CONFORMANCE_REST_URL")
        if not rest:
            pytest.fail("DIGITS_CONFORMANCE_TARGET is set: set DIGITS_CONFORMANCE_REST_URL too")
        return Endpoint(target, rest, external=True)
    return Endpoint(request.getfixturevalue("model_server"), request.getfixturevalue("model_rest_url"),
                    external=False)
