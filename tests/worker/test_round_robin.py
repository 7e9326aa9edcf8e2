"""One name, two model servers: the worker's client spreads its calls over both.

A tiny DNS server answers the name with two loopback addresses; gRPC's c-ares resolver asks
it (``dns://<server>/<name>:<port>``), as it asks the cluster DNS for a headless Service.
The two servers serve different versions, so each answer tells which one took the call.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import threading

import pytest

from digits.processes import port_open, python_module, spawn, stop_all, wait_until
from worker.serving_client import ServingClient

NAME = "serving.digits.test"
ADDRESSES = ("127.0.0.2", "127.0.0.3")


def _answer(query: bytes) -> bytes:
    """A DNS response: A records of NAME for an A question, nothing for anything else."""
    ident, _, qdcount = struct.unpack(">HHH", query[:6])
    end = 12
    while query[end]:
        end += query[end] + 1
    question = query[12 : end + 5]
    labels, qtype = query[12:end], struct.unpack(">H", query[end + 1 : end + 3])[0]
    name = b".".join(labels[i + 1 : i + 1 + labels[i]] for i in _label_starts(labels)).decode()
    records = []
    if qtype == 1 and name.lower() == NAME:
        for address in ADDRESSES:
            records.append(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 5, 4) + socket.inet_aton(address))
    header = struct.pack(">HHHHHH", ident, 0x8180, qdcount, len(records), 0, 0)
    return header + question + b"".join(records)


def _label_starts(labels: bytes) -> list[int]:
    starts, i = [], 0
    while i < len(labels):
        starts.append(i)
        i += labels[i] + 1
    return starts


@pytest.fixture
def dns_server():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                query, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            sock.sendto(_answer(query), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    sock.close()


def _free_port_on_both() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((ADDRESSES[0], 0))
            port = probe.getsockname()[1]
        try:
            with socket.socket() as other:
                other.bind((ADDRESSES[1], port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on both addresses")


def test_calls_spread_over_every_address_of_the_serving_name(dns_server, model_base, tmp_path, mnist):
    port = _free_port_on_both()
    procs = []
    try:
        for n, address in enumerate(ADDRESSES, start=1):
            base = tmp_path / f"models-{n}"
            shutil.copytree(model_base / "digits" / "1", base / "digits" / str(n))  # server n serves version n
            env = {**os.environ, "DIGITS_MODEL_BASE": str(base), "DIGITS_SERVING_HOST": address,
                   "DIGITS_GRPC_PORT": str(port), "DIGITS_REST_PORT": "0"}
            procs.append(spawn(python_module("serving"), tmp_path / f"serving-{n}.log", env))
        for n, (proc, address) in enumerate(zip(procs, ADDRESSES), start=1):
            wait_until(lambda a=address: port_open(port, a), "model server", 90, proc, tmp_path / f"serving-{n}.log")
        client = ServingClient(f"dns://{dns_server}/{NAME}:{port}", "digits", timeout=10, retries=5)
        wait_until(lambda: client.predict(mnist.x_test[:1]) is not None, "a first answer", 60)
        versions = [client.predict(mnist.x_test[:4]).model_version for _ in range(20)]
        client.close()
    finally:
        stop_all(procs)
    assert set(versions) == {1, 2}
    assert min(versions.count(1), versions.count(2)) >= 5  # in turn, not a stray call
