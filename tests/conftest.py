"""Fixtures that start real services: redis-server, a tiny trained model, the model server."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from PIL import Image

from contracts.models import is_available
from digits.processes import (
    free_port,
    http_ok,
    port_open,
    python_module,
    spawn,
    start_redis,
    stop_all,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The genuine MNIST IDX files: DIGITS_MNIST_DIR, else ../shared/data/mnist."""
    path = Path(os.environ.get("DIGITS_MNIST_DIR") or ROOT.parent / "shared" / "data" / "mnist")
    if not (path / "t10k-labels-idx1-ubyte.gz").exists() and not (path / "t10k-labels-idx1-ubyte").exists():
        pytest.fail(f"MNIST not found in {path}; set DIGITS_MNIST_DIR")
    return path


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from trainer.data import load_mnist

    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A private redis-server on a free port, with AOF as in production."""
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = start_redis(port, folder / "data", folder / "redis.log")
    wait_until(lambda: port_open(port), "redis-server", 20, proc, folder / "redis.log")
    yield f"redis://127.0.0.1:{port}/0"
    stop_all([proc])


@pytest.fixture
def redis_conn(redis_url) -> Iterator[redis.Redis]:
    """A flushed database of the test Redis that the session's stack (database 0) does not use."""
    conn = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/2")
    conn.flushdb()
    yield conn
    conn.close()


@pytest.fixture
def db_url(redis_url) -> str:
    """A database of the test Redis of its own, so that no other test's worker takes its jobs."""
    url = redis_url.rsplit("/", 1)[0] + "/5"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="session")
def model_base(tmp_path_factory, mnist_dir) -> Path:
    """A tiny model trained by the real trainer on an MNIST subset, in seconds."""
    from trainer.settings import parse_args
    from trainer.train import run

    base = tmp_path_factory.mktemp("models")
    settings = parse_args(["--data-dir", str(mnist_dir), "--model-base", str(base),
                           "--limit", "8000", "--epochs", "2", "--width", "16", "--scan-eval-count", "300",
                           "--no-augment"],
                          environ={})
    run(settings)
    return base


# A tiny string model's recipe: seconds to train, reads little, but every part is the real one.
TINY_STRINGS = ["--only", "strings", "--string-steps", "40", "--string-n-train", "512", "--string-n-val", "64",
                "--string-n-eval", "64", "--string-workers", "1", "--string-channels", "8,8,8,8",
                "--string-units", "8"]


