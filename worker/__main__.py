"""``python -m worker``: an RQ worker on the priority and batch queues."""

from __future__ import annotations

import logging
import sys

import redis
from rq import SimpleWorker

from digits.queues import WORKER_QUEUES
from worker.settings import WorkerSettings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    settings = WorkerSettings.from_env()
    connection = redis.Redis.from_url(settings.redis_url)
    # SimpleWorker runs jobs in this process: no fork per job, so one gRPC channel serves
    # every job, and a single image does not pay a fork's latency. Run several workers for
    # parallelism. Queue order gives single images priority over batch chunks.
    worker = SimpleWorker(list(WORKER_QUEUES), connection=connection)
    worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
