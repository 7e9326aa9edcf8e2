"""``python -m gateway``: serve the gateway with waitress, a production WSGI server (gateway.server)."""

from __future__ import annotations

import logging
import sys

from gateway import create_app
from gateway.settings import GatewaySettings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gateway %(levelname)s %(message)s")
    settings = GatewaySettings.from_env()
    from gateway.server import serve

    app = create_app(settings)
    print(f"gateway listening on http://{settings.host}:{settings.port}", flush=True)
    serve(app, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
