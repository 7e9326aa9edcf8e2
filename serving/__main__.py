"""``python -m serving``: the local TF-Serving-compatible model server."""

from __future__ import annotations

import logging
import signal
import sys

from serving.settings import ServingSettings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s serving %(levelname)s %(message)s")
    settings = ServingSettings.from_env()
    from serving.server import start_server

    running = start_server(settings)
    # The port line is machine-readable so that `digits up` and tests can find a port 0 bind.
    print(f"serving gRPC on {settings.host}:{running.port}, REST on {settings.host}:{running.rest_port}",
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: running.stop())
    try:
        running.wait()
    except KeyboardInterrupt:
        running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
