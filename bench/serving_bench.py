"""Predict throughput through gRPC vs calling the model in-process, in the same run.

    python -m bench.serving_bench --model-base models [--runs 3] [--seconds 4]

The local model server is started as a real process (batching on, as shipped); each cell
is measured ``--runs`` times, interleaved with the in-process baseline, and medians reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np

from digits.processes import free_port, port_open, python_module, spawn, stop_all, wait_until

BATCH_SIZES = (1, 32, 256)
CONCURRENCY = (1, 8)


def _measure(call, concurrency: int, seconds: float) -> float:
    """Calls per second of ``call`` from ``concurrency`` threads for ``seconds``."""
    counts = [0] * concurrency
    stop = threading.Event()

    def loop(slot: int) -> None:
        while not stop.is_set():
            call()
            counts[slot] += 1

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base", default=os.environ.get("DIGITS_MODEL_BASE", "models"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()

    import tensorflow as tf

    from contracts.models import existing_versions
    from serving.precision import use_precision
    from serving.settings import ServingSettings
    from worker.serving_client import ServingClient

    precision = ServingSettings.from_env().precision
    use_precision(precision)  # in-process computes as the server does, so the gap is the protocol's

    versions = existing_versions(args.model_base, "digits")
    if not versions:
        raise SystemExit(f"no model in {args.model_base}/digits: run `digits train` first")
    fn = tf.saved_model.load(str(Path(args.model_base) / "digits" / str(versions[-1]))).signatures["serving_default"]
    rng = np.random.default_rng(0)
    grpc_port, rest_port = free_port(), free_port()
    env = {**os.environ, "DIGITS_MODEL_BASE": args.model_base, "DIGITS_GRPC_PORT": str(grpc_port),
           "DIGITS_REST_PORT": str(rest_port)}
    log = Path("/tmp") / f"serving-bench-{grpc_port}.log"
    server = spawn(python_module("serving"), log, env)
    try:
        wait_until(lambda: port_open(rest_port), "model server", 90, server, log)
        rows = []
        for batch in BATCH_SIZES:
            images = rng.integers(0, 256, (batch, 28, 28), dtype=np.uint8)
            for concurrency in CONCURRENCY:
                clients = threading.local()

                def via_grpc(clients=clients, images=images) -> None:
                    if not hasattr(clients, "c"):
                        clients.c = ServingClient(f"127.0.0.1:{grpc_port}", "digits", timeout=30)
                    clients.c.predict(images)

                def in_process(images=images) -> None:
                    fn(images=tf.constant(images))

                via_grpc()  # warm up both paths
                in_process()
                grpc_runs, local_runs = [], []
                for _ in range(args.runs):
                    grpc_runs.append(_measure(via_grpc, concurrency, args.seconds) * batch)
                    local_runs.append(_measure(in_process, concurrency, args.seconds) * batch)
                g, loc = statistics.median(grpc_runs), statistics.median(local_runs)
                rows.append((batch, concurrency, g, loc, loc / g))
                print(f"batch {batch:>3} x concurrency {concurrency}: gRPC {g:9.0f} img/s, "
                      f"in-process {loc:9.0f} img/s, overhead x{loc / g:.2f}", flush=True)
    finally:
        stop_all([server])
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
          f"date {date.today()}; {precision}; median of {args.runs} runs of {args.seconds:.0f} s each\n")
    print("| batch | concurrency | gRPC Predict (images/s) | in-process (images/s) | overhead (in-process / gRPC) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for batch, concurrency, g, loc, ratio in rows:
        print(f"| {batch} | {concurrency} | {g:,.0f} | {loc:,.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
