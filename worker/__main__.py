"""``python -m worker``: an RQ worker on the priority and batch queues."""

from __future__ import annotations

import logging
import sys

import redis

from scans.preprocess import warm_up
from worker.runner import run
from worker.settings import WorkerSettings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    settings = WorkerSettings.from_env()
    log = logging.getLogger("worker")
    log.info("loading the image kernels (compiled once, then cached by numba)")
    warm_up()
    connection = redis.Redis.from_url(settings.redis_url)
    run(settings, connection)
    return 0


if __name__ == "__main__":
    sys.exit(main())
