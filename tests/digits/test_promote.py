"""`digits promote` against a real model server reading the models.config it rewrites."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request

import pytest

from digits.processes import free_port, python_module, spawn, stop_all, wait_until
from digits.promote import PromotionError, promote
from serving.config_file import VersionPolicy, read_model_config
from serving.settings import CONFIG_DIR
from worker.serving_client import ServingClient


def _state(rest, path):
    try:
        with urllib.request.urlopen(f"{rest}{path}", timeout=5) as response:
            return json.loads(response.read())["model_version_status"][0]["state"]
    except OSError:
        return None


@pytest.fixture
def served(tmp_path, model_base):
    base = tmp_path / "models"
    for version in (1, 2):
        shutil.copytree(model_base / "digits" / "1", base / "digits" / str(version))
    config = tmp_path / "models.config"
    shutil.copy(CONFIG_DIR / "models.config", config)  # stable: 1, the digit and the string model
    grpc_port, rest_port = free_port(), free_port()
    env = {**os.environ, "DIGITS_MODEL_BASE": str(base), "DIGITS_GRPC_PORT": str(grpc_port),
           "DIGITS_REST_PORT": str(rest_port), "DIGITS_MODEL_CONFIG_FILE": str(config),
           "DIGITS_MODEL_CONFIG_POLL_SECONDS": "0.2", "DIGITS_SERVING_POLL_SECONDS": "0.2"}
    proc = spawn(python_module("serving"), tmp_path / "serving.log", env)
    rest = f"http://127.0.0.1:{rest_port}"
    wait_until(lambda: _state(rest, "/v1/models/digits/labels/stable") == "AVAILABLE", "version 1", 90, proc,
               tmp_path / "serving.log")
    yield config, rest, f"127.0.0.1:{grpc_port}"
    stop_all([proc])


def test_promote_loads_the_version_moves_the_label_and_unloads_the_old_one(served, mnist):
    config, rest, target = served
    messages = []
    promote(config, "digits", 2, "canary", rest, timeout=60, say=messages.append)
    entry = read_model_config(config, "digits")
    assert entry.labels == {"stable": 1, "canary": 2} and entry.policy == VersionPolicy("specific", versions=(1, 2))
    canary = ServingClient(target, "digits", timeout=10, retries=0, label="canary")
    assert canary.predict(mnist.x_test[:1]).model_version == 2

    promote(config, "digits", 2, "stable", rest, timeout=60, say=messages.append)
    entry = read_model_config(config, "digits")
    assert entry.labels == {"stable": 2, "canary": 2} and entry.policy == VersionPolicy("specific", versions=(2,))
    stable = ServingClient(target, "digits", timeout=10, retries=0, label="stable")
    assert stable.predict(mnist.x_test[:1]).model_version == 2
    wait_until(lambda: _state(rest, "/v1/models/digits/versions/1") == "END", "version 1 unloaded", 30)
    assert config.read_text().startswith("# TF Serving model config")  # the explanation stays
    assert read_model_config(config, "strings").labels == {"stable": 1}  # the other model is untouched
    assert any("AVAILABLE" in m for m in messages)


def test_a_version_that_never_loads_leaves_the_label_where_it_was(served):
    config, rest, _ = served
    with pytest.raises(PromotionError, match="version 7 to load"):
        promote(config, "digits", 7, "stable", rest, timeout=3, say=lambda _: None)
    assert read_model_config(config, "digits").labels == {"stable": 1}
    assert _state(rest, "/v1/models/digits/labels/stable") == "AVAILABLE"
