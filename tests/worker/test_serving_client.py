"""The worker's gRPC client against the real local model server."""

import os
import subprocess
import sys
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
    # Up to a minute of retries: starting TensorFlow takes 10-20 s on a busy 2-core machine.
    client = ServingClient(f"127.0.0.1:{port}", "digits", timeout=2, retries=30, backoff=0.5, max_backoff=2)
    env = {**os.environ, "DIGITS_MODEL_BASE": str(model_base), "DIGITS_GRPC_PORT": str(port), "DIGITS_REST_PORT": "0"}
    proc = spawn(python_module("serving"), tmp_path / "serving.log", env)
    try:
        assert client.predict(mnist.x_test[:4]).probabilities.shape == (4, 10)
    finally:
        stop_all([proc])
        client.close()


FORK_SCRIPT = """
import os, sys, traceback
import numpy as np
from worker.serving_client import ServingClient
client = ServingClient(sys.argv[1], "digits", timeout=10)
images = np.zeros((1, 28, 28), np.uint8)
pid = os.fork()  # as a forking RQ worker would, before any call: the channel must come after
if pid == 0:
    try:
        client.predict(images)
        os._exit(0)
    except BaseException:
        traceback.print_exc()
        os._exit(4)
_, status = os.waitpid(pid, 0)
client.predict(images)  # the parent gets its own channel, untouched by the child's
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_channels_are_made_per_process_after_a_fork(model_server):
    # A fresh interpreter: gRPC's own threads from other tests must not be there at fork time.
    result = subprocess.run([sys.executable, "-c", FORK_SCRIPT, model_server], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_client_in_a_new_process_does_not_reuse_the_old_channel(model_server, mnist, monkeypatch):
    client = ServingClient(model_server, "digits", timeout=5)
    client.predict(mnist.x_test[:1])
    first = client._channel
    monkeypatch.setattr(os, "getpid", lambda: -1)  # what the client sees in a forked child
    client.predict(mnist.x_test[:1])
    assert client._channel is not first
    client.close()
