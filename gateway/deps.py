"""Request-scoped access to the app's settings, Redis connection and stores."""

from __future__ import annotations

import redis
from flask import current_app
from rq import Queue

from contracts.jobs import BATCH_QUEUE, PRIORITY_QUEUE
from core.batch_store import BatchStore
from gateway.settings import GatewaySettings


def settings() -> GatewaySettings:
    return current_app.extensions["digits.settings"]


def connection() -> redis.Redis:
    return current_app.extensions["digits.redis"]


def batch_store() -> BatchStore:
    return BatchStore(connection(), result_ttl=settings().result_ttl)


def priority_queue() -> Queue:
    return Queue(PRIORITY_QUEUE, connection=connection())


def batch_queue() -> Queue:
    return Queue(BATCH_QUEUE, connection=connection())
