"""Scaling out on one machine: more model servers and more workers, each worker spreading its
calls over every server (gRPC round robin), against one server and two workers in the same run.

    python -m bench.scaling_bench --model-base models --data-dir ../shared/data/mnist \
        [--count 5000] [--runs 3] [--layouts 1x2,2x4]

A layout SxW is S model servers and W workers, with Redis and one gateway, all real
processes started here; each worker's DIGITS_SERVING_TARGET names every server
(``ipv4:127.0.0.1:P1,127.0.0.1:P2``), as a headless Service's DNS name does in Kubernetes.
For each layout: `digits submit` of ``--count`` scans of about 200x200 px (medians of
``--runs``), and the CPU seconds each kind of process used per 1,000 scans. On a machine with
few cores more processes only share the same cores: the figures say what the fan-out costs,
and what it buys where there are cores to spread over.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e_bench import submit_seconds, write_scans
from bench.e2e_parts import stack_cpu_seconds
from bench.machine import describe
from digits.processes import free_port, http_ok, port_open, python_module, spawn, start_redis, stop_all, wait_until
from trainer.data import load_mnist


@dataclass
class Layout:
    servers: int
    workers: int
    procs: list = field(default_factory=list)
    url: str = ""

    @property
    def name(self) -> str:
        return f"{self.servers} server(s) x {self.workers} workers"

    def start(self, folder: Path, model_base: Path) -> None:
        redis_port = free_port()
        self.procs.append(start_redis(redis_port, folder / "redis", folder / "redis.log", appendonly=True))
        wait_until(lambda: port_open(redis_port), "redis", 20, self.procs[0], folder / "redis.log")
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        ports = []
        for n in range(self.servers):
            port = free_port()
            env = {**os.environ, "DIGITS_MODEL_BASE": str(model_base), "DIGITS_GRPC_PORT": str(port),
                   "DIGITS_REST_PORT": "0"}
            self.procs.append(spawn(python_module("serving"), folder / f"serving-{n}.log", env))
            ports.append(port)
        for n, port in enumerate(ports):
            wait_until(lambda p=port: port_open(p), "model server", 180, self.procs[1 + n], folder / f"serving-{n}.log")
        target = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)
        worker_env = {**os.environ, "DIGITS_REDIS_URL": redis_url, "DIGITS_SERVING_TARGET": target}
        for n in range(self.workers):
            self.procs.append(spawn(python_module("worker"), folder / f"worker-{n}.log", worker_env))
        gateway_port = free_port()
        gateway_env = {**os.environ, "DIGITS_REDIS_URL": redis_url, "DIGITS_GATEWAY_PORT": str(gateway_port)}
        gateway = spawn(python_module("gateway"), folder / "gateway.log", gateway_env)
        self.procs.append(gateway)
        self.url = f"http://127.0.0.1:{gateway_port}"
        wait_until(lambda: http_ok(f"{self.url}/healthz"), "gateway", 60, gateway, folder / "gateway.log")
        for n in range(self.workers):
            log = folder / f"worker-{n}.log"
            wait_until(lambda lg=log: "Listening on" in lg.read_text(), "worker", 120, None, log)

    def stop(self) -> None:
        stop_all(self.procs, timeout=30)


def measure(layout: Layout, model_base: Path, scans: Path, runs: int, work: Path) -> dict:
    folder = work / f"{layout.servers}x{layout.workers}"
    folder.mkdir()
    layout.start(folder, model_base)
    try:
        submit_seconds(scans, layout.url, folder / "warm.csv")  # warm every worker and server
        before = stack_cpu_seconds(os.getpid())
        seconds = [submit_seconds(scans, layout.url, folder / f"run-{n}.csv") for n in range(runs)]
        after = stack_cpu_seconds(os.getpid())
    finally:
        layout.stop()
    count = sum(1 for _ in scans.rglob("*.jpg"))
    cpu = {name: (after.get(name, 0.0) - before.get(name, 0.0)) / (runs * count / 1000) for name in after}
    return {"rate": count / statistics.median(seconds), "runs": [count / s for s in seconds], "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base", type=Path, required=True)
    parser.add_argument("--data-dir", default=os.environ.get("DIGITS_MNIST_DIR"))
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layouts", default="1x2,2x4", help="SxW pairs; the first is the baseline")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="digits-scaling-"))
    try:
        scans = work / "scans"
        scans.mkdir()
        write_scans(scans, load_mnist(args.data_dir), args.count)
        layouts = [Layout(*map(int, pair.split("x"))) for pair in args.layouts.split(",")]
        results = [(layout, measure(layout, args.model_base.resolve(), scans, args.runs, work)) for layout in layouts]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(describe())
    kinds = sorted({name for _, r in results for name in r["cpu"]})
    print("| layout | scans/s (median) | runs | vs baseline | " + " | ".join(f"{k} CPU s/1,000" for k in kinds) + " |")
    print("| --- | ---: | --- | ---: |" + " ---: |" * len(kinds))
    base = results[0][1]["rate"]
    for layout, r in results:
        cells = " | ".join(f"{r['cpu'].get(k, 0.0):.2f}" for k in kinds)
        runs = ", ".join(f"{v:,.0f}" for v in r["runs"])
        print(f"| {layout.name} | {r['rate']:,.0f} | {runs} | {r['rate'] / base:.2f}x | {cells} |")


if __name__ == "__main__":
    main()
