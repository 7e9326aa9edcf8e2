"""A new user's first answer: `digits up` on a fresh model base, until it reads a 7.

    python -m bench.first_answer_bench --data-dir ../shared/data/mnist [--runs 3]

Each run starts `digits up` (one worker) as README's quick start does, with an empty model
base, no MNIST and any download refused (a proxy that accepts no connection), and times:
until `/readyz` answers 200, and until `POST /v1/predict` of a clear handwritten 7 (an MNIST
test digit drawn as a scan) answers "7". Baseline in the same run: the same start on the model
base the first run seeded, which shows what installing the shipped models adds. Medians of
``--runs``. (The data folder only provides the 7; the stack never sees it.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.machine import describe
from digits.processes import free_port, http_ok, wait_until
from scans.generate import render_scan
from trainer.data import load_mnist


def first_answer(home: Path, model_base: Path, seven: bytes) -> tuple[float, float]:
    """(seconds until /readyz, seconds until the 7 is read) for one `digits up`."""
    port = free_port()
    env = {**os.environ, "DIGITS_HOME": str(home), "DIGITS_MODEL_BASE": str(model_base),
           "DIGITS_GATEWAY_PORT": str(port), "DIGITS_GRPC_PORT": str(free_port()),
           "DIGITS_REST_PORT": str(free_port()), "DIGITS_LOCAL_REDIS_PORT": str(free_port()),
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}
    for name in ("DIGITS_REDIS_URL", "DIGITS_MNIST_DIR"):
        env.pop(name, None)
    url = f"http://127.0.0.1:{port}"
    log = home / "up.log"
    home.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "digits", "up", "--workers", "1"], env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        wait_until(lambda: http_ok(f"{url}/readyz"), "digits up", 300, proc, log, interval=0.1)
        ready = time.monotonic() - started
        answer = requests.post(f"{url}/v1/predict", files={"file": ("seven.png", seven)}, timeout=60).json()
        if answer.get("digits") != "7":
            raise SystemExit(f"the 7 was read as {answer}")
        return ready, time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("DIGITS_MNIST_DIR"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seven = render_scan(load_mnist(args.data_dir).x_test[0])
    fresh, again = [], []
    with tempfile.TemporaryDirectory(prefix="digits-first-") as tmp:
        for run in range(args.runs):
            base = Path(tmp) / f"models-{run}"
            fresh.append(first_answer(Path(tmp) / f"home-{run}", base, seven))
            again.append(first_answer(Path(tmp) / f"home-{run}-again", base, seven))
            shutil.rmtree(base)
    print(describe())
    print("| start | `/readyz` 200 (s, median) | the 7 read (s, median) | runs (readyz) |")
    print("| --- | ---: | ---: | --- |")
    for name, times in (("fresh model base: seeds the shipped models", fresh),
                        ("baseline: model base already seeded", again)):
        ready = [t[0] for t in times]
        read = [t[1] for t in times]
        print(f"| {name} | {statistics.median(ready):.1f} | {statistics.median(read):.1f} | "
              + ", ".join(f"{t:.1f}" for t in ready) + " |")


if __name__ == "__main__":
    main()
