"""`digits up`, as a user runs it: one command, then Ctrl-C; a restart keeps the data."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from digits.processes import free_port, http_ok, wait_until
from scans.generate import render_scan
from tests.conftest import scan_files


def _up(env, log):
    return subprocess.Popen([sys.executable, "-m", "digits", "up", "--workers", "1"], env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115


def test_up_serves_predictions_stops_cleanly_and_keeps_batches(tmp_path, model_base, mnist):
    shutil.copytree(model_base, tmp_path / "models")
    port = free_port()
    env = {**os.environ, "DIGITS_HOME": str(tmp_path / "home"), "DIGITS_MODEL_BASE": str(tmp_path / "models"),
           "DIGITS_GATEWAY_PORT": str(port), "DIGITS_GRPC_PORT": str(free_port()), "DIGITS_REST_PORT": str(free_port()),
           "DIGITS_LOCAL_REDIS_PORT": str(free_port())}
    env.pop("DIGITS_REDIS_URL", None)
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"

    proc = _up(env, log)
    wait_until(lambda: http_ok(f"{url}/healthz"), "digits up", 120, proc, log)
    scan = render_scan(mnist.x_test[1])
    assert requests.post(f"{url}/v1/predict", files={"file": ("x.png", scan)}, timeout=30).status_code == 200
    batch = requests.post(f"{url}/v1/batches", files=[("files", ("a.png", scan))], timeout=30).json()
    wait_until(lambda: requests.get(f"{url}/v1/batches/{batch['id']}", timeout=5).json()["status"] == "done",
               "batch", 30)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert "stopped" in log.read_text()
    time.sleep(0.5)
    assert not http_ok_quiet(f"{url}/healthz")

    proc = _up(env, log)
    try:
        wait_until(lambda: http_ok(f"{url}/healthz"), "digits up (restart)", 120, proc, log)
        again = requests.get(f"{url}/v1/batches/{batch['id']}", timeout=5).json()
        assert again["status"] == "done" and again["done"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def http_ok_quiet(url):
    try:
        return http_ok(url)
    except OSError:
        return False


def test_up_on_a_fresh_model_base_serves_the_shipped_models_offline_without_mnist(tmp_path, mnist):
    # Issue #23: a new user's first `digits up`: no model, no MNIST, no network; nothing trains.
    port = free_port()
    env = {**os.environ, "DIGITS_HOME": str(tmp_path / "home"), "DIGITS_MODEL_BASE": str(tmp_path / "models"),
           "DIGITS_GATEWAY_PORT": str(port), "DIGITS_GRPC_PORT": str(free_port()),
           "DIGITS_REST_PORT": str(free_port()), "DIGITS_LOCAL_REDIS_PORT": str(free_port()),
           # Any download would go through a proxy that refuses every connection.
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}
    for name in ("DIGITS_REDIS_URL", "DIGITS_MNIST_DIR"):
        env.pop(name, None)
    log = tmp_path / "up.log"
    url = f"http://127.0.0.1:{port}"
    proc = _up(env, log)
    try:
        wait_until(lambda: "digits is up" in log.read_text(), "digits up", 120, proc, log)
        assert http_ok(f"{url}/readyz")
        text = log.read_text()
        assert "installed the shipped digits model as version 1" in text and "training" not in text
        assert "models served: digits version 1; strings version 1" in text
        for name in ("digits", "strings"):
            assert (tmp_path / "models" / name / "1" / "saved_model.pb").is_file()
        seven = render_scan(mnist.x_test[0])  # a clear handwritten 7
        answer = requests.post(f"{url}/v1/predict", files={"file": ("seven.png", seven)}, timeout=30).json()
        assert answer["digits"] == "7" and not answer["needs_review"]
        models = requests.get(f"{url}/v1/models", timeout=10).json()["models"]
        assert sorted(m["name"] for m in models) == ["digits", "strings"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def _child_pids(parent: int, module: str) -> list[int]:
    """Pids of the processes that ``parent`` started with ``python -m <module>`` (or redis-server)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and (module.encode() in cmdline or any(module.encode() in arg for arg in cmdline[:1])):
            found.append(int(stat.parent.name))
    return sorted(found)


def _status(url, batch_id):
    try:
        return requests.get(f"{url}/v1/batches/{batch_id}", timeout=5).json()
    except (requests.RequestException, ValueError):
        return {}  # Redis is restarting: the gateway answers again in a moment


def test_up_restarts_what_dies_and_a_batch_completes_exactly_once(tmp_path, model_base, mnist):
    """kill -9 of a worker, then of Redis, mid-batch: the stack starts them again by itself."""
    shutil.copytree(model_base, tmp_path / "models")
    port = free_port()
    env = {**os.environ, "DIGITS_HOME": str(tmp_path / "home"), "DIGITS_MODEL_BASE": str(tmp_path / "models"),
           "DIGITS_GATEWAY_PORT": str(port), "DIGITS_GRPC_PORT": str(free_port()), "DIGITS_REST_PORT": str(free_port()),
           "DIGITS_LOCAL_REDIS_PORT": str(free_port()), "DIGITS_CHUNK_SIZE": "4",
           "DIGITS_HEARTBEAT_INTERVAL": "1", "DIGITS_HEARTBEAT_TTL": "3", "DIGITS_MAINTENANCE_INTERVAL": "1"}
    env.pop("DIGITS_REDIS_URL", None)
    url, log = f"http://127.0.0.1:{port}", tmp_path / "up.log"
    proc = subprocess.Popen([sys.executable, "-m", "digits", "up", "--workers", "2"], env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        wait_until(lambda: "digits is up" in log.read_text(), "digits up", 120, proc, log)
        files = [("files", (name, data)) for name, data in scan_files(mnist, 160, side=1200)]
        batch = requests.post(f"{url}/v1/batches", files=files, timeout=60).json()
        total = batch["total"]
        wait_until(lambda: _status(url, batch["id"]).get("processed", 0) >= 8, "the batch to start", 60, proc, log)
        workers = _child_pids(proc.pid, "worker")
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        wait_until(lambda: "started again" in log.read_text(), "the worker to be started again", 30, proc, log)
        wait_until(lambda: _status(url, batch["id"]).get("processed", 0) >= 40, "the batch to go on", 120, proc, log)
        [redis_pid] = _child_pids(proc.pid, "redis-server")
        os.kill(redis_pid, signal.SIGKILL)
        wait_until(lambda: _status(url, batch["id"]).get("status") == "done", "the batch to finish", 240, proc, log)
        text = log.read_text()
        assert "exited with signal SIGKILL" in text and "redis exited with signal SIGKILL" in text
        final = _status(url, batch["id"])
        assert final["processed"] == final["done"] == total and final["failed"] == 0
        rows = requests.get(f"{url}/v1/batches/{batch['id']}/results?format=jsonl", timeout=30).text.splitlines()
        indices = [json.loads(row)["index"] for row in rows]
        assert sorted(indices) == list(range(total))  # every image once, none twice
        assert proc.poll() is None  # the stack is still up
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
