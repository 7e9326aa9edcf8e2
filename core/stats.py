"""Service-wide counts of images read and digits predicted, kept in one Redis hash.

Workers add to it (batch rows inside the record script, so each image counts once; single
predictions as they are answered) and the gateway's ``/metrics`` reads it, so the figures are
the same whichever gateway process Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

STATS_KEY = "digits:stats"
SOURCES = ("batch", "predict")
OUTCOMES = ("done", "failed")


def count_predictions(connection: redis.Redis, rows: Iterable[dict[str, Any]]) -> None:
    """Add single-image prediction rows (answered over ``/v1/predict``) to the statistics."""
    pipe = connection.pipeline(transaction=False)
    for row in rows:
        pipe.hincrby(STATS_KEY, "predict:failed" if row.get("error") else "predict:done", 1)
        for digit in row.get("digits") or "":
            pipe.hincrby(STATS_KEY, f"digit:{digit}", 1)
    pipe.execute()


def read_stats(connection: redis.Redis) -> dict[str, int]:
    """Every counter, e.g. ``{"batch:done": 120, "predict:failed": 2, "digit:7": 31}``."""
    return {k.decode(): int(v) for k, v in connection.hgetall(STATS_KEY).items()}
