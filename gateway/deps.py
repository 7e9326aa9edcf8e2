"""Request-scoped access to the app's settings, Redis connection and stores."""

from __future__ import annotations

import redis
from flask import current_app, g
from rq import Queue

from contracts.jobs import BATCH_QUEUE, PRIORITY_QUEUE
from core.batch_store import BatchStore
from gateway.settings import GatewaySettings


def settings() -> GatewaySettings:
    return current_app.extensions["digits.settings"]


def connection() -> redis.Redis:
    return current_app.extensions["digits.redis"]


def creator() -> str | None:
    """The id of the key that sent this request (None without keys): a new batch's owner."""
    return g.key_id if settings().keys_required else None


def owner() -> str | None:
    """Whose batches this request may see and cancel: the key's own, or None for every batch
    (without keys, as before keys existed, or with an admin key).

    With keys, the key check (gateway.security) has set ``g``; a route it did not guard fails
    (AttributeError, a 500) rather than show every batch.
    """
    if not settings().keys_required or g.admin:
        return None
    return g.key_id


def batch_store() -> BatchStore:
    return BatchStore(connection(), result_ttl=settings().result_ttl)


def priority_queue() -> Queue:
    return Queue(PRIORITY_QUEUE, connection=connection())


def batch_queue() -> Queue:
    return Queue(BATCH_QUEUE, connection=connection())
