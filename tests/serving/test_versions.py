"""Versions over the wire: hot swap under load, labels, REST status, UNAVAILABLE at start."""

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest

from digits.processes import free_port, port_open, python_module, spawn, stop_all, wait_until
from serving.settings import CONFIG_DIR
from worker.errors import ModelNotFoundError, PredictionRejectedError
from worker.serving_client import ServingClient


def _drop_version(model_base, target_base, version):
    """Publish a version the way the trainer does: copy beside, then rename into place."""
    tmp = target_base / "digits" / f".tmp-{uuid.uuid4().hex}"
    shutil.copytree(model_base / "digits" / "1", tmp)
    os.rename(tmp, target_base / "digits" / str(version))


@pytest.fixture
def server(tmp_path):
    procs = []

    def start(base, **env):
        grpc_port, rest_port = free_port(), free_port()
        full_env = {**os.environ, "DIGITS_MODEL_BASE": str(base), "DIGITS_GRPC_PORT": str(grpc_port),
                    "DIGITS_REST_PORT": str(rest_port), "DIGITS_SERVING_POLL_SECONDS": "0.2", **env}
        log = tmp_path / f"serving-{len(procs)}.log"
        proc = spawn(python_module("serving"), log, full_env)
        procs.append(proc)
        wait_until(lambda: port_open(rest_port), "model server", 60, proc, log)
        return f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{rest_port}"

    yield start
    stop_all(procs)


