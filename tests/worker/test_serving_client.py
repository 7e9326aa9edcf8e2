"""The worker's gRPC client against the real local model server."""

import os
import time

import numpy as np
import pytest

from digits.processes import free_port, python_module, spawn, stop_all
from worker.errors import ModelUnavailableError, PredictionRejectedError
from worker.serving_client import ServingClient


def test_predict_returns_probabilities_and_version(model_server, mnist):
    client = ServingClient(model_server, "digits", timeout=5)
    prediction = client.predict(mnist.x_test[:32])
    assert prediction.probabilities.shape == (32, 10)
    assert prediction.model_version == 1
    assert np.mean(prediction.probabilities.argmax(1) == mnist.y_test[:32]) >= 0.75
    client.close()


def test_pinned_version_that_does_not_exist_fails_at_once(model_server, mnist):
    client = ServingClient(model_server, "digits", timeout=5, version=42, retries=5, backoff=5)
    started = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="NOT_FOUND"):
        client.predict(mnist.x_test[:1])
    assert time.monotonic() - started < 4  # no backoff on a non-retryable code


def test_bad_input_is_rejected_without_retry(model_server):
    client = ServingClient(model_server, "digits", timeout=5, retries=5, backoff=5)
    with pytest.raises(PredictionRejectedError):
        client.predict(np.zeros((2, 14, 28), np.uint8))


def test_unreachable_server_is_retried_then_reported():
    client = ServingClient(f"127.0.0.1:{free_port()}", "digits", timeout=0.5, retries=2, backoff=0.05)
    with pytest.raises(ModelUnavailableError, match="after 2 retries"):
        client.predict(np.zeros((1, 28, 28), np.uint8))


def test_retries_ride_out_a_server_that_starts_late(model_base, mnist, tmp_path):
    port = free_port()
    client = ServingClient(f"127.0.0.1:{port}", "digits", timeout=2, retries=12, backoff=0.5, max_backoff=2)
    env = {**os.environ, "DIGITS_MODEL_BASE": str(model_base), "DIGITS_GRPC_PORT": str(port), "DIGITS_REST_PORT": "0"}
    proc = spawn(python_module("serving"), tmp_path / "serving.log", env)
    try:
        assert client.predict(mnist.x_test[:4]).probabilities.shape == (4, 10)
    finally:
        stop_all([proc])
        client.close()


def test_channel_is_recreated_in_a_forked_child(model_server, mnist):
    client = ServingClient(model_server, "digits", timeout=5)
    client.predict(mnist.x_test[:1])
    parent_channel = client._channel
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's channel
        try:
            client.predict(mnist.x_test[:1])
            os._exit(0 if client._channel is not parent_channel else 3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    client.close()
