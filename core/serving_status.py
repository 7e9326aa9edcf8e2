"""The model server's REST status (TF Serving's ``GET /v1/models/<name>``; ours answers the same).

The gateway's readiness probe and ``/v1/models``, and ``digits up`` while it waits, all read
version states this way, as compose's healthcheck does.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from contracts.models import states_from_rest


def model_states(rest_url: str | None, name: str, timeout: float = 2.0) -> tuple[dict[int, str], str | None]:
    """{version: state} of model ``name``, and why it could not be read (or None)."""
    if not rest_url:
        return {}, "DIGITS_SERVING_REST_URL is not set"
    url = f"{rest_url.rstrip('/')}/v1/models/{name}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - configured URL
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {}, f"{url}: {exc}"
    return states_from_rest(body), None