@pytest.fixture(scope="session")
def real_like_dir(tmp_path_factory, mnist) -> Path:
    """A labelled folder laid out as ../shared/data/real-dev (labels.csv: path,label; a folder
    per source), of synthetic strings: tests never read the real dev set."""
    from scans.synth import Bank, sample

    root = tmp_path_factory.mktemp("real-like")
    bank = Bank.from_mnist(mnist.x_train, mnist.y_train, "val")
    lines = ["path,label"]
    for i in range(12):
        source = "phone" if i % 2 else "cheque"
        (root / source).mkdir(exist_ok=True)
        drawn = sample(bank, 77, i)
        Image.fromarray(drawn.image).save(root / source / f"{i}.png")
        lines.append(f"{source}/{i}.png,{drawn.label}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="session")
def both_model_base(tmp_path_factory, model_base, mnist_dir, real_like_dir) -> Path:
    """The tiny digit model beside a tiny string model, trained by the real trainer."""
    import shutil

    from trainer.settings import parse_args
    from trainer.strings.train import run

    base = tmp_path_factory.mktemp("both-models")
    shutil.copytree(model_base / "digits", base / "digits")
    run(parse_args(["--data-dir", str(mnist_dir), "--model-base", str(base), "--real-dev", str(real_like_dir),
                    *TINY_STRINGS], environ={}))
    return base


@pytest.fixture(scope="session")
def both_model_server(both_model_base, tmp_path_factory) -> Iterator[str]:
    """The local model server over both models; yields host:port."""
    yield from _model_server(both_model_base, free_port(), tmp_path_factory.mktemp("serving-both") / "serving.log")


@pytest.fixture(scope="session")
def shipped_model_server(tmp_path_factory) -> Iterator[str]:
    """The local model server over the models that ship with digits (installed as a new user's
    `digits up` installs them); yields host:port."""
    from trainer.shipped import install_missing

    base = tmp_path_factory.mktemp("shipped-models")
    if not install_missing(base, say=lambda line: None):
        pytest.fail("no shipped models in trainer/shipped/ (python -m trainer.ship records them)")
    yield from _model_server(base, free_port(), tmp_path_factory.mktemp("serving-shipped") / "serving.log")


@pytest.fixture(scope="session")
def serving_rest_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def model_server(model_base, serving_rest_port, tmp_path_factory) -> Iterator[str]:
    """The local model server over ``model_base``, as a real process; yields host:port."""
    yield from _model_server(model_base, serving_rest_port, tmp_path_factory.mktemp("serving") / "serving.log")


def _model_server(model_base: Path, rest_port: int, log: Path) -> Iterator[str]:
    from worker.serving_client import ServingClient

    port = free_port()
    env = {**os.environ, "DIGITS_MODEL_BASE": str(model_base), "DIGITS_GRPC_PORT": str(port),
           "DIGITS_REST_PORT": str(rest_port), "DIGITS_SERVING_POLL_SECONDS": "0.5"}
    proc = spawn(python_module("serving"), log, env)
    target = f"127.0.0.1:{port}"
    names = sorted(path.name for path in model_base.iterdir() if path.is_dir())
    clients = [ServingClient(target, name, timeout=2, retries=0) for name in names]
    wait_until(lambda: all(is_available(dict(c.model_status()).values()) for c in clients), "model server", 90,
               proc, log)
    for client in clients:
        client.close()
    yield target
    stop_all([proc])


@pytest.fixture(scope="session")
def model_rest_url(model_server, serving_rest_port) -> str:
    """The model server's REST status endpoint (TF Serving's ``/v1/models/<name>``)."""
    return f"http://127.0.0.1:{serving_rest_port}"


@pytest.fixture(scope="session")
def gateway_url(redis_url, model_server, model_rest_url, model_base, tmp_path_factory) -> Iterator[str]:
    """The whole stack as real processes: gateway and one RQ worker over the model server."""
    logs = tmp_path_factory.mktemp("stack")
    worker = start_worker(redis_url, model_server, logs / "worker.log")
    port = free_port()
    env = {**os.environ, "DIGITS_REDIS_URL": redis_url, "DIGITS_GATEWAY_PORT": str(port), "DIGITS_CHUNK_SIZE": "8",
           "DIGITS_SERVING_REST_URL": model_rest_url, "DIGITS_MODEL_BASE": str(model_base)}
    gateway = spawn(python_module("gateway"), logs / "gateway.log", env)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/healthz"), "gateway", 30, gateway, logs / "gateway.log")
    yield url
    stop_all([gateway, worker])


def start_worker(redis_url: str, serving_target: str, log: Path, **extra: str) -> subprocess.Popen:
    env = {**os.environ, "DIGITS_REDIS_URL": redis_url, "DIGITS_SERVING_TARGET": serving_target, **extra}
    return spawn(python_module("worker"), log, env)


def scan_files(mnist, count: int, side: int = 0) -> list[tuple[str, bytes]]:
    """Scans of MNIST test digits; with ``side``, large pages that take a while to read."""
    from scans.generate import render_scan

    files = []
    for i in range(count):
        if not side:
            files.append((f"scan-{i}.png", render_scan(mnist.x_test[i])))
            continue
        page = np.full((side, side), 200, np.uint8)
        digit = np.minimum(200, np.kron(255 - mnist.x_test[i], np.ones((side // 40, side // 40), np.uint8)))
        page[side // 4 : side // 4 + digit.shape[0], side // 4 : side // 4 + digit.shape[1]] = digit
        buffer = io.BytesIO()
        Image.fromarray(page).save(buffer, format="PNG", compress_level=1)
        files.append((f"page-{i}.png", buffer.getvalue()))
    return files
