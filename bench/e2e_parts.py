"""The pieces of the end-to-end benchmark: the stack, the baselines and the measurements."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import redis

from contracts.models import existing_versions
from digits.processes import free_port, http_ok, python_module, spawn, stop_all, wait_until

CHUNK = 256


@dataclass
class Stack:
    process: object
    url: str
    redis_url: str

    def stop(self) -> None:
        stop_all([self.process], timeout=30)


def start_stack(home: Path, model_base: Path, workers: int) -> Stack:
    """`digits up` on free ports, as a user would start it; waits for readiness."""
    ports = {name: free_port() for name in ("redis", "grpc", "rest", "gateway")}
    env = {**os.environ, "DIGITS_HOME": str(home / "stack"), "DIGITS_MODEL_BASE": str(model_base),
           "DIGITS_LOCAL_REDIS_PORT": str(ports["redis"]), "DIGITS_GRPC_PORT": str(ports["grpc"]),
           "DIGITS_REST_PORT": str(ports["rest"]), "DIGITS_GATEWAY_PORT": str(ports["gateway"]),
           "DIGITS_WORKERS": str(workers)}
    env.pop("DIGITS_REDIS_URL", None)
    log = home / "up.log"
    proc = spawn(python_module("digits", "up"), log, env)
    url = f"http://127.0.0.1:{ports['gateway']}"
    wait_until(lambda: http_ok(f"{url}/readyz"), "digits up", 300, proc, log)
    return Stack(proc, url, f"redis://127.0.0.1:{ports['redis']}/0")


def latency_ms(url: str, files: list[Path], requests: int) -> tuple[float, float]:
    """p50 and p99 of sequential single-image predictions over one keep-alive connection."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    timings = []
    for i in range(requests + 20):
        blob = files[i % len(files)].read_bytes()
        boundary = uuid.uuid4().hex
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="scan.jpg"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n").encode() + blob + f"\r\n--{boundary}--\r\n".encode()
        started = time.perf_counter()
        conn.request("POST", "/v1/predict", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = conn.getresponse()
        payload = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"predict answered {response.status}: {payload[:200]!r}")
        if i >= 20:  # the first requests warm up the connection and the worker
            timings.append(elapsed)
    conn.close()
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))


def stack_pids(parent: int, module: str) -> list[int]:
    """Pids of the ``python -m <module>`` children of the `digits up` process."""
    return sorted(pid for pid in children_by_parent().get(parent, [])
                  if _cmdline(pid)[1:3] == [b"-m", module.encode()])


def stack_cpu_seconds(parent: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each kind of process under `digits up`:
    redis-server, serving, worker (all of them) and gateway."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    tree = children_by_parent()
    pending = list(tree.get(parent, []))
    while pending:
        pid = pending.pop()
        pending.extend(tree.get(pid, []))
        cmdline = _cmdline(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if not cmdline:
            continue  # exited between the two reads
        # redis-server rewrites its title to "redis-server host:port": keep the program's name.
        name = cmdline[2].decode() if cmdline[1:2] == [b"-m"] else Path(cmdline[0].decode()).name.split()[0]
        # utime and stime are the 12th and 13th fields after the command name.
        used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return used


def _cmdline(pid: int) -> list[bytes]:
    """The process's arguments; [] once it has exited."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def children_by_parent() -> dict[int, list[int]]:
    """Every live process's pid, grouped by its parent's pid (read from /proc)."""
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            found.setdefault(ppid, []).append(int(entry.name))
    return found


def vm_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def redis_bytes_per_scan(redis_url: str, files: list[Path]) -> float:
    """Redis memory taken per stored scan (bytes, key and TTL), from a batch that is never queued."""
    from core.batch_store import BatchStore

    conn = redis.Redis.from_url(redis_url)
    before = int(conn.info("memory")["used_memory"])
    store = BatchStore(conn)
    batch_id = store.create([(f.name, f.read_bytes()) for f in files])
    after = int(conn.info("memory")["used_memory"])
    conn.delete(*conn.keys(f"digits:batch:{batch_id}*"))
    return (after - before) / len(files)


def tutorial_loop_rate(model_base: Path, files: list[Path]) -> float:
    """The tutorials' inference loop: per file, decode, resize, invert, ``model.predict``."""
    import keras

    from bench.tutorial import tutorial_preprocess

    path = model_base / "digits" / str(existing_versions(model_base, "digits")[-1])
    model = keras.Sequential([keras.Input((28, 28), dtype="uint8"),
                              keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")])
    model.predict(tutorial_preprocess(files[0].read_bytes())[None], verbose=0)
    started = time.perf_counter()
    for f in files:
        model.predict(tutorial_preprocess(f.read_bytes())[None], verbose=0)
    return len(files) / (time.perf_counter() - started)


def in_process_rate(model_base: Path, files: list[Path], processes: int) -> float:
    """Decode, preprocess and batched inference in one process per core: the ceiling.

    Inference uses the model server's precision (``DIGITS_SERVING_PRECISION``), so the ceiling
    and the stack do the same arithmetic.
    """
    shares = [files[i::processes] for i in range(processes)]
    # Spawned, not forked: this process may already hold TensorFlow's threads.
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_read_share, [str(model_base)] * processes, [s[:CHUNK] for s in shares]))  # load, warm up
        started = time.perf_counter()
        counts = list(pool.map(_read_share, [str(model_base)] * processes, shares))
    return sum(counts) / (time.perf_counter() - started)


_model = None


def _read_share(model_base: str, files: list[Path]) -> int:
    global _model
    if _model is None:
        import tensorflow as tf

        from serving.precision import use_precision
        from serving.settings import ServingSettings

        use_precision(ServingSettings.from_env().precision)  # the arithmetic the model server uses
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)
        version = existing_versions(Path(model_base), "digits")[-1]
        _model = tf.saved_model.load(f"{model_base}/digits/{version}").signatures["serving_default"]
    from contracts.errors import ReadError
    from scans.preprocess import preprocess

    read = 0
    for start in range(0, len(files), CHUNK):
        images = []
        for f in files[start : start + CHUNK]:
            try:
                images.append(preprocess(f.read_bytes()).images)
            except ReadError:
                continue
        if images:
            _model(images=np.concatenate(images))
        read += len(files[start : start + CHUNK])
    return read

