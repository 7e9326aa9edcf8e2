"""Preprocessing throughput on one core: the worker's pipeline vs the tutorials', same run.

    python -m bench.preprocess_bench --data-dir ../shared/data/mnist [--runs 5] [--count 2000]

Scans of about 200x200 px, the size the target names (one MNIST test digit drawn 170-230 px
high, so the page around its ink is about 200 px a side, as ink on grey paper with noise,
blur and JPEG), are made once; then each run times decode + preprocess of all of them
in this process, pinned to one core, alternating ours and the baseline. Medians are reported.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time

import numpy as np
from PIL import Image

from bench.machine import cpu_times, describe, steal_share
from bench.tutorial import tutorial_preprocess
from scans.generate import HEIGHTS_FOR_200PX_PAGES, sized_scan
from scans.preprocess import preprocess
from trainer.data import load_mnist


def _rate(fn, blobs: list[bytes]) -> float:
    started = time.perf_counter()
    for blob in blobs:
        fn(blob)
    return len(blobs) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("DIGITS_MNIST_DIR"))
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--heights", type=int, nargs=2, default=HEIGHTS_FOR_200PX_PAGES,
                        metavar=("MIN", "MAX"),
                        help="digit heights drawn; the default gives pages of about 200x200 px")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    data = load_mnist(args.data_dir)
    rng = np.random.default_rng(0)
    low, high = args.heights
    blobs = [sized_scan(data.x_test[i], int(rng.integers(low, high + 1)), rng) for i in range(args.count)]
    side = np.median([np.sqrt(np.prod(Image.open(io.BytesIO(b)).size)) for b in blobs])
    ours, baseline = [], []
    before = cpu_times()
    # Warm up: a worker is long-lived, so compiled kernels are loaded once, not per scan.
    _rate(preprocess, blobs[:20])
    _rate(tutorial_preprocess, blobs[:20])
    for _ in range(args.runs):
        ours.append(_rate(preprocess, blobs))
        baseline.append(_rate(tutorial_preprocess, blobs))
    print(f"{args.count} scans, median {side:.0f}x{side:.0f} px; {args.runs} runs on core {args.core}; "
          f"{describe(steal_share(before, cpu_times()))}\n")
    print("| pipeline | scans/s (median) | runs |")
    print("| --- | ---: | --- |")
    print(f"| scans.preprocess (decode, clean, segment, 28x28) | {statistics.median(ours):,.0f} | "
          f"{', '.join(f'{r:,.0f}' for r in ours)} |")
    print(f"| tutorial (decode, resize, invert) | {statistics.median(baseline):,.0f} | "
          f"{', '.join(f'{r:,.0f}' for r in baseline)} |")


if __name__ == "__main__":
    main()