def _rest(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_hot_swap_under_load_fails_no_request(server, model_base, tmp_path, mnist):
    base = tmp_path / "models"
    _drop_version(model_base, base, 1)
    target, rest = server(base)
    client = ServingClient(target, "digits", timeout=10, retries=0)  # no retries: nothing may fail
    wait_until(lambda: client.predict(mnist.x_test[:1]).model_version == 1, "version 1", 30)
    versions, errors, stop = [], [], threading.Event()

    def load():
        c = ServingClient(target, "digits", timeout=10, retries=0)
        while not stop.is_set():
            try:
                versions.append(c.predict(mnist.x_test[:8]).model_version)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
        c.close()

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    _drop_version(model_base, base, 2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and versions[-20:].count(2) < 20:
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert versions.count(1) > 0 and versions[-1] == 2
    first_two = versions.index(2)
    assert versions[first_two + 50 :].count(1) == 0  # once switched, it stays switched
    status, body = _rest(f"{rest}/v1/models/digits")
    assert status == 200
    assert [(s["version"], s["state"]) for s in body["model_version_status"]] == [("2", "AVAILABLE"), ("1", "END")]
    assert client.model_status() == [(2, "AVAILABLE"), (1, "END")]
    client.close()


def test_the_shipped_models_config_serves_the_stable_version_only(server, model_base, tmp_path, mnist):
    base = tmp_path / "models"
    for version in (1, 2, 3):
        _drop_version(model_base, base, version)
    target, rest = server(base, DIGITS_MODEL_CONFIG_FILE=str(CONFIG_DIR / "models.config"))
    # specific { versions: 1 }: newer versions on disk wait for `digits promote`.
    unpinned = ServingClient(target, "digits", timeout=10, retries=0)
    assert unpinned.predict(mnist.x_test[:1]).model_version == 1
    stable = ServingClient(target, "digits", timeout=10, retries=0, label="stable")
    assert stable.predict(mnist.x_test[:1]).model_version == 1
    with pytest.raises(PredictionRejectedError, match="Unrecognized servable version label"):
        ServingClient(target, "digits", timeout=10, retries=0, label="nightly").predict(mnist.x_test[:1])
    assert _rest(f"{rest}/v1/models/digits/labels/stable")[1]["model_version_status"][0]["version"] == "1"
    assert _rest(f"{rest}/v1/models/digits/versions/3")[0] == 404
    assert _rest(f"{rest}/v1/models/other")[0] == 404
    # The string model is configured too; with no version on disk it has no status yet.
    assert _rest(f"{rest}/v1/models/strings")[0] == 404


def _config(path, versions, labels):
    policy = " ".join(f"versions: {v}" for v in versions)
    label_lines = "".join(f'    version_labels {{ key: "{k}" value: {v} }}\n' for k, v in labels.items())
    path.write_text(f'model_config_list {{\n  config {{\n    name: "digits"\n    base_path: "/models/digits"\n'
                    f'    model_platform: "tensorflow"\n    model_version_policy {{ specific {{ {policy} }} }}\n'
                    f"{label_lines}  }}\n}}\n")


def test_the_config_file_is_read_again_and_labels_move_only_to_loaded_versions(server, model_base, tmp_path, mnist):
    """TF Serving's ServerCore::ReloadConfig with --allow_version_labels_for_unavailable_models."""
    base = tmp_path / "models"
    for version in (1, 2, 3):
        _drop_version(model_base, base, version)
    config = tmp_path / "models.config"
    _config(config, [1], {"stable": 1})
    target, rest = server(base, DIGITS_MODEL_CONFIG_FILE=str(config), DIGITS_MODEL_CONFIG_POLL_SECONDS="0.2")
    stable = ServingClient(target, "digits", timeout=10, retries=0, label="stable")
    canary = ServingClient(target, "digits", timeout=10, retries=0, label="canary")
    assert stable.predict(mnist.x_test[:1]).model_version == 1

    # A new label may name a version that is still loading; it answers once loaded.
    _config(config, [1, 3], {"stable": 1, "canary": 3})
    wait_until(lambda: canary.predict(mnist.x_test[:1]).model_version == 3, "canary on version 3", 30)
    # An existing label moves to a loaded version...
    _config(config, [1, 3], {"stable": 3, "canary": 3})
    wait_until(lambda: stable.predict(mnist.x_test[:1]).model_version == 3, "stable on version 3", 30)
    # ...but never to one that is not loaded: the whole file is refused, and nothing changes,
    # not even the policy that would have loaded version 2.
    _config(config, [2, 3], {"stable": 2})
    time.sleep(1.5)
    assert stable.predict(mnist.x_test[:1]).model_version == 3
    assert canary.predict(mnist.x_test[:1]).model_version == 3
    assert _rest(f"{rest}/v1/models/digits/versions/2")[0] == 404
    # Once the version is loaded first, the same move is taken, and unlabelled versions retire.
    _config(config, [2, 3], {"stable": 3})
    wait_until(lambda: _rest(f"{rest}/v1/models/digits/versions/2")[0] == 200, "version 2 loaded", 30)
    _config(config, [2], {"stable": 2})
    wait_until(lambda: stable.predict(mnist.x_test[:1]).model_version == 2, "stable on version 2", 30)
    wait_until(lambda: _rest(f"{rest}/v1/models/digits/versions/3")[1]["model_version_status"][0]["state"] == "END",
               "version 3 unloaded", 30)


def test_not_found_until_a_version_appears_as_tf_serving_answers(server, model_base, tmp_path, mnist):
    """A model with no version is NOT_FOUND (TF Serving: "Servable not found"), which the
    worker's client does not retry: the chunk goes back to the queue instead (test_failures)."""
    base = tmp_path / "models"
    (base / "digits").mkdir(parents=True)
    target, rest = server(base)
    from worker.protos import predict_pb2, prediction_service_pb2_grpc
    from worker.tensors import to_tensor_proto

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "digits"
    request.inputs["images"].CopyFrom(to_tensor_proto(mnist.x_test[:1]))
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Predict(request, timeout=5)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert _rest(f"{rest}/v1/models/digits")[0] == 404
        client = ServingClient(target, "digits", timeout=5, retries=20, backoff=0.2, max_backoff=0.5)
        with pytest.raises(ModelNotFoundError):
            client.predict(mnist.x_test[:1])  # at once, not after 20 retries
        _drop_version(model_base, base, 1)
        wait_until(lambda: client.predict(mnist.x_test[:1]).model_version == 1, "version 1", 30)
        client.close()


def test_a_second_server_on_a_taken_port_fails_instead_of_sharing_it(server, model_base, tmp_path):
    target, _ = server(model_base)
    port = target.rsplit(":", 1)[1]
    env = {**os.environ, "DIGITS_MODEL_BASE": str(model_base), "DIGITS_GRPC_PORT": port,
           "DIGITS_REST_PORT": "0"}
    proc = spawn(python_module("serving"), tmp_path / "second.log", env)
    try:
        assert proc.wait(60) != 0
    finally:
        stop_all([proc])
