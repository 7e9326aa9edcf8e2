"""End to end: a folder of scans through the whole stack, against the tutorials' per-file loop.

    python -m bench.e2e_bench --model-base models --data-dir ../shared/data/mnist [--count 10000] [--runs 3]

One run of the stack as users start it (`digits up`: Redis with AOF, the model server, N
workers, the gateway), then, in the same run:

* throughput: `digits submit FOLDER` on ``--count`` scans of about 200x200 px, from the start
  of the upload to the last result row written, repeated ``--runs`` times;
* latency: ``--requests`` sequential `POST /v1/predict` calls at no load (p50, p99);
* the tutorials' way: a loop that decodes, resizes and inverts each file and calls Keras'
  ``model.predict`` once per file (timed on ``--loop-count`` files);
* the in-process ceiling: decode, preprocess and batched inference in one process per core,
  no Redis, no HTTP, no gRPC, in the model server's precision;
* memory: RSS per worker, and Redis memory per 10,000 stored scans.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.e2e_parts import (
    in_process_rate,
    latency_ms,
    redis_bytes_per_scan,
    stack_cpu_seconds,
    stack_pids,
    start_stack,
    tutorial_loop_rate,
    vm_kb,
)
from bench.machine import cpu_times, describe, steal_share
from scans.generate import HEIGHTS_FOR_200PX_PAGES, sized_scan
from trainer.data import load_mnist


def write_scans(folder: Path, data, count: int) -> None:
    """``count`` scans of MNIST test digits on about 200x200 px of paper (PNG or JPEG content;
    the extension does not matter, types are found by content)."""
    rng = np.random.default_rng(0)
    low, high = HEIGHTS_FOR_200PX_PAGES
    for i in range(count):
        index = i % len(data.x_test)
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"scan-{i:06d}.jpg").write_bytes(sized_scan(data.x_test[index], int(rng.integers(low, high + 1)), rng))


def submit_seconds(folder: Path, url: str, output: Path) -> float:
    output.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "digits", "submit", str(folder), "--url", url, "--output", str(output)],
                   check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base", type=Path, default=Path("models"))
    parser.add_argument("--data-dir", default=os.environ.get("DIGITS_MNIST_DIR"))
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--loop-count", type=int, default=300)
    args = parser.parse_args()
    data = load_mnist(args.data_dir)
    work = Path(tempfile.mkdtemp(prefix="digits-e2e-"))
    folder = work / "scans"
    folder.mkdir()
    print(f"writing {args.count:,} scans to {folder} ...", flush=True)
    write_scans(folder, data, args.count)
    files = sorted(folder.rglob("*.jpg"))
    mean_kb = np.mean([f.stat().st_size for f in files]) / 1024
    before = cpu_times()
    stack = start_stack(work, args.model_base, args.workers)
    try:
        submit_seconds(folder, stack.url, work / "warmup.csv")  # warm-up: model, channels, page cache
        cpu_before, client_before = stack_cpu_seconds(stack.process.pid), _children_cpu_seconds()
        rates = [args.count / submit_seconds(folder, stack.url, work / "results.csv") for _ in range(args.runs)]
        cpu = _cpu_per_1000(cpu_before, stack_cpu_seconds(stack.process.pid),
                            _children_cpu_seconds() - client_before, args.count * args.runs)
        rows = (work / "results.csv").read_text().count("\n") - 1
        assert rows == args.count, f"{rows} result rows for {args.count} scans"
        p50, p99 = latency_ms(stack.url, files, args.requests)
        workers = stack_pids(stack.process.pid, "worker")
        rss = [vm_kb(pid, "VmHWM") / 1024 for pid in workers]
        per_10k = redis_bytes_per_scan(stack.redis_url, files[:1000]) * 10_000 / 2**20
    finally:
        stack.stop()
    loop = tutorial_loop_rate(args.model_base, files[: args.loop_count])
    ceiling = in_process_rate(args.model_base, files, processes=args.workers)
    shutil.rmtree(work, ignore_errors=True)
    e2e = statistics.median(rates)
    print(f"\n{args.count:,} scans ({mean_kb:.1f} KB each, PNG or JPEG), {args.workers} workers; "
          f"{describe(steal_share(before, cpu_times()))}\n")
    print("| measure | value | runs / note |")
    print("| --- | ---: | --- |")
    print(f"| end to end, `digits submit` (scans/s, median) | {e2e:,.0f} | {', '.join(f'{r:,.0f}' for r in rates)} |")
    print(f"| tutorial loop, `model.predict` per file (scans/s) | {loop:,.1f} | {args.loop_count} files |")
    print(f"| end to end / tutorial loop | {e2e / loop:,.1f}x | |")
    print(f"| in-process ceiling, {args.workers} processes (scans/s) | {ceiling:,.0f} | |")
    print(f"| end to end / ceiling | {e2e / ceiling:.2f} | |")
    print(f"| `POST /v1/predict` latency p50 / p99 (ms) | {p50:.1f} / {p99:.1f} | {args.requests} requests |")
    print(f"| worker peak RSS (MB) | {', '.join(f'{r:,.0f}' for r in rss)} | per worker |")
    print(f"| Redis memory per 10,000 queued scans (MB) | {per_10k:,.0f} | image bytes with their keys |")
    print("\nWhere the CPU went during the timed submits (CPU seconds per 1,000 scans):\n")
    print("| process | CPU s / 1,000 scans |")
    print("| --- | ---: |")
    for name, seconds in sorted(cpu.items(), key=lambda item: -item[1]):
        print(f"| {name} | {seconds:.2f} |")


def _children_cpu_seconds() -> float:
    """CPU seconds of this process's finished children: the `digits submit` client."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_per_1000(before: dict[str, float], after: dict[str, float], client: float, scans: int) -> dict[str, float]:
    used = {name: after[name] - before.get(name, 0.0) for name in after}
    used["digits submit (client)"] = client
    used["all"] = sum(used.values())
    return {name: seconds * 1000 / scans for name, seconds in used.items()}


if __name__ == "__main__":
    main()
