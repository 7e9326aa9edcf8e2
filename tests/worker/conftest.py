"""Fixtures of the worker's tests."""

import pytest

from worker.reading import Models
from worker.serving_client import ServingClient


@pytest.fixture(scope="module")
def models(model_server):
    """The digit model alone over the session's model server (which has no string model)."""
    client = ServingClient(model_server, "digits", timeout=30)
    yield Models(client.predict)
    client.close()
