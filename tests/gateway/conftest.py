"""Fixtures for the gateway tests."""

import pytest
import redis


@pytest.fixture
def private_db(redis_url):
    """Database 1 of the test Redis, flushed: no worker listens there, so queued jobs stay put.

    Yields (url, connection).
    """
    url = redis_url.rsplit("/", 1)[0] + "/1"
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    yield url, conn
    conn.close()
