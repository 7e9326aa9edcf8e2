"""``digits up``: the whole stack on one machine, without Docker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import Field

from contracts.models import AVAILABLE, DEFAULT_MODEL_NAME, STRING_MODEL_NAME, existing_versions, is_available
from core.serving_status import model_states
from core.settings import DigitsSettings
from digits.processes import StartupError, http_ok, port_open, python_module, spawn, start_redis, wait_until
from digits.supervise import GaveUpError, Supervisor


class StackSettings(DigitsSettings):
    """Where ``digits up`` keeps its files and which ports its services take."""

    home: Path = Path(".digits")
    model_base: Path = Path("models")
    model_name: str = DEFAULT_MODEL_NAME
    string_model_name: str = STRING_MODEL_NAME
    # An external Redis; without it, ``digits up`` starts its own on ``redis_port``.
    redis_url: str | None = None
    redis_port: int = Field(6380, ge=1, alias="DIGITS_LOCAL_REDIS_PORT")
    grpc_port: int = Field(8500, ge=1)
    rest_port: int = Field(8501, ge=1)
    gateway_port: int = Field(8080, ge=1)
    workers: int = Field(2, ge=1)


def up(settings: StackSettings) -> int:
    """Start Redis (unless external), install the shipped models where the model base has none,
    then serving, workers and gateway, and keep them running until Ctrl-C (a child that dies is
    started again)."""
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor()
    stopping = False

    def on_signal(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    # Installed explicitly: a shell may start us with SIGINT ignored (e.g. in the background).
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        redis_url = settings.redis_url or _start_local_redis(settings, logs, supervisor)
        _seed_models(settings)
        env = _child_env(settings, redis_url)
        _start_serving(settings, env, logs, supervisor)
        for n in range(settings.workers):
            supervisor.add(f"worker-{n + 1}", _starter("worker", logs / f"worker-{n + 1}.log", env),
                           logs / f"worker-{n + 1}.log")
        gateway = supervisor.add("gateway", _starter("gateway", logs / "gateway.log", env), logs / "gateway.log")
        url = f"http://127.0.0.1:{settings.gateway_port}"
        wait_until(lambda: http_ok(f"{url}/readyz"), "gateway", 60, gateway, logs / "gateway.log")
        print(f"\ndigits is up: {url}  (logs in {logs}; Ctrl-C stops)\n{_served(settings)}", flush=True)
        supervisor.watch()
        return 0  # not reached: watch() returns only by an exception
    except KeyboardInterrupt:
        stopping = True
        print("\nstopping...", flush=True)
        return 0
    except (StartupError, GaveUpError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not abandon half-stopped children.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()
        if stopping:
            print("stopped", flush=True)


def _starter(module: str, log: Path, env: dict[str, str]) -> Callable[[], subprocess.Popen]:
    return lambda: spawn(python_module(module), log, env)


def _start_local_redis(settings: StackSettings, logs: Path, supervisor: Supervisor) -> str:
    if port_open(settings.redis_port):
        raise StartupError(
            f"port {settings.redis_port} is taken; set DIGITS_LOCAL_REDIS_PORT, "
            "or DIGITS_REDIS_URL to use that Redis"
        )
    # Restarted in place with its append-only file: batches and results survive.
    proc = supervisor.add("redis", lambda: start_redis(settings.redis_port, settings.home / "redis",
                                                       logs / "redis.log"), logs / "redis.log")
    wait_until(lambda: port_open(settings.redis_port), "redis", 20, proc, logs / "redis.log")
    return f"redis://127.0.0.1:{settings.redis_port}/0"


def _seed_models(settings: StackSettings) -> None:
    """The shipped models, as version 1, for each model with no version yet: no training, no
    MNIST, no network (``digits train`` exports better ones beside them)."""
    from trainer.shipped import ShippedModelError, install_missing

    try:
        install_missing(settings.model_base, say=lambda line: print(line, flush=True))
    except ShippedModelError as exc:
        raise StartupError(str(exc)) from exc
    if not existing_versions(settings.model_base, settings.model_name):
        raise StartupError(f"no {settings.model_name!r} model in {settings.model_base} and none shipped with "
                           "this install: train one with `digits train --data-dir <MNIST folder>`")


def _start_serving(settings: StackSettings, env: dict, logs: Path, supervisor: Supervisor) -> None:
    proc = supervisor.add("model server", _starter("serving", logs / "serving.log", env), logs / "serving.log")
    rest_url = f"http://127.0.0.1:{settings.rest_port}"

    def available() -> bool:
        states, _ = model_states(rest_url, settings.model_name)
        return is_available(states.values())

    wait_until(available, "model server", 120, proc, logs / "serving.log")


def _served(settings: StackSettings) -> str:
    """Which versions of each model the model server has AVAILABLE, for the start-up message."""
    rest_url = f"http://127.0.0.1:{settings.rest_port}"
    parts = []
    for name in (settings.model_name, settings.string_model_name):
        states, _ = model_states(rest_url, name)
        versions = sorted(v for v, state in states.items() if state == AVAILABLE)
        parts.append(f"{name} version {', '.join(map(str, versions))}" if versions else f"{name}: none")
    return "models served: " + "; ".join(parts)


def _child_env(settings: StackSettings, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DIGITS_REDIS_URL": redis_url,
        "DIGITS_MODEL_BASE": str(settings.model_base),
        "DIGITS_MODEL_NAME": settings.model_name,
        "DIGITS_GRPC_PORT": str(settings.grpc_port),
        "DIGITS_REST_PORT": str(settings.rest_port),
        "DIGITS_SERVING_TARGET": f"127.0.0.1:{settings.grpc_port}",
        "DIGITS_GATEWAY_PORT": str(settings.gateway_port),
        "DIGITS_SERVING_REST_URL": f"http://127.0.0.1:{settings.rest_port}",
    })
    return env
